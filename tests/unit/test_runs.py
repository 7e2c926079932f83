"""The session's kept runs without the server (playground/runs.py): names from what changed, the cap, finding,
renaming, deleting, making one current, the overlay's series, and their memory counted with the session's."""
import math

import pytest

from playground import limits, runs
from playground.registry import SESSIONS, keep_sessions_within_memory
from playground.runs import RunError
from playground.sessions import Session
from seq2seq.builder import build_model
from seq2seq.config import ModelConfig
from seq2seq.events import EvalEvent, StepEvent
from seq2seq.history import History
from seq2seq.tasks import Task, make_spec

TASK = Task(make_spec("reverse", 3, 5))
BASE = {"task": "reverse", "min_len": 3, "max_len": 5, "cell": "lstm", "hidden_dim": 16, "n_layers": 1, "lr": 0.01,
        "arch": "rnn"}


def trained(session: Session, hidden: int = 16, steps: int = 10, continued: bool = False, **changed) -> str | None:
    """The session after a run: a model of `hidden` units and a curve of `steps` steps, recorded as a run."""
    if not continued:
        session.model = build_model(ModelConfig(len(TASK.vocab), len(TASK.vocab), emb_dim=4, hidden_dim=hidden))
        session.history, session.task, session.seconds = History(), TASK, 1.5
    start = session.history.last_step
    for step in range(start + 1, start + steps + 1):
        session.history.record(StepEvent(step, 2.0 / step, 0.01 * step))
    session.history.record(EvalEvent(start + steps, 0.1, 0.5, 0.8, 1.0))
    return runs.record(session, {**BASE, "hidden_dim": hidden, **changed}, continued)


def test_runs_are_named_by_what_changed_from_the_run_before():
    session = Session()
    trained(session)
    trained(session, hidden=32)
    trained(session, hidden=32, lr=0.003, cell="gru", n_layers=2)
    trained(session, hidden=32, lr=0.003, cell="gru", n_layers=2)
    assert [r.name for r in session.runs] == ["reverse, LSTM 16", "Hidden size 16 → 32",
                                              "Cell lstm → gru, Layers 1 → 2 +1 more",  # the form's order
                                              "same settings as 3"]
    table = runs.table(session)
    assert list(table.columns) == list(runs.TABLE_COLUMNS)
    assert table["differs from the first run"].tolist()[:2] == ["—", "Hidden size 16 → 32"]
    assert table["name"].tolist()[-1].endswith("(current)") and table["exact match"].tolist()[0] == "50.0%"


def test_continuing_makes_the_current_run_longer_and_a_new_model_is_a_new_run():
    session = Session()
    trained(session, steps=10)
    trained(session, steps=5, continued=True)
    assert len(session.runs) == 1 and session.runs[0].history.last_step == 15
    session.current_run = None  # e.g. the current run was deleted: continuing it makes a run again
    trained(session, steps=5, continued=True)
    assert [r.number for r in session.runs] == [1, 2]


def test_the_cap_drops_the_oldest_run_and_says_so():
    session = Session()
    said = [trained(session, hidden=8 + n) for n in range(limits.MAX_RUNS)]
    assert said == [None] * limits.MAX_RUNS
    said = trained(session, hidden=99)
    assert said == f"This session keeps {limits.MAX_RUNS} runs: dropped the oldest, “1: reverse, LSTM 8”."
    assert [r.number for r in session.runs] == [2, 3, 4, 5, 6, 7] and session.current_run == 7
    assert len({r.colour for r in session.runs}) == len(session.runs)  # one colour each


def test_a_run_made_current_brings_back_its_model_curve_and_state():
    session = Session()
    trained(session, hidden=16, steps=10)
    first_model, first_history = session.model, session.history
    session.state = None
    trained(session, hidden=32, steps=20)
    run = runs.make_current(session, "1: reverse, LSTM 16")
    assert run.number == 1 and session.current_run == 1
    assert session.model is first_model and session.history is first_history and session.history.last_step == 10
    assert session.decoded is None and session.snapshot is None


def test_finding_renaming_and_deleting_say_what_is_wrong_in_a_sentence():
    session = Session()
    trained(session)
    trained(session, hidden=32)
    with pytest.raises(RunError, match=r"There is no run '7' in this session; its runs are: 1: reverse, LSTM 16, "
                                       r"2: Hidden size 16 → 32\."):
        runs.find(session, 7)
    with pytest.raises(RunError, match="at least one letter"):
        runs.rename(session, 1, "   ")
    with pytest.raises(RunError, match="Another run is already called"):
        runs.rename(session, 1, "Hidden size 16 → 32")
    assert runs.rename(session, "2", "  wide\n model " + "x" * 60).name == ("wide model " + "x" * 60)[:39] + "…"
    assert runs.delete(session, 2).startswith("2: wide model")
    assert session.current_run is None and session.model is not None  # the model stays the session's
    with pytest.raises(RunError, match="its runs are: 1: reverse, LSTM 16"):
        runs.delete(session, 2)
    assert runs.find(session, "reverse, LSTM 16").number == 1
    with pytest.raises(RunError, match="none yet: press Train"):
        runs.find(Session(), 1)


def test_the_overlay_has_one_series_per_ticked_run_named_by_its_number():
    session = Session()
    trained(session, steps=10)
    trained(session, hidden=32, steps=30)
    trained(session, hidden=64, steps=20)
    loss, accuracy = runs.overlay(session, ["1: reverse, LSTM 16", "2"])  # ticked by label or number
    assert set(loss["run"]) == set(accuracy["run"]) == {"1", "2"}
    assert loss[loss["run"] == "2"]["step"].max() == 30
    assert runs.overlay(session, []) == (None, None)
    assert runs.colour_map(session) == dict(zip("123", runs.RUN_COLOURS[:3]))


def test_kept_runs_count_in_the_sessions_memory_and_go_before_anyones_model(monkeypatch):
    session = Session()
    trained(session, hidden=64)
    alone = session.memory_mb()
    trained(session, hidden=64)
    assert math.isclose(session.memory_mb() - alone, session.runs[0].nbytes() / 1e6)
    assert session.runs[0].nbytes() >= 4 * session.runs[0].parameters
    SESSIONS.clear()
    SESSIONS["a"] = session
    monkeypatch.setattr(limits, "SESSIONS_MB", alone * 1.5)  # room for one model, not for a kept run beside it
    keep_sessions_within_memory()
    assert [r.number for r in session.runs] == [2] and session.model is not None
    SESSIONS.clear()
