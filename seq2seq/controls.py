"""Every control of every tab described once: its label, widget, range, default, seed-preset value and help.

The web app's form, its presets, the HTTP API's parameter names, the command line's options and every message
about a bad value read this one table, so a label or a range cannot disagree with itself. No gradio, no torch
here. `read` turns a form's values into a task and two configs, or raises SettingsError with a sentence that
uses the field's label and its allowed range. Where the command line allows more than the form (it trains on
your own machine, not a shared server), the setting says how much (`cli_low`/`cli_high`, see `cli_range`).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .config import (MAX_BATCH, MAX_EMB, MAX_HEADS, MAX_HIDDEN, MAX_LAYERS, MAX_LR, MAX_SEED, MAX_WARMUP,
                     RNN_FIELDS, ModelConfig, TrainConfig, heads_problem)
from .tasks import DATA_TASK, MAX_LENGTH_CAP, TASK_NAMES, Task, length_cap, length_floor, length_unit, make_spec

YOUR_PAIRS = "your pairs"  # ... as the menu shows it
MIN_HELD_OUT = 10  # a task must have at least this many held-out sources to measure accuracy on
EVAL_SECONDS = 0.25  # held-out evaluation about this often while training (and every 100 steps): 30+ points in 10 s


class SettingsError(ValueError):
    """A bad setting, said as one sentence a person can act on."""

    def __init__(self, message: str, title: str = "Check the settings"):
        super().__init__(message)
        self.title = title


@dataclass(frozen=True)
class Setting:
    name: str                # the form's key, the /train API's parameter name
    label: str               # as on the page (a hint in brackets is left out of sentences)
    widget: str              # number | slider | dropdown | radio | checkbox
    default: Any             # the "Tuned default" preset
    seed: Any                # the "Seed tutorial settings" preset: the tutorial's own values
    group: str               # task | model | training | stopping
    low: float | None = None
    high: float | None = None
    whole: bool = False
    step: float | None = None                            # sliders
    choices: tuple[tuple[str, str], ...] = ()            # (shown, value)
    info: str = ""                                       # a short explanation under the field
    cli_low: float | None = None                         # the command line's range, where it differs from
    cli_high: float | None = None                        # the form's (None: the form's); see cli_range

    @property
    def short(self) -> str:
        return self.label.split(" (")[0]

    @property
    def cli_range(self) -> tuple[float, float]:
        """(low, high) of the command line's option for this setting: the form's range unless the setting
        names a wider one (math.inf: no upper bound)."""
        return (self.low if self.cli_low is None else self.cli_low,
                self.high if self.cli_high is None else self.cli_high)


def _numbers(name, label, widget, default, seed, group, low, high, *, whole=False, step=None, info="", cli=None):
    """A number setting; `cli`, (low, high), is the command line's range where it differs from the form's."""
    cli_low, cli_high = cli if cli is not None else (None, None)
    return Setting(name, label, widget, default, seed, group, low, high, whole, step, (), info, cli_low, cli_high)


ATTENTION_CHOICES = (("None", "none"), ("Dot product (Luong)", "dot"), ("General (Luong)", "general"),
                     ("Additive (Bahdanau)", "additive"))
ARCH_CHOICES = (("LSTM/GRU", "rnn"), ("Transformer", "transformer"))
TF_SCHEDULE_CHOICES = (("Constant", "constant"), ("Linear decay", "linear"), ("Inverse sigmoid", "inverse_sigmoid"))
RNN_ONLY = RNN_FIELDS  # fields a Transformer does not use
TRANSFORMER_ONLY = ("heads",)  # the Transformer's fields that are on the form (TRANSFORMER_FIELDS)


def table(max_seconds: int = 600) -> dict[str, Setting]:
    """Every setting, in /train's parameter order (scripts may pass them by position, so a new setting goes
    last); the form shows each group's in this order. `max_seconds` is the longest run this server allows.

    `cli=(low, high)`: the command line (`python -m seq2seq train`) trains on your own machine, not on a shared
    server, so its model sizes, batch, warm-up and seed go up to the library's own limits (config.py) and its
    learning rate up to MAX_LR (high enough to watch a run diverge); its steps start at 1 (the form's 0, "until
    the time budget", is --time-budget there) with no upper bound. Every other option takes the form's range."""
    rows = [
        Setting("task", "Task", "dropdown", "reverse", "random", "task",
                choices=(*((n, n) for n in TASK_NAMES), (YOUR_PAIRS, DATA_TASK))),
        _numbers("min_len", "Min length", "number", 3, 5, "task", 1, MAX_LENGTH_CAP, whole=True),
        _numbers("max_len", "Max length", "number", 10, 5, "task", 1, MAX_LENGTH_CAP, whole=True),
        Setting("cell", "Cell", "radio", "lstm", "lstm", "model", choices=(("LSTM", "lstm"), ("GRU", "gru")),
                info="The recurrent unit in both the encoder and the decoder."),
        _numbers("emb_dim", "Embedding size", "number", 32, 16, "model", 2, 256, whole=True,
                 info="Each token becomes a vector this long.", cli=(1, MAX_EMB)),
        _numbers("hidden_dim", "Hidden size", "number", 96, 32, "model", 8, 512, whole=True,
                 info="The memory the encoder hands to the decoder.", cli=(1, MAX_HIDDEN)),
        _numbers("n_layers", "Layers", "number", 1, 2, "model", 1, 4, whole=True, cli=(1, MAX_LAYERS)),
        _numbers("dropout", "Dropout", "slider", 0.0, 0.5, "model", 0.0, 0.9, step=0.05,
                 info="Share of values zeroed at random while training (never while decoding)."),
        Setting("attention", "Attention", "dropdown", "dot", "none", "model", choices=ATTENTION_CHOICES,
                info="At each output step the decoder looks back at every source position, not only at the "
                     "encoder's final state. Dot and general score after the decoder's step (Luong), additive "
                     "before it (Bahdanau)."),
        _numbers("batch_size", "Batch size", "number", 128, 32, "training", 1, 1024, whole=True,
                 cli=(1, MAX_BATCH)),
        _numbers("lr", "Learning rate", "number", 0.0075, 0.001, "training", 1e-6, 0.1,
                 info="Adam's step size; at most 0.1.", cli=(0, MAX_LR)),  # above 0: TrainConfig.validate says so
        _numbers("teacher_forcing", "Teacher forcing", "slider", 1.0, 0.5, "training", 0.0, 1.0, step=0.05,
                 info="How often the decoder is fed the right previous token while training, instead of "
                      "its own guess. 1 = always (fastest)."),
        _numbers("steps", "Steps (0 = until the time budget)", "number", 500, 1000, "stopping", 0, 1_000_000,
                 whole=True, cli=(1, math.inf)),
        _numbers("time_budget", f"Time budget, s (at most {max_seconds})", "number", 120, 120, "stopping",
                 1, max_seconds),
        _numbers("target", "Stop early at held-out exact match % (0 = never)", "number", 0, 0, "stopping", 0, 100,
                 info="Held-out: sources never used for training. Exact match: the whole output is right."),
        Setting("lr_decay", "Decay learning rate", "checkbox", True, False, "training",
                info="Lower it linearly to a tenth by the last step."),
        _numbers("seed", "Seed", "number", 0, 42, "stopping", 0, 2**31 - 1, whole=True,
                 info="The same seed and settings train the same model.", cli=(0, MAX_SEED)),
        Setting("arch", "Architecture", "radio", "rnn", "rnn", "model", choices=ARCH_CHOICES,
                info="The seed's recurrent encoder–decoder, or a small Transformer (pre-norm, sinusoidal "
                     "positions) whose layers and hidden size are the fields above."),
        Setting("bidirectional", "Bidirectional encoder", "checkbox", False, False, "model",
                info="The encoder reads the source both ways; a bridge hands both final states to the decoder."),
        _numbers("heads", "Attention heads (Transformer)", "number", 4, 4, "model", 1, 8, whole=True,
                 info="The hidden size must be a multiple of it.", cli=(1, MAX_HEADS)),
        _numbers("warmup", "Warm-up steps", "number", 0, 0, "training", 0, 10_000, whole=True,
                 info="Raise the learning rate from zero over this many steps first (Transformers like it).",
                 cli=(0, MAX_WARMUP)),
        Setting("schedule", "Decay shape", "radio", "linear", "linear", "training",
                choices=(("Linear", "linear"), ("Cosine", "cosine")),
                info="How the learning rate falls to a tenth when it decays."),
        Setting("tf_schedule", "Teacher-forcing schedule", "dropdown", "constant", "constant", "training",
                choices=TF_SCHEDULE_CHOICES,
                info="Constant keeps Teacher forcing's ratio; the others lower it to 0 by the last step, so the "
                     "decoder learns to go on from its own guesses (scheduled sampling)."),
    ]
    return {s.name: s for s in rows}


SETTINGS = table()

# The Decode tab's controls (also /decode's and /what_if's parameters, and `decode`'s options on the command
# line). `seed` is the seed tutorial's value where it has one, else the default.
DECODING: dict[str, Setting] = {s.name: s for s in [
    _numbers("top_k", "Top-k shown", "slider", 3, 3, "decoding", 1, 10, whole=True, step=1),
    Setting("strategy", "Strategy", "dropdown", "greedy", "greedy", "decoding",
            choices=(("Greedy", "greedy"), ("Beam search", "beam"), ("Sampling", "sampling"))),
    _numbers("width", "Beam width", "slider", 5, 5, "decoding", 1, 10, whole=True, step=1),
    _numbers("temperature", "Temperature", "slider", 1.0, 1.0, "decoding", 0.05, 5, step=0.05,
             info="Below 1: sharper, above 1: flatter"),
    _numbers("sample_k", "Sample from top k (0: all)", "slider", 0, 0, "decoding", 0, 20, whole=True, step=1),
    _numbers("top_p", "Top-p", "slider", 1.0, 1.0, "decoding", 0.01, 1, step=0.01,
             info="Smallest set of tokens this probable"),
    _numbers("seed", "Seed", "number", 0, 0, "decoding", 0, 2**31 - 1, whole=True),
]}
STRATEGY_KINDS = tuple(v for _, v in DECODING["strategy"].choices)  # greedy, beam, sampling


def form_order(settings: dict[str, Setting], group: str) -> list[Setting]:
    """A group's settings in the order the form shows them: the architecture before the sizes it gives meaning
    to, the rest in the table's order."""
    rows = [s for s in settings.values() if s.group == group]
    return sorted(rows, key=lambda s: s.name != "arch")


MODEL_FIELDS = ("arch", "cell", "emb_dim", "hidden_dim", "n_layers", "attention", "bidirectional", "heads")


def model_config(values: dict[str, Any], vocab_size: int, settings: dict[str, Setting] = SETTINGS) -> ModelConfig:
    """The model fields' values (MODEL_FIELDS) as a ModelConfig for a vocabulary of `vocab_size`, for the
    diagram; raises SettingsError for a value out of range."""
    v = {}
    for name in MODEL_FIELDS:
        v[name] = value(settings[name], values.get(name))
    return ModelConfig(vocab_size, vocab_size, **v)
_DEFAULTS = {s.name: s.default for s in SETTINGS.values()}
# the issue-10 variants, as changes to the tuned default (measured: README "Architectures")
FASTEST = {"cell": "gru", "hidden_dim": 64, "attention": "additive", "bidirectional": True, "lr": 0.003,
           "steps": 300}
# batch 32: a Transformer step costs in proportion to its batch, and it needs about as many steps at 32 as at 128
# (99% held-out after ~9 s instead of ~40 s: docs/benchmarks.md, item 9)
TRANSFORMER = {"arch": "transformer", "hidden_dim": 64, "n_layers": 2, "heads": 4, "batch_size": 32, "lr": 0.003,
               "warmup": 50, "schedule": "cosine", "steps": 700}
PRESETS = {"Tuned default": _DEFAULTS,
           "LSTM + attention (fastest)": {**_DEFAULTS, **FASTEST},
           "Transformer": {**_DEFAULTS, **TRANSFORMER},
           "Seed tutorial settings": {s.name: s.seed for s in SETTINGS.values()}}
DEFAULT_PRESET = "Tuned default"
MODES = (("Continue if possible", "continue"), ("New model", "new"))


def number(setting: Setting, value: Any, title: str = "Check the settings") -> int | float:
    """`value` as a number within the setting's range, or a SettingsError naming the field and its range."""
    return in_range(setting.short, value, setting.whole, setting.low, setting.high, title)


def cli_number(setting: Setting, value: Any) -> int | float:
    """`value` as a number within the command line's range for the setting (`Setting.cli_range`), or a
    SettingsError with the same sentence as the form's, over that range."""
    low, high = setting.cli_range
    return in_range(setting.short, value, setting.whole, low, high)


def plain(x: float) -> str:
    """A bound as people write it: 0.001, 50, 2,147,483,647 (never 2.14748e+09)."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


def span(low: float, high: float) -> str:
    """A range as people write it: "8–512", "0.05–5", "1 or more" (no upper bound)."""
    return f"{plain(low)}–{plain(high)}" if math.isfinite(high) else f"{plain(low)} or more"


def given(value: Any, quoted: bool = False) -> str:
    """A value someone sent, as a sentence quotes it: at most 20 characters (then "…"), infinities and NaN in
    words, never Python's repr of a huge number (and never an error for one too long to print)."""
    if value is None:
        return "nothing"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else "infinity" if value > 0 else "minus infinity"
    try:
        text = str(value)
    except ValueError:  # an int too long for str() (Python's limit on digits)
        return "a number too long to show"
    text = text[:20] + "…" if len(text) > 20 else text
    return repr(text) if quoted else text


def in_range(label: str, value: Any, whole: bool, low: float, high: float,
             title: str = "Check the settings") -> int | float:
    """`value` as a number (whole, if asked) within [low, high] (high may be math.inf: no upper bound);
    otherwise a SettingsError that says so."""
    bounds = f"between {plain(low)} and {plain(high)}" if math.isfinite(high) else f"of at least {plain(low)}"
    what = f"{label} must be {'a whole number' if whole else 'a number'} {bounds}"
    try:
        x = float("nan") if isinstance(value, bool) or value is None else float(value)
    except (TypeError, ValueError, OverflowError):
        x = float("nan")
    if not math.isfinite(x) or (whole and x != int(x)) or not low <= x <= high:
        got = "" if value is None or value == "" else f" (you gave {given(value)})"
        raise SettingsError(f"{what}{got}.", title)
    return int(x) if whole else x


def choice(setting: Setting, value: Any) -> str:
    allowed = [v for _, v in setting.choices]
    if value not in allowed:
        raise SettingsError(f"{setting.short} must be one of {', '.join(allowed)} (you gave {given(value, True)}).")
    return value


def flag(setting: Setting, value: Any) -> bool:
    if value not in (True, False, None, 0, 1):
        raise SettingsError(f"{setting.short} must be on or off (you gave {given(value, True)}).")
    return bool(value)


def value(setting: Setting, raw: Any) -> Any:
    """`raw` checked as the setting's kind of value: one of its choices, on/off, or a number in its range."""
    if setting.name == "attention" and isinstance(raw, bool):  # callers from before there were kinds
        raw = "dot" if raw else "none"
    if setting.choices:
        return choice(setting, raw)
    return flag(setting, raw) if setting.widget == "checkbox" else number(setting, raw)


def mode(value: Any) -> str:
    allowed = [v for _, v in MODES]
    if value not in allowed:
        raise SettingsError(f"“When you press Train” must be one of {', '.join(allowed)} (you gave "
                            f"{given(value, True)}).")
    return value


def read(values: dict[str, Any], settings: dict[str, Setting] = SETTINGS,
         data: Task | None = None) -> tuple[Task, ModelConfig, TrainConfig]:
    """The form's values, checked, as (task, model config, train config). `data`: the task of the pairs the user
    gave (a seq2seq.data.DataTask), which the Task choice "data" trains on (its lengths are the data's: the
    form's are not read). Raises SettingsError."""
    v: dict[str, Any] = {}
    for name, s in settings.items():
        v[name] = value(s, values.get(name, s.default))
    task_name = v["task"]
    if task_name == DATA_TASK:
        if data is None:
            raise SettingsError("Give your pairs first: upload a file, paste them, or try an example (under Task).",
                                "No pairs yet")
        return _configs(data, v)
    try:
        spec = make_spec(task_name, v["min_len"], v["max_len"])
    except ValueError:
        default = make_spec(task_name)
        cap, unit = length_cap(task_name), length_unit(task_name)
        unit = "" if unit == "tokens" else f" ({unit})"
        raise SettingsError(f"For {task_name}, min length and max length{unit} must satisfy "
                            f"{length_floor(task_name)} ≤ min ≤ max ≤ {cap} "
                            f"(you gave {v['min_len']} and {v['max_len']}); its default is "
                            f"{default.min_len}–{default.max_len}.") from None
    task = Task(spec)
    configs = _configs(task, v)
    try:  # a corner of the task too small to keep examples apart for testing fails here, not mid-run
        held_out = task.examples(random.Random(0), MIN_HELD_OUT, held_out=True, distinct=True)
        task.examples(random.Random(0), 1, held_out=False)
    except ValueError:
        held_out = []
    if len(held_out) < MIN_HELD_OUT:
        raise SettingsError(f"{task_name} with lengths {spec.min_len}–{spec.max_len} has too few different "
                            f"examples to keep {MIN_HELD_OUT} apart for testing: widen the length range.")
    return configs


def _configs(task: Task, v: dict[str, Any]) -> tuple[Task, ModelConfig, TrainConfig]:
    """The model and train configs of checked values `v` for `task`. Raises SettingsError."""
    if v["lr_decay"] and v["steps"] == 0:
        raise SettingsError("Decaying the learning rate needs a number of steps to decay over: set Steps, or turn "
                            "the decay off.")
    if v["tf_schedule"] != "constant" and v["steps"] == 0:
        raise SettingsError("A teacher-forcing schedule needs a number of steps to decay over: set Steps, or choose "
                            "Constant.")
    model_config = ModelConfig(len(task.vocab), len(task.vocab), cell=v["cell"], emb_dim=v["emb_dim"],
                               hidden_dim=v["hidden_dim"], n_layers=v["n_layers"], dropout=v["dropout"],
                               attention=v["attention"], bidirectional=v["bidirectional"], arch=v["arch"],
                               heads=v["heads"])
    problem = heads_problem(v["hidden_dim"], v["heads"]) if v["arch"] == "transformer" else None
    if problem:
        raise SettingsError(problem)
    train_config = TrainConfig(batch_size=v["batch_size"], lr=v["lr"], teacher_forcing=v["teacher_forcing"],
                               steps=v["steps"] or None, time_budget=v["time_budget"],
                               target_accuracy=v["target"] / 100 or None, lr_decay=v["lr_decay"], seed=v["seed"],
                               warmup=v["warmup"], schedule=v["schedule"], tf_schedule=v["tf_schedule"])
    model_config.validate()
    train_config.validate()
    return task, model_config, train_config


def changed(old: ModelConfig, new: ModelConfig, settings: dict[str, Setting] = SETTINGS) -> list[str]:
    """What differs between two models' shapes, in the form's words ("Hidden size 128 → 64")."""
    return [f"{settings[k].short if k in settings else k} {getattr(old, k)} → {getattr(new, k)}"
            for k in vars(old) if getattr(old, k) != getattr(new, k)]
