import os

# before anything imports gradio: no analytics, no hub calls; nothing may download at run time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from seq2seq.config import ModelConfig, TrainConfig  # noqa: E402
from seq2seq.builder import build_model  # noqa: E402
from seq2seq.tasks import Task, make_spec  # noqa: E402
from seq2seq.training import train  # noqa: E402

torch.set_num_threads(1)  # small models train fastest on one thread, and results stay repeatable


@pytest.fixture(scope="session")
def short_reverse():
    """A small model trained for a few seconds on reverse, lengths 3-5: (model, task)."""
    task = Task(make_spec("reverse", 3, 5))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=64), seed=0)
    for _ in train(model, task, TrainConfig(steps=400, eval_every=400, val_size=200)):
        pass
    return model, task


@pytest.fixture(scope="module")
def pool():
    """A warm worker pool (its zygote has imported torch) for tests that train in worker processes."""
    from playground.worker import WorkerPool
    pool = WorkerPool()
    pool.warm_up()
    yield pool
    pool.close()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process, timeout: float = 90.0) -> float:
    """Seconds until `url` answers 200; fails with the server's log if it dies or never answers."""
    import time
    import urllib.request
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
    """`python app.py` in a subprocess: its url, process, and the temp folder it writes to (GRADIO_TEMP_DIR)."""

    def __init__(self, folder, **env):
        import subprocess
        import sys
        from pathlib import Path
        self.temp = folder / "gradio-temp"
        self.temp.mkdir()
        self.log = folder / "app.log"
        port = free_port()
        environment = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                       "SEQ2SEQ_MAX_TRAININGS": "1", "PYTHONUNBUFFERED": "1", "GRADIO_TEMP_DIR": str(self.temp),
                       **env}
        with open(self.log, "w") as out:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=Path(__file__).parent.parent,
                                            env=environment, stdout=out, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/"
        try:
            wait_for_http(self.url, self.process)
        except RuntimeError as e:
            self.process.kill()
            pytest.fail(f"{e}\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        import subprocess
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """`python app.py` running on a free local port, one training at a time (so queueing is testable)."""
    server = AppServer(tmp_path_factory.mktemp("app"))
    yield server.url
    server.stop()
