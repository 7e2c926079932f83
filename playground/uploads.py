"""Loading a checkpoint zip (as downloaded from the Train tab): read with caps, checked against what this app
could have trained, adopted by the session — and the uploaded file deleted, loaded or not."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from seq2seq import ModelConfig, TrainConfig

from . import limits, settings, views
from .budget import size_text
from .cost import estimate as estimate_cost
from .models import describe_model
from .registry import RUNNING, problem, session_key, session_of
from .sessions import Session


def upload_check(model_config: ModelConfig, spec) -> None:
    """A checkpoint's model must be one this app could have trained: the form's sizes and the budget."""
    for name in ("emb_dim", "hidden_dim", "n_layers"):
        s = limits.SETTINGS[name]
        value = getattr(model_config, name)
        if not s.low <= value <= s.high:
            raise ValueError(f"its model has {s.short.lower()} {value}; this app allows {s.low:g}–{s.high:g}")
    cost = estimate_cost(model_config, TrainConfig(batch_size=1, teacher_forcing=1.0), spec)
    if cost.memory_mb > limits.BUDGET.memory_mb:
        raise ValueError(f"its model would need about {size_text(cost.memory_mb)} to train; this app allows "
                         f"{size_text(limits.BUDGET.memory_mb)}")


def delete_upload(path: Path) -> None:
    """Uploaded files are deleted once read, loaded or not (they sit in Gradio's cache otherwise)."""
    try:
        cache = Path(get_upload_folder()).resolve()
        resolved = path.resolve()
        if cache in resolved.parents:
            resolved.unlink(missing_ok=True)
            if resolved.parent != cache and not any(resolved.parent.iterdir()):
                resolved.parent.rmdir()
    except OSError:
        pass


def uploaded_path(payload: Any) -> Path:
    """The path of an uploaded file as the page or a script sent it (Gradio has checked it lies in its upload
    folder), or a gr.Error: a checkpoint is a .zip."""
    path = payload.get("path") if isinstance(payload, dict) else payload if isinstance(payload, str) else None
    if not path or not isinstance(path, str):
        raise problem("Choose a checkpoint .zip first.", "No file")
    path = Path(path)
    if path.suffix.lower() != ".zip":
        delete_upload(path)
        raise problem("A checkpoint is a .zip file, as downloaded from the Train tab.", "Cannot load")
    return path


def read_upload(payload: Any, session, request: gr.Request) -> tuple[Session, str]:
    """A checkpoint zip, checked and loaded into the session; the file is deleted either way."""
    from seq2seq.checkpoint import CheckpointError, load_checkpoint_zip  # torch: on the first upload
    path = uploaded_path(payload)
    try:
        name = path.name if len(path.name) <= 60 else path.name[:57] + "…"
        if session_key(request) in RUNNING:
            raise problem("Stop the training first: loading replaces this session's model.", "Training")
        try:
            if path.stat().st_size > limits.MAX_UPLOAD_BYTES:
                raise CheckpointError(f"it is larger than {limits.MAX_UPLOAD_MB:g} MB")
            checkpoint = load_checkpoint_zip(path, max_weights_bytes=limits.MAX_UPLOAD_BYTES, check=upload_check)
        except (CheckpointError, OSError) as e:
            text = str(e) if isinstance(e, CheckpointError) else "the file could not be read"
            raise problem(f"Cannot load {name}: {text}. Your current model is unchanged.", "Cannot load") from None
    finally:
        delete_upload(path)
    session = session_of(session, request)
    session.adopt(checkpoint, f"uploaded {name}")
    return session, name


def loaded_sentence(session: Session, name: str) -> str:
    return (f"Loaded {name}: {describe_model(session.model)}; task "
            f"{views.describe_task(session.task, markdown=False)}; step {session.history.last_step:,}. The Decode tab "
            f"uses it; Train continues it" + ("" if session.state is not None else " (with a fresh optimizer: this "
                                                                                  "file carries none)") + ".")


def form_values_of(session: Session) -> dict:
    """The Train tab's values for a loaded model: its task and shape, and its training settings as trained."""
    c, spec = session.model.config, session.task.spec
    values = {"task": spec.name, "min_len": spec.min_len, "max_len": spec.max_len, "cell": c.cell,
              "emb_dim": c.emb_dim, "hidden_dim": c.hidden_dim, "n_layers": c.n_layers, "dropout": c.dropout,
              "attention": str(c.attention), "bidirectional": c.bidirectional, "arch": c.arch, "heads": c.heads}
    saved = session.train_config or {}
    for key in ("batch_size", "lr", "teacher_forcing", "lr_decay", "seed", "warmup", "schedule"):  # as trained
        if key not in saved:
            continue
        s = limits.SETTINGS[key]
        try:
            values[key] = settings.value(s, saved[key])
        except ValueError:
            pass
    return values
