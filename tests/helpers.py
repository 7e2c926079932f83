"""What the tests share, written once: the project's root, the app server in a subprocess and its clients,
waiting for a condition, the command line in process, and comparing weights.

Imported as `tests.helpers` by the tests and as `helpers` by tools/bench_app.py and tools/loadtest.py (which put
tests/ on sys.path), so it imports nothing of its own package and nothing heavy at module level.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, NamedTuple

ROOT = Path(__file__).resolve().parent.parent  # the project
CHECKPOINTS = ROOT / "checkpoints"


# ---------------------------------------------------------------- waiting


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.1) -> Any:
    """The first truthy value of `condition()`, polled every `every` s; fails saying `what` did not happen."""
    start = time.perf_counter()
    while True:
        value = condition()
        if value:
            return value
        if time.perf_counter() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


# ---------------------------------------------------------------- the app in a subprocess


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process, timeout: float = 90.0) -> float:
    """Seconds until `url` answers 200; fails with the server's log if it dies or never answers."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the app did not answer {url} within {timeout:.0f} s")


class AppServer:
    """`python app.py` in a subprocess: its url, process, and the temp folder it writes to (GRADIO_TEMP_DIR).

    One training at a time unless `env` says otherwise (SEQ2SEQ_MAX_TRAININGS=1), so the queue can be observed."""

    def __init__(self, folder: Path, **env: str):
        self.temp = folder / "gradio-temp"
        self.temp.mkdir()
        self.log = folder / "app.log"
        port = free_port()
        environment = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                       "SEQ2SEQ_MAX_TRAININGS": "1", "PYTHONUNBUFFERED": "1", "GRADIO_TEMP_DIR": str(self.temp),
                       **env}
        with open(self.log, "w") as out:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environment, stdout=out,
                                            stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/"
        try:
            self.started_in = wait_for_http(self.url, self.process)
        except RuntimeError as e:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{e}\n{self.log.read_text()[-3000:]}") from None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------- gradio_client

# /train streams these, in this order; /decode returns the output first and which model it used last
LOSS_PLOT, ACCURACY_PLOT, STATUS, CHECKPOINT, METRICS = range(5)
OUTPUT, VERDICT, STEPS, HEATMAP, TREE, MODEL_INFO = 0, 1, 2, 3, 6, -1
STREAM_TIMEOUT = 200.0  # no run of a test takes this long, even beside two busy processes (a worker yields its
                        # CPU to them: it runs at nice 10): a stream that does has hung


def client(url: str):
    """A new gradio_client Client: a new browser session."""
    from gradio_client import Client
    return Client(url, analytics_enabled=False, verbose=False)


def outputs(job, timeout: float = STREAM_TIMEOUT) -> list:
    """Every update a submitted job streamed, once it has ended (at most `timeout` s); raises the app's error."""
    job.result(timeout=timeout)
    return list(job.outputs())


def train(c, timeout: float = STREAM_TIMEOUT, **settings) -> list:
    """The updates of one /train run of client `c` with `settings`, once it has ended (at most `timeout` s)."""
    return outputs(c.submit(**settings, api_name="/train"), timeout)


def last_status(job) -> str:
    updates = job.outputs()
    return updates[-1][STATUS] if updates else ""


def wait_for_status(job, pattern: str, timeout: float = 30.0) -> str:
    """The first status of a running /train job that matches `pattern` (a regex, from its start); fails if the job
    ends first."""
    def seen():
        status = last_status(job)
        if re.match(pattern, status):
            return status
        if job.done():
            job.result()  # raises the app's error, if that is why it ended
            raise AssertionError(f"the run ended before a status matching {pattern!r}; last: {last_status(job)!r}")
        return None
    return wait_until(seen, f"a status matching {pattern!r} (last: {last_status(job)!r})", timeout, every=0.05)


NUMBER = r"\d[\d,]*"  # a whole number as a status line writes it (1,234)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def reported(status: str) -> tuple[int, float, int]:
    """What a finished run says it did: "... 123 steps in 2.9 s (...); step 623 in all ..." -> (123, 2.9, 623):
    the steps of this run, its own time, and the model's step count."""
    found = re.search(rf"\. ({NUMBER}) steps in ([\d.]+) s \(.*?\); step ({NUMBER}) in all", status)
    assert found, status
    return number(found[1]), float(found[2]), number(found[3])


def series(plot: dict, name: str) -> list[tuple[float, float]]:
    """(step, value) points of one colour series of a LinePlot value."""
    return [(row[0], row[1]) for row in plot["data"] if row[2] == name]


# ---------------------------------------------------------------- the command line, in process


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def ok(self) -> str:
        """stdout, after checking the command succeeded and wrote nothing on stderr."""
        assert self.returncode == 0 and self.stderr == "", self
        return self.stdout


def run_main(args, stdin: str | None = None) -> int:
    """`python -m seq2seq ARGS` as main() in this process: argparse's errors exit (code 2) rather than return."""
    from seq2seq.__main__ import main
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        return main([str(a) for a in args])
    except SystemExit as e:
        return e.code
    finally:
        sys.stdin = old_stdin


def cli(capsys, *args, stdin: str | None = None) -> Result:
    """Run the CLI in this process: its exit code and what it wrote (read through pytest's capsys)."""
    capsys.readouterr()
    code = run_main(args, stdin)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


# ---------------------------------------------------------------- weights


def _tensors(weights) -> list[tuple[str, Any]]:
    """(name, tensor) pairs of a module, a state dict or a sequence of tensors (named by position)."""
    import torch
    if isinstance(weights, torch.nn.Module):
        weights = weights.state_dict()
    if isinstance(weights, dict):
        return list(weights.items())
    return [(str(i), t) for i, t in enumerate(weights)]


def same_weights(a, b) -> bool:
    """Whether two sets of weights are equal bit for bit (dtype and shape too). Either may be a module, a state
    dict or a list of tensors. Nothing to compare, or different names or counts, fails the test: that is a broken
    comparison, never an answer."""
    import torch
    ta, tb = dict(_tensors(a)), dict(_tensors(b))
    assert ta and tb, f"nothing to compare: {len(ta)} and {len(tb)} tensors"
    assert ta.keys() == tb.keys(), f"different tensors: {sorted(ta.keys() ^ tb.keys())}"
    return all(ta[name].dtype == tb[name].dtype and torch.equal(ta[name], tb[name]) for name in ta)


def one_line_error(result, code: int = 1) -> str:
    """The command line's failure contract: exit `code`, one non-empty stderr line, no traceback, nothing on
    stdout. The line."""
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert result.stdout == "", result.stdout
    return lines[0]
