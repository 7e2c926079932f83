"""The session's runs, kept side by side (the Runs tab): every model trained here (or loaded) is a run with its
settings, curve, figures, time and model, up to MAX_RUNS (the oldest beyond it is dropped, and the page says so).
A run continued by Train stays one run, its curve longer; a new model is a new run, named by what changed from the
run before it ("Hidden size 64 → 128"). Any run can become the session's model again (decode, compare, continue,
download) or be deleted. Plain data and pandas only: the tab (runs_tab.py) draws it.

    record(session, values)            # after a run: the session's model as a run (new, or the current one longer)
    make_current(session, run_id)      # that run's model, task, curve and state become the session's
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import limits

if TYPE_CHECKING:
    from seq2seq.history import History

    from .sessions import Session

# one colour per run, the same in the table and both plots (by the run's number: a run keeps its colour)
RUN_COLOURS = ("#4338ca", "#ea580c", "#15803d", "#db2777", "#0891b2", "#a16207")
MAX_NAME = 40  # characters of a run's name
TABLE_COLUMNS = ("run", "name", "exact match", "best step", "steps", "time, s", "parameters",
                 "differs from the first run")
COLUMN_WIDTHS = ["56px", "170px", "95px", "85px", "70px", "75px", "105px", "240px"]  # a phone scrolls it inside


class RunError(ValueError):
    """A run that cannot be found, or a name that cannot be given: one sentence."""


@dataclass
class KeptRun:
    number: int                 # 1, 2, ... in the session (never reused: a deleted run's colour is not taken)
    name: str
    settings: dict[str, Any]    # the Train tab's values it was trained with (playground.uploads.form_values_of)
    model: Any
    task: Any
    history: History
    state: bytes | None
    seconds: float
    source: str
    train_config: dict | None
    parameters: int
    kept: tuple[float, int | None] = (math.nan, None)  # the exact match of the model it holds, and its step
    created: float = field(default_factory=time.time)

    @property
    def colour(self) -> str:
        return RUN_COLOURS[(self.number - 1) % len(RUN_COLOURS)]

    @property
    def label(self) -> str:
        """The run as the plots' legend and the menus name it: its number and name (unique in the session)."""
        return f"{self.number}: {self.name}"

    def nbytes(self) -> int:
        """What it keeps in memory: its weights, its training state, its curve (about 40 B a step)."""
        return 4 * self.parameters + len(self.state or b"") + 40 * len(self.history.steps)


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two runs' settings, in the form's words ("Hidden size 64 → 128"), the form's order."""
    out = []
    for name, s in limits.SETTINGS.items():
        if name in old or name in new:
            a, b = old.get(name, "—"), new.get(name, "—")
            if a != b:
                out.append(f"{s.short} {plain(a)} → {plain(b)}")
    return out


def plain(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def auto_name(runs: list[KeptRun], settings: dict) -> str:
    """A new run's name: what changed from the latest kept run (at most two changes, "+1 more" after), or for the
    first run its task and shape."""
    if not runs:
        shape = (f"Transformer {settings.get('hidden_dim')}" if settings.get("arch") == "transformer"
                 else f"{str(settings.get('cell', '')).upper()} {settings.get('hidden_dim')}")
        return clip_name(f"{settings.get('task')}, {shape}")
    changed = differences(runs[-1].settings, settings)
    if not changed:
        return clip_name(f"same settings as {runs[-1].number}")
    more = f" +{len(changed) - 2} more" if len(changed) > 2 else ""
    return clip_name(", ".join(changed[:2]) + more)


def clip_name(name: str) -> str:
    name = " ".join(str(name).split())
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"


def current(session: Session) -> KeptRun | None:
    return next((r for r in session.runs if r.number == session.current_run), None)


def record(session: Session, settings: dict, continued: bool, name: str | None = None) -> str | None:
    """After a run has ended with a model: the session's model as a run — the current one, longer, when the run
    continued it; else a new run. Returns a sentence when the oldest run had to go to keep MAX_RUNS."""
    from .sessions import count_parameters
    run = current(session) if continued else None
    kept = kept_figures(session)
    if run is None:
        session.run_counter += 1
        run = KeptRun(session.run_counter, clip_name(name) if name else auto_name(session.runs, settings), settings, session.model, session.task,
                      session.history, session.state, session.seconds, session.source, session.train_config,
                      count_parameters(session.model), kept)
        session.runs.append(run)
        session.current_run = run.number
        return drop_beyond_cap(session)
    run.settings, run.model, run.task, run.history, run.state = settings, session.model, session.task, \
        session.history, session.state
    run.seconds, run.source, run.train_config, run.kept = session.seconds, session.source, session.train_config, kept
    return None


def kept_figures(session: Session) -> tuple[float, int | None]:
    """The held-out exact match of the session's model, and the step of the weights it holds."""
    from seq2seq.training import TrainState
    try:
        state = TrainState.from_bytes(session.state, session.model) if session.state is not None else None
    except ValueError:
        state = None
    if state is not None and state.kept is not None:
        return state.kept.exact_match, state.kept.step
    last = session.history.evals[-1] if session.history.evals else None
    return (last.exact_match, last.step) if last is not None else (math.nan, None)


def drop_beyond_cap(session: Session) -> str | None:
    """Keep at most MAX_RUNS: the oldest runs that are not the current one go. A sentence naming them, or None."""
    dropped = []
    while len(session.runs) > limits.MAX_RUNS:
        oldest = next(r for r in session.runs if r.number != session.current_run)
        session.runs.remove(oldest)
        dropped.append(oldest)
    if not dropped:
        return None
    names = ", ".join(f"“{r.label}”" for r in dropped)
    return f"This session keeps {limits.MAX_RUNS} runs: dropped the oldest, {names}."


def find(session: Session, which: Any) -> KeptRun:
    """A run by its number (1, "1") or its label or name, as the menus and the API give it."""
    text = str(which).strip() if which is not None else ""
    for run in session.runs:
        if text in (str(run.number), run.label, run.name):
            return run
    listed = ", ".join(r.label for r in session.runs) or "none yet: press Train"
    raise RunError(f"There is no run {text!r:.60} in this session; its runs are: {listed}.")


def make_current(session: Session, which: Any) -> KeptRun:
    """That run's model, task, curve and training state become the session's: Decode and Compare use it, Train
    continues it exactly, the downloads are its own."""
    run = find(session, which)
    session.model, session.task, session.history, session.state = run.model, run.task, run.history, run.state
    session.seconds, session.source, session.train_config = run.seconds, run.source, run.train_config
    session.current_run, session.last_status, session.released = run.number, None, None
    session.snapshot = session.exact_snapshot = session.snapshot_model = None
    session.drop_results()
    return run


def delete(session: Session, which: Any) -> str:
    """Forget a run. The current run's model stays the session's model (it is just no longer listed)."""
    run = find(session, which)
    session.runs.remove(run)
    if session.current_run == run.number:
        session.current_run = None
    return run.label


def rename(session: Session, which: Any, name: Any) -> KeptRun:
    run = find(session, which)
    new = clip_name(name if isinstance(name, str) else "")
    if not new:
        raise RunError("A run's name needs at least one letter or digit.")
    if any(r is not run and r.name == new for r in session.runs):
        raise RunError(f"Another run is already called “{new}”: pick another name.")
    run.name = new
    return run


def table(session: Session | None) -> pd.DataFrame:
    """One row per kept run: its number, name, final exact match, best step, steps, time, parameters, and the
    settings that differ from the first run listed."""
    kept = session.runs if session is not None else []
    first = kept[0].settings if kept else {}
    rows = []
    for run in kept:
        exact, best = run.kept
        star = " (current)" if run.number == session.current_run else ""
        rows.append((f"■ {run.number}", run.name + star, "—" if not math.isfinite(exact) else f"{exact:.1%}",
                     "—" if best is None else f"{best:,}", f"{run.history.last_step:,}", f"{run.seconds:.1f}",
                     f"{run.parameters:,}", "; ".join(differences(first, run.settings)) or "—"))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def colour_map(session: Session) -> dict[str, str]:
    """Each run's colour, by what the plots' legend calls it: its number."""
    return {str(run.number): run.colour for run in session.runs}


def overlay(session: Session, ticked: list, max_points: int = limits.PLOT_POINTS) -> tuple[pd.DataFrame | None,
                                                                                               pd.DataFrame | None]:
    """The ticked runs' smoothed training loss and held-out exact match (%), one series per run, named by its
    number: a plot's legend is one row, cut at its edge, and two names may not fit a phone; the table above names
    the runs, each ■ in the plots' colour."""
    wanted = {str(t) for t in ticked or ()}
    loss, accuracy = [], []
    for run in session.runs:
        if str(run.number) not in wanted and run.label not in wanted:
            continue
        name = str(run.number)
        loss += [(step, smooth, name) for step, _, smooth in run.history.loss_points(max_points)
                 if math.isfinite(smooth)]
        accuracy += [(e.step, 100 * e.exact_match, name) for e in run.history.eval_points(max_points)
                     if math.isfinite(e.exact_match)]
    return (pd.DataFrame(loss, columns=["step", "loss", "run"]) if loss else None,
            pd.DataFrame(accuracy, columns=["step", "percent", "run"]) if accuracy else None)


def memory_bytes(session: Session) -> int:
    """What the runs other than the session's current model keep (the current one is counted with the session)."""
    return sum(r.nbytes() for r in session.runs if r.model is not session.model)


def drop_old_runs(session: Session) -> int:
    """Let every run but the current one go (the server is over its memory); how many went."""
    before = len(session.runs)
    session.runs = [r for r in session.runs if r.number == session.current_run]
    return before - len(session.runs)
