"""A public Space visitor, careless or hostile, against a running `python app.py` (gradio_client and raw HTTP).

The server here has its own temp folder (GRADIO_TEMP_DIR), so what it leaves behind can be counted, and
its process tree's memory is read from /proc: peak RSS of the server itself (VmHWM, reset before each
hostile request) and the proportional set size (PSS) of the server, its training zygote and its runs.
"""
import json
import os
import subprocess
import sys
import re
import threading
import uuid
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from playground import settings
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from conftest import AppServer
from seq2seq import ModelConfig, TrainConfig, load_checkpoint, make_spec
from playground.budget import Budget, BudgetError, check

HERE = Path(__file__).parent.parent
STATUS, CHECKPOINT = 2, 3
GENERIC = "upstream Gradio app has raised an exception"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = AppServer(tmp_path_factory.mktemp("safe"))
    yield app
    app.stop()


def client(url: str) -> Client:
    return Client(url, analytics_enabled=False, verbose=False)


def assert_clean(message: str) -> None:
    """What a visitor reads: a sentence, never a traceback, a server path or Gradio's generic text."""
    assert message and GENERIC not in message, message
    assert "Traceback" not in message and "/tmp" not in message and "/work" not in message, message
    assert "gradio-temp" not in message and "site-packages" not in message, message


def refused(call, pattern: str) -> str:
    with pytest.raises(AppError) as info:
        call()
    message = str(info.value)
    assert_clean(message)
    assert re.search(pattern, message), message
    return message


# ---------------------------------------------------------------- memory and files of the server


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return pids


def pss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1000


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakRss:
    """The server process's peak RSS growth during a block (the kernel's high-water mark, reset first)."""

    def __init__(self, pid: int):
        self.pid = pid

    def __enter__(self):
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.base = status_kb(self.pid, "VmRSS")
        return self

    def __exit__(self, *exc):
        self.growth_mb = (status_kb(self.pid, "VmHWM") - self.base) / 1000


class TreePeak:
    """The peak PSS of the server's whole process tree during a block, sampled every 50 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.running = pid, 0.0, True

    def __enter__(self):
        self.base = pss_mb(self.pid)
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, pss_mb(self.pid))
            time.sleep(0.05)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.growth_mb = self.peak - self.base


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def wait_until(condition, timeout: float, what: str) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if condition():
            return time.perf_counter() - start
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


# ---------------------------------------------------------------- settings and the budget


def test_the_largest_settings_the_form_accepts_are_refused_before_anything_is_built(server):
    c = client(server.url)
    with PeakRss(server.process.pid) as rss:
        message = refused(lambda: c.predict(emb_dim=256, hidden_dim=512, n_layers=4, attention=True, batch_size=1024,
                                            min_len=50, max_len=50, teacher_forcing=0, steps=10, api_name="/train"),
                          r"Hidden size 512 × 4 layers × batch size 1024 .* needs about [\d.]+ GB of memory.*"
                          r"this app allows 1\.0 GB per training")
    assert "lower" in message and "batch size" in message.split("lower")[1]
    assert rss.growth_mb < 100
    refused(lambda: c.predict(lr=1e6, steps=10, api_name="/train"), r"Learning rate must be a number between .* 0\.1")
    refused(lambda: c.predict(hidden_dim=100000, api_name="/train"), r"Hidden size must be a whole number between 8 "
                                                                    r"and 512 \(you gave 100000\)")
    refused(lambda: c.predict(batch_size="lots", api_name="/train"), r"Batch size must be a whole number")


def near_the_budget() -> dict:
    """Accepted settings whose estimated step time is as close to the budget as the batch size allows."""
    budget = Budget()
    spec = make_spec("reverse", 50, 50)
    model = ModelConfig(14, 14, emb_dim=64, hidden_dim=256, n_layers=1, attention=True)
    best = None
    for batch in (8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024):
        try:
            check(model, TrainConfig(batch_size=batch, teacher_forcing=0.0), spec, budget)
            best = batch
        except BudgetError:
            break
    assert best is not None
    return dict(task="reverse", min_len=50, max_len=50, emb_dim=64, hidden_dim=256, n_layers=1, attention=True,
                batch_size=best, teacher_forcing=0.0, lr_decay=False, mode="new")


def test_a_run_at_the_budget_stays_in_memory_and_stops_on_time(server):
    c = client(server.url)
    c.predict("3 1 4", api_name="/decode")  # the session exists: what is timed below is the run
    settings = near_the_budget()
    with TreePeak(server.process.pid) as memory:
        started = time.perf_counter()
        final = list(c.submit(steps=0, time_budget=3, **settings, api_name="/train"))[-1]
        took = time.perf_counter() - started
    assert final[STATUS].startswith("Done: used the time budget of 3 s"), final[STATUS]
    assert float(final[STATUS].split(" steps in ")[1].split(" s ")[0]) <= 3.0  # the run's own time
    assert took <= 3 + 1 + 0.5, took  # budget + 1 s (+ the client's own overhead)
    assert memory.growth_mb <= 1000, memory.growth_mb

    job = c.submit(steps=0, time_budget=60, **settings, api_name="/train")
    wait = time.perf_counter()
    while not (job.outputs() and job.outputs()[-1][STATUS].startswith("Training")):
        assert time.perf_counter() - wait < 30 and not job.done(), job.outputs()[-1:]
        time.sleep(0.05)
    pressed = time.perf_counter()
    assert c.predict(api_name="/stop") == "Stopping…"
    final = list(job)[-1]
    assert time.perf_counter() - pressed <= 1.5, time.perf_counter() - pressed
    assert final[STATUS].startswith("Stopped"), final[STATUS]


# ---------------------------------------------------------------- what you had is never lost


def test_an_exploding_learning_rate_goes_back_to_the_good_model(server, tmp_path):
    c = client(server.url)
    good = list(c.submit(steps=300, mode="new", api_name="/train"))[-1]
    assert good[STATUS].startswith("Done: finished 300 steps")
    exact = good[STATUS].split("exact match ")[1].split("%")[0]
    bad = list(c.submit(steps=300, lr=0.1, lr_decay=False, mode="continue", api_name="/train"))[-1]
    assert bad[STATUS].startswith("Stopped: training diverged at step 30"), bad[STATUS]
    assert "went back to the weights of step 300" in bad[STATUS] and "Lower the learning rate" in bad[STATUS]
    assert f"exact match {exact}%" in bad[STATUS]  # the good model's own score
    assert "your model (trained here, step 300)" in c.predict("3 1 4", api_name="/decode")[-1]
    with zipfile.ZipFile(bad[CHECKPOINT]) as z:
        z.extractall(tmp_path)
    kept = load_checkpoint(tmp_path / "seq2seq-reverse-step300")
    assert kept.training["steps"] == 300 and f"{kept.training['exact_match']:.1%}" == f"{exact}%"


def test_a_new_model_that_cannot_start_leaves_the_old_one(server):
    c = client(server.url)
    list(c.submit(steps=50, mode="new", api_name="/train"))
    refused(lambda: c.predict(task="sort", min_len=1, max_len=1, mode="new", steps=10, api_name="/train"),
            r"sort with lengths 1–1 has too few different examples .* widen the length range")
    refused(lambda: c.predict(hidden_dim=512, n_layers=4, batch_size=1024, mode="new", api_name="/train"),
            r"this app allows")
    assert "your model (trained here, step 50)" in c.predict("3 1 4", api_name="/decode")[-1]


# ---------------------------------------------------------------- hostile uploads


def real_checkpoint() -> tuple[dict, bytes]:
    folder = HERE / "checkpoints" / "reverse"
    return json.loads((folder / "config.json").read_text()), (folder / "model.safetensors").read_bytes()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def zip_bomb(path: Path) -> Path:
    """model.safetensors that decompresses to 1 GiB of zeros (about 1 MB on disk)."""
    config, _ = real_checkpoint()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ckpt/config.json", json.dumps(config))
        with z.open("ckpt/model.safetensors", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(1024):
                f.write(block)
    return path


def hostile_files(folder: Path) -> dict[str, tuple[Path, str]]:
    config, weights = real_checkpoint()
    huge = json.loads(json.dumps(config))
    huge["model"].update(hidden_dim=2048, n_layers=8, emb_dim=1024)
    deep = "[" * 10_000 + "]" * 10_000
    many = folder / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(70_000):
            z.writestr(f"f{i}", b"")
    return {
        "huge model": (make_zip(folder / "huge.zip", {"c/config.json": json.dumps(huge).encode(),
                                                      "c/model.safetensors": weights}),
                       r"its model has (embedding|hidden) size (1024|2048); this app allows \d+–(256|512)"),
        "zip bomb": (zip_bomb(folder / "bomb.zip"), r"model.safetensors is larger than a checkpoint of this model|"
                                                    r"zip64"),
        "many entries": (many, r"the zip holds 70,000 entries|zip64"),
        "deep json": (make_zip(folder / "deep.zip", {"config.json": deep.encode(), "model.safetensors": weights}),
                      r"nested too deeply|not valid JSON|not a seq2seq playground checkpoint"),
        "big config": (make_zip(folder / "bigconfig.zip", {"config.json": b" " * 5_000_000 + b"{}",
                                                           "model.safetensors": weights}),
                       r"config.json is larger than"),
        "not a zip": (folder / "notazip.zip", r"not a zip archive"),
        "pickle": (make_zip(folder / "pickle.zip", {"config.json": json.dumps(config).encode(),
                                                    "model.safetensors": b"\x80\x04\x95" + bytes(100)}),
                   r"model.safetensors is damaged or not a safetensors file"),
    }


def test_hostile_uploads_are_refused_cheaply_and_deleted(server, tmp_path):
    (tmp_path / "notazip.zip").write_bytes(os.urandom(50_000))
    c = client(server.url)
    list(c.submit(steps=20, mode="new", api_name="/train"))
    before = {p for p in files(server.temp) if "seq2seq-session-" not in str(p)}
    for name, (path, pattern) in hostile_files(tmp_path).items():
        with PeakRss(server.process.pid) as rss:
            message = refused(lambda: c.predict(handle_file(str(path)), api_name="/load"), pattern)
        assert "Your current model is unchanged" in message, (name, message)
        assert rss.growth_mb < 200, (name, rss.growth_mb)
    after = {p for p in files(server.temp) if "seq2seq-session-" not in str(p)}
    assert after <= before, sorted(after - before)  # every upload deleted once read
    assert "your model (trained here, step 20)" in c.predict("3 1 4", api_name="/decode")[-1]


def test_an_upload_over_the_size_limit_is_refused_by_the_http_layer(server, tmp_path):
    big = tmp_path / "big.zip"
    with open(big, "wb") as f:
        f.truncate(81_000_000)  # sparse: costs no disk here
    before = files(server.temp)
    response = httpx.post(f"{server.url}gradio_api/upload", files={"files": ("big.zip", open(big, "rb"))},
                          timeout=60)
    assert response.status_code in (413, 400), response.status_code
    assert_clean(response.text)
    assert files(server.temp) == before

    def chunks():  # a body that does not say how long it is
        for _ in range(100):
            yield bytes(1_000_000)
    response = httpx.post(f"{server.url}gradio_api/upload", content=chunks(), timeout=60,
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 411 and "Content-Length" in response.text
    assert files(server.temp) == before


def test_oversized_requests_and_bad_values_get_sentences(server):
    c = client(server.url)
    response = httpx.post(f"{server.url}gradio_api/call/decode", json={"data": ["1" * 3_000_000]}, timeout=30)
    assert response.status_code == 413 and "at most 256 KB" in response.text
    refused(lambda: c.predict("1 " * 3000, api_name="/decode"), r"at most 2,000 are allowed")
    refused(lambda: c.predict("3 1 4", "auto", "abc", api_name="/decode"),
            r"Top-k shown must be a whole number between 1 and 10")
    refused(lambda: c.predict("3 1 4", "bundled:nope", api_name="/decode"), r"Model must be one of")
    assert c.predict("3 1 4", api_name="/decode")[0] == "4 1 3"


def private_fn(url: str, elem_id: str, event: str) -> int:
    """The index of a private event handler, found the way anyone can: from the page's config."""
    config = httpx.get(f"{url}config", timeout=30).json()
    ids = {comp["id"]: comp.get("props", {}).get("elem_id") for comp in config["components"]}
    for dep in config["dependencies"]:
        if any(ids.get(target[0]) == elem_id and target[1] == event for target in dep["targets"]):
            return dep["id"]
    raise KeyError((elem_id, event))


def call_by_index(url: str, fn_index: int, data: list) -> dict:
    """Call an event handler by index over the queue's HTTP API, as a script could; returns its output."""
    session = uuid.uuid4().hex
    joined = httpx.post(f"{url}gradio_api/queue/join", timeout=30,
                        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                              "trigger_id": None})
    assert joined.status_code == 200, joined.text
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message["output"]
    raise AssertionError("no result")


def test_private_handlers_called_by_index_validate_their_inputs(server):
    calls = {
        ("setting-task", "input"): (["bogus"], r"Task must be one of reverse, copy"),
        ("preset", "change"): (["nope"], r"Preset must be one of"),
        ("decode-examples", "click"): ([42], r"Pick one of the examples"),
        ("decode-topk", "change"): ([{"not": "decoded"}, "abc"], None),
        ("log-scale", "change"): (["yes", {"not": "a session"}], None),
        ("watch-sources", "change"): (["1 2\n" * 2000, "reverse", 3, 10], r"Watch these sources must be"),
        ("setting-hidden-dim", "change"): (["lstm", 32, "lots", 1, False, "reverse", 3, 10], None),
        ("decode-model", "change"): ([7, None, None], r"Model must be one of"),
    }
    for (elem_id, event), (args, pattern) in calls.items():
        output = call_by_index(server.url, private_fn(server.url, elem_id, event), args)
        message = output.get("error") or ""
        if pattern is None:  # either it works or it says why
            assert not message or (assert_clean(message) or True), output
            continue
        if not message and output.get("data"):  # said on the page rather than raised
            message = " ".join(str(x.get("value") if isinstance(x, dict) else x) for x in output["data"]
                               if isinstance(x, (str, dict)))
        assert_clean(message)
        assert re.search(pattern, message), (elem_id, message)
    assert client(server.url).predict("3 1 4", api_name="/decode")[0] == "4 1 3"


# ---------------------------------------------------------------- nobody watching


def wait_for_training(c: Client, behind: bool = False, **settings) -> float:
    """Seconds until this client's training starts (one training at a time here). `behind`: it must first have
    waited in the queue behind the run under test, which would prove nothing if it never held the slot."""
    started = time.perf_counter()
    job = c.submit(**settings, api_name="/train")
    queued = False
    while not (job.outputs() and job.outputs()[-1][STATUS].startswith(("Training", "Done"))):
        queued = queued or job.status().code.name == "IN_QUEUE"
        assert not job.done() or job.outputs(), "the training ended without output"
        assert time.perf_counter() - started < 40, "never started"
        time.sleep(0.1)
    took = time.perf_counter() - started
    c.predict(api_name="/stop")
    list(job)
    assert queued or not behind, "the run under test was not holding the training slot"
    return took


def test_a_training_whose_stream_is_never_read_stops(server):
    names = [p["parameter_name"] for p in client(server.url).view_api(print_info=False, return_format="dict")
             ["named_endpoints"]["/train"]["parameters"]]
    values = {**settings.PRESETS[settings.DEFAULT_PRESET], "steps": 0, "time_budget": 60, "lr_decay": False,
              "mode": "new"}
    response = httpx.post(f"{server.url}gradio_api/call/train", json={"data": [values[n] for n in names]},
                          timeout=30)
    assert response.status_code == 200, response.text  # queued; its stream is never opened
    waited = wait_for_training(client(server.url), behind=True, steps=20, mode="new")
    assert waited < 10, waited  # the unread run stopped within ~5 s, not after its 60 s budget


def test_a_killed_clients_training_stops(server):
    script = ("import sys, time\nfrom gradio_client import Client\n"
              "c = Client(sys.argv[1], analytics_enabled=False, verbose=False)\n"
              "job = c.submit(steps=0, time_budget=60, lr_decay=False, mode='new', api_name='/train')\n"
              "while not (job.outputs() and job.outputs()[-1][2].startswith('Training')): time.sleep(0.1)\n"
              "print('training', flush=True)\ntime.sleep(600)\n")
    process = subprocess.Popen([sys.executable, "-c", script, server.url], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "training"
    finally:
        process.kill()
        process.wait()
    waited = wait_for_training(client(server.url), steps=20, mode="new")
    assert waited < 12, waited


# ---------------------------------------------------------------- nothing grows with use


def test_closed_sessions_give_back_their_files_and_memory(server):
    sessions = lambda: {p for p in server.temp.iterdir() if p.name.startswith("seq2seq-session-")}  # noqa: E731
    time.sleep(1)
    base_files, base_sessions, base_pss = set(files(server.temp)), sessions(), pss_mb(server.process.pid)
    clients = [client(server.url) for _ in range(4)]
    for c in clients:
        for _ in range(2):
            final = list(c.submit(steps=30, mode="new", api_name="/train"))[-1]
            assert final[STATUS].startswith("Done")
        c.predict("3 1 4", api_name="/decode")
    ours = sessions() - base_sessions
    assert len(ours) == 4
    assert all(len(list(folder.iterdir())) == 2 for folder in ours)  # only the latest zip and CSV
    for c in clients:
        c.close()
    took = wait_until(lambda: not (sessions() & ours), 30, "the closed sessions' folders being deleted")
    wait_until(lambda: set(files(server.temp)) <= base_files, 30, "the temp folder going back to what it held")
    wait_until(lambda: pss_mb(server.process.pid) - base_pss < 100, 60, "memory going back")
    assert took < 20


def test_sessions_that_never_say_goodbye_are_let_go_oldest_first(tmp_path):
    """Scripts calling the API never close their sessions: past SEQ2SEQ_SESSIONS_MB, the idle longest go."""
    app = AppServer(tmp_path, SEQ2SEQ_SESSIONS_MB="1")  # room for one default model (0.7 MB) at a time
    try:
        a, b = client(app.url), client(app.url)
        assert list(a.submit(steps=10, mode="new", api_name="/train"))[-1][STATUS].startswith("Done")
        assert "your model" in a.predict("3 1 4", api_name="/decode")[-1]
        assert list(b.submit(steps=10, mode="new", api_name="/train"))[-1][STATUS].startswith("Done")
        refused(lambda: a.predict("3 1 4", "session", api_name="/decode"),
                r"Your model is gone: it was let go to make room")
        assert "your model" in b.predict("3 1 4", api_name="/decode")[-1]
        assert len([p for p in app.temp.iterdir() if p.name.startswith("seq2seq-session-")]) == 1
    finally:
        app.stop()
