"""Decoding against a running `python app.py`, as a hostile visitor would push it: the largest Transformer the Train
form and the upload check accept, loaded as a checkpoint zip, asked for a beam-10 decode of a 200-token source it never ends (its <eos> is
never chosen). Such a request is refused with one sentence before any work; the decode that sentence allows works,
within the memory the issue allows; and a cancelled decode (or what-if) stops computing.

What the server does is read from /proc (its CPU time and RSS), never timed by the wall clock: the CPU time a
cancelled request goes on using is measured over a pause, with generous slack."""
import re
import time
from pathlib import Path

import pytest
import torch
from gradio_client import handle_file

from seq2seq import ModelConfig, Task, build_model, make_spec
from seq2seq.checkpoint import save_checkpoint, training_summary, write_checkpoint_zip
from seq2seq.tasks import EOS_ID
from tests.helpers import AppServer, client, wait_until

# the form's most layers and heads, and the largest d_model (of 8 heads) the upload check accepts with them (384
# would need 1.2 GB to train)
LARGEST_TRANSFORMER = dict(arch="transformer", hidden_dim=320, n_layers=4, heads=8)
SOURCE = " ".join(str(i % 9 + 1) for i in range(200))  # 200 tokens (the most a source may have)
REFUSED = re.compile(r"this app allows .* per decoding: .*(lower the beam width|shorten the source)")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # clock ticks: 100 a second on Linux


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def never_ending_zip(folder: Path, **sizes) -> Path:
    """An untrained reverse model of the given sizes whose output never says <eos>, as a checkpoint zip."""
    task = Task(make_spec("reverse", 3, 10))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **sizes), seed=0)
    with torch.no_grad():
        model.decoder.fc_out.bias[EOS_ID] = -1e4
    path = save_checkpoint(folder / "never-ends", model, task, training_summary(0, 0.0, 0.0, 0.0))
    return write_checkpoint_zip(path, folder / "never-ends.zip")


def decode_args(source: str, width: int) -> tuple:
    return (source, "session", 3, "reverse", "beam", width, 1.0, 0, 1.0, 0)


@pytest.fixture(scope="module")
def largest_zip(tmp_path_factory) -> Path:
    return never_ending_zip(tmp_path_factory.mktemp("largest"), **LARGEST_TRANSFORMER)


def test_a_decode_over_budget_is_refused_before_any_work_and_the_one_it_allows_works(server, largest_zip):
    c = client(server.url)
    assert c.predict(handle_file(str(largest_zip)), api_name="/load").startswith("Loaded")
    cpu = cpu_seconds(server.pid)
    with pytest.raises(Exception) as refused:
        c.predict(*decode_args(SOURCE, 10), api_name="/decode")
    spent = cpu_seconds(server.pid) - cpu
    sentence = str(refused.value)
    assert REFUSED.search(sentence), sentence
    assert "Beam width 10 on a 200-token source with this model (Transformer, 4 layers, 8 heads)" in sentence
    assert "Traceback" not in sentence and "Error" not in sentence.split(":")[0]
    assert spent < 1.0, f"the refused decode used {spent:.2f} s of the server's CPU"  # the decode: many seconds

    # what the sentence allows works: the shorter source it names, at the same width
    allowed = re.search(r"shorten the source \(to (\d+) tokens? or less\)", sentence)
    assert allowed, sentence
    n = int(allowed[1])
    assert 1 <= n < 200
    before = rss_mb(server.pid)
    result = c.predict(*decode_args(" ".join(SOURCE.split()[:n]), 10), api_name="/decode")
    grown = rss_mb(server.pid) - before
    assert result[0].split() and "<eos>" not in result[0]
    assert "Width 10" in result[6]  # the beam tree
    assert grown <= 300, f"the server grew {grown:.0f} MB"

    # /what_if counts the decode and its what-if together: refused for the whole source too, before any work
    with pytest.raises(Exception) as refused:
        c.predict(SOURCE, 2, "5", "session", "reverse", "beam", 10, 1.0, 0, 1.0, 0, api_name="/what_if")
    assert "then its what-if decoding" in str(refused.value) and REFUSED.search(str(refused.value))
    c.close()


@pytest.fixture(scope="module")
def roomy_server(tmp_path_factory):
    """A server whose decoding budget lets the largest model decode 200 tokens with width 10 (many seconds):
    something long enough to cancel."""
    app = AppServer(tmp_path_factory.mktemp("roomy"), SEQ2SEQ_DECODE_SECONDS="3600", SEQ2SEQ_DECODE_MB="20000")
    yield app
    app.stop()


@pytest.mark.parametrize("endpoint", ["/decode", "/what_if"])
def test_a_cancelled_decode_stops_computing(roomy_server, largest_zip, endpoint):
    server = roomy_server
    c = client(server.url)
    assert c.predict(handle_file(str(largest_zip)), api_name="/load").startswith("Loaded")
    args = decode_args(SOURCE, 10)
    if endpoint == "/what_if":
        args = (SOURCE, 2, "5", "session", "reverse", *args[4:])
    idle = cpu_seconds(server.pid)
    job = c.submit(*args, api_name=endpoint)
    wait_until(lambda: cpu_seconds(server.pid) - idle > 1.0, "the decode computing", 60, every=0.05)
    assert not job.done(), "the decode ended before it could be cancelled"
    assert job.cancel()
    time.sleep(1.0)  # the decoder's current step ends (at most one step of this model: well under a second)
    start = cpu_seconds(server.pid)
    time.sleep(2.0)
    busy = cpu_seconds(server.pid) - start
    assert busy < 0.5, f"the server used {busy:.2f} s of CPU in the 2 s after the cancelled decode"
    # and the server still decodes
    assert c.predict("3 1 4", "bundled:reverse", 3, "reverse", "greedy", 5, 1.0, 0, 1.0, 0,
                     api_name="/decode")[0] == "4 1 3"
    c.close()
