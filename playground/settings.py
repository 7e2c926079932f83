"""The Train tab's settings as the server reads them: the controls table (`seq2seq.controls`) checked against
this server's cost budget, the presets' notes, and the live preview's sources. No gradio here."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seq2seq.config import ModelConfig, TrainConfig
from seq2seq.controls import *  # noqa: F401,F403 - the table, its readers and SettingsError, as one name
from seq2seq.controls import PRESETS, SETTINGS, Setting, SettingsError, read as read_controls
from seq2seq.tasks import Task, make_spec

from .budget import Budget, BudgetError, check as check_budget


def read(values: dict[str, Any], settings: dict[str, Setting] = SETTINGS,
         budget: Budget | None = None, data: Task | None = None) -> tuple[Task, ModelConfig, TrainConfig]:
    """The form's values, checked, as (task, model config, train config), and within `budget` when one is
    given; `data`: the session's own pairs (a DataTask), for the task choice "your pairs". Raises SettingsError."""
    task, model_config, train_config = read_controls(values, settings, data)
    if budget is not None:
        try:
            check_budget(model_config, train_config, task.spec, budget)
        except BudgetError as e:
            raise SettingsError(str(e), "Too big for this app") from None
    return task, model_config, train_config


WITH_ATTENTION = {"none": "", "dot": " with dot-product attention", "general": " with general attention",
                  "additive": " with additive attention"}


def _preset_notes() -> dict[str, str]:
    d, s = PRESETS["Tuned default"], PRESETS["Seed tutorial settings"]
    f, t = PRESETS["LSTM + attention (fastest)"], PRESETS["Transformer"]
    floor = Task(make_spec(s["task"], s["min_len"], s["max_len"])).loss_floor()
    n = s["max_len"]
    chance = (1 + n / 10) / (n + 1)  # <eos> always right, and one digit in ten by luck
    return {
        "Tuned default": f"Learns **{d['task']}** ({d['min_len']}–{d['max_len']} digits) to 99% held-out exact match "
                         f"in seconds: a {d['n_layers']}-layer {d['cell'].upper()}"
                         f"{WITH_ATTENTION[d['attention']]}, hidden size {d['hidden_dim']}, batch "
                         f"{d['batch_size']}, Adam at {d['lr']:g}"
                         f"{' decaying to a tenth' if d['lr_decay'] else ''} over {d['steps']:,} steps, full "
                         f"teacher forcing.",
        "LSTM + attention (fastest)": f"The fastest learner of **reverse**: a {f['cell'].upper()} encoder that reads the "
                                      f"source both ways, and a decoder with additive (Bahdanau) attention that "
                                      f"looks back at every source position before each step. Hidden size "
                                      f"{f['hidden_dim']}, Adam at {f['lr']:g} decaying over {f['steps']:,} steps. "
                                      f"Then try the Compare tab: attention keeps working on sources longer than "
                                      f"any it was trained on.",
        "Transformer": f"A small Transformer encoder–decoder (pre-norm, sinusoidal positions): {t['n_layers']} layers "
                       f"each side, hidden size {t['hidden_dim']}, {t['heads']} attention heads, Adam warming up over "
                       f"{t['warmup']} steps to {t['lr']:g}, then decaying along a {t['schedule']} over the rest of "
                       f"{t['steps']:,} steps, batch {t['batch_size']}. No recurrence: every position attends to every "
                       f"other, and the Attention view shows each layer's and head's look at the source.",
        "Seed tutorial settings": f"The tutorial's own model ({s['n_layers']}-layer LSTM, hidden {s['hidden_dim']}, "
                                  f"dropout {s['dropout']:g}, batch {s['batch_size']}, lr {s['lr']:g}, teacher "
                                  f"forcing {s['teacher_forcing']:g}) on its own data: **random** pairs, each target "
                                  f"digit drawn afresh. The digits cannot be learned, only where `<eos>` goes (the "
                                  f"target is as long as the source) and that every digit is as likely. So the loss "
                                  f"falls to the grey line, {n} × ln 10 / {n + 1} ≈ {floor:.2f}, and no lower; token "
                                  f"accuracy settles near {chance:.0%} (`<eos>` right, and one digit in ten by luck) "
                                  f"and exact match near 0. Switch the task to reverse to see this model learn.",
    }


TIMES = Path(__file__).resolve().parent / "preset_times.json"  # written by `python -m seq2seq.bench --only 9`


def preset_time(name: str, path: Path = TIMES) -> str:
    """How long the preset takes, as `make bench` measured it on this machine (CPU seconds of its one training
    thread: a quiet machine's wall clock), or "" when there is no measurement of the preset as it is now."""
    try:
        measured = json.loads(path.read_text())["presets"][name]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if measured.get("values") != PRESETS[name]:  # measured with other settings: no claim
        return ""
    whole, to_99 = measured.get("cpu_seconds"), measured.get("to_99_cpu_seconds")
    if not isinstance(whole, (int, float)):
        return ""
    reach = f", 99% held-out exact match after about {math.ceil(to_99)} s" if isinstance(to_99, (int, float)) else ""
    return f" Takes about {math.ceil(whole)} s on 2 quiet CPU cores{reach}."


PRESET_NOTES = {name: note + preset_time(name) for name, note in _preset_notes().items()}


MAX_WATCH = 6  # sources in the live preview


def watch_sources(text: Any, task: Task) -> list[list[str]]:
    """The live preview's sources, one per line (blank lines skipped), each checked against the task's tokens."""
    if text is None:
        return []
    if not isinstance(text, str) or len(text) > 2000:
        raise SettingsError("Watch these sources must be a few lines of tokens, one source per line.")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_WATCH:
        raise SettingsError(f"Watch at most {MAX_WATCH} sources (you gave {len(lines)}): one per line.")
    sources = []
    for i, line in enumerate(lines, 1):
        try:
            sources.append(task.vocab.parse(line))
        except ValueError as e:
            raise SettingsError(f"Watch these sources, line {i}: {e}.") from None
    return sources
