"""Compare against a running `python app.py`, as a public Space visitor would push it: its charts are measured in
worker processes at a low priority (never in the decodes' slots), at most COMPARES_AT_ONCE at once, cached per
model, and a cancelled comparison's worker is gone at once; scripts' sessions keep little.

Processes are found under the server's process tree in /proc (a chart's worker runs at nice 15); time is never
asserted by the wall clock, only the order of events and what the processes are doing."""
import os
import random
import threading
from pathlib import Path

import pytest
from gradio_client import handle_file

from playground import limits
from playground.charts import EVAL_NICE
from seq2seq import ModelConfig, Task, build_model, make_spec
from seq2seq.checkpoint import save_checkpoint, training_summary, write_checkpoint_zip
from tests.helpers import client, wait_until


def children(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                found = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            pids += found
            todo += found
    return pids


def nice(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    except (OSError, IndexError, ValueError):
        return None


def chart_workers(server_pid: int) -> list[int]:
    """The server's processes measuring a Compare chart now (they alone run at EVAL_NICE)."""
    return [p for p in children(server_pid) if nice(p) == EVAL_NICE]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def checkpoint_zip(folder: Path, hidden: int, layers: int, seed: int = 0, max_len: int = 10) -> Path:
    """An untrained reverse model of the given size, as the Train tab's download would be."""
    task = Task(make_spec("reverse", 3, max_len))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=32, hidden_dim=hidden, n_layers=layers),
                        seed=seed)
    path = save_checkpoint(folder / f"reverse-{hidden}x{layers}-{seed}", model, task, training_summary(0, 0.0, 0.0, 0.0))
    return write_checkpoint_zip(path, folder / f"reverse-{hidden}x{layers}-{seed}.zip")


def settled(server) -> None:
    """The shared server's start-up charts (the default pair's, measured in the background when it starts) are in:
    a Compare of that pair needs them, and after it no chart is being measured."""
    c = client(server.url)
    c.predict("3 1 4", "bundled:reverse", "bundled:reverse-attention", api_name="/compare")
    c.close()
    wait_until(lambda: not chart_workers(server.pid), "the start-up charts ending", 60)


def test_charts_are_measured_in_low_priority_workers_two_at_a_time_while_decodes_go_on(server, tmp_path):
    """Eight people compare their own (untrained, never cached) models at once; a ninth decodes meanwhile."""
    settled(server)
    archive = checkpoint_zip(tmp_path, 128, 2)
    people = [client(server.url) for _ in range(8)]
    for c in people:
        assert c.predict(handle_file(str(archive)), api_name="/load").startswith("Loaded")
    jobs = [c.submit("3 1 4 1 5", "bundled:reverse", "session", api_name="/compare") for c in people]
    seen = []
    decoder = client(server.url)
    decodes_while_comparing = 0
    while not all(job.done() for job in jobs):
        seen.append(len(chart_workers(server.pid)))
        output = decoder.predict("3 1 4 1 5", "bundled:reverse", 3, "reverse", "greedy", 5, 1.0, 0, 1.0, 0,
                                 api_name="/decode")[0]
        assert output == "5 1 4 1 3"
        if not all(job.done() for job in jobs):
            decodes_while_comparing += 1
    for job in jobs:
        a, b, chart, note = job.result()
        assert "A: reverse" in str(chart) and "B: your model" in str(chart)
        assert "per length" in note
    assert max(seen) >= 1, "no chart was measured in a worker process"
    assert max(seen) <= limits.COMPARES_AT_ONCE, seen
    assert decodes_while_comparing >= 3, "decodes waited for the comparisons"
    wait_until(lambda: not chart_workers(server.pid), "the chart workers ending", 10)
    for c in [*people, decoder]:
        c.close()


def test_a_cancelled_comparison_stops_its_worker(server, tmp_path):
    archive = checkpoint_zip(tmp_path, 512, 4, seed=1, max_len=20)
    c = client(server.url)
    assert c.predict(handle_file(str(archive)), api_name="/load").startswith("Loaded")
    job = c.submit("3 1 4 1 5", "session", "bundled:reverse-attention", api_name="/compare")
    workers = wait_until(lambda: chart_workers(server.pid), "the comparison's worker starting", 30, every=0.02)
    assert job.cancel() or job.done()
    wait_until(lambda: not (set(chart_workers(server.pid)) & set(workers)), "the cancelled worker ending", 3)
    c.close()


def measured(call) -> tuple[object, list[int]]:
    """What `call()` returns, and the chart workers seen while it ran."""
    workers, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            workers.extend(chart_workers(watch.pid))

    watch.pid = measured.server_pid
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        return call(), workers
    finally:
        stop.set()
        watcher.join()


def test_a_session_models_chart_is_kept_until_the_model_changes(server, tmp_path):
    settled(server)
    measured.server_pid = server.pid
    c = client(server.url)
    compare = lambda: c.predict("3 1 4", "session", "bundled:reverse", api_name="/compare")  # noqa: E731
    assert c.predict(handle_file(str(checkpoint_zip(tmp_path, 64, 1, seed=2))), api_name="/load").startswith("Loaded")
    first, workers = measured(compare)
    assert workers, "the chart was not measured in a worker"
    again, workers = measured(compare)
    assert again[2] == first[2] and not workers, "the same model was measured again"
    assert c.predict(handle_file(str(checkpoint_zip(tmp_path, 64, 1, seed=3))), api_name="/load").startswith("Loaded")
    _, workers = measured(compare)
    assert workers, "another model's chart was not measured anew"
    c.close()


def test_scripts_sessions_keep_little_after_beam_decodes(server):
    """Every API call is a new session whose page state Gradio keeps; a beam-10 decode of 150 tokens returns
    ~0.8 MB of views. Kept per session, 40 such scripts held ~70 MB; now only what the app counts is kept."""
    source = " ".join(random.Random(0).choice("0123456789") for _ in range(150))

    def one_script():
        c = client(server.url)
        c.predict(source, "bundled:reverse", 3, "reverse", "beam", 10, 1.0, 0, 1.0, 0, api_name="/decode")
        c.close()

    for _ in range(5):
        one_script()  # the first decodes of this size warm up the allocator
    before = rss_mb(server.pid)
    for _ in range(40):
        one_script()
    assert rss_mb(server.pid) - before < 30


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_nice_reads_this_process():
    assert nice(os.getpid()) == os.nice(0)


def test_an_abandoned_comparison_stops_its_worker(server, tmp_path):
    """A visitor who closes the tab mid-comparison sends no cancel: its event stream just ends."""
    import httpx
    c = client(server.url)
    # about 8 s of work (estimated 16 s): 24 lengths of 100 sources each
    assert c.predict(handle_file(str(checkpoint_zip(tmp_path, 512, 4, seed=4, max_len=20))),
                     api_name="/load").startswith("Loaded")
    session_hash = c.session_hash
    c.close()
    config = httpx.get(f"{server.url}config").json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "compare")
    join = httpx.post(f"{server.url}gradio_api/queue/join",
                      json={"data": ["3 1 4 1 5", "session", "bundled:reverse-attention", None], "fn_index": fn_index,
                            "session_hash": session_hash, "event_data": None, "trigger_id": None})
    assert join.status_code == 200, join.text
    with httpx.stream("GET", f"{server.url}gradio_api/queue/data", params={"session_hash": session_hash},
                      timeout=30) as stream:
        for line in stream.iter_lines():
            if "process_starts" in line:
                break
        workers = wait_until(lambda: chart_workers(server.pid), "the comparison's worker starting", 30, every=0.02)
    # the stream is closed: the server notices, and the worker goes
    wait_until(lambda: not (set(chart_workers(server.pid)) & set(workers)), "the abandoned worker ending", 3)


def test_the_default_pairs_charts_are_measured_when_the_server_starts(tmp_path):
    """The first visitor to press Compare on the default pair gets the charts at once: measured at start-up."""
    from tests.helpers import AppServer
    app = AppServer(tmp_path)
    try:
        measured.server_pid = app.process.pid
        # the server says so once both charts are kept (not merely once their workers have gone: the last one's
        # answer is read a moment after)
        wait_until(lambda: "default charts are measured" in app.log.read_text(),
                   "the start-up charts of both models being measured", 90)
        c = client(app.url)
        (a, b, chart, note), workers = measured(
            lambda: c.predict("3 1 4 1 5", "bundled:reverse", "bundled:reverse-attention", api_name="/compare"))
        assert not workers and "A: reverse" in str(chart) and "per length" in note
        c.close()
    finally:
        app.stop()
