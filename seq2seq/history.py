"""A model's training record: every step's loss and teacher-forcing ratio and every held-out evaluation (free-running
and teacher-forced), across runs.

Training can stop and continue, so steps keep counting and one History covers the model's whole life.
It gives plot-sized views (a few hundred points, however long the run) and the full record as CSV.

    history = History()
    for event in train(model, task, config, start_step=history.last_step):
        history.record(event)
    history.loss_points(300), history.eval_points(300), history.to_csv()
"""
from __future__ import annotations

import bisect
import csv
import io
import math
from dataclasses import dataclass, field

from .events import DoneEvent, EvalEvent, StepEvent, TrainEvent

CSV_COLUMNS = ("step", "elapsed_s", "train_loss", "val_loss", "exact_match", "token_accuracy", "forced_accuracy",
               "teacher_forcing")  # new columns go last: scripts may read them by position
SMOOTHING = 0.97      # the smoothed loss is an exponential moving average over about 1 / (1 - this) steps
CURVE_POINTS = 200    # points per series a checkpoint carries of its training curve
MAX_CURVE_POINTS = 1000  # ... and at most this many are read back from an uploaded one


NAN = float("nan")


@dataclass
class EvalPoint:
    step: int
    val_loss: float
    exact_match: float
    token_accuracy: float           # teacher forcing off: the model's own guesses fed back
    forced_accuracy: float = NAN    # teacher forcing on (NaN: not measured, e.g. a record from before it was)
    teacher_forcing: float = NAN    # the ratio training was at (NaN: not known)


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)  # seconds since the start of the step's run
    evals: list[EvalPoint] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)  # the loss's moving average, one per step
    offset: int = 0  # the step a loaded model had reached, when its curve is unknown
    ratios: list[float] = field(default_factory=list)  # the teacher-forcing ratio of each step (NaN: not known)
    marks: list[tuple[int, str]] = field(default_factory=list)  # (step, what changed after it): settings changed
                                                                 # while paused (seq2seq.pacing), for the curve

    @property
    def last_step(self) -> int:
        return max(self.steps[-1] if self.steps else 0, self.evals[-1].step if self.evals else 0, self.offset)

    def record(self, event: TrainEvent) -> None:
        if isinstance(event, StepEvent):
            self.steps.append(event.step)
            self.losses.append(event.loss)
            self.elapsed.append(event.elapsed)
            self.smoothed.append(self._smooth(event.loss))
            self.ratios.append(_number(event.teacher_forcing))
            if getattr(event, "changed", None):
                self.marks.append((event.step - 1, event.changed))
        elif isinstance(event, (EvalEvent, DoneEvent)):
            if isinstance(event, DoneEvent) and self.steps and self.steps[-1] > event.step:
                self.truncate(event.step)  # training went back to earlier weights (it diverged)
            if isinstance(event, DoneEvent) and not event.evaluated:
                return  # stopped before its last weights were evaluated: its figures are an earlier point's
            if not self.evals or self.evals[-1].step != event.step:  # a DoneEvent repeats the last eval
                self.evals.append(EvalPoint(event.step, event.val_loss, event.exact_match, event.token_accuracy,
                                            _number(event.forced_accuracy), _number(event.teacher_forcing)))

    def truncate(self, step: int) -> None:
        """Forget everything after `step`: the model went back to its weights of that step."""
        keep = bisect.bisect_right(self.steps, step)
        del self.steps[keep:], self.losses[keep:], self.elapsed[keep:], self.ratios[keep:]
        self.evals = [e for e in self.evals if e.step <= step]
        self.marks = [m for m in self.marks if m[0] < step]
        self.smoothed = []
        for loss in self.losses:
            self.smoothed.append(self._smooth(loss))

    def _smooth(self, loss: float) -> float:
        """The moving average after `loss`, bias-corrected so it starts at the first loss rather than at
        zero (as TensorBoard's smoothing does). A non-finite loss restarts it."""
        last = self.smoothed[-1] if self.smoothed else float("nan")
        if not math.isfinite(loss) or not math.isfinite(last):
            self._ema, self._weight = (1 - SMOOTHING) * loss, 1 - SMOOTHING
            return loss
        self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * loss
        self._weight = SMOOTHING * self._weight + (1 - SMOOTHING)
        return self._ema / self._weight

    def loss_points(self, max_points: int = 300) -> list[tuple[int, float, float]]:
        """(step, mean training loss, smoothed loss at that step) over at most `max_points` equal runs of
        steps, however long the history."""
        n = len(self.losses)
        if n == 0:
            return []
        size = math.ceil(n / max_points)
        points = []
        for start in range(0, n, size):
            chunk = self.losses[start:start + size]
            end = min(start + size, n) - 1
            points.append((self.steps[end], sum(chunk) / len(chunk), self.smoothed[end]))
        return points

    def curve(self, max_points: int = CURVE_POINTS) -> dict[str, list]:
        """A small copy of the training curve for a checkpoint's config.json, so whoever loads it sees how it
        was trained (and its step count goes on from there)."""
        def r(x: float) -> float | None:
            return float(f"{x:.5g}") if math.isfinite(x) else None
        loss = self.loss_points(max_points)
        evals = self.eval_points(max_points)
        return {"step": [p[0] for p in loss], "train_loss": [r(p[1]) for p in loss],
                "eval_step": [e.step for e in evals], "val_loss": [r(e.val_loss) for e in evals],
                "exact_match": [r(e.exact_match) for e in evals],
                "token_accuracy": [r(e.token_accuracy) for e in evals],
                "forced_accuracy": [r(e.forced_accuracy) for e in evals],
                "teacher_forcing": [r(e.teacher_forcing) for e in evals]}

    @classmethod
    def from_training(cls, training: dict) -> "History":
        """The History a checkpoint's `training` summary describes: its curve when it carries one (checked:
        it may come from an uploaded file), else one evaluation at its last step, else nothing."""
        history = cls()
        curve = training.get("curve") if isinstance(training, dict) else None
        try:
            history._read_curve(curve)
        except (TypeError, ValueError):
            history = cls()
        steps = training.get("steps") if isinstance(training, dict) else None
        if isinstance(steps, int) and not isinstance(steps, bool) and history.last_step < steps <= 10**9:
            def number(key: str) -> float | None:
                x = training.get(key)
                return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None
            val, exact, tokens = number("val_loss"), number("exact_match"), number("token_accuracy")
            if exact is not None and tokens is not None:
                history.evals.append(EvalPoint(steps, float("nan") if val is None else val, exact, tokens))
            else:
                history.offset = steps
        return history

    def _read_curve(self, curve) -> None:
        if curve is None:
            return
        def numbers(key: str, whole: bool = False) -> list:
            values = curve[key]
            if not isinstance(values, list) or len(values) > MAX_CURVE_POINTS:
                raise ValueError(key)
            out = []
            for v in values:
                if v is None and not whole:
                    v = float("nan")
                if isinstance(v, bool) or not isinstance(v, (int, float)) or (whole and not isinstance(v, int)):
                    raise ValueError(key)
                out.append(v)
            return out
        steps, losses = numbers("step", True), numbers("train_loss")
        eval_steps = numbers("eval_step", True)
        metrics = [numbers(k) for k in ("val_loss", "exact_match", "token_accuracy")]
        # added later: a curve written before has none (then NaN: not known)
        metrics += [numbers(k) if k in curve else [NAN] * len(eval_steps) for k in ("forced_accuracy",
                                                                                 "teacher_forcing")]
        if len(steps) != len(losses) or any(len(m) != len(eval_steps) for m in metrics):
            raise ValueError("lengths")
        for series in (steps, eval_steps):
            if any(b <= a for a, b in zip(series, series[1:])) or any(s < 0 or s > 10**9 for s in series):
                raise ValueError("steps")
        for step, loss in zip(steps, losses):
            self.record(StepEvent(step, loss, float("nan")))
        self.evals = [EvalPoint(*point) for point in zip(eval_steps, *metrics)]

    def eval_points(self, max_points: int = 300) -> list[EvalPoint]:
        """Held-out evaluations, thinned to at most `max_points` (always keeping the latest)."""
        n = len(self.evals)
        if n <= max_points:
            return list(self.evals)
        stride = math.ceil(n / max_points)
        kept = self.evals[::-1][::stride][::-1]  # count back from the latest so it is always kept
        return kept

    def to_csv(self) -> str:
        """One row per training step (and per evaluation), with held-out metrics where they were measured."""
        rows: dict[int, list[str]] = {}
        ratios = self.ratios + [NAN] * (len(self.steps) - len(self.ratios))  # (a History built by hand may lack them)
        for step, elapsed, loss, ratio in zip(self.steps, self.elapsed, self.losses, ratios):
            rows[step] = [str(step), f"{elapsed:.3f}", f"{loss:.6g}", "", "", "", "", _cell(ratio)]
        for e in self.evals:
            row = rows.setdefault(e.step, [str(e.step), "", "", "", "", "", "", _cell(e.teacher_forcing)])
            row[3:7] = [f"{e.val_loss:.6g}", f"{e.exact_match:.6g}", f"{e.token_accuracy:.6g}",
                        _cell(e.forced_accuracy)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows[step] for step in sorted(rows))
        return out.getvalue()


def _number(x: float | None) -> float:
    """A figure an event may not have (None, from a record older than it): NaN then."""
    return NAN if x is None else x


def _cell(x: float) -> str:
    """A CSV cell: empty when the figure is not known."""
    return f"{x:.6g}" if math.isfinite(x) else ""
