"""Loading a checkpoint zip (as downloaded from the Train tab): read with caps, checked against what this app
could have trained, adopted by the session — and the uploaded file deleted once nobody is about to read it.

Gradio stores an upload at a path named by its content's hash: two people who upload the same file at once
share one path, and the first load must not delete it under the second. So a load holds its path while it
reads, and the file goes only when no load holds it and `UPLOAD_GRACE` seconds have passed since it was last
read and since it was last uploaded (an upload of the same content writes it again, with a new time)."""
from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from seq2seq import ModelConfig, TrainConfig
from seq2seq.config import POSITIONS
from seq2seq.controls import DATA_TASK
from seq2seq.data import DataSpec
from seq2seq.tasks import SPECIALS, Task, TaskSpec

from . import limits, runs, settings, views
from .budget import size_text
from .cost import estimate as estimate_cost
from .models import describe_model
from .registry import RUNNING, problem, session_key, session_of
from .sessions import Session

# The form's model fields (and Dropout), each checked against its row of the table; then what the form cannot
# set but a file can: ff_dim (the form's Transformer is always 4 x its hidden size wide: its cost, and what the
# form shows when Train continues the model, assume it), positions (the form's are sinusoidal: learned ones
# stop at 128 tokens, and the Decode tab takes longer sources), and the task's lengths.
FORM_MODEL_FIELDS = (*settings.MODEL_FIELDS, "dropout")


def _allowed(s: settings.Setting) -> str:
    if s.choices:
        values = [v for _, v in s.choices]
        return ", ".join(values[:-1]) + f" or {values[-1]}"
    if s.widget == "checkbox":
        return "on or off"
    return settings.span(s.low, s.high)


def _fits(s: settings.Setting, value: Any) -> bool:
    if s.choices:
        return isinstance(value, str) and str(value) in [v for _, v in s.choices]
    if s.widget == "checkbox":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return s.low <= value <= s.high and (not s.whole or value == int(value))


def _shown(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)[:20]


def upload_check(model_config: ModelConfig, spec: TaskSpec) -> None:
    """A checkpoint's model must be one this app could have trained: every model field within the form's range
    (or among its choices), what the form builds where it has no field (the feed-forward width, sinusoidal
    positions), the task's vocabulary and lengths as the form takes them, and the budget. Raises ValueError with
    the reason, in the form's words ("its model has attention heads 64; this app allows 1–8")."""
    for name in FORM_MODEL_FIELDS:
        s = limits.SETTINGS[name]
        value = getattr(model_config, name)
        if not _fits(s, value):
            raise ValueError(f"its model has {s.short.lower()} {_shown(value)}; this app allows {_allowed(s)}")
    c = model_config
    if c.ff_dim is not None and c.ff_dim != 4 * c.hidden_dim:
        raise ValueError(f"its model has a feed-forward width of {c.ff_dim}; this app builds {4 * c.hidden_dim} "
                         f"(4 × its hidden size {c.hidden_dim})")
    if c.positions != POSITIONS[0]:
        raise ValueError(f"its model has {_shown(c.positions)} positions; this app trains {POSITIONS[0]} ones")
    own = isinstance(spec, DataSpec)
    if own:  # your own pairs: as long and with as many symbols as this app's limits on pairs allow
        most = 2 * limits.DATA.max_symbols + len(SPECIALS)
        if max(spec.max_len, spec.max_target_len) > limits.DATA.max_tokens or c.src_vocab_size > most:
            raise ValueError(f"its pairs are larger than this app takes ({limits.DATA.describe()})")
    for name in () if own else ("min_len", "max_len"):
        s, value = limits.SETTINGS[name], getattr(spec, name)
        if not _fits(s, value):
            raise ValueError(f"its task has {s.short.lower()} {_shown(value)}; this app allows {_allowed(s)}")
    vocab = c.src_vocab_size if own else len(Task(spec).vocab)  # a data set's: checked against config.json's
    for side, value in (("source", c.src_vocab_size), ("target", c.trg_vocab_size)):
        if value != vocab:
            raise ValueError(f"its model has a {side} vocabulary of {value} tokens; task {spec.name} has {vocab}")
    # the form's other checks (a Transformer's heads dividing its hidden size, a held-out set): a data set's model
    # is read as if for a built-in task, its own pairs being checked above
    task = ("reverse", 3, 10) if own else (spec.name, spec.min_len, spec.max_len)
    values = {**{n: s.default for n, s in limits.SETTINGS.items()}, "task": task[0], "min_len": task[1],
              "max_len": task[2], **{n: getattr(c, n) for n in FORM_MODEL_FIELDS}, "attention": str(c.attention)}
    try:  # anything else the form checks (a Transformer's heads dividing its hidden size, a held-out set)
        settings.read(values, limits.SETTINGS)
    except settings.SettingsError as e:
        text = str(e)
        raise ValueError(f"its settings are not ones the form takes ({text[0].lower()}{text[1:].rstrip('.')})")
    cost = estimate_cost(model_config, TrainConfig(batch_size=1, teacher_forcing=1.0), spec)
    if cost.memory_mb > limits.BUDGET.memory_mb:
        raise ValueError(f"its model would need about {size_text(cost.memory_mb)} to train; this app allows "
                         f"{size_text(limits.BUDGET.memory_mb)}")


# ---------------------------------------------------------------- the uploaded file: read, then deleted

UPLOAD_GRACE = 10.0  # seconds an uploaded file stays after it was last read or uploaded (a queued load's wait)
_UPLOAD_DIR = re.compile(r"[0-9a-f]{16,128}")  # Gradio's folder for one upload: its content's hash
_readers: dict[Path, int] = {}  # path -> loads reading it now
_last_read: dict[Path, float] = {}  # path -> when a load last let go of it (time.monotonic)
_lock = threading.Lock()


def upload_folder() -> Path:
    return Path(get_upload_folder()).resolve()


def is_upload(path: Path) -> bool:
    """Whether `path` (resolved) is a file as Gradio stores an upload: <upload folder>/<hash>/<name>. (The
    sessions' download folders lie in the upload folder too, and are never an upload's to delete.)"""
    return path.parent.parent == upload_folder() and bool(_UPLOAD_DIR.fullmatch(path.parent.name))


def delete_upload(path: Path) -> None:
    """Delete an uploaded file now, and its folder if it is left empty (only ever an upload: is_upload)."""
    try:
        resolved = path.resolve()
        if is_upload(resolved):
            resolved.unlink(missing_ok=True)
            if not any(resolved.parent.iterdir()):
                resolved.parent.rmdir()
    except OSError:
        pass


def hold_upload(path: Path) -> None:
    """A load reads `path` now: nobody deletes it until release_upload."""
    with _lock:
        _readers[path] = _readers.get(path, 0) + 1


def release_upload(path: Path) -> None:
    """A load is done with `path`: it is deleted UPLOAD_GRACE s from now, unless someone reads or uploads it
    again meanwhile (then later)."""
    with _lock:
        _readers[path] -= 1
        if not _readers[path]:
            del _readers[path]
        _last_read[path] = time.monotonic()
    _sweep_later(path, UPLOAD_GRACE)


def _sweep_later(path: Path, seconds: float) -> None:
    timer = threading.Timer(seconds, _sweep, (path,))
    timer.daemon = True
    timer.start()


def _sweep(path: Path) -> None:
    with _lock:
        if path in _readers:
            return  # its reader sweeps it again when done
        try:
            uploaded_ago = time.time() - path.stat().st_mtime
        except OSError:
            uploaded_ago = math.inf  # gone already
        read_ago = time.monotonic() - _last_read.get(path, -math.inf)
        wait = UPLOAD_GRACE - min(uploaded_ago, read_ago)
        if wait <= 0:
            _last_read.pop(path, None)
            delete_upload(path)
    if wait > 0:
        _sweep_later(path, wait + 0.05)


def uploaded_path(payload: Any, what: str = "checkpoint .zip", suffixes: tuple[str, ...] = (".zip",),
                  wrong: str = "A checkpoint is a .zip file, as downloaded from the Train tab.",
                  title: str = "Cannot load") -> Path:
    """The path of an uploaded file as the page or a script sent it, or a gr.Error: it must be a file uploaded to
    this app (Gradio checks that of a file sent as one; a path sent as plain text is checked here), with one of
    `suffixes` (else `wrong` is said, and the file goes)."""
    path = payload.get("path") if isinstance(payload, dict) else payload if isinstance(payload, str) else None
    if not path or not isinstance(path, str):
        raise problem(f"Choose a {what} first.", "No file")
    try:
        resolved = Path(path).resolve()
        inside = upload_folder() in resolved.parents and resolved.is_file()
    except (OSError, ValueError):
        inside = False
    if not inside:
        raise problem(f"Upload the {what} first, then load it (a script sends it with gradio_client's "
                      f"handle_file); the server reads no other file.", title)
    if resolved.suffix.lower() not in suffixes:
        hold_upload(resolved)
        release_upload(resolved)
        raise problem(wrong, title)
    return resolved


def read_upload(payload: Any, session, request: gr.Request) -> tuple[Session, str]:
    """A checkpoint zip, checked and loaded into the session (a run beside the others), and the sentence that
    says so; the file is deleted either way (once no other load of the same file needs it)."""
    from seq2seq.checkpoint import CheckpointError, load_checkpoint_zip  # torch: on the first upload
    path = uploaded_path(payload)
    hold_upload(path)
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
        release_upload(path)
    session = session_of(session, request)
    session.adopt(checkpoint, f"uploaded {name}")
    dropped = runs.record(session, form_values_of(session), False, name=f"loaded {name}")
    return session, loaded_sentence(session, name) + (f" {dropped}" if dropped else "")


def loaded_sentence(session: Session, name: str) -> str:
    return (f"Loaded {name}: {describe_model(session.model)}; task "
            f"{views.describe_task(session.task, markdown=False)}; step {session.history.last_step:,}. The Decode tab "
            f"uses it; Train continues it" + ("" if session.state is not None else " (with a fresh optimizer: this "
                                                                                  "file carries none)") + ".")


def form_values_of(session: Session) -> dict:
    """The Train tab's values for a loaded model: its task and shape, and its training settings as trained."""
    c, spec = session.model.config, session.task.spec
    values = {"task": DATA_TASK if isinstance(spec, DataSpec) else spec.name, "min_len": spec.min_len,
              "max_len": spec.max_len, "cell": c.cell,
              "emb_dim": c.emb_dim, "hidden_dim": c.hidden_dim, "n_layers": c.n_layers, "dropout": c.dropout,
              "attention": str(c.attention), "bidirectional": c.bidirectional, "arch": c.arch, "heads": c.heads}
    saved = session.train_config or {}
    trained = ("batch_size", "lr", "teacher_forcing", "lr_decay", "seed", "warmup", "schedule", "tf_schedule")
    for key in trained:  # as trained
        if key not in saved:
            continue
        s = limits.SETTINGS[key]
        try:
            values[key] = settings.value(s, saved[key])
        except ValueError:
            pass
    return values
