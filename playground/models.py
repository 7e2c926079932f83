"""Which model a decode uses: the bundled ones (checkpoints/, read-only, shared by every session, loaded on
first use or by `load_bundled()` in the background once the server listens) or the session's own, and the
menus that offer them. The library's torch-using parts are reached through `seq2seq.<name>` when called, so
building the page imports no torch."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import gradio as gr

from typing import TYPE_CHECKING

import seq2seq
from seq2seq import TASK_NAMES, Task
from seq2seq.controls import DATA_TASK
from seq2seq.data import DataTask
from seq2seq.config import CONFIG_FILE

from . import views
from .registry import RUNNING, problem, checked, session_key
from .sessions import Session
from .worker import model_from_weights

if TYPE_CHECKING:
    from seq2seq import Seq2Seq
    from seq2seq.checkpoint import Checkpoint

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
BUNDLED_NAMES = [p.name for p in sorted(CHECKPOINTS.iterdir()) if (p / CONFIG_FILE).exists()] \
    if CHECKPOINTS.is_dir() else []
_BUNDLED: dict[str, Checkpoint] = {}
_LOADING = threading.Lock()


def _with_attention(names: list[str]) -> dict[str, str]:
    """Task name -> the bundled model that learns it with attention (an RNN's before a Transformer's), read from
    each checkpoint's config.json (no torch, no weights): what the Attention view offers for a model without it."""
    found: dict[str, tuple[bool, str]] = {}
    for name in names:
        try:
            config = json.loads((CHECKPOINTS / name / CONFIG_FILE).read_text())
            task, model = config["task"]["name"], config["model"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        transformer = model.get("arch") == "transformer"
        if (transformer or model.get("attention", "none") not in ("none", False)) and \
                (task not in found or found[task][0] and not transformer):
            found[task] = (transformer, name)
    return {task: name for task, (_, name) in found.items()}


ATTENTION_MODELS = _with_attention(BUNDLED_NAMES)


def attention_model_for(task: Task, choice: str | None = None) -> str | None:
    """The bundled model with attention for `task` (a built-in task: never your pairs), unless it is `choice`."""
    if isinstance(task, DataTask):
        return None
    name = ATTENTION_MODELS.get(task.name)
    return None if name is None or choice == f"bundled:{name}" else name


def bundled(name: str) -> Checkpoint:
    """A bundled checkpoint, loaded the first time anyone asks for it."""
    checkpoint = _BUNDLED.get(name)
    if checkpoint is None:
        with _LOADING:
            checkpoint = _BUNDLED.get(name)
            if checkpoint is None:
                checkpoint = _BUNDLED[name] = seq2seq.load_checkpoint(CHECKPOINTS / name)
    return checkpoint


def load_bundled() -> None:
    """Load every bundled model (in the background, after the server has started listening)."""
    for name in BUNDLED_NAMES:
        bundled(name)


AUTO = "auto"
SESSION = "session"
MODEL_CHOICES = ([("Automatic: a model for the Train tab's task (yours if you trained one)", AUTO),
                  ("Your model (trained or loaded in this session)", SESSION)]
                 + [(f"Bundled: {name}", f"bundled:{name}") for name in BUNDLED_NAMES])
CHOICE_VALUES = {value for _, value in MODEL_CHOICES}
COMPARE_CHOICES = ([("Your model (this session)", SESSION)]  # two particular models: never "Automatic"
                   + [(label, value) for label, value in MODEL_CHOICES if value.startswith("bundled:")])
COMPARE_DEFAULTS = ("bundled:reverse" if "reverse" in BUNDLED_NAMES else SESSION,
                    "bundled:reverse-attention" if "reverse-attention" in BUNDLED_NAMES else SESSION)
# every series the comparison's chart can draw, coloured: model A indigo, model B amber, the trained edge grey
COMPARE_COLOURS = ({f"{side}: {label}": colour for side, colour in zip("AB", views.MODEL_COLOURS)
                    for label in ["your model", *BUNDLED_NAMES]} | {views.TRAINED_EDGE: views.EDGE_COLOUR})


def describe_model(model: Seq2Seq) -> str:
    return views.describe_config(model.config, seq2seq.count_parameters(model))


def model_label(choice: str) -> str:
    return "your model" if choice == SESSION else choice.removeprefix("bundled:")


def pick_model(choice: str, train_task: str, session: Session | None,
               request: gr.Request | None) -> tuple[Seq2Seq, Task, str]:
    """(model, task, sentence saying which model) for a model choice. "Automatic" uses a model for the Train
    tab's task: the session's own when it learns that task, else the bundled one."""
    if not isinstance(choice, str) or choice not in CHOICE_VALUES:  # (a list sent by a script is unhashable)
        raise problem("Model must be one of the menu's choices.", "Unknown model")
    if not isinstance(train_task, str) or (train_task not in TASK_NAMES and train_task != DATA_TASK):
        raise problem(f"Task must be one of {', '.join(TASK_NAMES)} or {DATA_TASK}.", "Unknown task")
    session = checked(session)
    training = session is not None and session_key(request) in RUNNING and session.snapshot is not None
    trained = session is not None and (session.model is not None or training)
    mine = trained and session.task is not None and session.task.name == train_task
    if choice == SESSION or (choice == AUTO and mine):
        if not trained and session is not None and session.released:
            raise problem(f"Your model is gone: {session.released}. Press Train to train one again, or pick a "
                          f"bundled model.", "Model released")
        if not trained:
            raise problem("You have not trained a model in this session yet: press Train on the Train tab, or pick "
                          "a bundled model.", "No model yet")
        if training:  # training is changing it in its own process: decode its latest snapshot
            snapshot = session.snapshot
            cached = session.snapshot_model
            if cached is None or cached[0] != snapshot.step:
                cached = session.snapshot_model = (snapshot.step,
                                                   model_from_weights(session.snapshot_config, snapshot.weights))
            model = cached[1]
            note = f"a snapshot of your model, still training (step {snapshot.step:,})"
        else:
            model = session.model
            note = f"your model ({views.md(session.source)}, step {session.history.last_step:,})"  # a file name
        return model, session.task, f"Decoding with {note}: {describe_model(model)}; {views.describe_task(session.task)}"
    name = choice.removeprefix("bundled:") if choice != AUTO else train_task
    if name == DATA_TASK:
        raise problem("There is no bundled model for your pairs: train one on the Train tab, or pick a bundled "
                      "model.", "No model for your pairs")
    if name not in BUNDLED_NAMES:
        why = " (it cannot be learned)" if name == "random" else ""
        raise problem(f"There is no bundled model for {name}{why}. Train one on the Train tab, or pick one of: "
                      f"{', '.join(BUNDLED_NAMES)}.", "No model for this task")
    checkpoint = bundled(name)
    score = checkpoint.training.get("exact_match")
    scored = f", {score:.1%} held-out exact match" if isinstance(score, float) else ""
    yours = (f" (your model learns {views.md(session.task.title)}; pick “Your model” to use it)"
             if choice == AUTO and trained and session.task is not None else "")
    return (checkpoint.model, checkpoint.task, f"Decoding with the bundled **{name}** model "
            f"({describe_model(checkpoint.model)}{scored}){yours}; {views.describe_task(checkpoint.task)}")
