"""Hyper-parameters as small dataclasses that round-trip to JSON.

`ModelConfig` is everything needed to rebuild a model's shapes; `TrainConfig` is everything
`train()` needs to run. Both validate themselves so a bad value fails before any work starts.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, TypeVar

CONFIG_FILE = "config.json"  # a checkpoint folder's settings (seq2seq.checkpoint); here, so finding one needs no torch

CELLS = ("lstm", "gru")
ATTENTIONS = ("none", "dot", "general", "additive")
ARCHS = ("rnn", "transformer")
# the ModelConfig fields only one architecture reads (the form hides, and the CLI refuses, the other's)
RNN_FIELDS = ("cell", "emb_dim", "attention", "bidirectional")
TRANSFORMER_FIELDS = ("heads", "ff_dim", "positions")
POSITIONS = ("sinusoidal", "learned")
MAX_POSITIONS = 128  # the longest source, and the most decoder steps, a Transformer with learned positions takes
MAX_LR = 10.0  # Adam moves every weight by about lr per step: far above 0.1 nothing here can learn
MAX_EVAL_SECONDS = 3600.0  # an evaluation cadence longer than an hour is no cadence
SCHEDULES = ("linear", "cosine")  # the shape of lr_decay's fall to a tenth
TF_SCHEDULES = ("constant", "linear", "inverse_sigmoid")  # the teacher-forcing ratio's course (seq2seq.training)
# The library's own limits: the largest values `validate` accepts (far beyond them nothing trains on a CPU).
# The web form's ranges are narrower (seq2seq/controls.py: what a shared server trains); the command line,
# which trains on your own machine, takes these (each Setting's cli_low/cli_high there).
MAX_EMB = 1024
MAX_HIDDEN = 2048
MAX_LAYERS = 8
MAX_HEADS = 64
MAX_FF = 16384
MAX_BATCH = 4096
MAX_WARMUP = 1_000_000
MAX_SEED = 2**63 - 1

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any], what: str) -> T:
    """Build a dataclass from a dict, naming unknown or missing keys instead of raising TypeError."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{what} has unknown field(s): {', '.join(unknown)}")
    required = {f.name for f in fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{what} is missing field(s): {', '.join(missing)}")
    obj = cls(**data)
    obj.validate()
    return obj


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def _check_float(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value != value or value > high or value < low or (open_low and value == low):
        side = ">" if open_low else ">="
        raise ValueError(f"{name} must be {side} {low} and <= {high}, got {value}")


def heads_problem(hidden_dim: int, heads: int) -> str | None:
    """The one rule tying a Transformer's sizes together: its hidden size (d_model) is split evenly between its
    attention heads. None when they fit, else the sentence that says so (ModelConfig.validate, the web form and
    the command line all ask here). Heads below 1 are the heads range check's to report."""
    if heads < 1 or hidden_dim % heads == 0:
        return None
    return (f"A Transformer's hidden size must be a multiple of its attention heads (you gave {hidden_dim} and "
            f"{heads}).")


class Attention(str):
    """An attention type ("none", "dot", "general", "additive"): a str, but false when it is "none", so code
    written when attention was a bool (`if config.attention:`) keeps meaning "has attention"."""

    def __bool__(self) -> bool:
        return str.__ne__(self, "none")

    def __repr__(self) -> str:
        return str.__repr__(str(self))


@dataclass
class ModelConfig:
    """Shapes of an encoder-decoder. Defaults learn `reverse` (length 3-10) to 99% in seconds.

    arch "rnn" (the seed's LSTM/GRU encoder-decoder):
      cell, emb_dim, hidden_dim, n_layers, dropout as in the seed;
      attention: "none" | "dot" (scaled dot product after the RNN step, Luong) | "general" (Luong's
        h_dec . W h_enc, after the RNN step) | "additive" (Bahdanau: v . tanh(W_q q + W_k k) from the previous
        decoder state, before the RNN step, with input feeding). True and False are still accepted and mean
        "dot" and "none" (configs written before there were several kinds);
      bidirectional: the encoder reads the source both ways; a bridge (Linear + tanh) maps the two final
        states to the decoder's initial state, and attention attends to outputs of size 2 x hidden_dim.
    arch "transformer" (pre-norm encoder-decoder, seq2seq/transformer.py):
      hidden_dim is d_model (divisible by heads), n_layers the number of encoder and of decoder layers, heads
      the attention heads, ff_dim the feed-forward width (None: 4 x hidden_dim), positions "sinusoidal" or
      "learned" (learned ones stop at MAX_POSITIONS tokens), dropout as usual. cell, emb_dim, attention and
      bidirectional are RNN settings the Transformer ignores (attention is built in); heads, ff_dim and
      positions are Transformer settings the RNN ignores (all are still validated)."""
    src_vocab_size: int
    trg_vocab_size: int
    cell: str = "lstm"
    emb_dim: int = 32
    hidden_dim: int = 128
    n_layers: int = 1
    dropout: float = 0.0
    attention: str = "none"
    bidirectional: bool = False
    arch: str = "rnn"
    heads: int = 4
    ff_dim: int | None = None
    positions: str = "sinusoidal"

    def __post_init__(self) -> None:
        if isinstance(self.attention, bool):  # the old flag: True was dot-product attention
            self.attention = "dot" if self.attention else "none"
        if isinstance(self.attention, str) and self.attention in ATTENTIONS:
            self.attention = Attention(self.attention)

    def validate(self) -> None:
        if not isinstance(self.attention, str) or self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {self.attention!r}")
        _check_int("src_vocab_size", self.src_vocab_size, 5)
        _check_int("trg_vocab_size", self.trg_vocab_size, 5)
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        _check_int("emb_dim", self.emb_dim, 1, MAX_EMB)
        _check_int("hidden_dim", self.hidden_dim, 1, MAX_HIDDEN)
        _check_int("n_layers", self.n_layers, 1, MAX_LAYERS)
        _check_float("dropout", self.dropout, 0.0, 0.9)
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"bidirectional must be true or false, got {self.bidirectional!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        _check_int("heads", self.heads, 1, MAX_HEADS)
        if self.ff_dim is not None:
            _check_int("ff_dim", self.ff_dim, 1, MAX_FF)
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(POSITIONS)}, got {self.positions!r}")
        problem = heads_problem(self.hidden_dim, self.heads) if self.arch == "transformer" else None
        if problem:  # the sentence, then the rule in this class's field names
            raise ValueError(f"{problem[:-1]}: hidden_dim (its d_model) must be divisible by heads.")

    @property
    def ff_size(self) -> int:
        """The Transformer's feed-forward width: ff_dim, or 4 x hidden_dim when it is None."""
        return self.ff_dim if self.ff_dim is not None else 4 * self.hidden_dim

    def describe(self) -> str:
        """One line for people: 'LSTM, 2 layers, emb 32, hidden 128, bidirectional, additive attention' or
        'Transformer, 2 layers, d_model 64, 4 heads, ff 256, sinusoidal positions'."""
        layers = f"{self.n_layers} layer{'s' if self.n_layers > 1 else ''}"
        drop = f", dropout {self.dropout:g}" if self.dropout else ""
        if self.arch == "transformer":
            return (f"Transformer, {layers}, d_model {self.hidden_dim}, {self.heads} heads, ff {self.ff_size}, "
                    f"{self.positions} positions{drop}")
        extras = (", bidirectional" if self.bidirectional else "") + \
            (f", {self.attention} attention" if self.attention != "none" else ", no attention")
        return f"{self.cell.upper()}, {layers}, emb {self.emb_dim}, hidden {self.hidden_dim}{extras}{drop}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["attention"] = str(self.attention)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data, "model config")


@dataclass
class TrainConfig:
    """How to train. `steps=None` means no step limit (then a time budget or a target must stop it)."""
    batch_size: int = 128
    lr: float = 5e-3
    teacher_forcing: float = 1.0
    steps: int | None = 3000
    time_budget: float | None = None
    target_accuracy: float | None = None
    eval_every: int = 100
    val_size: int = 500
    clip: float = 1.0
    lr_decay: bool = False  # lower the learning rate linearly to a tenth by the last step (needs steps; see TrainState)
    seed: int = 0
    eval_seconds: float | None = None  # also evaluate once this much run time has passed since the last evaluation
    keep_best: bool = True  # end with the weights of the best held-out evaluation, not the last (see train())
    warmup: int = 0  # raise the learning rate linearly over the first `warmup` steps of training (counted from
                     # the model's first step, so a resumed run goes on where it was; 0: none)
    schedule: str = "linear"  # with lr_decay: "linear", or "cosine" (half a cosine: slow, fast, then slow again)
    tf_schedule: str = "constant"  # the teacher-forcing ratio: "constant" (teacher_forcing at every step), or
                                   # falling from teacher_forcing to 0 over the run's steps, "linear" or along an
                                   # "inverse_sigmoid" (scheduled sampling); see seq2seq.training.teacher_forcing_at

    def validate(self) -> None:
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        _check_float("lr", self.lr, 0.0, MAX_LR, open_low=True)
        _check_float("teacher_forcing", self.teacher_forcing, 0.0, 1.0)
        if self.steps is not None:
            _check_int("steps", self.steps, 1)
        if self.time_budget is not None:
            _check_float("time_budget", self.time_budget, 0.0, 1e7, open_low=True)
        if self.steps is None and self.time_budget is None and self.target_accuracy is None:
            raise ValueError("give a number of steps, a time budget or a target accuracy, or training never ends")
        if self.target_accuracy is not None:
            _check_float("target_accuracy", self.target_accuracy, 0.0, 1.0, open_low=True)
        _check_int("eval_every", self.eval_every, 1)
        if self.eval_seconds is not None:
            _check_float("eval_seconds", self.eval_seconds, 0.0, MAX_EVAL_SECONDS, open_low=True)
        _check_int("val_size", self.val_size, 1, 100_000)
        _check_float("clip", self.clip, 0.0, 1e6, open_low=True)
        if self.lr_decay and self.steps is None:
            raise ValueError("lr_decay needs a number of steps to decay over")
        _check_int("seed", self.seed, 0, MAX_SEED)
        if not isinstance(self.keep_best, bool):
            raise ValueError(f"keep_best must be true or false, got {self.keep_best!r}")
        _check_int("warmup", self.warmup, 0, MAX_WARMUP)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.tf_schedule not in TF_SCHEDULES:
            raise ValueError(f"tf_schedule must be one of {', '.join(TF_SCHEDULES)}, got {self.tf_schedule!r}")
        if self.tf_schedule != "constant" and self.steps is None:
            raise ValueError(f"tf_schedule {self.tf_schedule} needs a number of steps to decay over")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data, "train config")
