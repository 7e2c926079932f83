"""Training as a generator of events, so the CLI prints them and the app plots them; no printing here.

    for event in train(model, task, TrainConfig(steps=2000), stop=threading.Event()):
        ...  # StepEvent every step, EvalEvent every `eval_every` steps, one DoneEvent last

The model is trained in place: whatever stops training (steps, time, target, stop signal, NaN),
the caller's model is the one to keep (after a divergence, its weights from the last evaluation).
"""
from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Sequence

import torch

from .config import TrainConfig
from .decode import evaluating, exact_and_token_hits, greedy_decode_batch
from .model import Seq2Seq, sequence_loss
from .tasks import Example, Task, make_batch

VALIDATION_SEED = 20_240_601  # the held-out validation set is the same for every training run


@dataclass
class Metrics:
    exact_match: float
    token_accuracy: float
    loss: float
    n: int


class _Event:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StepEvent(_Event):
    step: int
    loss: float
    elapsed: float
    event: str = "step"


@dataclass
class EvalEvent(_Event):
    step: int
    elapsed: float
    exact_match: float
    token_accuracy: float
    val_loss: float
    event: str = "eval"


@dataclass
class DoneEvent(_Event):
    step: int
    elapsed: float
    reason: str            # "steps" | "time_budget" | "target_accuracy" | "stopped" | "diverged"
    message: str
    exact_match: float
    token_accuracy: float
    val_loss: float
    event: str = "done"


TrainEvent = StepEvent | EvalEvent | DoneEvent


def validation_set(task: Task, n: int, seed: int = VALIDATION_SEED) -> list[Example]:
    """Up to n distinct held-out examples (fewer only if the held-out part of the space is smaller)."""
    return task.examples(random.Random(seed), n, held_out=True, distinct=True)


def evaluate(model: Seq2Seq, task: Task, examples: Sequence[Example], batch_size: int = 1000) -> Metrics:
    """Held-out metrics with teacher forcing off: the model decodes greedily from its own guesses."""
    exact = correct = total = 0
    loss_sum = 0.0
    with evaluating(model):
        for start in range(0, len(examples), batch_size):
            batch = make_batch(examples[start:start + batch_size], task.vocab)
            pred, logits, _ = greedy_decode_batch(model, batch.src, batch.src_lens, batch.trg.shape[1] - 1,
                                               stop_at_eos=False)
            rows_exact, rows_correct, rows_total = exact_and_token_hits(pred, batch.trg)
            exact += int(rows_exact.sum())
            correct += int(rows_correct.sum())
            total += int(rows_total.sum())
            loss_sum += float(sequence_loss(logits, batch.trg)) * int(rows_total.sum())
    n = len(examples)
    return Metrics(exact / n, correct / total, loss_sum / total, n)


DIVERGENCE_FACTOR = 2.0  # a loss this many times the larger of the run's first loss and a uniform guess's
                         # (ln of the vocabulary size) means training has blown up, not merely wobbled


class _GoodWeights:
    """A copy of the parameters at the last point known to be healthy (the run's start, then every
    evaluation), to go back to when training diverges."""

    def __init__(self, model: torch.nn.Module, step: int):
        self.params = list(model.parameters())
        self.copies = [p.detach().clone() for p in self.params]
        self.step = step

    def save(self, step: int) -> None:
        with torch.no_grad():
            torch._foreach_copy_(self.copies, [p.detach() for p in self.params])
        self.step = step

    def restore(self) -> int:
        with torch.no_grad():
            torch._foreach_copy_(self.params, self.copies)
        return self.step


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def train(model: Seq2Seq, task: Task, config: TrainConfig, stop: threading.Event | None = None,
          *, start_step: int = 0, eval_at_start: bool = False,
          clock: Callable[[], float] = time.perf_counter) -> Iterator[TrainEvent]:
    """Train `model` in place on `task`, yielding events. Step numbers continue from `start_step`.

    eval_at_start=True first evaluates the model as it is (where a curve starts). The time budget
    counts from the call, evaluations included: no step starts unless it and the final evaluation (as
    long as the last step and evaluation took) fit in what is left. If the loss or the gradients stop being finite, or the
    loss climbs past DIVERGENCE_FACTOR times where it started, training stops (reason "diverged") and
    the model goes back to its weights at the last evaluation (or the start of the run)."""
    config.validate()
    torch.manual_seed(config.seed)  # dropout draws from the global generator; this makes runs repeatable
    rng = random.Random(config.seed)
    tf_generator = torch.Generator().manual_seed(config.seed)
    val_examples = validation_set(task, config.val_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    good = _GoodWeights(model, start_step)
    started = clock()  # after the set-up (a cold process's first torch call can take a second), before any work
    step = start_step
    last_eval: tuple[int, Metrics] | None = None
    ceiling: float | None = None  # a loss above this is divergence; set from the run's first loss
    step_seconds = eval_seconds = 0.0  # how long the last step and the last evaluation took

    def eval_now() -> Metrics:
        nonlocal last_eval, eval_seconds
        if last_eval is None or last_eval[0] != step:
            begun = clock()
            last_eval = (step, evaluate(model, task, val_examples))
            eval_seconds = clock() - begun
        return last_eval[1]

    def done(reason: str, message: str) -> DoneEvent:
        m = eval_now()
        return DoneEvent(step, clock() - started, reason, message, m.exact_match, m.token_accuracy, m.loss)

    def diverged(what: str) -> DoneEvent:
        nonlocal step
        bad_step = step + 1
        step = good.restore()
        return done("diverged", f"training diverged at step {bad_step:,} ({what}); went back to the weights of "
                                f"step {step:,}. Lower the learning rate (it is {config.lr:g}; try "
                                f"{min(config.lr / 10, 0.005):g})")

    was_training = model.training
    model.train()
    try:
        if eval_at_start:
            m = eval_now()
            yield EvalEvent(step, clock() - started, m.exact_match, m.token_accuracy, m.loss)
        while True:
            elapsed = clock() - started
            if stop is not None and stop.is_set():
                yield done("stopped", f"stopped by request after {step - start_step} steps")
                return
            if config.steps is not None and step - start_step >= config.steps:
                yield done("steps", f"finished {config.steps} steps")
                return
            # another step and the final evaluation, as long as the last ones took, must fit in the budget
            if config.time_budget is not None and elapsed + step_seconds + eval_seconds >= config.time_budget:
                yield done("time_budget", f"used the time budget of {config.time_budget:g} s")
                return
            begun = clock()

            batch = make_batch(task.examples(rng, config.batch_size, held_out=False, one_length=True), task.vocab)
            logits = model(batch.src, batch.src_lens, batch.trg, config.teacher_forcing, tf_generator)
            loss = sequence_loss(logits, batch.trg)
            loss_value = float(loss.detach())
            if ceiling is None and math.isfinite(loss_value):
                ceiling = DIVERGENCE_FACTOR * max(loss_value, math.log(logits.shape[-1]))
            if not math.isfinite(loss_value):
                yield diverged(f"the loss became {loss_value}")
                return
            if loss_value > ceiling:
                start_loss = ceiling / DIVERGENCE_FACTOR
                yield diverged(f"the loss exploded to {_fmt(loss_value)}, more than {DIVERGENCE_FACTOR:g} × "
                               f"{_fmt(start_loss)}")
                return
            if config.lr_decay:  # polishing at a lower rate often wins the last percent of accuracy
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * (1.0 - 0.9 * (step - start_step) / config.steps)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip))
            if not math.isfinite(grad_norm):
                yield diverged(f"the gradients became {grad_norm}")
                return
            optimizer.step()
            step += 1
            now = clock()
            step_seconds = now - begun
            yield StepEvent(step, loss_value, now - started)

            if (step - start_step) % config.eval_every == 0:
                m = eval_now()
                if math.isfinite(m.loss):
                    good.save(step)
                yield EvalEvent(step, clock() - started, m.exact_match, m.token_accuracy, m.loss)
                if config.target_accuracy is not None and m.exact_match >= config.target_accuracy:
                    yield done("target_accuracy", f"reached {m.exact_match:.1%} held-out exact match")
                    return
    finally:
        model.train(was_training)
