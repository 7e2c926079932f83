"""The budget a training must fit (memory, seconds per step, seconds per evaluation; set by environment
variables) and the check that refuses settings over it with one sentence naming what to lower and to what.

    budget = Budget.from_env()
    check(model_config, train_config, spec, budget)   # the estimate (playground.cost), or BudgetError
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from seq2seq.tasks import DATA_TASK, TaskSpec

from .cost import EVAL_FLOOR, Cost, DecodeCost, _is_transformer, estimate, eval_seconds, memory_mb, step_seconds

if TYPE_CHECKING:
    from seq2seq.config import ModelConfig, TrainConfig


@dataclass(frozen=True)
class Budget:
    memory_mb: float = 1024.0    # per training
    step_seconds: float = 0.5    # per training step, so Stop and time budgets act within 1 s
    eval_seconds: float = 0.5    # per evaluation

    ENV = {"memory_mb": "SEQ2SEQ_TRAIN_MEMORY_MB", "step_seconds": "SEQ2SEQ_STEP_SECONDS",
           "eval_seconds": "SEQ2SEQ_EVAL_SECONDS"}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Budget":
        """The default budget, with any of SEQ2SEQ_TRAIN_MEMORY_MB, SEQ2SEQ_STEP_SECONDS and
        SEQ2SEQ_EVAL_SECONDS that are set (and not empty) replacing its parts."""
        values = {}
        for field, variable in cls.ENV.items():
            raw = environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value <= 0:
                unit = "megabytes" if field == "memory_mb" else "seconds"
                raise ValueError(f"{variable} must be a positive number of {unit}, got {raw!r}")
            values[field] = value
        return cls(**values)


class BudgetError(ValueError):
    """Settings whose training would cost more than the budget allows; the message is for the person."""


# the form's settings that can be lowered: (label, lowest value)
_KNOBS = {"batch_size": ("batch size", 1), "hidden_dim": ("hidden size", 1), "max_len": ("max length", 1),
          "n_layers": ("layers", 1), "emb_dim": ("embedding size", 1)}


def size_text(mb: float) -> str:
    """Megabytes (of 2**20 bytes, as every figure here) as people read them: 750 MB, 12.0 GB."""
    return f"{mb / 1024:.1f} GB" if mb >= 1000 else f"{mb:.0f} MB"


def _seconds(s: float) -> str:
    if s >= 10:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.1f} s"
    return f"{s:.2g} s"


def _settings(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec") -> dict:
    return {"batch_size": train.batch_size, "hidden_dim": model.hidden_dim, "max_len": spec.max_len,
            "n_layers": model.n_layers, "emb_dim": model.emb_dim, "teacher_forcing": train.teacher_forcing}


def _fits(model: "ModelConfig", spec: "TaskSpec", v: dict, val_size: int, budget: Budget) -> bool:
    """Whether the settings in v (replacing those of model and spec) pass `check`."""
    from dataclasses import replace
    m = replace(model, hidden_dim=v["hidden_dim"], n_layers=v["n_layers"], emb_dim=v["emb_dim"])
    sp = replace(spec, min_len=min(spec.min_len, v["max_len"]), max_len=v["max_len"])  # a data set's spec stays one
    return (memory_mb(m, v["batch_size"], v["teacher_forcing"], sp, val_size) <= budget.memory_mb
            and step_seconds(m, v["batch_size"], v["teacher_forcing"], sp) <= budget.step_seconds
            and eval_seconds(m, sp, min(val_size, EVAL_FLOOR)) <= budget.eval_seconds)


def _largest_within(knob: str, model, spec, v: dict, val_size: int, budget: Budget) -> int | None:
    """The largest value of one setting (the others unchanged) that fits the budget, or None."""
    lowest = _KNOBS[knob][1]
    if not _fits(model, spec, {**v, knob: lowest}, val_size, budget):
        return None
    low, high = lowest, v[knob]  # cost grows with every setting: find the last value that fits
    while high - low > 1:
        mid = (low + high) // 2
        if _fits(model, spec, {**v, knob: mid}, val_size, budget):
            low = mid
        else:
            high = mid
    return low


def _advice(model, train, spec, budget: Budget) -> str:
    """What to change so that the whole budget fits, gentlest change first: 'lower the batch size (to 256 or
    less), the hidden size (to 192 or less) or the max length (to 20 or less)', and 'raise the
    teacher-forcing ratio to 1' when the fast path alone fits."""
    v = _settings(model, train, spec)
    options = []  # (fraction of the setting kept, label, largest value that fits)
    for knob, (label, lowest) in _KNOBS.items():
        if knob == "max_len" and spec.max_len_cap == spec.max_len and spec.name == DATA_TASK:
            continue  # your own pairs' lengths are the data's, not a setting
        if v[knob] > lowest:
            best = _largest_within(knob, model, spec, v, train.val_size, budget)
            options.append((0.0 if best is None else best / v[knob], label, best))
    options.sort(key=lambda o: -o[0])
    gentle = [f"the {label} (to {best} or less)" for kept, label, best in options if kept >= 0.1]
    if gentle:
        text = "lower " + _join(gentle[:3], "or")
    else:  # no single setting helps without shrinking it more than tenfold
        text = ("lower several of " + _join([f"the {label}" for _, label, _ in options[:3]], "and")
                + " together")
    if train.teacher_forcing < 1.0 and _fits(model, spec, {**v, "teacher_forcing": 1.0}, train.val_size, budget):
        text += (", or raise the teacher-forcing ratio to 1 (one fast pass over the target instead of a "
                 "step-by-step loop)")
    return text


def _join(items: list[str], word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _what(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec") -> str:
    """'Hidden size 512 × 4 layers × batch size 1024 at max length 50 with attention': the sizes that cost
    grows with, by the form's labels."""
    layers = "layer" if model.n_layers == 1 else "layers"
    extras = []
    if _is_transformer(model):
        extras.append(f"a Transformer ({model.heads} heads)")
    elif model.attention:
        extras.append("attention")
    if train.teacher_forcing < 1.0:
        extras.append(f"teacher-forcing ratio {train.teacher_forcing:g}")
    extra = f" with {' and '.join(extras)}" if extras else ""
    return (f"Hidden size {model.hidden_dim} × {model.n_layers} {layers} × batch size {train.batch_size} "
            f"at max length {spec.max_len}{extra}")


def check(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec", budget: Budget) -> Cost:
    """The estimate, if it fits the budget; else BudgetError with one sentence saying what to lower.

    Memory and step time are checked as trained (evaluation of train.val_size examples included in the
    memory); evaluation time only at the smallest evaluation the app falls back to (min(val_size, 50)
    examples), since the app picks val_size with `val_size_within`."""
    cost = estimate(model, train, spec)
    smallest = min(train.val_size, EVAL_FLOOR)
    eval_floor = eval_seconds(model, spec, smallest)
    memory = cost.memory_mb > budget.memory_mb
    slow = cost.step_seconds > budget.step_seconds
    if memory:
        also = (f" and {_seconds(cost.step_seconds)} per training step" if slow else "")
        allows = (f" and {_seconds(budget.step_seconds)} per step" if slow else "")
        why = (f"{_what(model, train, spec)} needs about {size_text(cost.memory_mb)} of memory{also}; this app "
               f"allows {size_text(budget.memory_mb)} per training{allows}")
    elif slow:
        why = (f"{_what(model, train, spec)} takes about {_seconds(cost.step_seconds)} per training step; "
               f"this app allows {_seconds(budget.step_seconds)} (so Stop acts at once)")
    elif eval_floor > budget.eval_seconds:
        why = (f"{_what(model, train, spec)} takes about {_seconds(eval_floor)} to evaluate on {smallest} "
               f"held-out examples; this app allows {_seconds(budget.eval_seconds)}")
    else:
        return cost
    raise BudgetError(f"{why}: {_advice(model, train, spec, budget)}.")


# ------------------------------------------------------------------------------------------ decoding


def _model_words(model: "ModelConfig") -> str:
    """'Transformer, 4 layers, 8 heads' / 'LSTM, 2 layers, hidden size 128, attention': the sizes a decode's cost
    grows with, as the form names them."""
    layers = f"{model.n_layers} layer{'' if model.n_layers == 1 else 's'}"
    if _is_transformer(model):
        return f"Transformer, {layers}, {model.heads} head{'' if model.heads == 1 else 's'}"
    kind = model.attention if isinstance(model.attention, str) else ("dot" if model.attention else "none")
    attention = "" if kind == "none" else f", {kind} attention"
    return f"{model.cell.upper()}, {layers}, hidden size {model.hidden_dim}{attention}"


def _strategy_words(strategy: str, width: int) -> str:
    return {"beam": f"Beam width {width} on", "sampling": "Sampling from"}.get(strategy, "Greedy decoding of")


def decode_check(model: "ModelConfig", src_len: int, strategy: str, width: int, seconds: float, mb: float,
                 what_if: bool = False) -> "DecodeCost":
    """The decode's estimate (playground.cost.decode_cost) if it fits `seconds` and `mb`; else BudgetError with
    one sentence naming what to lower and to what: the beam width, the source's length, or the model."""
    from .cost import decode_cost
    cost = decode_cost(model, src_len, strategy, width, what_if)
    slow, big = cost.seconds > seconds, cost.mb > mb
    if not slow and not big:
        return cost

    def fits(n: int, w: int) -> bool:
        c = decode_cost(model, n, strategy, w, what_if)
        return c.seconds <= seconds and c.mb <= mb

    def largest(high: int, ok) -> int | None:  # cost grows with each: the last value from 1 that fits
        if high < 1 or not ok(1):
            return None
        low = 1
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if ok(mid) else (low, mid)
        return high if ok(high) else low

    options = []
    if strategy == "beam" and width > 1:
        w = largest(width - 1, lambda w: fits(src_len, w))
        if w is not None:
            options.append(f"lower the beam width (to {w} or less)")
    n = largest(src_len - 1, lambda n: fits(n, width))
    if n is not None:
        options.append(f"shorten the source (to {n} token{'' if n == 1 else 's'} or less)")
    if not options:
        options.append("pick a smaller model" + ("" if strategy != "beam" else " or greedy decoding")
                       if not (strategy == "beam" and fits(1, 1)) else "lower the beam width and shorten the source")
    what = (f"{_strategy_words(strategy, width)} a {src_len}-token source with this model ({_model_words(model)})"
            + (", then its what-if decoding," if what_if else ""))
    parts = []
    if slow:
        parts.append(f"takes about {_seconds(cost.seconds)}")
    if big:
        parts.append(f"{'and ' if slow else ''}needs about {size_text(cost.mb)} of memory")
    allows = " and ".join(([f"{_seconds(seconds)}"] if slow else []) + ([f"{size_text(mb)}"] if big else []))
    raise BudgetError(f"{what} {' '.join(parts)}; this app allows {allows} per decoding: {' or '.join(options)}.")
