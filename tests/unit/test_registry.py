"""The server's sessions (playground.registry): scripts' sessions expire, and past SEQ2SEQ_SESSIONS_MB the least
recently used let go of their results before anyone's model."""
import pytest

from playground import limits, registry
from playground.sessions import ROW_BYTES, Session
from seq2seq import ModelConfig, Task, build_model, make_spec


class Kept:
    """A kept decoding of a known size (what playground.decoding's results report as nbytes)."""

    def __init__(self, size: int):
        self.size = size

    def nbytes(self) -> int:
        return self.size


@pytest.fixture
def sessions(monkeypatch):
    monkeypatch.setattr(registry, "SESSIONS", type(registry.SESSIONS)())
    monkeypatch.setattr(registry, "RUNNING", {})
    return registry.SESSIONS


def with_model() -> Session:
    task = Task(make_spec("reverse", 3, 5))
    return Session(model=build_model(ModelConfig(len(task.vocab), len(task.vocab), emb_dim=8, hidden_dim=16)),
                   task=task)


def test_results_are_counted_and_dropped_before_models(sessions, monkeypatch):
    old, new = with_model(), with_model()
    old.decoded = Kept(3_000_000)
    old.keep_rows(old.model, ("key",), [object()] * 10)
    assert old.results_bytes() == 3_000_000 + 10 * ROW_BYTES
    assert old.memory_mb() == pytest.approx(with_model().memory_mb() + 3.004)
    sessions["old"], sessions["new"] = old, new
    monkeypatch.setattr(limits, "SESSIONS_MB", old.memory_mb() + new.memory_mb() - 1)
    registry.keep_sessions_within_memory()
    assert list(sessions) == ["old", "new"] and old.model is not None  # the results went, not the model
    assert old.decoded is None and old.compared is None and old.released is None
    monkeypatch.setattr(limits, "SESSIONS_MB", new.memory_mb() + 0.001)
    registry.keep_sessions_within_memory()
    assert list(sessions) == ["new"] and old.model is None and "make room" in old.released


def test_sessions_unused_past_their_time_to_live_are_released(sessions):
    idle, busy, training = with_model(), with_model(), with_model()
    sessions["idle"], sessions["busy"], sessions["training"] = idle, busy, training
    now = busy.last_used + limits.SESSION_TTL + 1
    idle.last_used = training.last_used = busy.last_used - 10
    busy.last_used = now - 5
    registry.RUNNING["training"] = object()
    registry.keep_sessions_within_memory(now)
    assert list(sessions) == ["busy", "training"]
    assert idle.model is None and idle.released == "it was not used for a long time"


def test_a_cached_chart_belongs_to_the_model_it_measured():
    session = with_model()
    session.keep_rows(session.model, ("k",), ["row"])
    assert session.rows_for(session.model, ("k",)) == ["row"]
    session.model = with_model().model  # trained further, or another model loaded
    assert session.rows_for(session.model, ("k",)) is None
    session.keep_rows(session.model, ("k",), ["new row"])
    assert session.compared[1] == {("k",): ["new row"]}  # the old model's rows went with it
