"""A public Space visitor, careless or hostile, against a running `python app.py` (gradio_client and raw HTTP).

The tier's shared server has its own temp folder (GRADIO_TEMP_DIR), so what it leaves behind can be counted, and
its process tree's memory is read from /proc: peak RSS of the server itself (VmHWM, reset before each hostile
request) and the proportional set size (PSS) of the server, its training zygote and its runs. Time is asserted
only as the runs report it (their status lines), never as the wall clock of a busy machine measures it.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from playground import settings
from playground.budget import Budget, BudgetError, check
from playground.uploads import UPLOAD_GRACE
from seq2seq import ModelConfig, TrainConfig, load_checkpoint, make_spec
from tests.helpers import (CHECKPOINT, CHECKPOINTS, NUMBER, STATUS, AppServer, client, last_status, number, outputs,
                           reported, train, wait_for_status, wait_until)

GENERIC = "upstream Gradio app has raised an exception"


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
    """Every file under `folder`; a folder or file deleted while it is walked (a session let go) is not counted
    (os.walk skips a folder that has gone; rglob would fail)."""
    found = [Path(root) / name for root, _, names in os.walk(folder) for name in names]
    return sorted(p for p in found if p.is_file())


def runs_going(pid: int) -> int:
    """How many training runs the server has going: processes under its zygote (server -> zygote -> runs)."""
    return max(0, len(tree(pid)) - 2)


# ---------------------------------------------------------------- settings and the budget


def test_the_largest_settings_the_form_accepts_are_refused_before_anything_is_built(server):
    c = client(server.url)
    with PeakRss(server.pid) as rss:
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
    c.predict("3 1 4", api_name="/decode")  # the session exists: what is measured below is the run
    settings = near_the_budget()
    with TreePeak(server.pid) as memory:
        final = train(c, steps=0, time_budget=3, **settings)[-1][STATUS]
    assert memory.growth_mb <= 1000, memory.growth_mb
    # bounded either way: the run stops itself at its budget, by its own clock, or the server kills its process at
    # the hard deadline, budget + 1 s. (The budget counts evaluations, and no step starts unless it and the final
    # evaluation fit; but one evaluation of this model can outlast the whole budget on a busy machine, so the run's
    # own time is bounded by the deadline, not by the budget.)
    if final.startswith("Done:"):
        assert re.match(r"Done: used the time budget of 3 s[.;]", final), final
        _, seconds, _ = reported(final)
        assert seconds <= 3 + 1, final
    else:
        killed = re.fullmatch(rf"Stopped: it ran past its time limit of (\d+) s\. Kept the model from step "
                              rf"({NUMBER}); press Train to continue it (exactly from there|from there, with a "
                              rf"fresh optimizer)\.", final)
        assert killed and int(killed[1]) == 3 + 1, final

    # Stop is honoured: pressed once the run trains, it ends the run, long before its budget of 60 s: the run
    # stops after its step, or, when its step outlasts the grace the server gives it (a busy machine), is killed
    job = c.submit(steps=0, time_budget=60, **settings, api_name="/train")
    wait_for_status(job, "Training")
    assert c.predict(api_name="/stop") == "Stopping…"
    final = outputs(job)[-1][STATUS]
    if final.startswith("Stopped: stopped by request after"):
        _, seconds, _ = reported(final)
        assert seconds < 60 / 2, final  # its own time: stopped, not run out of its 60 s
    else:
        assert re.fullmatch(rf"Stopped: it did not stop when asked\. Kept the model from step ({NUMBER}); press "
                            rf"Train to continue it (exactly from there|from there, with a fresh optimizer)\.",
                            final), final


# ---------------------------------------------------------------- what you had is never lost


def test_an_exploding_learning_rate_goes_back_to_the_good_model(server, tmp_path):
    c = client(server.url)
    good = train(c, steps=300, mode="new")[-1][STATUS]
    assert good.startswith("Done: finished 300 steps"), good
    exact = re.search(r"held-out exact match ([\d.]+)%", good)[1]
    bad = train(c, steps=300, lr=0.1, lr_decay=False, mode="continue")[-1]
    # evaluations run on a clock, so where the run went back to is read from what it says, not assumed
    diverged = re.match(rf"Stopped: training diverged at step ({NUMBER}) \(.*\); went back to the "
                        rf"weights of step ({NUMBER})\. Lower the learning rate", bad[STATUS])
    assert diverged, bad[STATUS]
    went_wrong, kept = map(number, diverged.groups())
    assert 300 <= kept < went_wrong, bad[STATUS]  # the good model's step or a later evaluated one, before it broke
    assert f"held-out exact match {exact}%" in bad[STATUS]  # the good model's own score
    assert f"your model (trained here, step {kept:,})" in c.predict("3 1 4", api_name="/decode")[-1]
    with zipfile.ZipFile(bad[CHECKPOINT]) as z:
        folders = {name.split("/")[0] for name in z.namelist()}
        z.extractall(tmp_path)
    assert folders == {f"seq2seq-reverse-step{kept}"}, folders
    checkpoint = load_checkpoint(tmp_path / f"seq2seq-reverse-step{kept}")
    assert checkpoint.training["steps"] == kept and f"{checkpoint.training['exact_match']:.1%}" == f"{exact}%"


def test_a_new_model_that_cannot_start_leaves_the_old_one(server):
    c = client(server.url)
    train(c, steps=50, mode="new")
    refused(lambda: c.predict(task="sort", min_len=1, max_len=1, mode="new", steps=10, api_name="/train"),
            r"sort with lengths 1–1 has too few different examples .* widen the length range")
    refused(lambda: c.predict(hidden_dim=512, n_layers=4, batch_size=1024, mode="new", api_name="/train"),
            r"this app allows")
    assert "your model (trained here, step 50)" in c.predict("3 1 4", api_name="/decode")[-1]


# ---------------------------------------------------------------- hostile uploads


def real_checkpoint() -> tuple[dict, bytes]:
    folder = CHECKPOINTS / "reverse"
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
        with z.open("ckpt/model.safetensors", "w") as f:
            block = bytes(1 << 20)
            for _ in range(1024):
                f.write(block)
    return path


def many_entries(path: Path, total: int, members: dict[str, bytes] | None = None) -> Path:
    """A zip of `total` entries: `members`, then empty notes."""
    members = members or {}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for i in range(total - len(members)):
            z.writestr(f"f{i}", b"")
    return path


def is_zip64(path: Path) -> bool:
    """Whether the zip ends with a zip64 directory (a plain one counts at most 65,535 entries)."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 66_000))
        return b"PK\x06\x06" in f.read()


def hostile_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (the file, the one reason it must be refused for)."""
    config, weights = real_checkpoint()
    huge = json.loads(json.dumps(config))
    huge["model"].update(hidden_dim=2048, n_layers=8, emb_dim=1024)
    deep = "[" * 10_000 + "]" * 10_000
    checkpoint = {"c/config.json": json.dumps(config).encode(), "c/model.safetensors": weights}
    files = {
        "huge model": (make_zip(folder / "huge.zip", {"c/config.json": json.dumps(huge).encode(),
                                                      "c/model.safetensors": weights}),
                       r"its model has (embedding|hidden) size (1024|2048); this app allows \d+–(256|512)"),
        "zip bomb": (zip_bomb(folder / "bomb.zip"),
                     r"model\.safetensors is larger than a checkpoint of this model can be \([\d,]+ bytes at most\)"),
        "70,000 entries": (many_entries(folder / "many.zip", 70_000),
                           r"the zip is in the zip64 format, which a checkpoint never needs"),
        # a good checkpoint in a plain zip (no zip64) with one entry more than the cap of 100
        "101 entries": (many_entries(folder / "101.zip", 101, checkpoint),
                        r"the zip holds 101 entries; a checkpoint has 2 or 3"),
        "deep json": (make_zip(folder / "deep.zip", {"config.json": deep.encode(), "model.safetensors": weights}),
                      r"config\.json is nested too deeply to be a checkpoint config"),
        "big config": (make_zip(folder / "bigconfig.zip", {"config.json": b" " * 5_000_000 + b"{}",
                                                           "model.safetensors": weights}),
                       r"config.json is larger than"),
        "not a zip": (folder / "notazip.zip", r"not a zip archive"),
        "pickle": (make_zip(folder / "pickle.zip", {"config.json": json.dumps(config).encode(),
                                                    "model.safetensors": b"\x80\x04\x95" + bytes(100)}),
                   r"model.safetensors is damaged or not a safetensors file"),
    }
    assert is_zip64(files["70,000 entries"][0]) and not is_zip64(files["101 entries"][0])
    assert not is_zip64(files["zip bomb"][0])  # the bomb reaches the decompression cap, not the zip64 refusal
    return files


def test_hostile_uploads_are_refused_cheaply_and_deleted(server, tmp_path):
    (tmp_path / "notazip.zip").write_bytes(os.urandom(50_000))
    c = client(server.url)
    train(c, steps=20, mode="new")
    before = {p for p in files(server.temp) if "seq2seq-session-" not in str(p)}
    for name, (path, pattern) in hostile_files(tmp_path).items():
        with PeakRss(server.pid) as rss:
            message = refused(lambda: c.predict(handle_file(str(path)), api_name="/load"), pattern)
        assert "Your current model is unchanged" in message, (name, message)
        assert rss.growth_mb < 200, (name, rss.growth_mb)
    # every upload deleted once read (after a grace: another load of the same file may be on its way)
    uploads = lambda: {p for p in files(server.temp) if "seq2seq-session-" not in str(p)}  # noqa: E731
    wait_until(lambda: uploads() <= before, f"uploads deleted (left: {sorted(uploads() - before)})",
               timeout=UPLOAD_GRACE + 30, every=0.5)
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
    assert set(files(server.temp)) <= set(before)  # nothing of it written

    def chunks():  # a body that does not say how long it is
        for _ in range(100):
            yield bytes(1_000_000)
    response = httpx.post(f"{server.url}gradio_api/upload", content=chunks(), timeout=60,
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 411 and "Content-Length" in response.text
    assert set(files(server.temp)) <= set(before)


def test_oversized_requests_and_bad_values_get_sentences(server):
    c = client(server.url)
    response = httpx.post(f"{server.url}gradio_api/call/decode", json={"data": ["1" * 3_000_000]}, timeout=30)
    assert response.status_code == 413 and "at most 256 KB" in response.text
    refused(lambda: c.predict("1 " * 3000, api_name="/decode"), r"at most 2,000 are allowed")
    refused(lambda: c.predict("3 1 4", "auto", "abc", api_name="/decode"),
            r"Top-k shown must be a whole number between 1 and 10")
    refused(lambda: c.predict("3 1 4", "bundled:nope", api_name="/decode"), r"Model must be one of")
    assert c.predict("3 1 4", api_name="/decode")[0] == "4 1 3"


def private_handler(url: str, elem_id: str, event: str) -> tuple[int, list[str | None]]:
    """A private event handler, found the way anyone can, from the page's config: its index, and the elem_ids of
    its inputs in order (None for a gr.State, whose value the server keeps, whatever a caller sends)."""
    config = httpx.get(f"{url}config", timeout=30).json()
    ids = {comp["id"]: comp.get("props", {}).get("elem_id") for comp in config["components"]}
    for dep in config["dependencies"]:
        if any(ids.get(target[0]) == elem_id and target[1] == event for target in dep["targets"]):
            return dep["id"], [ids.get(i) for i in dep["inputs"]]
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


SKIP = {"__type__": "update"}  # gr.skip() as the page receives it: an update that changes nothing


def raised(pattern: str):
    """The handler refused its input with one clean sentence, as an error the page shows."""
    def check(output: dict) -> None:
        message = output.get("error")
        assert message, output  # Gradio's bare {"error": null} is not a sentence
        assert_clean(message)
        assert re.search(pattern, message), message
    return check


def said(pattern: str):
    """The handler answered with data the page shows, and the sentence is among it (on the page, not raised)."""
    def check(output: dict) -> None:
        assert "error" not in output and output.get("data"), output
        shown = [x.get("value") if isinstance(x, dict) else x for x in output["data"]]
        text = " ".join(x for x in shown if isinstance(x, str))
        assert_clean(text)
        assert re.search(pattern, text), text
    return check


def skipped(output: dict) -> None:
    """The handler ignored what it could not use: the page keeps what it shows (one output, unchanged)."""
    assert output.get("data") == [SKIP] and "error" not in output, output


def model_fields_shown(output: dict) -> None:
    """A model field out of range: the diagram stays as it was, and each model field is shown if an RNN (the
    architecture sent) uses it."""
    assert "error" not in output, output
    diagram, *fields = output["data"]
    assert diagram.get("__type__") == "update" and "value" not in diagram, diagram
    assert fields == [{"visible": name not in settings.TRANSFORMER_ONLY, "__type__": "update"}
                      for name in settings.MODEL_FIELDS], fields


def test_private_handlers_called_by_index_validate_their_inputs(server):
    d = settings.PRESETS[settings.DEFAULT_PRESET]
    model_inputs = [*settings.MODEL_FIELDS, "task", "min_len", "max_len"]
    calls = {  # (elem_id, event) -> (the inputs a script sends, in the handler's order; what must come back)
        ("setting-task", "input"): (["bogus", None], raised(r"^Task must be one of reverse, copy")),
        ("preset", "input"): (["nope", None, None], raised(r"^Preset must be one of")),
        # the samples are the server's own (a gr.State): a caller's list is never read
        ("decode-examples", "click"): ([0, ["9 9 9"]], raised(r"^Pick one of the examples\.$")),
        ("decode-topk", "change"): ([{"not": "decoded"}, "abc"], skipped),
        ("log-scale", "change"): (["yes", {"not": "a session"}], skipped),
        ("watch-sources", "change"): (["1 2\n" * 2000, "reverse", 3, 10, None],
                                      said(r"Watch these sources must be a few lines of tokens")),
        ("setting-hidden-dim", "change"): ([None, *[("lots" if n == "hidden_dim" else d[n]) for n in model_inputs]],
                                           model_fields_shown),
        # your own pairs: a made-up tokenisation, an example that is not one, a file that is not an upload
        ("data-source-tokens", "input"): (["bogus", "detect", None], said(r"Source tokens must be one of detect")),
        ("use-pasted", "click"): ([None, {"not": "text"}, None, "detect", "detect", None], said(r"Upload a file of "
                                                                                              r"pairs, paste some")),
        ("upload-data", "upload"): (["/etc/passwd", "", None, "detect", "detect", None],
                                    raised(r"takes a file uploaded to this app: upload it first")),
        ("decode-model", "change"): ([7, None, None], said(r"^Model must be one of")),
    }
    for (elem_id, event), (args, expected) in calls.items():
        index, inputs = private_handler(server.url, elem_id, event)
        assert len(args) == len(inputs), (elem_id, inputs)  # too few inputs would test Gradio, not the handler
        if elem_id == "setting-hidden-dim":
            assert inputs[1:] == [f"setting-{n.replace('_', '-')}" for n in model_inputs], inputs
        expected(call_by_index(server.url, index, args))
    assert client(server.url).predict("3 1 4", api_name="/decode")[0] == "4 1 3"


# ---------------------------------------------------------------- nobody watching


def train_after(c, behind: bool, **settings) -> None:
    """This client's training starts, and is stopped at once (one training at a time here). `behind`: it must
    first have waited in the queue behind the run under test, which would prove nothing if it never held the
    slot."""
    job = c.submit(**settings, api_name="/train")
    queued = False

    def started():
        nonlocal queued
        queued = queued or job.status().code.name == "IN_QUEUE"
        return last_status(job).startswith(("Training", "Done"))
    # the run under test has a budget of 60 s: a slot freed for the next run well before that was let go
    wait_until(started, "the next training starting: the slot freed", timeout=40, every=0.05)
    c.predict(api_name="/stop")
    outputs(job)
    assert queued or not behind, "the run under test was not holding the training slot"


def test_a_training_whose_stream_is_never_read_stops(server):
    names = [p["parameter_name"] for p in client(server.url).view_api(print_info=False, return_format="dict")
             ["named_endpoints"]["/train"]["parameters"]]
    values = {**settings.PRESETS[settings.DEFAULT_PRESET], "steps": 0, "time_budget": 60, "lr_decay": False,
              "mode": "new"}
    response = httpx.post(f"{server.url}gradio_api/call/train", json={"data": [values[n] for n in names]},
                          timeout=30)
    assert response.status_code == 200, response.text  # queued; its stream is not opened while it runs
    train_after(client(server.url), behind=True, steps=20, mode="new")
    # now it has ended, its stream says how: stopped for want of a reader, after about 5 s of its own time
    with httpx.stream("GET", f"{server.url}gradio_api/call/train/{response.json()['event_id']}", timeout=30) as r:
        lines = list(r.iter_lines())
    assert "event: complete" in lines, lines[-4:]
    final = json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))[STATUS]
    assert final.startswith("Stopped: stopped by request after") and "(nobody was watching it)" in final, final
    _, seconds, _ = reported(final)
    assert seconds < 60 / 2, final  # the unread run stopped after ~5 s of its own time, not its 60 s budget


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
    # (whether this run queues depends on how soon the server notices: it need not have to)
    train_after(client(server.url), behind=False, steps=20, mode="new")


# ---------------------------------------------------------------- nothing grows with use


def test_closed_sessions_give_back_their_files_and_memory(server):
    sessions = lambda: {p for p in server.temp.iterdir() if p.name.startswith("seq2seq-session-")}  # noqa: E731
    wait_until(lambda: runs_going(server.pid) == 0, "the earlier tests' runs ending")  # a quiet server to measure
    base_files, base_sessions, base_pss = set(files(server.temp)), sessions(), pss_mb(server.pid)
    clients = [client(server.url) for _ in range(4)]
    for c in clients:
        for _ in range(2):
            final = train(c, steps=10, mode="new", emb_dim=8, hidden_dim=16)[-1]  # small: the files are the point
            assert final[STATUS].startswith("Done"), final[STATUS]
        c.predict("3 1 4", api_name="/decode")
    ours = sessions() - base_sessions
    assert len(ours) == 4
    assert all(len(list(folder.iterdir())) == 2 for folder in ours)  # only the latest zip and CSV
    for c in clients:
        c.close()
    wait_until(lambda: not (sessions() & ours), "the closed sessions' folders being deleted", 30)
    wait_until(lambda: set(files(server.temp)) <= base_files, "the temp folder going back to what it held", 30)
    wait_until(lambda: pss_mb(server.pid) - base_pss < 100, "memory going back", 60)


def test_sessions_that_never_say_goodbye_are_let_go_oldest_first(tmp_path):
    """Scripts calling the API never close their sessions: past SEQ2SEQ_SESSIONS_MB, the idle longest go."""
    # a server of its own: a memory limit for sessions this small would let the shared server's tests' models go
    app = AppServer(tmp_path, SEQ2SEQ_SESSIONS_MB="1")  # room for one default model (0.7 MB) at a time
    try:
        a, b = client(app.url), client(app.url)
        assert train(a, steps=10, mode="new")[-1][STATUS].startswith("Done")
        assert "your model" in a.predict("3 1 4", api_name="/decode")[-1]
        assert train(b, steps=10, mode="new")[-1][STATUS].startswith("Done")
        refused(lambda: a.predict("3 1 4", "session", api_name="/decode"),
                r"Your model is gone: it was let go to make room")
        assert "your model" in b.predict("3 1 4", api_name="/decode")[-1]
        assert len([p for p in app.temp.iterdir() if p.name.startswith("seq2seq-session-")]) == 1
    finally:
        app.stop()
