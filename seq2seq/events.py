"""What a training run reports, as it goes: a step's loss, an evaluation's held-out figures, how it ended.
Plain data (no torch), so a record of a training (`seq2seq.history`) and the web app can read them without
loading a model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

NAN = float("nan")


@dataclass
class Metrics:
    """Held-out figures. exact_match, token_accuracy and loss with teacher forcing off (the model decodes from its
    own guesses, as it will be used); forced_accuracy: the token accuracy with teacher forcing on (each step fed
    the right previous token, as the training loss sees it). The gap between the two is exposure bias."""
    exact_match: float
    token_accuracy: float
    loss: float
    n: int
    forced_accuracy: float = NAN


class _Event:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepEvent(_Event):
    step: int
    loss: float
    elapsed: float
    event: str = "step"
    teacher_forcing: float | None = None  # the teacher-forcing ratio this step trained with (None: not reported)
    grad_norm: float | None = None  # the gradients' norm before clipping (None: not reported)
    lr: float | None = None         # the learning rate this step used
    single: bool = False            # a single step asked for while paused (seq2seq.pacing)
    watch_before: list[str] | None = None  # ... the watched sources' outputs before it
    watch: list[str] | None = None         # ... and after it
    changed: str | None = None      # settings changed while paused that apply from this step ("learning rate 0.001")


@dataclass
class EvalEvent(_Event):
    step: int
    elapsed: float
    exact_match: float
    token_accuracy: float
    val_loss: float
    watch: list[str] = field(default_factory=list)  # the greedy output for each watched source, in order
    event: str = "eval"
    forced_accuracy: float = NAN  # held-out token accuracy with teacher forcing on (Metrics.forced_accuracy)
    teacher_forcing: float | None = None  # the ratio training is at: the last step's (before any step: the first's)


@dataclass
class DoneEvent(_Event):
    """How a run ended. `step` is where training got to (the next run goes on from there); the figures and
    `watch` describe the model the caller ends with: the weights of step `kept_step`, earlier than `step`
    when keep_best went back to a better evaluation (the message then says so).

    `evaluated` is False when the run was stopped before its last weights (`step`) could be evaluated: the
    figures are then those of the held-out evaluation at `figures_step` (NaN, and figures_step None, when
    there was none), the message names that step, and the event is no point of the curve."""
    step: int
    elapsed: float
    reason: str            # "steps" | "time_budget" | "target_accuracy" | "stopped" | "diverged"
    message: str
    exact_match: float
    token_accuracy: float
    val_loss: float
    watch: list[str] = field(default_factory=list)
    kept_step: int | None = None  # the step of the weights kept (None: `step`)
    evaluated: bool = True        # whether the weights of `step` were evaluated (False: stopped before)
    figures_step: int | None = None  # the step whose held-out evaluation the figures are (None: kept_step)
    event: str = "done"
    forced_accuracy: float = NAN  # as EvalEvent's, for the same weights as the other figures (NaN: not known)
    teacher_forcing: float | None = None  # the ratio training got to (the last step's), as EvalEvent's


TrainEvent = StepEvent | EvalEvent | DoneEvent
