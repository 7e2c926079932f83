import pytest

from seq2seq.builder import build_model
from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.tasks import Task, make_spec
from seq2seq.training import train


@pytest.fixture(scope="session")
def short_reverse():
    """A small model trained for a few seconds on reverse, lengths 3-5: (model, task)."""
    task = Task(make_spec("reverse", 3, 5))
    model = build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=16, hidden_dim=64), seed=0)
    for _ in train(model, task, TrainConfig(steps=400, eval_every=400, val_size=200)):
        pass
    return model, task


@pytest.fixture(scope="session")
def pool():
    """A warm worker pool (its zygote has imported torch) for tests that train in worker processes: one for the
    tier, as the app has one (a test that kills its zygote leaves it to start a new one, as the app's does)."""
    from playground.worker import WorkerPool
    pool = WorkerPool()
    pool.warm_up()
    yield pool
    pool.close()
