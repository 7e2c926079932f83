"""Cost model (placeholder docstring, rewritten after fitting)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # only for annotations: this module allocates nothing and imports no torch itself
    from .config import ModelConfig, TrainConfig
    from .tasks import TaskSpec

MB = 2.0 ** 20
EVAL_BATCH = 1000  # seq2seq.train.evaluate decodes the held-out set in batches of this many


# ------------------------------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class Shapes:
    """The sizes that cost depends on, at the task's longest length."""
    cell: str
    gates: int      # 4 for LSTM, 3 for GRU
    emb: int
    hidden: int
    layers: int
    vocab: int      # target vocabulary (the logits' width)
    src_len: int    # source tokens
    trg_steps: int  # decoder steps: target tokens + <eos>
    attention: bool
    dropout: bool

    @property
    def rnn_in(self) -> int:
        """Inputs + recurrent inputs of one timestep over all layers: E + H for the first, 2H for the rest."""
        return self.emb + self.hidden * (2 * self.layers - 1)


def shapes(model: "ModelConfig", spec: "TaskSpec") -> Shapes:
    """Sizes at the longest length of `spec`: copy-like tasks have max_len source tokens and max_len target
    tokens; addition has 2*max_len+1 source tokens and up to max_len+1 target digits."""
    n = spec.max_len
    src, trg = (2 * n + 1, n + 1) if spec.name == "addition" else (n, n)
    return Shapes(model.cell, 4 if model.cell == "lstm" else 3, model.emb_dim, model.hidden_dim, model.n_layers,
                  model.trg_vocab_size, src, trg + 1, bool(model.attention), model.dropout > 0)


def count_parameters(model: "ModelConfig") -> int:
    """Exactly `seq2seq.model.count_parameters(build_model(model))`, by arithmetic."""
    g = 4 if model.cell == "lstm" else 3
    e, h, n = model.emb_dim, model.hidden_dim, model.n_layers
    rnn = g * h * (e + h + 2) + (n - 1) * g * h * (2 * h + 2)  # weight_ih, weight_hh, bias_ih, bias_hh per layer
    encoder = model.src_vocab_size * e + rnn
    decoder = model.trg_vocab_size * e + rnn + h * model.trg_vocab_size + model.trg_vocab_size
    if model.attention:
        decoder += 2 * h * h + h  # combine: Linear(2h -> h)
    return encoder + decoder


# ------------------------------------------------------------------------------------------ features
# Each cost is a non-negative combination of these features, so growing any size never lowers it.


def memory_features(s: Shapes, params: int, batch: int, fast: bool, n_eval: int) -> dict[str, float]:
    """Peak memory: parameters and their copies, activations kept for backward, evaluation's tensors."""
    b, h, g, n, t = batch, s.hidden, s.gates, s.layers, s.trg_steps
    fused = b * h * n * g * (s.src_len + (t if fast else 0))  # nn.LSTM / nn.GRU over whole sequences
    loop = 0 if fast else b * h * n * g * t                   # one cell call per layer and target step
    n_eval = min(n_eval, EVAL_BATCH)
    return {
        "const": 1.0,
        "params": params,
        **_by_cell(s, {"rnn_fused": fused, "rnn_loop": loop}),
        "tokens": b * (s.src_len + t) * (s.emb + (h * (n - 1) if s.dropout else 0)),
        "logits": b * t * s.vocab,
        "attention": b * t * (s.src_len + h) if s.attention else 0,
        "eval": n_eval * (s.src_len + t) * h * n,
        "eval_gates": n_eval * s.src_len * h * g,  # nn.LSTM / nn.GRU project every input timestep at once
    }


def _by_cell(s: Shapes, features: dict[str, float]) -> dict[str, float]:
    """The same features twice, once per cell, zero for the other one: nn.LSTM runs whole sequences
    through oneDNN, nn.GRU through ATen's loop over timesteps, so their costs differ in kind."""
    out = {}
    for cell in ("lstm", "gru"):
        for name, value in features.items():
            out[f"{name}_{cell}"] = value if s.cell == cell else 0
    return out


def step_features(s: Shapes, params: int, batch: int, fast: bool) -> dict[str, float]:
    """One training step: drawing the batch, forward, backward, clipping, Adam."""
    b, h, g, n, t = batch, s.hidden, s.gates, s.layers, s.trg_steps
    steps_fused = s.src_len + (t if fast else 0)  # timesteps run by nn.LSTM / nn.GRU
    steps_loop = 0 if fast else t                 # decoder steps run one cell call at a time
    return {
        "const": 1.0,
        "tokens": b * (s.src_len + t),
        "params": params,
        **_by_cell(s, {
            "fused_macs": b * g * h * s.rnn_in * steps_fused,
            "fused_elems": b * g * h * n * steps_fused,
            "fused_calls": steps_fused * n,
            # per timestep, whatever the batch: the weights' gradient, an outer product as big as the weights
            "fused_weights": steps_fused * g * h * s.rnn_in,
            "loop_macs": b * g * h * s.rnn_in * steps_loop,
        }),
        "loop_elems": b * g * h * n * steps_loop,
        "loop_calls": steps_loop * (n + (3 if s.attention else 1)),
        "loop_weights": steps_loop * (g * h * s.rnn_in + h * s.vocab + (2 * h * h if s.attention else 0)),
        "head_macs": b * t * h * (s.vocab + ((2 * s.src_len + 2 * h) if s.attention else 0)),
        "attention": b * t * s.src_len if s.attention else 0,
    }


def eval_features(s: Shapes, n: int) -> dict[str, float]:
    """One greedy evaluation batch of n examples (no gradients; nn.LSTM / nn.GRU over the source, then a
    Python loop over target steps, one cell call per layer)."""
    h, g, t = s.hidden, s.gates, s.trg_steps
    return {
        "const": 1.0,
        "tokens": n * (s.src_len + t),
        **_by_cell(s, {
            "enc_macs": n * g * h * s.rnn_in * s.src_len,
            "enc_calls": s.src_len * s.layers,
            "dec_macs": n * g * h * s.rnn_in * t,
        }),
        "elems": n * g * h * s.layers * (s.src_len + t),
        "calls": t * (s.layers + (3 if s.attention else 1)),
        "weights": (s.src_len + t) * g * h * s.rnn_in,  # each timestep reads every weight, whatever n
        "head_macs": n * t * h * (s.vocab + ((2 * s.src_len + 2 * h) if s.attention else 0)),
        "attention": n * t * s.src_len if s.attention else 0,
    }


# ------------------------------------------------------------------------------------------ coefficients
# Written by `tools/fit_cost.py --write`; see the module docstring for how they were fitted.

# BEGIN FITTED (tools/fit_cost.py --write)
MEMORY_MB: dict[str, float] = {"const": 100.0, "params": 24 / MB, "rnn_fused": 20 / MB, "rnn_loop": 40 / MB}
STEP_SECONDS: dict[str, float] = {"const": 0.002, "fused_macs": 1e-10}
EVAL_SECONDS: dict[str, float] = {"const": 0.001, "enc_macs": 1e-10, "dec_macs": 1e-10}
MARGIN = {"memory": 1.25, "step": 1.25, "eval": 1.25}
SLACK = {"memory": 32.0, "step": 0.005, "eval": 0.005}
# END FITTED


def _combine(coefficients: Mapping[str, float], features: Mapping[str, float]) -> float:
    return sum(coefficients.get(k, 0.0) * v for k, v in features.items())


def _bound(which: str, fitted: float) -> float:
    return fitted * MARGIN[which] + SLACK[which]


# ------------------------------------------------------------------------------------------ estimates


@dataclass(frozen=True)
class Cost:
    memory_mb: float     # peak RSS of the training worker ABOVE an idle worker (torch + seq2seq imported), MB, upper bound
    step_seconds: float  # one training step at the longest length, one torch thread, upper bound
    eval_seconds: float  # one evaluation of train_config.val_size held-out examples at the longest length
    parameters: int      # exact parameter count


def memory_mb(model: "ModelConfig", batch_size: int, teacher_forcing: float, spec: "TaskSpec",
              val_size: int) -> float:
    s = shapes(model, spec)
    features = memory_features(s, count_parameters(model), batch_size, teacher_forcing >= 1.0, val_size)
    return _bound("memory", _combine(MEMORY_MB, features))


def step_seconds(model: "ModelConfig", batch_size: int, teacher_forcing: float, spec: "TaskSpec") -> float:
    s = shapes(model, spec)
    features = step_features(s, count_parameters(model), batch_size, teacher_forcing >= 1.0)
    return _bound("step", _combine(STEP_SECONDS, features))


def eval_seconds(model: "ModelConfig", spec: "TaskSpec", n: int) -> float:
    """Upper bound of one `seq2seq.train.evaluate` of n held-out examples at the longest length
    (it decodes them in batches of 1000)."""
    if n <= 0:
        return 0.0
    s = shapes(model, spec)
    full, rest = divmod(n, EVAL_BATCH)
    fitted = full * _combine(EVAL_SECONDS, eval_features(s, EVAL_BATCH))
    if rest:
        fitted += _combine(EVAL_SECONDS, eval_features(s, rest))
    return _bound("eval", fitted)


def estimate(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec") -> Cost:
    """What training `model` with `train` on `spec` costs at the longest length, before building anything."""
    return Cost(memory_mb=memory_mb(model, train.batch_size, train.teacher_forcing, spec, train.val_size),
                step_seconds=step_seconds(model, train.batch_size, train.teacher_forcing, spec),
                eval_seconds=eval_seconds(model, spec, train.val_size),
                parameters=count_parameters(model))


def val_size_within(model: "ModelConfig", spec: "TaskSpec", seconds: float, cap: int = 500, floor: int = 50) -> int:
    """The largest n <= cap whose evaluation fits in `seconds`, but at least `floor` (and at most cap)."""
    if cap <= floor or eval_seconds(model, spec, cap) <= seconds:
        return cap
    low, high = floor, cap  # eval_seconds grows with n: find the last n that fits
    if eval_seconds(model, spec, low) > seconds:
        return floor
    while high - low > 1:
        mid = (low + high) // 2
        if eval_seconds(model, spec, mid) <= seconds:
            low = mid
        else:
            high = mid
    return low


# ------------------------------------------------------------------------------------------ budget


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


def _size(mb: float) -> str:
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


def _cost_of(which: str, model: "ModelConfig", spec: "TaskSpec", v: dict, val_size: int) -> float:
    """Memory, step or eval cost with the settings in v replacing those of model/spec."""
    from dataclasses import replace
    m = replace(model, hidden_dim=v["hidden_dim"], n_layers=v["n_layers"], emb_dim=v["emb_dim"])
    sp = _Spec(spec.name, min(spec.min_len, v["max_len"]), v["max_len"])
    if which == "memory":
        return memory_mb(m, v["batch_size"], v["teacher_forcing"], sp, val_size)
    if which == "step":
        return step_seconds(m, v["batch_size"], v["teacher_forcing"], sp)
    return eval_seconds(m, sp, val_size)


@dataclass(frozen=True)
class _Spec:  # a TaskSpec look-alike, so this module needs no torch
    name: str
    min_len: int
    max_len: int


def _largest_within(which: str, knob: str, model, spec, v: dict, val_size: int, limit: float) -> int | None:
    """The largest value of one setting (the others unchanged) whose cost fits the limit, or None."""
    lowest = _KNOBS[knob][1]
    if _cost_of(which, model, spec, {**v, knob: lowest}, val_size) > limit:
        return None
    low, high = lowest, v[knob]  # cost grows with every setting: the last value that fits
    while high - low > 1:
        mid = (low + high) // 2
        if _cost_of(which, model, spec, {**v, knob: mid}, val_size) <= limit:
            low = mid
        else:
            high = mid
    return low


def _advice(which: str, model, train, spec, limit: float, val_size: int) -> str:
    """What to do, gentlest change first: 'lower the batch size (to 256 or less), the hidden size (to 192 or
    less) or the max length (to 20 or less)', or raise teacher forcing to 1 when the fast path fits."""
    v = _settings(model, train, spec)
    options = []
    for knob, (label, lowest) in _KNOBS.items():
        if v[knob] > lowest:
            best = _largest_within(which, knob, model, spec, v, val_size, limit)
            if best is not None:
                options.append((best / v[knob], f"the {label} (to {best} or less)"))
    options.sort(key=lambda o: -o[0])
    text = "lower " + _join([t for _, t in options[:3]], "or") if options else ""
    if train.teacher_forcing < 1.0 and _cost_of(which, model, spec, {**v, "teacher_forcing": 1.0},
                                                 val_size) <= limit:
        tf = ("raise the teacher-forcing ratio to 1 (one fast pass over the target instead of a step-by-step "
              "loop)")
        text = f"{text}, or {tf}" if text else tf
    if not text:
        factors = [f"the {label}" for knob, (label, lowest) in _KNOBS.items() if v[knob] > lowest]
        text = "lower several of " + _join(factors, "and")
    return text


def _join(items: list[str], word: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _what(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec", tf: bool) -> str:
    layers = "layer" if model.n_layers == 1 else "layers"
    extras = []
    if model.attention:
        extras.append("attention")
    if tf and train.teacher_forcing < 1.0:
        extras.append(f"teacher-forcing ratio {train.teacher_forcing:g}")
    extra = f" with {' and '.join(extras)}" if extras else ""
    return (f"Hidden size {model.hidden_dim} × {model.n_layers} {layers} × batch size {train.batch_size} "
            f"at max length {spec.max_len}{extra}")


def check(model: "ModelConfig", train: "TrainConfig", spec: "TaskSpec", budget: Budget) -> Cost:
    """The estimate, if it fits the budget; else BudgetError with one sentence saying what to lower.

    Memory and step time are checked at train.val_size; evaluation time only at the smallest evaluation
    the app would fall back to (min(val_size, 50) examples): pick val_size with `val_size_within` first."""
    cost = estimate(model, train, spec)
    if cost.memory_mb > budget.memory_mb:
        raise BudgetError(f"{_what(model, train, spec, False)} needs about {_size(cost.memory_mb)} of memory; "
                          f"this app allows {_size(budget.memory_mb)} per training: "
                          f"{_advice('memory', model, train, spec, budget.memory_mb, train.val_size)}.")
    if cost.step_seconds > budget.step_seconds:
        raise BudgetError(f"{_what(model, train, spec, True)} takes about {_seconds(cost.step_seconds)} per "
                          f"training step; this app allows {_seconds(budget.step_seconds)} (so Stop acts at "
                          f"once): {_advice('step', model, train, spec, budget.step_seconds, train.val_size)}.")
    smallest = min(train.val_size, 50)
    if eval_seconds(model, spec, smallest) > budget.eval_seconds:
        raise BudgetError(f"{_what(model, train, spec, False)} takes about "
                          f"{_seconds(eval_seconds(model, spec, smallest))} to evaluate on {smallest} held-out "
                          f"examples; this app allows {_seconds(budget.eval_seconds)}: "
                          f"{_advice('eval', model, train, spec, budget.eval_seconds, smallest)}.")
    return cost
