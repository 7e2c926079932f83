"""Command line: python -m seq2seq train|eval|decode  (see --help of each).

Errors are one line on stderr with a non-zero exit code: 2 for bad arguments, 1 for everything else
(a bad checkpoint, a bad source, training that diverged). Set SEQ2SEQ_DEBUG=1 to see tracebacks.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .config import (MAX_FF, MAX_POSITIONS, POSITIONS, RNN_FIELDS, TRANSFORMER_FIELDS, ModelConfig, TrainConfig,
                     heads_problem)
from .controls import DECODING, SETTINGS, Setting, SettingsError, cli_number, plain, span
from .tasks import (MAX_LENGTH_CAP, NEVER_CHOSEN, TASK_NAMES, TOKENISATIONS, Task, length_cap, length_floor,
                    length_unit, make_spec)

# torch (about 2 s of a cold start) and what needs it are imported by the commands that use them, once the
# arguments are checked: --help and an argument error answer at once
if TYPE_CHECKING:
    from .decode import Forced
    from .model import Seq2Seq
    from .training import EvalEvent, StepEvent, TrainState

PROG = "python -m seq2seq"
STATE_FILE = "train_state.safetensors"  # checkpoint.STATE_FILE (a test checks), named here without importing torch
# what `train` uses when the command line does not say (README "Benchmark": measured with seeds 0-2)
CLI_LR = 0.003    # decaying over CLI_STEPS steps (lr_decay is on whenever there is a number of steps): after
CLI_STEPS = 2000  # first reaching 99% on reverse (at step ~1000), later evaluations stayed >= 97% (seeds 0-2);
                  # 5e-3 without decay swung down to 86%, and 3e-3 decaying over 3000 steps to 94.6%
TARGET_EVAL_SECONDS = 0.25  # with --target-accuracy: evaluate on time, not every 100 steps
# settings measured to reach 99% on reverse fastest, used for an RNN with this kind of attention unless the
# command line gives any of them; a GRU as the measured fastest (an LSTM of the same size needs more steps,
# each dearer)
TUNED = {"additive": {"cell": "gru", "hidden": 64, "lr": 0.003}}
EVAL_SEED = 1234  # eval draws its own held-out sample, different from training's validation set
MAX_DECODE_STEPS = 1000  # longest output decode will produce
ECHO_CHARS = 100  # a bad stdin line is echoed back only this far


class CliError(Exception):
    """A failure to report as one line on stderr, exit code 1."""


class UsageError(Exception):
    """Options that do not go together: one line on stderr, exit code 2, as argparse's own errors."""


# train's options that are Train-tab controls (option -> the controls table's setting, seq2seq/controls.py): their
# choices, the range in --help and the sentence for a value out of range are the table's (over the command
# line's range, Setting.cli_range)
TRAIN_CONTROLS = {"task": "task", "min_len": "min_len", "max_len": "max_len", "cell": "cell", "emb": "emb_dim",
                  "hidden": "hidden_dim", "layers": "n_layers", "dropout": "dropout", "attention": "attention",
                  "bidirectional": "bidirectional", "arch": "arch", "heads": "heads", "batch_size": "batch_size",
                  "lr": "lr", "teacher_forcing": "teacher_forcing", "steps": "steps", "seed": "seed",
                  "lr_decay": "lr_decay", "warmup": "warmup", "schedule": "schedule", "tf_schedule": "tf_schedule"}
# ... of which these keep their own checks and sentences (scripts match on them), over the same ranges: the
# lengths (their range depends on the task: tasks.make_spec), the learning rate (above 0) and warm-up
# (TrainConfig.validate, with config.py's limits, which the table's command-line range names) and --heads
# (_check_architecture_options, with the table's range)
OWN_CHECKS = ("min_len", "max_len", "lr", "warmup", "heads")
# decode's options that are Decode-tab controls (option -> setting); --beam keeps its own sentence (see cmd_decode)
DECODE_CONTROLS = {"top_k": "top_k", "beam": "width", "temperature": "temperature", "top_p": "top_p", "seed": "seed"}


def _choices(name: str) -> list[str]:
    """The values a choice setting of the Train tab allows, for argparse."""
    return [value for _, value in SETTINGS[name].choices]


def _with_range(setting: Setting, text: str) -> str:
    """An option's help with the setting's command-line range in place of {range}: "hidden size (1–2048)"."""
    return text.format(range=span(*setting.cli_range))


def _length_help(which: str) -> str:
    """--min-len / --max-len: the range, and where a task's differs (addition counts digits per number)."""
    low, high = SETTINGS[which].cli_range
    others = [f"{name}: {span(max(low, length_floor(name)), length_cap(name))} {length_unit(name)}"
              for name in TASK_NAMES if length_cap(name) != MAX_LENGTH_CAP or length_floor(name) != low]
    what = "shortest" if which == "min_len" else "longest"
    return f"the {what} source, {span(low, high)} tokens ({'; '.join(others)})"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        sys.stderr.write(f"{PROG}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Train, evaluate and look inside small seq2seq models on toy tasks.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,eval,decode}")

    t = sub.add_parser("train", help="train a model on a toy task and save a checkpoint folder",
                       description="Train a model on a toy task and save a checkpoint folder. With --resume DIR, "
                                   "train the model saved in DIR further, exactly as if its run had gone on: the "
                                   "task, model and training settings are DIR's (the options that set them are "
                                   "refused), the optimizer and random generators go on from its "
                                   f"{STATE_FILE}, and step numbers continue. Only how long to go on "
                                   f"(--steps, default {CLI_STEPS} more; --time-budget; --target-accuracy), when to "
                                   "evaluate (--eval-every, --eval-seconds) and --lr can be set.")
    t.add_argument("--task", choices=TASK_NAMES, help="a built-in task (or --data, or --resume)")
    t.add_argument("--data", type=Path, metavar="FILE",
                   help="train on your own pairs: a .tsv (source TAB target), .csv (source,target), .jsonl "
                        "({\"source\": ..., \"target\": ...}) or text file (source TAB target, or source -> "
                        "target), one pair per line; limits from SEQ2SEQ_DATA_BYTES, _PAIRS, _TOKENS, _SYMBOLS. "
                        "With --resume: the data the checkpoint was trained on")
    t.add_argument("--tokens", type=_tokens_option, metavar="chars|words",
                   help="with --data: split both sides into characters or words; SOURCE,TARGET (e.g. "
                        "words,chars) sets each side (default: detected from the data)")
    t.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    t.add_argument("--resume", type=Path, metavar="DIR", help="go on training the checkpoint in DIR (see above)")
    t.add_argument("--seed", type=int, help=_with_range(SETTINGS["seed"], "seeds the weights, batches, teacher "
                                                                          "forcing and dropout ({range}; default 0)"))
    t.add_argument("--steps", type=int, help=_with_range(SETTINGS["steps"], "maximum training steps ({range}; default "
                                                                           f"{CLI_STEPS}, or none with --time-budget)"))
    t.add_argument("--time-budget", type=float, metavar="SECONDS")
    t.add_argument("--target-accuracy", type=float, metavar="X", help="stop at this held-out exact match (0-1]")
    t.add_argument("--min-len", type=int, help=_length_help("min_len"))
    t.add_argument("--max-len", type=int, help=_length_help("max_len"))
    t.add_argument("--cell", choices=_choices("cell"))
    t.add_argument("--emb", type=int, help=_with_range(SETTINGS["emb_dim"], "embedding size ({range})"))
    t.add_argument("--hidden", type=int, help=_with_range(SETTINGS["hidden_dim"], "hidden size, the Transformer's "
                                                                                 "d_model ({range})"))
    t.add_argument("--layers", type=int, help=_with_range(SETTINGS["n_layers"], "layers ({range}; the Transformer: "
                                                                               "of the encoder and of the decoder)"))
    t.add_argument("--dropout", type=float, help=_with_range(SETTINGS["dropout"], "dropout ({range})"))
    t.add_argument("--attention", nargs="?", const="dot", choices=_choices("attention"), metavar="KIND",
                   help="let the decoder attend to every encoder output: none (the default, as in the seed), dot "
                        "(what a bare --attention means), general or additive (Bahdanau's, before the RNN step)")
    t.add_argument("--bidirectional", action="store_true", default=None,
                   help="read the source both ways (a bridge maps both final states to the decoder's)")
    t.add_argument("--arch", choices=_choices("arch"), help="rnn (the seed's LSTM/GRU, the default) or transformer")
    t.add_argument("--heads", type=int, metavar="N", help=_with_range(SETTINGS["heads"], "Transformer: attention "
                                                                      "heads ({range}; default 4; must divide "
                                                                      "--hidden, which is d_model)"))
    t.add_argument("--ff", type=int, metavar="N", help=f"Transformer: feed-forward width (default 4 x --hidden; "
                                                       f"1–{MAX_FF})")
    t.add_argument("--positions", choices=POSITIONS,
                   help="Transformer: sinusoidal (the default) or learned (at most 128 tokens) positions")
    t.add_argument("--batch-size", type=int, help=_with_range(SETTINGS["batch_size"], "batch size ({range})"))
    t.add_argument("--lr", type=float, help=_with_range(SETTINGS["lr"], "Adam's learning rate ({range}, above 0; "
                                                                        f"default {CLI_LR})"))
    t.add_argument("--teacher-forcing", type=float, metavar="X",
                   help=_with_range(SETTINGS["teacher_forcing"], "ratio ({range}); 1.0 takes the fast path"))
    t.add_argument("--tf-schedule", choices=_choices("tf_schedule"),
                   help="the teacher-forcing ratio: constant (the default: --teacher-forcing at every step), or "
                        "lowered from --teacher-forcing to 0 by the last step, linear or inverse_sigmoid (scheduled "
                        "sampling; needs --steps). See docs/exposure-bias.md")
    t.add_argument("--eval-every", type=int, metavar="N")
    t.add_argument("--eval-seconds", type=float, metavar="SECONDS",
                   help="also evaluate once this much time has passed since the last evaluation")
    t.add_argument("--lr-decay", action=argparse.BooleanOptionalAction, default=None,
                   help="lower the learning rate to a tenth by the last step (the default when there is a number "
                        "of steps, which --time-budget alone does not give)")
    t.add_argument("--schedule", choices=_choices("schedule"), help="how --lr-decay lowers it: linear (the "
                                                                    "default) or cosine (half a cosine)")
    t.add_argument("--warmup", type=int, metavar="STEPS",
                   help=_with_range(SETTINGS["warmup"], "raise the learning rate linearly over the first STEPS steps "
                                                        "({range}; default 0)"))
    t.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for small models)")
    t.add_argument("--no-train-state", action="store_true",
                   help=f"save config.json and the weights only, without {STATE_FILE} (twice the weights' size): "
                        f"smaller, but it cannot be resumed")
    t.add_argument("--json", action="store_true", help="one JSON object per line instead of progress text")

    e = sub.add_parser("eval", help="held-out exact match and token accuracy of a checkpoint")
    e.add_argument("--checkpoint", required=True, type=Path)
    e.add_argument("--n", type=int, default=1000, help="number of held-out examples")
    e.add_argument("--data", type=Path, metavar="FILE",
                   help="evaluate on every pair of this file (.tsv, .csv, .jsonl or text), split into tokens as "
                        "the checkpoint's data was (--n and --seed choose generated examples, not a file's); with "
                        "--by-length, for each source length")
    e.add_argument("--min-len", type=int, help=_length_help("min_len"))
    e.add_argument("--max-len", type=int, help=_length_help("max_len"))
    e.add_argument("--seed", type=int, default=EVAL_SEED)
    e.add_argument("--by-length", action="store_true",
                   help="exact match and token accuracy for each source length, --n examples each (lengths "
                        "outside the training range are allowed, and marked)")
    e.add_argument("--json", action="store_true")

    d = sub.add_parser("decode", help="decode a source string step by step (greedy, beam, sampling, forced)")
    d.add_argument("--checkpoint", required=True, type=Path)
    d.add_argument("--top-k", type=int, default=3,
                   help=_with_range(DECODING["top_k"], "alternatives shown per step ({range}); with --sample, also: "
                                                       "draw only from the K most probable"))
    d.add_argument("--max-len", type=int, help=f"maximum output steps (default 2 x source length + 10; "
                                               f"1–{MAX_DECODE_STEPS})")
    d.add_argument("--beam", type=int, metavar="K", help=_with_range(DECODING["width"], "beam search of width K "
                                                                     "({range}); --json adds the beams and the "
                                                                     "whole tree"))
    d.add_argument("--sample", action="store_true", help="draw each token instead of taking the most probable")
    d.add_argument("--temperature", type=float, default=1.0,
                   help=_with_range(DECODING["temperature"], "with --sample ({range}): below 1 sharper, above "
                                                             "flatter"))
    d.add_argument("--top-p", type=float, metavar="P",
                   help=_with_range(DECODING["top_p"], "with --sample ({range}): draw from the smallest set "
                                                       "reaching P"))
    d.add_argument("--seed", type=int, default=0,
                   help=_with_range(DECODING["seed"], "with --sample ({range}): the same seed draws the same "
                                                      "tokens"))
    d.add_argument("--force", action="append", default=[], metavar="STEP:TOKEN",
                   help='feed TOKEN at output step STEP (from 1), whatever the model prefers: "what if" '
                        "(repeatable)")
    d.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    d.add_argument("source", help='the source as the task writes it: tokens separated by spaces, e.g. "3 1 4", or '
                                  'for a data set or a real-looking task as in its data, e.g. "3 March 2021"; '
                                  '"-" reads one source per line from standard input and writes one JSON object '
                                  'per line')
    return p


def _tokens_option(text: str) -> tuple[str, str]:
    """--tokens: "chars", "words", or "SOURCE,TARGET" of those."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or any(p not in TOKENISATIONS for p in parts):
        raise argparse.ArgumentTypeError(f"must be chars, words, or SOURCE,TARGET of those (e.g. words,chars), "
                                         f"got {text!r}")
    return parts[0], parts[1]


def _read_data(args: argparse.Namespace, tokenize: tuple[str, str] | None = None):
    """--data's pairs as a DataSet (its summary and notes on stderr); CliError with the reader's sentence."""
    from .data import DataError, DataLimits, read_pairs
    try:
        data = read_pairs(args.data, tokenize=tokenize if tokenize is not None else args.tokens,
                          limits=DataLimits.from_env())
    except (DataError, ValueError) as e:
        raise CliError(f"--data {args.data.name}: {e}") from None
    sys.stderr.write(f"{data.name}: {data.summary()} (split by source: no source is in both halves); tokens: "
                     f"{data.tokenize[0]} → {data.tokenize[1]}\n")
    for note in data.notes():
        sys.stderr.write(f"{data.name}: {note}\n")
    return data


def _given(args: argparse.Namespace, mapping: dict[str, str]) -> dict[str, Any]:
    """Config fields for the command-line options the user actually gave."""
    return {field: getattr(args, opt) for opt, field in mapping.items() if getattr(args, opt) is not None}


# the options that set what a run is; a resumed run keeps these from its checkpoint
MODEL_OPTIONS = {"cell": "cell", "emb": "emb_dim", "hidden": "hidden_dim", "layers": "n_layers", "dropout": "dropout",
                 "attention": "attention", "bidirectional": "bidirectional", "arch": "arch", "heads": "heads",
                 "ff": "ff_dim", "positions": "positions"}
OPTION_OF = {field: option for option, field in MODEL_OPTIONS.items()}
RNN_ONLY = tuple(OPTION_OF[f] for f in RNN_FIELDS)  # options the Transformer has no use for
TRANSFORMER_ONLY = tuple(OPTION_OF[f] for f in TRANSFORMER_FIELDS)
SETTING_OPTIONS = {"seed": "seed", "batch_size": "batch_size", "teacher_forcing": "teacher_forcing",
                   "lr_decay": "lr_decay", "warmup": "warmup", "schedule": "schedule", "tf_schedule": "tf_schedule"}
# ... and these a resumed run may set
RUN_OPTIONS = {"steps": "steps", "time_budget": "time_budget", "target_accuracy": "target_accuracy",
               "eval_every": "eval_every", "eval_seconds": "eval_seconds", "lr": "lr"}


@dataclasses.dataclass
class _Run:
    """What `train` trains: a new model, or the one a checkpoint holds, with its settings and state."""
    model: Seq2Seq
    task: Task
    config: TrainConfig
    state: TrainState
    start: int = 0          # the step it starts from
    seconds: float = 0.0    # training time before this run
    note: str | None = None  # one line to print before training (tuned settings filled in)


def cmd_train(args: argparse.Namespace) -> int:
    try:
        cores = os.cpu_count() or 1
        if not 1 <= args.threads <= cores:
            raise ValueError(f"--threads must be between 1 and {cores} (the cores of this machine)")
        run = _resumed_run(args) if args.resume is not None else _new_run(args)
    except ValueError as e:
        raise CliError(str(e)) from None
    import torch

    from .checkpoint import CheckpointError, check_writable, save_checkpoint, training_summary
    from .training import DoneEvent, train
    try:
        check_writable(args.out)  # fail before training, not after
    except CheckpointError as e:
        raise CliError(f"--out: {e}") from None
    torch.set_num_threads(args.threads)
    if run.note:
        sys.stderr.write(run.note + "\n")

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: stop cleanly, still save
    last: dict[str, float] = {}
    done: DoneEvent | None = None
    try:
        for event in train(run.model, run.task, run.config, stop, start_step=run.start, state=run.state):
            if isinstance(event, DoneEvent):
                done = event
            elif args.json:
                print(json.dumps(_event_json(event)), flush=True)
            else:
                _progress(event, run.config, run.start, last)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done is not None
    summary = training_summary(done.step, run.seconds + done.elapsed, done.exact_match, done.token_accuracy,
                               val_loss=done.val_loss, stop_reason=done.reason, train_config=run.config.to_dict())
    try:
        save_checkpoint(args.out, run.model, run.task, summary, state=None if args.no_train_state else run.state)
    except (CheckpointError, OSError) as e:
        raise CliError(f"could not save the checkpoint: {e}") from None
    if args.json:
        print(json.dumps({"event": "done", "steps": done.step, "seconds": round(done.elapsed, 3),
                          "exact_match": done.exact_match, "token_accuracy": done.token_accuracy,
                          "forced_accuracy": done.forced_accuracy, "val_loss": done.val_loss, "reason": done.reason,
                          "message": done.message,
                          "checkpoint": str(args.out)}), flush=True)
    else:
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        resumed = f" ({done.step - run.start} after step {run.start} of {args.resume})" if run.start else ""
        print(f"{done.message}: {done.step} steps{resumed} in {done.elapsed:.1f} s, held-out exact match "
              f"{done.exact_match:.1%}, token accuracy {done.token_accuracy:.1%}; saved {args.out}")
    if done.reason == "diverged":
        sys.stderr.write(f"{PROG} train: error: {done.message}; saved those weights in {args.out}\n")
        return 1
    return 0


def _new_run(args: argparse.Namespace) -> _Run:
    """A new model and its settings from the command line (raises ValueError for a bad value)."""
    if args.task is None and args.data is None:
        raise UsageError("the following arguments are required: --task or --data (or --resume DIR)")
    if args.data is not None:
        given = [f"--{name.replace('_', '-')}" for name in ("task", "min_len", "max_len")
                 if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{', '.join(given)} cannot be used with --data: the task and its lengths are the data's")
    elif args.tokens is not None:
        raise UsageError("--tokens says how to split --data's pairs: add --data FILE")
    _check_ranges(args, TRAIN_CONTROLS)
    _check_architecture_options(args)
    note = _tuned_defaults(args)
    if args.data is not None:
        from .data import DataTask
        task: Task = DataTask(_read_data(args))
    else:
        task = Task(make_spec(args.task, args.min_len, args.max_len))
    model_config = ModelConfig(len(task.vocab), len(task.vocab), **_given(args, MODEL_OPTIONS))
    model_config.validate()
    longest = max(task.spec.max_source_len, task.spec.max_target_len + 1)  # + 1: the decoder's <sos>
    if model_config.arch == "transformer" and model_config.positions == "learned" and longest > MAX_POSITIONS:
        raise UsageError(f"--positions learned stops at {MAX_POSITIONS} tokens, and this task's longest source or "
                         f"target needs {longest}: use --positions sinusoidal")
    train_fields = _given(args, {**SETTING_OPTIONS, **RUN_OPTIONS})
    if args.time_budget is not None and args.steps is None:
        train_fields["steps"] = None
    if "lr" not in train_fields:
        train_fields["lr"] = CLI_LR
    train_fields.setdefault("steps", CLI_STEPS)
    if "lr_decay" not in train_fields and train_fields["steps"] is not None:
        train_fields["lr_decay"] = True  # without a number of steps there is nothing to decay over
    if "schedule" in train_fields and not train_fields.get("lr_decay"):
        raise UsageError("--schedule shapes the decay of the learning rate: add --lr-decay (it needs --steps)")
    if train_fields.get("tf_schedule", "constant") != "constant" and train_fields["steps"] is None:
        raise UsageError(f"--tf-schedule {train_fields['tf_schedule']} lowers the teacher-forcing ratio over a "
                         f"number of steps: add --steps")
    _eval_on_time(args, train_fields)
    config = TrainConfig(**train_fields)
    config.validate()
    task.examples(random.Random(0), 1, held_out=True)  # too small a task fails here, not mid-run
    from .builder import build_model
    from .training import TrainState
    return _Run(build_model(model_config, seed=config.seed), task, config, TrainState.fresh(config.seed),
                note=note)


def _check_ranges(args: argparse.Namespace, options: Sequence[str]) -> None:
    """Every number option among `options` that the user gave, within its setting's command-line range
    (Setting.cli_range); else a UsageError (exit code 2) with the controls table's sentence."""
    for option in options:
        value, name = getattr(args, option), TRAIN_CONTROLS.get(option)
        if value is None or name is None or option in OWN_CHECKS or SETTINGS[name].low is None:
            continue
        try:
            cli_number(SETTINGS[name], value)
        except SettingsError as e:
            raise UsageError(f"--{option.replace('_', '-')}: {str(e).rstrip('.')}") from None


def _eval_on_time(args: argparse.Namespace, fields: dict[str, Any]) -> None:
    """With a target and no evaluation cadence given: evaluate every TARGET_EVAL_SECONDS (at most a fifth of the
    run, see train()), so the run stops soon after it gets there, not at the next multiple of --eval-every."""
    if args.target_accuracy is not None and args.eval_every is None and args.eval_seconds is None:
        fields["eval_seconds"] = TARGET_EVAL_SECONDS


def _tuned_defaults(args: argparse.Namespace) -> str | None:
    """For a model with tuned settings (TUNED), fill in the ones the command line left out and say so in one
    line; None when there is nothing to fill in (or the user chose any of them: then the usual defaults)."""
    if args.arch == "transformer" or args.attention is None:
        return None
    tuned = TUNED.get(args.attention)
    if tuned is None or any(getattr(args, option) is not None for option in tuned):
        return None
    for option, value in tuned.items():
        setattr(args, option, value)
    chosen = " ".join(f"--{option} {value}" for option, value in tuned.items())
    return (f"--attention {args.attention}: training with its tuned settings {chosen} (measured fastest to 99% on "
            f"reverse); give any of {_flags(tuned)} to choose them yourself")


def _flags(names: Sequence[str]) -> str:
    return ", ".join(f"--{name}" for name in names)


def _check_architecture_options(args: argparse.Namespace) -> None:
    """Options of one architecture given with the other, or out of range: UsageError (exit code 2)."""
    transformer = args.arch == "transformer"
    wrong = [name for name in (RNN_ONLY if transformer else TRANSFORMER_ONLY) if getattr(args, name) is not None]
    if wrong and transformer:
        raise UsageError(f"{_flags(wrong)} set the RNN; the Transformer has attention built in (its options: "
                         f"--hidden, --layers, --heads, --ff, --positions, --dropout)")
    if wrong:
        raise UsageError(f"{_flags(wrong)} set the Transformer: add --arch transformer")
    low, high = SETTINGS["heads"].cli_range
    if args.heads is not None and not low <= args.heads <= high:
        raise UsageError(f"--heads must be between {plain(low)} and {plain(high)}, got {args.heads}")
    if args.ff is not None and not 1 <= args.ff <= MAX_FF:
        raise UsageError(f"--ff must be between 1 and {MAX_FF}, got {args.ff}")
    if transformer:
        hidden = args.hidden if args.hidden is not None else ModelConfig.hidden_dim
        heads = args.heads if args.heads is not None else ModelConfig.heads
        if heads_problem(hidden, heads):  # config.py's one rule, said in the options' names
            raise UsageError(f"--hidden (the Transformer's d_model, {hidden}) must be divisible by --heads ({heads})")


def _resumed_run(args: argparse.Namespace) -> _Run:
    """The model, settings, step and training state saved in --resume's checkpoint, with what the command
    line may change: how long to go on (as for a new run: CLI_STEPS steps unless told), when to evaluate, the
    learning rate."""
    fixed = [f"--{name.replace('_', '-')}" for name in ("task", "tokens", "min_len", "max_len", *MODEL_OPTIONS,
                                                         *SETTING_OPTIONS)
             if getattr(args, name) is not None]
    if fixed:
        raise UsageError(f"{', '.join(fixed)} cannot be used with --resume: a resumed run keeps the task, model "
                         f"and training settings saved in {args.resume}")
    _check_ranges(args, RUN_OPTIONS)
    from .training import TrainState
    checkpoint = _load(args.resume)
    if checkpoint.state is None:
        raise CliError(f"{args.resume} has no {STATE_FILE} (it was saved without its training state), so "
                       f"training cannot resume exactly where it stopped; train a new model instead")
    start = checkpoint.training.get("steps")
    try:
        saved = TrainConfig.from_dict(checkpoint.training.get("train_config"))
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"its step count is {start!r}")
    except ValueError as e:
        raise CliError(f"{args.resume} cannot be resumed: the training section of its config.json is damaged "
                       f"({e})") from None
    length = {"steps": None if args.time_budget is not None and args.steps is None else CLI_STEPS,
              "time_budget": None, "target_accuracy": None}
    given = _given(args, RUN_OPTIONS)
    _eval_on_time(args, given)
    config = dataclasses.replace(saved, **{**length, **given})
    if config.lr_decay and config.steps is None:  # a time budget alone: nothing to decay over
        config = dataclasses.replace(config, lr_decay=False)
    if config.tf_schedule != "constant" and config.steps is None:  # ... but the ratio would jump back: say so
        raise UsageError(f"{args.resume} was trained with --tf-schedule {config.tf_schedule}, which lowers the "
                         f"teacher-forcing ratio over a number of steps: add --steps")
    config.validate()
    seconds = checkpoint.training.get("seconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0
    task = _with_data(checkpoint.task, args)
    return _Run(checkpoint.model, task, config, TrainState.from_bytes(checkpoint.state, checkpoint.model),
                start, seconds)


def _with_data(task: Task, args: argparse.Namespace) -> Task:
    """A checkpoint's task, given its data again when it was trained on a data set (--data, which must be the same
    pairs); a built-in task as it is (--data refused)."""
    from .data import DataTask, with_data
    if not isinstance(task, DataTask):
        if args.data is not None:
            raise CliError(f"--data: this model was trained on the built-in task {task.name}, not on a file")
        return task
    if args.data is None:
        raise CliError(f"this model was trained on {task.title} ({task.info.get('pairs', '?')} pairs), which a "
                       f"checkpoint does not hold: give that file with --data")
    data = _read_data(args, tuple(task.vocab.tokenize))
    try:
        return with_data(task, data)
    except ValueError as e:
        raise CliError(f"--data {args.data.name}: {e}") from None


def _event_json(event: StepEvent | EvalEvent) -> dict[str, Any]:
    data = event.to_dict()
    return {"event": data.pop("event"), **{k: round(v, 6) if isinstance(v, float) else v for k, v in data.items()}}


def _progress(event: StepEvent | EvalEvent, config: TrainConfig, start: int, last: dict[str, float]) -> None:
    """On a terminal, one line rewritten in place; otherwise a line at every evaluation."""
    from .training import EvalEvent, StepEvent
    if isinstance(event, EvalEvent):
        last.update(exact=event.exact_match, tokens=event.token_accuracy)
    tty = sys.stderr.isatty()
    if isinstance(event, StepEvent):
        last["loss"] = event.loss
        if not tty or event.elapsed - last.get("shown", -1.0) < 0.2:
            return
        last["shown"] = event.elapsed
    if not tty and not isinstance(event, EvalEvent):
        return
    total = f"/{start + config.steps}" if config.steps else ""
    accuracy = f"  exact {last['exact']:.1%}  tokens {last['tokens']:.1%}" if "exact" in last else ""
    rate = (event.step - start) / event.elapsed if event.elapsed > 0 else 0.0
    line = (f"step {event.step}{total}  loss {last.get('loss', float('nan')):.4f}{accuracy}  "
            f"{rate:.0f} steps/s  {event.elapsed:.1f} s")
    sys.stderr.write(f"\r{line:<100}" if tty else line + "\n")
    sys.stderr.flush()


def cmd_eval(args: argparse.Namespace) -> int:
    from .training import evaluate, validation_set
    checkpoint = _load(args.checkpoint)
    if not 1 <= args.n <= 100_000:
        raise CliError("--n must be between 1 and 100000")
    if args.data is not None:
        return _eval_data(checkpoint, args)
    from .data import DataTask
    if isinstance(checkpoint.task, DataTask):
        raise CliError(f"this model was trained on {checkpoint.task.title}, which a checkpoint does not hold: give "
                       f"a file of pairs with --data")
    spec = checkpoint.task.spec
    try:
        task = Task(make_spec(spec.name, args.min_len if args.min_len is not None else spec.min_len,
                              args.max_len if args.max_len is not None else spec.max_len))
        if args.by_length:
            return _eval_by_length(checkpoint, task, args)
        examples = validation_set(task, args.n, seed=args.seed)
    except ValueError as e:
        raise CliError(str(e)) from None
    m = evaluate(checkpoint.model, task, examples)
    if args.json:
        print(json.dumps({"exact_match": m.exact_match, "token_accuracy": m.token_accuracy, "n": m.n,
                          "val_loss": round(m.loss, 6), "forced_accuracy": m.forced_accuracy,
                          "task": task.spec.to_dict()}))
    else:
        print(f"exact match {m.exact_match:.1%}  token accuracy {m.token_accuracy:.1%} (teacher-forced "
              f"{m.forced_accuracy:.1%})  loss {m.loss:.4f}  (n={m.n} held-out {task.name} examples, lengths "
              f"{task.spec.min_len}-{task.spec.max_len})")
    return 0


def _eval_data(checkpoint, args: argparse.Namespace) -> int:
    """eval --data FILE: exact match on every pair of the file (split as the model's data was), or by length."""
    from .data import DataError, DataLimits, read_eval_pairs
    from .lengths import by_length
    from .training import evaluate
    if args.min_len is not None or args.max_len is not None:
        raise UsageError("--min-len and --max-len choose generated examples; with --data the file's pairs are used")
    try:
        examples = read_eval_pairs(args.data, checkpoint.task.vocab, DataLimits.from_env())
    except (DataError, ValueError) as e:
        raise CliError(f"--data {args.data.name}: {e}") from None
    if args.by_length:
        groups: dict[int, list] = {}
        for ex in examples:
            groups.setdefault(len(ex.source), []).append(ex)
        trained = checkpoint.task.spec
        return _print_by_length(by_length(checkpoint.model, checkpoint.task, groups, trained), trained, args,
                                {"data": args.data.name})
    m = evaluate(checkpoint.model, checkpoint.task, examples)
    if args.json:
        print(json.dumps({"exact_match": m.exact_match, "token_accuracy": m.token_accuracy, "n": m.n,
                          "val_loss": round(m.loss, 6), "forced_accuracy": m.forced_accuracy,
                          "data": args.data.name}))
    else:
        print(f"exact match {m.exact_match:.1%}  token accuracy {m.token_accuracy:.1%} (teacher-forced "
              f"{m.forced_accuracy:.1%})  loss {m.loss:.4f}  (n={m.n} pairs of {args.data.name})")
    return 0


def _eval_by_length(checkpoint, task: Task, args: argparse.Namespace) -> int:
    """One held-out evaluation per source length (for addition: digits per operand), each length marked as
    inside or outside the range the model was trained on: where a model stops generalising shows."""
    from .lengths import accuracy_by_length
    trained = checkpoint.task.spec
    rows = accuracy_by_length(checkpoint.model, task.name, range(task.spec.min_len, task.spec.max_len + 1), trained,
                              args.n, args.seed)
    return _print_by_length(rows, trained, args, {"task": task.spec.to_dict()})


def _print_by_length(rows, trained, args: argparse.Namespace, about: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps({"by_length": [r.to_dict() for r in rows], **about,
                          "trained_lengths": [trained.min_len, trained.max_len]}))
        return 0
    print(f"{'length':>6}  {'exact':>7}  {'tokens':>7}  {'n':>5}")
    for r in rows:
        mark = "" if r.trained else "  (longer than trained)" if r.length > trained.max_len \
            else "  (shorter than trained)"
        print(f"{r.length:>6}  {r.exact_match:>7.1%}  {r.token_accuracy:>7.1%}  {r.n:>5}{mark}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from .decode import Forced, Sampling, beam_search, greedy_decode
    checkpoint = _load(args.checkpoint)
    vocab = checkpoint.task.vocab
    if args.max_len is not None and not 1 <= args.max_len <= MAX_DECODE_STEPS:
        raise CliError(f"--max-len must be between 1 and {MAX_DECODE_STEPS}")
    if args.beam is not None and (args.sample or args.force):
        raise CliError("--beam searches on its own: leave out --sample and --force")
    if not args.sample and (args.top_p is not None or args.temperature != 1.0):
        raise CliError("--temperature and --top-p choose how to draw: add --sample")
    low, high = DECODING["width"].cli_range
    if args.beam is not None and not low <= args.beam <= high:  # the sentence scripts match, the table's range
        raise CliError(f"--beam must be between {plain(low)} and {plain(high)}, got {args.beam}")
    for option, name in DECODE_CONTROLS.items():  # the Decode tab's ranges and sentences
        if option != "beam" and getattr(args, option) is not None:
            try:
                cli_number(DECODING[name], getattr(args, option))
            except SettingsError as e:
                raise CliError(f"--{option.replace('_', '-')}: {str(e).rstrip('.')}") from None
    try:
        policy = Sampling(args.temperature, args.top_k, args.top_p, args.seed) if args.sample else None
        policy = _forced(args.force, vocab, policy) if args.force else policy
    except ValueError as e:
        raise CliError(str(e)) from None

    def decode(source: str) -> dict[str, Any]:
        if args.beam is None:
            return _trace_json(greedy_decode(checkpoint.model, vocab, source, max_len=args.max_len,
                                             top_k=args.top_k, policy=policy), vocab)
        search = beam_search(checkpoint.model, vocab, source, args.beam, max_len=args.max_len)
        best = search.beams[0]
        path = {t: vocab.stoi[token] for t, token in enumerate(best.tokens + (["<eos>"] if best.finished else []))}
        trace = greedy_decode(checkpoint.model, vocab, source, max_len=len(path), top_k=args.top_k,
                              policy=Forced(path))  # the best beam, step by step
        return {**_trace_json(trace, vocab), "beams": [{"tokens": b.tokens, "logp": round(b.logp, 6),
                                                 "score": round(b.score, 6), "finished": b.finished}
                                                for b in search.beams],
                "tree": [{"id": n.id, "parent": n.parent, "step": n.step, "token": n.token, "logp": round(n.logp, 6),
                          "survived": n.survived} for n in search.nodes]}

    if args.source == "-":
        for line in sys.stdin:
            line = line.rstrip("\r\n")
            try:
                result = decode(line)
            except ValueError as e:
                shown = line if len(line) <= ECHO_CHARS else line[:ECHO_CHARS] + "…"
                result = {"source": shown, "error": str(e)}
            print(json.dumps(result), flush=True)
        return 0
    try:
        result = decode(args.source)
    except ValueError as e:
        raise CliError(str(e)) from None
    print(json.dumps(result) if args.json else result["text"])
    return 0


def _forced(specs: list[str], vocab, then) -> Forced:
    """--force STEP:TOKEN options as a Forced policy (steps from 1 on the command line, from 0 inside)."""
    from .decode import Forced, Greedy
    tokens = {}
    for spec in specs:
        step, sep, token = spec.partition(":")
        if not sep or not step.strip().isdigit() or int(step) < 1:
            raise ValueError(f'--force takes STEP:TOKEN with STEP from 1, e.g. "3:7" (got {spec[:40]!r})')
        if token not in vocab.stoi or token in NEVER_CHOSEN:
            raise ValueError(f"--force {spec[:40]}: unknown token {token[:20]!r}: this model knows only "
                             f"{vocab.known()}")
        tokens[int(step) - 1] = vocab.stoi[token]
    return Forced(tokens, then or Greedy())


def _trace_json(trace, vocab) -> dict[str, Any]:
    """The --json of a trace: each step with its "dist" (the probability of every token, in the order of
    "vocab"); "attention" one row over the source per output step (the Transformer's: the mean over layers and
    heads), and for the Transformer "attention_heads" [step][layer][head][source token]."""
    data = trace.to_dict()
    for step in data["steps"]:
        step.pop("heads", None)  # once, at the top level
    result = {"source": data["source"], "output": data["output"], "text": vocab.text(trace.output.split()),
              "steps": data["steps"], "finished": data["finished"], "vocab": list(vocab.itos)}
    if trace.steps and trace.steps[0].attention is not None:
        result["attention"] = [step.attention for step in trace.steps]  # one row per output step
    if trace.steps and trace.steps[0].heads is not None:
        result["attention_heads"] = [step.heads for step in trace.steps]
    return result


def _load(path: Path):
    from .checkpoint import CheckpointError, load_checkpoint
    try:
        return load_checkpoint(path)
    except CheckpointError as e:
        raise CliError(str(e)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {"train": cmd_train, "eval": cmd_eval, "decode": cmd_decode}[args.command]
    try:
        return command(args)
    except UsageError as e:
        sys.stderr.write(f"{PROG}: error: {e} (see {PROG} {args.command} --help)\n")
        return 2
    except CliError as e:
        sys.stderr.write(f"{PROG} {args.command}: error: {e}\n")
        return 1
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130
    except Exception as e:  # never a traceback for a user; SEQ2SEQ_DEBUG=1 shows it
        if os.environ.get("SEQ2SEQ_DEBUG"):
            raise
        sys.stderr.write(f"{PROG} {args.command}: internal error: {type(e).__name__}: {e} "
                         f"(set SEQ2SEQ_DEBUG=1 for details)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
