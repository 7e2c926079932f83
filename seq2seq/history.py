"""A model's training record: every step's loss and every held-out evaluation, across runs.

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

from .train import DoneEvent, EvalEvent, StepEvent, TrainEvent

CSV_COLUMNS = ("step", "elapsed_s", "train_loss", "val_loss", "exact_match", "token_accuracy")


@dataclass
class EvalPoint:
    step: int
    val_loss: float
    exact_match: float
    token_accuracy: float


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)  # seconds since the start of the step's run
    evals: list[EvalPoint] = field(default_factory=list)

    @property
    def last_step(self) -> int:
        return max(self.steps[-1] if self.steps else 0, self.evals[-1].step if self.evals else 0)

    def record(self, event: TrainEvent) -> None:
        if isinstance(event, StepEvent):
            self.steps.append(event.step)
            self.losses.append(event.loss)
            self.elapsed.append(event.elapsed)
        elif isinstance(event, (EvalEvent, DoneEvent)):
            if isinstance(event, DoneEvent) and self.steps and self.steps[-1] > event.step:
                self.truncate(event.step)  # training went back to earlier weights (it diverged)
            if not self.evals or self.evals[-1].step != event.step:  # a DoneEvent repeats the last eval
                self.evals.append(EvalPoint(event.step, event.val_loss, event.exact_match, event.token_accuracy))

    def truncate(self, step: int) -> None:
        """Forget everything after `step`: the model went back to its weights of that step."""
        keep = bisect.bisect_right(self.steps, step)
        del self.steps[keep:], self.losses[keep:], self.elapsed[keep:]
        self.evals = [e for e in self.evals if e.step <= step]

    def loss_points(self, max_points: int = 300) -> list[tuple[float, float]]:
        """(step, mean training loss) over at most `max_points` equal runs of steps; noisy losses average out."""
        n = len(self.losses)
        if n == 0:
            return []
        size = math.ceil(n / max_points)
        points = []
        for start in range(0, n, size):
            chunk = self.losses[start:start + size]
            points.append((self.steps[min(start + size, n) - 1], sum(chunk) / len(chunk)))
        return points

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
        for step, elapsed, loss in zip(self.steps, self.elapsed, self.losses):
            rows[step] = [str(step), f"{elapsed:.3f}", f"{loss:.6g}", "", "", ""]
        for e in self.evals:
            row = rows.setdefault(e.step, [str(e.step), "", "", "", "", ""])
            row[3:] = [f"{e.val_loss:.6g}", f"{e.exact_match:.6g}", f"{e.token_accuracy:.6g}"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows[step] for step in sorted(rows))
        return out.getvalue()
