import os

# before anything imports gradio: no analytics, no hub calls; nothing may download at run time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from seq2seq.config import ModelConfig, TrainConfig  # noqa: E402
from seq2seq.model import build_model  # noqa: E402
from seq2seq.tasks import Task, make_spec  # noqa: E402
from seq2seq.train import train  # noqa: E402

torch.set_num_threads(1)  # small models train fastest on one thread, and results stay repeatable


@pytest.fixture(scope="session")
def short_reverse():
    """A small model trained for a few seconds on reverse, lengths 3-5: (model, task)."""
    task = Task(make_spec("reverse", 3, 5))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=64), seed=0)
    for _ in train(model, task, TrainConfig(steps=400, eval_every=400, val_size=200)):
        pass
    return model, task
