import os

# before anything imports gradio: no analytics, no hub calls; nothing may download at run time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

pytest.register_assert_rewrite("tests.helpers")  # its asserts say what differed, as a test's own do

import torch  # noqa: E402

from tests.helpers import AppServer  # noqa: E402

torch.set_num_threads(1)  # small models train fastest on one thread, and results stay repeatable


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The one `python app.py` of the session, shared by the app and browser tiers: a free local port, one
    training at a time (so queueing is testable), its own temp folder (so what it leaves behind can be counted)."""
    app = AppServer(tmp_path_factory.mktemp("app"))
    yield app
    app.stop()


@pytest.fixture(scope="session")
def app_url(server) -> str:
    return server.url
