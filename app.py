"""seq2seq playground: train an LSTM encoder-decoder on a toy task and watch it learn, then watch it decode.

UI wiring only: components, events and per-session state. Every bit of model work is a call into the
`seq2seq` package (training runs in worker processes, `seq2seq.worker`); everything shown is
formatted by `views`. Safe to leave on a public Space: settings are checked against a cost budget
before anything is built, runs are bounded in time and memory, uploads are read with caps, and a
session's files and model are released when its browser goes away.
"""
import os

# no analytics, no hub calls: nothing may download at run time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# how often a page's heartbeat is checked: a closed tab is noticed (its training stopped, its files and model
# released) within about two of these, not Gradio's default 2 × 15 s
os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", "5")

import dataclasses  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from gradio.utils import NamedString, get_upload_folder  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

import views  # noqa: E402
from seq2seq import (CheckpointError, DoneEvent, ModelConfig, Seq2Seq, StepEvent, Task, TrainConfig,  # noqa: E402
                     greedy_decode, load_checkpoint, make_spec, save_checkpoint, validation_set)
from seq2seq.checkpoint import CONFIG_FILE, load_checkpoint_zip, training_summary, write_checkpoint_zip  # noqa: E402
from seq2seq.cost import Budget, BudgetError, check as check_budget, estimate as estimate_cost, val_size_within  # noqa: E402
from seq2seq.history import History  # noqa: E402
from seq2seq.model import count_parameters  # noqa: E402
from seq2seq.tasks import MAX_SOURCE_CHARS, TASK_NAMES, describe  # noqa: E402
from seq2seq.worker import Failed, Finished, Job, Killed, Run, Snapshot, WorkerError, WorkerPool, model_from_weights, \
    weights_bytes  # noqa: E402
from webguard import BodyLimit, friendly  # noqa: E402

torch.set_num_threads(1)  # the server decodes on one thread; trainings run in their own processes
log = logging.getLogger("seq2seq-playground")


def _env_number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise SystemExit(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value


def as_sent(*components: gr.components.Component) -> None:
    """These components' values reach their handlers as sent: the handler checks them and says what is
    wrong in the field's own words. (Gradio's own check names no field, and a value of the wrong type
    makes it fail with its generic "upstream app has raised an exception".)"""
    for component in components:
        component.preprocess = lambda payload: payload


def guard_input(component: gr.components.Component, sentence: str) -> None:
    """A value this component cannot read (sent by a script) gets `sentence`, not Gradio's generic error."""
    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001
            raise gr.Error(sentence, title="Check the input") from None
    component.preprocess = preprocess


def upload_path(file) -> NamedString:
    """The uploaded file's path (only .zip), without the stray empty temp file Gradio's UploadButton makes."""
    path = Path(str(getattr(file, "path", "") or ""))
    if path.suffix.lower() != ".zip":
        _delete_upload(path)
        raise gr.Error("A checkpoint is a .zip file, as downloaded from the Train tab.", title="Cannot load")
    return NamedString(str(path))


HERE = Path(__file__).parent
BUNDLED = {p.name: load_checkpoint(p) for p in sorted((HERE / "checkpoints").iterdir())
           if (p / CONFIG_FILE).exists()}  # read-only: shared by every session, never trained
try:
    BUDGET = Budget.from_env()  # memory and time per training: see README "Limits"
except ValueError as e:
    raise SystemExit(str(e)) from None
MAX_TRAININGS = int(_env_number("SEQ2SEQ_MAX_TRAININGS", 2, 1, 64))  # trainings at once; the rest queue
MAX_SECONDS = int(_env_number("SEQ2SEQ_MAX_RUN_SECONDS", 600, 5, 86_400))  # longest single run
MAX_UPLOAD_MB = _env_number("SEQ2SEQ_MAX_UPLOAD_MB", 80, 1, 10_000)  # checkpoint uploads
MAX_REQUEST_KB = _env_number("SEQ2SEQ_MAX_REQUEST_KB", 256, 16, 100_000)  # every other request body
SESSIONS_MB = _env_number("SEQ2SEQ_SESSIONS_MB", 1000, 0.1, 1_000_000)  # models kept for all sessions at once
SESSION_TTL = _env_number("SEQ2SEQ_SESSION_TTL", 3 * 3600, 60, 7 * 86_400)  # a session untouched this long goes
MIN_HELD_OUT = 10          # a task must have at least this many held-out sources to measure accuracy on
MAX_GRADIO_SESSIONS = 1000  # sessions whose page state Gradio keeps (its default, 10,000, is ~GBs)
UNWATCHED_SECONDS = 5.0    # a run nobody reads for this long stops
STOP_GRACE = 1.5           # a run still going this long after Stop (or its time) is killed
UPDATE_EVERY = 0.75        # seconds between live updates of the plots and status
PLOT_POINTS = 300          # points per plotted series, however long the history
MAX_UPLOAD_BYTES = int(MAX_UPLOAD_MB * 1e6)

WORKERS = WorkerPool()

# session_hash -> the training running for that browser session (present only while it runs)
RUNNING: dict[str, "Active"] = {}
# session_hash -> that session's state, so its files and model can be released when its browser goes away
STARTING: set[str] = set()  # sessions whose training is being started
STARTING_LOCK = threading.Lock()
SESSIONS: "OrderedDict[str, Session]" = OrderedDict()  # least recently used first

PRESETS = {
    "Tuned default": dict(
        task="reverse", min_len=3, max_len=10, cell="lstm", emb_dim=32, hidden_dim=128, n_layers=1,
        dropout=0.0, attention=False, batch_size=128, lr=0.005, teacher_forcing=1.0, steps=1500,
        time_budget=120, target=0, lr_decay=True, seed=0),
    "Seed tutorial settings": dict(
        task="random", min_len=5, max_len=5, cell="lstm", emb_dim=16, hidden_dim=32, n_layers=2,
        dropout=0.5, attention=False, batch_size=32, lr=0.001, teacher_forcing=0.5, steps=1000,
        time_budget=120, target=0, lr_decay=False, seed=42),
}
PRESET_NOTES = {
    "Tuned default": "Learns **reverse** (3–10 digits) to about 100% held-out exact match in roughly "
                     "1,500 steps: a 1-layer LSTM with hidden size 128, batch 128, Adam at 0.005 "
                     "decaying to a tenth, full teacher forcing.",
    "Seed tutorial settings": "The tutorial's own model (2-layer LSTM, hidden 32, dropout 0.5, batch 32, "
                              "lr 0.001, teacher forcing 0.5) on its own data: **random** pairs, where each "
                              "target is drawn independently of its source. There is nothing to learn, so "
                              "the loss stays flat near ln 10 ≈ 2.3 however long you train — switch the task "
                              "to reverse to see the same model learn.",
}
DEFAULT_PRESET = "Tuned default"
SETTINGS = list(PRESETS[DEFAULT_PRESET])  # the order of the settings inputs, everywhere below

AUTO = "auto"
SESSION = "session"
MODEL_CHOICES = ([("Automatic: your trained model, else the bundled one for the Train tab's task", AUTO),
                  ("Your model (trained in this session)", SESSION)]
                 + [(f"Bundled: {name}", f"bundled:{name}") for name in BUNDLED])

CHOICE_VALUES = {value for _, value in MODEL_CHOICES}

# the form's numbers: name -> (label on the page, kind, smallest, largest). The page's fields are built from
# this table and the messages quote it, so a label or a range is written once
FIELDS = {
    "min_len": ("Min length", int, 1, 50), "max_len": ("Max length", int, 1, 50),
    "emb_dim": ("Embedding size", int, 1, 256), "hidden_dim": ("Hidden size", int, 1, 512),
    "n_layers": ("Layers", int, 1, 4), "dropout": ("Dropout", float, 0.0, 0.9),
    "batch_size": ("Batch size", int, 1, 1024), "lr": ("Learning rate (at most 0.1)", float, 1e-6, 0.1),
    "teacher_forcing": ("Teacher-forcing ratio", float, 0.0, 1.0),
    "steps": ("Steps (0 = until the time budget)", int, 0, 1_000_000),
    "time_budget": (f"Time budget, s (at most {MAX_SECONDS})", float, 1, MAX_SECONDS),
    "target": ("Stop early at held-out exact match % (0 = never)", float, 0, 100),
    "seed": ("Seed", int, 0, 2**31 - 1),
}


def label_of(name: str) -> str:
    """A field's label without its hint in brackets, for sentences."""
    return FIELDS[name][0].split(" (")[0]


def form_number(name: str, value, **kw) -> gr.Number:
    label, kind, low, high = FIELDS[name]
    return gr.Number(value, label=label, minimum=low, maximum=high, precision=0 if kind is int else None, **kw)


def form_slider(name: str, value, step: float, **kw) -> gr.Slider:
    label, _, low, high = FIELDS[name]
    return gr.Slider(low, high, value=value, step=step, label=label, **kw)


CHOICES = {"task": ("Task", TASK_NAMES), "cell": ("Cell", ("lstm", "gru")), "mode": ("When you press Train",
                                                                                   ("continue", "new"))}
FLAGS = {"attention": "Attention", "lr_decay": "Decay learning rate"}

def _error(message: str, title: str = "Check the settings") -> gr.Error:
    return gr.Error(message, title=title)


def _number(name: str, value) -> int | float:
    _, kind, low, high = FIELDS[name]
    return in_range(label_of(name), value, kind, low, high)


def in_range(label: str, value, kind: type, low: float, high: float, title: str = "Check the settings") -> int | float:
    """`value` as a number of `kind` within [low, high]; otherwise a gr.Error that says so with `label`."""
    whole = kind is int
    what = f"{label} must be {'a whole number' if whole else 'a number'} between {low:g} and {high:g}"
    try:
        number = float("nan") if isinstance(value, bool) or value is None else float(value)
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not math.isfinite(number) or (whole and number != int(number)) or not low <= number <= high:
        got = "" if value is None else f" (got {str(value)[:20]!r})" if isinstance(value, str) else \
            f" (got {str(value)[:20]})"
        raise gr.Error(f"{what}{got}.", title=title)
    return int(number) if whole else number


def _choice(name: str, value) -> str:
    label, allowed = CHOICES[name]
    if value not in allowed:
        raise _error(f"{label} must be one of {', '.join(allowed)} (got {str(value)[:20]!r}).")
    return value


def _flag(name: str, value) -> bool:
    if value not in (True, False, None, 0, 1):
        raise _error(f"{FLAGS[name]} must be on or off (got {str(value)[:20]!r}).")
    return bool(value)


def read_settings(values: dict) -> tuple[Task, ModelConfig, TrainConfig]:
    """Settings from the form, checked; raises gr.Error with a sentence that uses the form's labels."""
    v = {name: _number(name, values.get(name)) for name in FIELDS}
    task_name, cell = _choice("task", values.get("task")), _choice("cell", values.get("cell"))
    attention, lr_decay = _flag("attention", values.get("attention")), _flag("lr_decay", values.get("lr_decay"))
    try:
        spec = make_spec(task_name, v["min_len"], v["max_len"])
    except ValueError:
        top = make_spec(task_name).max_len if task_name != "addition" else 9
        cap = {"addition": 9}.get(task_name, 50)
        unit = " (digits per number)" if task_name == "addition" else ""
        raise _error(f"For {task_name}, min length and max length{unit} must satisfy 1 ≤ min ≤ max ≤ {cap} "
                     f"(got {v['min_len']} and {v['max_len']}); its default is {make_spec(task_name).min_len}–"
                     f"{top}.") from None
    if lr_decay and v["steps"] == 0:
        raise _error("Decaying the learning rate needs a number of steps to decay over: set Steps, or turn "
                     "the decay off.")
    task = Task(spec)
    model_config = ModelConfig(len(task.vocab), len(task.vocab), cell=cell, emb_dim=v["emb_dim"],
                               hidden_dim=v["hidden_dim"], n_layers=v["n_layers"], dropout=v["dropout"],
                               attention=attention)
    train_config = TrainConfig(batch_size=v["batch_size"], lr=v["lr"], teacher_forcing=v["teacher_forcing"],
                               steps=v["steps"] or None, time_budget=v["time_budget"],
                               target_accuracy=v["target"] / 100 or None, lr_decay=lr_decay, seed=v["seed"])
    model_config.validate()
    train_config.validate()
    try:  # a corner of the task too small to keep examples apart for testing fails here, not mid-run
        held_out = task.examples(random.Random(0), MIN_HELD_OUT, held_out=True, distinct=True)
        task.examples(random.Random(0), 1, held_out=False)
    except ValueError:
        held_out = []
    if len(held_out) < MIN_HELD_OUT:
        raise _error(f"{task_name} with lengths {spec.min_len}–{spec.max_len} has too few different examples "
                     f"to keep {MIN_HELD_OUT} apart for testing: widen the length range.") from None
    try:
        check_budget(model_config, train_config, spec, BUDGET)
    except BudgetError as e:
        raise _error(str(e), "Too big for this app") from None
    return task, model_config, train_config


@dataclass
class Session:
    """One browser session's work: its model, the task it learns, and every step of its history."""
    model: Seq2Seq | None = None
    task: Task | None = None
    history: History = field(default_factory=History)
    seconds: float = 0.0                    # training time over all runs
    source: str = "trained here"            # or "uploaded <name>"
    folder: Path | None = None              # this session's downloads (only the latest run's)
    snapshot: Snapshot | None = None        # the weights of the model while it trains
    snapshot_model: tuple[int, Seq2Seq] | None = None  # ... built when someone decodes with them
    snapshot_config: ModelConfig | None = None          # ... and their shapes
    released: str | None = None             # why its model was let go, if it was

    def memory_mb(self) -> float:
        """About what this session holds in memory: its model's weights (and a snapshot while training)."""
        size = 4 * count_parameters(self.model) / 1e6 if self.model is not None else 0.0
        return size + (len(self.snapshot.weights) / 1e6 if self.snapshot is not None else 0.0)

    def release(self, why: str = "this session ended") -> None:
        """Give back the session's files and memory (its browser went away, or it was idle longest)."""
        self.released = why
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.model = self.task = self.snapshot = self.snapshot_model = None
        self.history = History()


@dataclass
class Active:
    """A training in progress for one session."""
    run: Run
    pulled: float = field(default_factory=time.monotonic)  # when the page's stream last asked for more
    why: str | None = None                                 # why it was stopped, when not by the user


def session_key(request: gr.Request | None) -> str:
    return (request.session_hash if request is not None else None) or "anonymous"


def session_of(session, request: gr.Request | None) -> Session:
    if session is not None and not isinstance(session, Session):
        raise _error("This session's state is not valid; reload the page.", "Reload")
    session = session or Session()
    key = session_key(request)
    SESSIONS[key] = session
    SESSIONS.move_to_end(key)
    keep_sessions_within_memory()
    return session


def keep_sessions_within_memory() -> None:
    """Sessions whose browsers never say goodbye (scripts calling the HTTP API) must not pile up: past
    SESSIONS_MB of models in all, the least recently used idle sessions are released."""
    total = sum(s.memory_mb() for s in SESSIONS.values())
    for key in list(SESSIONS):
        if total <= SESSIONS_MB or len(SESSIONS) <= 1:
            break
        if key in RUNNING:
            continue
        session = SESSIONS.pop(key)
        total -= session.memory_mb()
        session.release("it was let go to make room: this server keeps the models of the sessions used most "
                        "recently")


def describe_model(model: Seq2Seq) -> str:
    return describe_config(model.config, count_parameters(model))


def describe_config(c: ModelConfig, parameters: int) -> str:
    return (f"{c.n_layers}-layer {c.cell.upper()}, embedding {c.emb_dim}, hidden {c.hidden_dim}"
            f"{', attention' if c.attention else ''}; {parameters:,} parameters")


def describe_task(task: Task) -> str:
    s = task.spec
    unit = "digits per number" if s.name == "addition" else "tokens"
    return f"**{s.name}** ({s.min_len}–{s.max_len} {unit}): {describe(s.name)}"


@friendly(gr.Error, (gr.Error,))
def apply_preset(name: str):
    if name not in PRESETS:
        raise _error(f"Preset must be one of: {', '.join(PRESETS)}.", "Unknown preset")
    return [PRESETS[name][key] for key in SETTINGS] + [PRESET_NOTES[name]]


@friendly(gr.Error, (gr.Error,))
def task_changed(name: str):
    """New task: its default lengths, and its description."""
    spec = make_spec(_choice("task", name))
    return spec.min_len, spec.max_len, describe_task(Task(spec))


# ---------------------------------------------------------------- training


def downloads(session: Session) -> tuple[str, str]:
    """Write the session's checkpoint zip and metrics CSV, replacing its previous ones.

    They live in the session's own folder inside Gradio's cache (so Gradio serves them without copying
    them), which is deleted when the session ends."""
    if session.folder is None or not session.folder.exists():
        cache = Path(get_upload_folder())
        cache.mkdir(parents=True, exist_ok=True)
        session.folder = Path(tempfile.mkdtemp(prefix="seq2seq-session-", dir=cache))
    for old in session.folder.iterdir():  # only the latest run's files are kept
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    step = session.history.last_step
    name = f"seq2seq-{session.task.name}-step{step}"
    last = session.history.evals[-1] if session.history.evals else None
    folder = session.folder / name
    save_checkpoint(folder, session.model, session.task, training_summary(
        step, session.seconds, last.exact_match if last else float("nan"),
        last.token_accuracy if last else float("nan"), trained_in="seq2seq playground app"))
    archive = write_checkpoint_zip(folder, session.folder / f"{name}.zip")
    shutil.rmtree(folder)
    csv_path = session.folder / f"{name}-metrics.csv"
    csv_path.write_text(session.history.to_csv())
    return str(archive), str(csv_path)


def check_continue(session: Session, task: Task, model_config: ModelConfig) -> None:
    old = session.model.config
    if old != model_config:
        changed = [f"{label_of(k) if k in FIELDS else k.capitalize()} {getattr(old, k)} → "
                   f"{getattr(model_config, k)}" for k in vars(old)
                   if getattr(old, k) != getattr(model_config, k)]
        raise gr.Error(f"The model settings changed ({'; '.join(changed)}), so this model cannot continue. "
                       f"Set them back, or choose “Start a new model”.", title="Cannot continue")
    if session.task.vocab != task.vocab:
        raise gr.Error(f"{task.name} uses different tokens from {session.task.name}, so this model cannot "
                       f"continue on it. Choose “Start a new model”.", title="Cannot continue")


def unread_updates(key: str) -> int:
    """How many of this session's streamed updates wait in Gradio's queue, unread by any client."""
    queue = getattr(demo, "_queue", None)
    messages = queue.pending_messages_per_session.get(key) if queue is not None else None
    return messages.qsize() if messages is not None else 0


@friendly(gr.Error, (gr.Error,))
def run_training(task: str, min_len: int, max_len: int, cell: str, emb_dim: int, hidden_dim: int, n_layers: int,
                 dropout: float, attention: bool, batch_size: int, lr: float, teacher_forcing: float, steps: int,
                 time_budget: float, target: float, lr_decay: bool, seed: int, mode: str,
                 session: Session | None, request: gr.Request):
    """Stream training from a worker process: plots and status about once a second; the model ends up in
    the session. The session changes only once the run has started."""
    values = {name: value for name, value in locals().items() if name in SETTINGS}
    task, model_config, train_config = read_settings(values)
    mode = _choice("mode", mode)
    session = session_of(session, request)
    key = session_key(request)
    with STARTING_LOCK:  # one training per session, even if a script sends two at once
        if key in RUNNING or key in STARTING:
            raise gr.Error("This session is already training: stop it first.", title="Already training")
        STARTING.add(key)
    try:
        yield from _train(task, model_config, train_config, mode, session, key)
    finally:
        STARTING.discard(key)


def _train(task: Task, model_config: ModelConfig, train_config: TrainConfig, mode: str, session: Session, key: str):
    continuing = mode == "continue" and session.model is not None
    if continuing:
        check_continue(session, task, model_config)
    spec = task.spec
    cost = estimate_cost(model_config, train_config, spec)  # read_settings has checked it against the budget
    val_size = val_size_within(model_config, spec, BUDGET.eval_seconds)
    budget = train_config.time_budget  # train() keeps room in it for a step and the final evaluation
    train_config = dataclasses.replace(train_config, val_size=val_size)
    start = session.history.last_step if continuing else 0
    job = Job(model_config.to_dict(), spec.to_dict(), train_config.to_dict(),
              weights=weights_bytes(session.model) if continuing else None, start_step=start,
              eval_at_start=not (continuing and session.history.evals))
    try:
        run = WORKERS.start(job, memory_limit_mb=1.25 * max(BUDGET.memory_mb, cost.memory_mb),
                            deadline=budget + 1.0)
    except WorkerError as e:
        raise gr.Error(f"Training could not start: {e}. Nothing of yours was changed.", title="Cannot train") from None
    # started: only now does the session change
    active = RUNNING[key] = Active(run)
    session.released = None
    if not continuing:
        session.model, session.history, session.seconds, session.source = None, History(), 0.0, "trained here"
    session.task, session.snapshot, session.snapshot_model, session.snapshot_config = task, None, None, model_config
    history = session.history
    how = f"continuing from step {start:,}" if continuing else "new model"

    def frames():
        # a LinePlot draws only the colour series present in its first data: wait for a training loss
        loss = views.loss_frame(history, PLOT_POINTS) if history.losses else gr.skip()
        return loss, views.accuracy_frame(history, PLOT_POINTS)

    try:
        yield (*frames(), f"Starting ({how}): {describe_task(task)}; {describe_config(model_config, run.started.parameters)}"
               .replace("**", ""), gr.skip(), gr.skip(), session)
        last_time, last_step, last_loss = time.perf_counter(), start, None
        speed, done, ended, final_weights = 0.0, None, None, None
        unread_since = None
        shown_points, evals_before = False, len(history.evals)  # the run's first points are shown at once
        for message in run.messages(stop_grace=STOP_GRACE):
            now_m = time.monotonic()
            active.pulled = now_m
            if isinstance(message, list):
                for event in message:
                    history.record(event)
                    if isinstance(event, StepEvent):
                        last_loss = event.loss
                    elif isinstance(event, DoneEvent):
                        done = event
            elif isinstance(message, Snapshot):
                session.snapshot = message
            elif isinstance(message, Finished):
                final_weights = message.weights
            elif isinstance(message, (Killed, Failed)):
                ended = message
            # nobody reading what this run streams (an API call whose stream is never opened): stop it
            if unread_updates(key) > 0:
                unread_since = unread_since or now_m
                if now_m - unread_since > UNWATCHED_SECONDS and active.why is None:
                    active.why = "nobody was watching it"
                    run.stop()
            else:
                unread_since = None
            now = time.perf_counter()
            first_points = not shown_points and (history.losses or len(history.evals) > evals_before)
            if done is None and ended is None and (now - last_time >= UPDATE_EVERY or first_points):
                shown_points = shown_points or bool(first_points)
                step = history.last_step
                speed = (step - last_step) / (now - last_time)
                elapsed = history.elapsed[-1] if history.elapsed and history.steps[-1] > start else 0.0
                left = [budget - elapsed]
                if train_config.steps and speed > 0:
                    left.append((start + train_config.steps - step) / speed)
                status = views.progress_line(step, last_loss, history, speed, min(left),
                                             start + train_config.steps if train_config.steps else None)
                last_time, last_step = now, step
                yield *frames(), status, gr.skip(), gr.skip(), session
        yield finish(session, model_config, start, done, ended, final_weights, active, frames)
    finally:
        if RUNNING.get(key) is active:
            del RUNNING[key]
        run.close()
        if session.model is None and session.snapshot is not None:  # abandoned mid-run: keep what it sent
            session.model = model_from_weights(model_config, session.snapshot.weights)
            session.history.truncate(session.snapshot.step)
        session.snapshot = session.snapshot_model = None


def finish(session: Session, model_config: ModelConfig, start: int, done: DoneEvent | None, ended,
           final_weights: bytes | None, active: Active, frames):
    """The run is over: keep its model in the session, say how it ended, offer the downloads."""
    if final_weights is not None:
        session.model = model_from_weights(model_config, final_weights)
    elif session.snapshot is not None:  # killed or failed: the latest weights it sent
        session.model = model_from_weights(model_config, session.snapshot.weights)
        session.history.truncate(session.snapshot.step)
    else:  # killed before it sent any: the model is the one it started from
        session.history.truncate(start)
    if done is not None:
        session.seconds += done.elapsed
        ran = done.step - start
        stopped = done.reason in ("stopped", "diverged")
        why = f" ({active.why})" if active.why and done.reason == "stopped" else ""
        note = {"stopped": " The model is kept: press Train to continue it, or decode with it.",
                "time_budget": " Press Train to continue."}.get(done.reason, "")
        status = (f"{'Stopped' if stopped else 'Done'}: {done.message}{why}. "
                  f"{ran:,} steps in {done.elapsed:.1f} s ({ran / max(done.elapsed, 1e-9):,.0f} steps/s); "
                  f"step {done.step:,} in all · held-out exact match {done.exact_match:.1%}, "
                  f"token accuracy {done.token_accuracy:.1%}, loss {done.val_loss:.3f}.{note}")
    else:
        what = ended.message if ended is not None else "the training process ended unexpectedly"
        if isinstance(ended, Killed) and ended.reason == "stop" and active.why:
            what = active.why
        status = (f"Stopped: {what}. Kept the model from step {session.history.last_step:,}; press Train to "
                  f"continue it.")
    keep_sessions_within_memory()
    if session.model is None:
        return *frames(), status, None, None, session
    checkpoint_zip, metrics_csv = downloads(session)
    return *frames(), status, checkpoint_zip, metrics_csv, session


@friendly(gr.Error, (gr.Error,))
def stop_training(request: gr.Request):
    """Ask this session's training to stop; it finishes the current step and keeps the model."""
    active = RUNNING.get(session_key(request))
    if active is None:
        gr.Info("Nothing is training in this session.")
        return "Nothing is training."
    active.run.stop()
    return "Stopping…"


def session_closed(request: gr.Request):
    """The browser went away: stop its training, give back its files and memory."""
    key = session_key(request)
    active = RUNNING.get(key)
    if active is not None:
        active.why = "its page was closed"
        active.run.stop()
    session = SESSIONS.pop(key, None)
    if session is not None and active is None:
        session.release()
        session = None
    # a running run's own clean-up writes downloads: release after it has ended
    threading.Thread(target=_release_after, args=(key, session), daemon=True).start()


def _release_after(key: str, session: Session | None) -> None:
    deadline = time.monotonic() + 30
    while key in RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
    if session is not None:
        session.release()
    time.sleep(2)  # Gradio marks the session closed after its unload handlers are scheduled
    # Gradio keeps a closed session's copy of the page's state for an hour, and the session entry itself
    # until 10,000 newer ones push it out: the browser is gone, so let it go now
    holder = getattr(demo, "state_holder", None)
    if holder is not None:
        with holder.lock:
            holder.session_data.pop(key, None)
            holder.time_last_used.pop(key, None)


def _forget_session(session) -> None:
    """gr.State's delete_callback: a session untouched for SESSION_TTL seconds."""
    if isinstance(session, Session):
        for key, known in list(SESSIONS.items()):
            if known is session:
                SESSIONS.pop(key, None)
        session.release()


def watchdog() -> None:
    """Stops runs that nobody reads any more (the client went away mid-stream, so Gradio stopped asking the
    training generator for updates), and kills those that ignore it."""
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        for key, active in list(RUNNING.items()):
            run = active.run
            if now - active.pulled > UNWATCHED_SECONDS and run.stop_time is None:
                active.why = "nobody was watching it"
                run.stop()
            if run.stop_time is not None and now - run.stop_time > STOP_GRACE and now - active.pulled > 1:
                run.close()  # not pulled, so messages() cannot enforce it: kill it here
                if RUNNING.get(key) is active:
                    del RUNNING[key]


# ---------------------------------------------------------------- uploads


def upload_check(model_config: ModelConfig, spec) -> None:
    """A checkpoint's model must be one this app could have trained: the form's sizes and the budget."""
    for name in ("emb_dim", "hidden_dim", "n_layers"):
        _, _, low, high = FIELDS[name]
        value = getattr(model_config, name)
        if not low <= value <= high:
            raise ValueError(f"its model has {label_of(name).lower()} {value}; this app allows {low}–{high}")
    cost = estimate_cost(model_config, TrainConfig(batch_size=1, teacher_forcing=1.0), spec)
    if cost.memory_mb > BUDGET.memory_mb:
        raise ValueError(f"its model would need about {cost.memory_mb / 1000:.1f} GB to train; this app allows "
                         f"{BUDGET.memory_mb / 1000:.1f} GB")


def _delete_upload(path: Path) -> None:
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


@friendly(gr.Error, (gr.Error,))
def load_uploaded(file, session, request: gr.Request):
    """Load a checkpoint zip (as downloaded from the Train tab) as this session's model."""
    if not file or not isinstance(file, str):
        raise gr.Error("Choose a checkpoint .zip first.", title="No file")
    path = Path(file)
    try:
        name = path.name if len(path.name) <= 60 else path.name[:57] + "…"
        if (session_key(request)) in RUNNING:
            raise gr.Error("Stop the training first: loading replaces this session's model.", title="Training")
        try:
            if path.stat().st_size > MAX_UPLOAD_BYTES:
                raise CheckpointError(f"it is larger than {MAX_UPLOAD_MB:g} MB")
            checkpoint = load_checkpoint_zip(path, max_weights_bytes=MAX_UPLOAD_BYTES, check=upload_check)
        except (CheckpointError, OSError) as e:
            text = str(e) if isinstance(e, CheckpointError) else "the file could not be read"
            raise gr.Error(f"Cannot load {name}: {text}. Your current model is unchanged.",
                           title="Cannot load") from None
    finally:
        _delete_upload(path)
    session = session_of(session, request)
    if session.folder is not None:
        shutil.rmtree(session.folder, ignore_errors=True)
        session.folder = None
    session.model, session.task, session.source = checkpoint.model, checkpoint.task, f"uploaded {name}"
    session.released = None
    session.history, session.seconds = History(), 0.0
    return session, f"Loaded {name}: {describe_model(checkpoint.model)}; task " + describe_task(
        checkpoint.task).replace("**", "") + ". The Decode tab uses it; Train continues it."


# ---------------------------------------------------------------- decoding


def pick_model(choice: str, train_task: str, session: Session | None, request: gr.Request | None):
    """(model, task, sentence saying which model) for the Decode tab's model choice."""
    if choice not in CHOICE_VALUES:
        raise gr.Error("Model must be one of the menu's choices.", title="Unknown model")
    if train_task not in TASK_NAMES:
        raise gr.Error(f"Task must be one of {', '.join(TASK_NAMES)}.", title="Unknown task")
    if session is not None and not isinstance(session, Session):
        raise gr.Error("This session's state is not valid; reload the page.", title="Reload")
    training = session is not None and session_key(request) in RUNNING and session.snapshot is not None
    trained = session is not None and (session.model is not None or training)
    if choice == SESSION or (choice == AUTO and trained):
        if not trained and session is not None and session.released:
            raise gr.Error(f"Your model is gone: {session.released}. Press Train to train one again, or pick a "
                           f"bundled model.", title="Model released")
        if not trained:
            raise gr.Error("You have not trained a model in this session yet: press Train on the Train tab, "
                           "or pick a bundled model.", title="No model yet")
        if training:  # training is changing it in its own process: decode its latest snapshot
            snapshot = session.snapshot
            cached = session.snapshot_model
            if cached is None or cached[0] != snapshot.step:
                model = model_from_weights(session.snapshot_config, snapshot.weights)
                cached = session.snapshot_model = (snapshot.step, model)
            model = cached[1]
            note = f"a snapshot of your model, still training (step {snapshot.step:,})"
        else:
            model = session.model
            note = f"your model ({session.source}, step {session.history.last_step:,})"
        return model, session.task, f"Decoding with {note}: {describe_model(model)}; {describe_task(session.task)}"
    name = choice.removeprefix("bundled:") if choice != AUTO else train_task
    if name not in BUNDLED:
        known = ", ".join(BUNDLED)
        why = " (it cannot be learned)" if name == "random" else ""
        raise gr.Error(f"There is no bundled model for {name}{why}. Train one on the Train tab, or pick one of: "
                       f"{known}.", title="No model for this task")
    checkpoint = BUNDLED[name]
    score = checkpoint.training.get("exact_match")
    scored = f", {score:.1%} held-out exact match" if isinstance(score, float) else ""
    return (checkpoint.model, checkpoint.task,
            f"Decoding with the bundled **{name}** model ({describe_model(checkpoint.model)}{scored}); "
            f"{describe_task(checkpoint.task)}")


@friendly(gr.Error, (gr.Error,))
def decode(source: str, model_choice: str = AUTO, top_k: int = 3, train_task: str = "reverse",
           session: Session | None = None, request: gr.Request = None):
    """Decode `source` greedily; returns the output string first, then the step-by-step views."""
    if not isinstance(source, str) or not source.strip():
        raise gr.Error("Type a source sequence to decode, e.g. 3 1 4 1 5 9.", title="Nothing to decode")
    if len(source) > MAX_SOURCE_CHARS:
        raise gr.Error(f"The source is {len(source):,} characters long; at most {MAX_SOURCE_CHARS:,} are allowed.",
                       title="Cannot decode")
    k = in_range("Top-k alternatives", top_k, int, 1, 10, "Check the input")
    model, task, info = pick_model(model_choice, train_task, session, request)
    try:
        tokens = task.vocab.parse(source)
    except ValueError as e:
        raise gr.Error(f"{e}.", title="Cannot decode") from None
    trace = greedy_decode(model, task.vocab, tokens, top_k=len(task.vocab))
    shown = [t for t in task.vocab.itos if t not in ("<pad>", "<sos>", "<unk>")]
    decoded = views.Decoded(trace, task.expected(tokens), shown)
    k = min(k, len(shown))
    n = len(trace.steps)
    return (trace.output, views.verdict_html(decoded), views.steps_frame(decoded, k),
            views.distribution_html(decoded), views.attention_html(decoded),
            gr.Slider(minimum=1, maximum=max(n, 2), value=1, step=1, interactive=n > 1),
            views.playback_html(decoded, 1), decoded, info)


def _decoded(decoded) -> views.Decoded:
    if not isinstance(decoded, views.Decoded):
        raise gr.Error("Decode something first.", title="Nothing to play")
    return decoded


@friendly(gr.Error, (gr.Error,))
def play(decoded, t):
    if decoded is None:
        return "Decode something first."
    decoded = _decoded(decoded)
    return views.playback_html(decoded, in_range("Step", t, int, 1, max(len(decoded.trace.steps), 2), "Check the input"))


@friendly(gr.Error, (gr.Error,))
def play_all(decoded):
    """Step through the whole decoding, one step about every half second."""
    decoded = _decoded(decoded)
    for t in range(1, len(decoded.trace.steps) + 1):
        yield t
        time.sleep(0.5)


@friendly(gr.Error, (gr.Error,))
def nudge(decoded, t, delta):
    if decoded is None:
        return 1
    decoded = _decoded(decoded)
    return max(1, min(in_range("Step", t, int, 1, 10_000, "Check the input") + delta, len(decoded.trace.steps)))


@friendly(gr.Error, (gr.Error,))
def pick_example(sample):
    if not isinstance(sample, (list, tuple)) or not sample or not isinstance(sample[0], str):
        raise gr.Error("Pick one of the examples.", title="Unknown example")
    return sample[0][:MAX_SOURCE_CHARS]


@friendly(gr.Error, (gr.Error,))
def example_sources(choice: str, train_task: str, session: Session | None, request: gr.Request = None):
    """A few held-out sources (never seen in training) for the model the Decode tab would use."""
    try:
        _, task, info = pick_model(choice, train_task, session, request)
    except gr.Error as e:
        return gr.Dataset(samples=[]), f"{e.message}"
    samples = [[" ".join(ex.source)] for ex in validation_set(task, 6, seed=7)]
    return gr.Dataset(samples=samples), info


# ---------------------------------------------------------------- layout

CSS = """
.heatmap { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
.heatmap th, .heatmap td { border: 1px solid rgba(128,128,128,0.25); padding: 2px 6px; text-align: center;
  min-width: 2.4em; }
.legend { font-size: 0.8em; opacity: 0.75; }
.bar { display: flex; align-items: center; gap: 0.5em; margin: 2px 0; }
.bar-label { width: 3.5em; text-align: right; font-family: monospace; }
.bar-fill { display: inline-block; height: 0.9em; max-width: 60%; }
.so-far span { margin-right: 0.35em; font-size: 1.2em; font-family: monospace; }
"""

with gr.Blocks(title="seq2seq playground", delete_cache=(60, 3600)) as demo:
    session_state = gr.State(None, time_to_live=SESSION_TTL, delete_callback=_forget_session)
    decoded_state = gr.State(None)
    gr.Markdown("# seq2seq playground\nTrain an LSTM encoder–decoder on a toy task and watch the loss "
                "fall, then watch it decode one token at a time. Everything runs on the CPU, in seconds.")
    with gr.Tabs():
        with gr.Tab("Train", id="train", elem_id="train-tab"):
            d = PRESETS[DEFAULT_PRESET]
            with gr.Row():
                preset = gr.Radio(list(PRESETS), value=DEFAULT_PRESET, label="Preset", elem_id="preset", scale=1)
                preset_note = gr.Markdown(PRESET_NOTES[DEFAULT_PRESET], elem_id="preset-note")
            with gr.Row():
                task = gr.Dropdown(list(TASK_NAMES), value=d["task"], label="Task", elem_id="task")
                min_len = form_number("min_len", d["min_len"], elem_id="min-len")
                max_len = form_number("max_len", d["max_len"], elem_id="max-len")
            task_note = gr.Markdown(describe_task(Task(make_spec(d["task"]))), elem_id="task-note")
            with gr.Accordion("Model", open=False):
                with gr.Row():
                    cell = gr.Radio([("LSTM", "lstm"), ("GRU", "gru")], value=d["cell"], label="Cell")
                    emb_dim = form_number("emb_dim", d["emb_dim"])
                    hidden_dim = form_number("hidden_dim", d["hidden_dim"])
                    n_layers = form_number("n_layers", d["n_layers"])
                    dropout = form_slider("dropout", d["dropout"], 0.05)
                    attention = gr.Checkbox(d["attention"], label="Attention (Luong)")
            with gr.Accordion("Training", open=False):
                with gr.Row():
                    batch_size = form_number("batch_size", d["batch_size"])
                    lr = form_number("lr", d["lr"])
                    teacher_forcing = form_slider("teacher_forcing", d["teacher_forcing"], 0.05)
                    lr_decay = gr.Checkbox(d["lr_decay"], label="Decay learning rate to a tenth")
                with gr.Row():
                    steps = form_number("steps", d["steps"], elem_id="steps")
                    time_budget = form_number("time_budget", d["time_budget"], elem_id="time-budget")
                    target = form_number("target", d["target"])
                    seed = form_number("seed", d["seed"])
            with gr.Row():
                mode = gr.Radio([("Continue from the current model", "continue"), ("Start a new model", "new")],
                                value="continue", label="When you press Train", elem_id="train-mode", scale=2)
                train_button = gr.Button("Train", variant="primary", elem_id="train-button", scale=1)
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop-button", scale=1)
            status = gr.Textbox(label="Status", value="Not trained yet: press Train.", interactive=False,
                                elem_id="train-status")
            with gr.Row():
                loss_plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss (cross-entropy)",
                                        color_map={"train loss": "#4f46e5", "val loss": "#f59e0b"},
                                        elem_id="loss-plot", height=300)
                accuracy_plot = gr.LinePlot(None, x="step", y="percent", color="series",
                                            title="Held-out accuracy (teacher forcing off)", y_lim=[0, 100],
                                            color_map={"exact match": "#15803d", "token accuracy": "#0ea5e9"},
                                            elem_id="accuracy-plot", height=300)
            with gr.Row():
                checkpoint_file = gr.File(label="Checkpoint (config.json + model.safetensors)",
                                          elem_id="download-checkpoint", interactive=False, height=90)
                metrics_file = gr.File(label="Metrics (CSV)", elem_id="download-metrics", interactive=False, height=90)
                with gr.Column():
                    upload = gr.UploadButton("Load a checkpoint (.zip)", file_types=[".zip"],
                                             elem_id="upload-checkpoint")
                    upload_status = gr.Markdown("A checkpoint downloaded here loads back as your model: decode "
                                                "with it, or train it further.", elem_id="upload-status")

        with gr.Tab("Decode", id="decode", elem_id="decode-tab"):
            with gr.Row():
                model_choice = gr.Dropdown(MODEL_CHOICES, value=AUTO, label="Model", elem_id="decode-model",
                                           scale=2)
                top_k = gr.Slider(1, 10, value=3, step=1, label="Top-k alternatives", elem_id="decode-topk")
            model_info = gr.Markdown(label="model", elem_id="decode-model-info")
            with gr.Row():
                source = gr.Textbox("3 1 4 1 5 9", label="Source (tokens separated by spaces)",
                                    elem_id="decode-input", scale=3)
                decode_button = gr.Button("Decode", variant="primary", elem_id="decode-button", scale=1)
            examples = gr.Dataset(components=[source], samples=[], label="Held-out examples (never trained on)",
                                  elem_id="decode-examples")
            output = gr.Textbox(label="Output", interactive=False, elem_id="decode-output")
            verdict = gr.HTML(label="verdict", show_label=False, elem_id="decode-verdict")
            steps_table = gr.Dataframe(label="Decoding steps", interactive=False, elem_id="decode-steps",
                                       wrap=True)
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Step by step")
                    with gr.Row():
                        prev_button = gr.Button("◀ Previous", elem_id="playback-prev", size="sm")
                        play_button = gr.Button("Play", elem_id="playback-play", size="sm")
                        next_button = gr.Button("Next ▶", elem_id="playback-next", size="sm")
                    playback_step = gr.Slider(1, 2, value=1, step=1, label="Step", elem_id="playback-step")
                    playback = gr.HTML(label="playback", show_label=False, elem_id="playback")
                with gr.Column():
                    gr.Markdown("### Probability of every token at every step")
                    distribution = gr.HTML(label="distribution", show_label=False, elem_id="decode-distribution")
                    attention_map = gr.HTML(label="attention", show_label=False, elem_id="decode-attention")

    settings = [task, min_len, max_len, cell, emb_dim, hidden_dim, n_layers, dropout, attention, batch_size, lr,
                teacher_forcing, steps, time_budget, target, lr_decay, seed]
    assert len(settings) == len(SETTINGS)
    as_sent(*settings, mode, preset, model_choice, top_k, playback_step)
    upload._process_single_file = upload_path  # Gradio's own leaves an empty temp file behind per upload
    guard_input(examples, "Pick one of the examples.")

    preset.change(apply_preset, preset, settings + [preset_note], api_visibility="private")
    task.input(task_changed, task, [min_len, max_len, task_note], api_visibility="private")
    train_event = train_button.click(
        run_training, settings + [mode, session_state],
        [loss_plot, accuracy_plot, status, checkpoint_file, metrics_file, session_state],
        api_name="train", concurrency_limit=MAX_TRAININGS, concurrency_id="train", show_progress_on=[status])
    stop_button.click(stop_training, None, status, api_name="stop", queue=False)
    upload.upload(load_uploaded, [upload, session_state], [session_state, upload_status], api_name="load")

    refresh_examples = dict(fn=example_sources, inputs=[model_choice, task, session_state],
                            outputs=[examples, model_info], api_visibility="private")
    train_event.then(**refresh_examples)
    model_choice.change(**refresh_examples)
    task.change(**refresh_examples)
    upload.upload(**refresh_examples)
    demo.load(**refresh_examples)
    examples.click(pick_example, examples, source, api_visibility="private")

    decode_outputs = [output, verdict, steps_table, distribution, attention_map, playback_step, playback,
                      decoded_state, model_info]
    decoding = dict(concurrency_id="decode", concurrency_limit=8)  # decoding never waits behind training
    decode_button.click(decode, [source, model_choice, top_k, task, session_state], decode_outputs,
                        api_name="decode", **decoding)
    source.submit(decode, [source, model_choice, top_k, task, session_state], decode_outputs,
                  api_visibility="private", **decoding)
    playback_step.change(play, [decoded_state, playback_step], playback, api_visibility="private",
                         show_progress="hidden", **decoding)
    prev_button.click(lambda d, t: nudge(d, t, -1), [decoded_state, playback_step], playback_step,
                      api_visibility="private", show_progress="hidden", **decoding)
    play_button.click(play_all, decoded_state, playback_step, api_visibility="private", show_progress="hidden")
    next_button.click(lambda d, t: nudge(d, t, +1), [decoded_state, playback_step], playback_step,
                      api_visibility="private", show_progress="hidden", **decoding)
    demo.unload(session_closed)


def main() -> None:
    on_space = bool(os.environ.get("SPACE_ID"))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    WORKERS.warm_up(wait=False)  # the training zygote imports torch now (beside the launch), not on a click
    with torch.device("meta"):  # what checking an upload's shapes initialises (~75 MB, once): now, not then
        Seq2Seq.from_config(ModelConfig(5, 5, emb_dim=1, hidden_dim=1))
    threading.Thread(target=watchdog, daemon=True, name="watchdog").start()
    demo.queue(default_concurrency_limit=4)
    # everything built so far lives as long as the server: keep the garbage collector from re-scanning it
    # (its full collections were ~300 ms pauses in every request)
    gc.collect()
    gc.freeze()
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), ssr_mode=False, css=CSS,
                theme=gr.themes.Soft(primary_hue="indigo"), max_file_size=MAX_UPLOAD_BYTES,
                state_session_capacity=MAX_GRADIO_SESSIONS,
                app_kwargs={"middleware": [Middleware(BodyLimit, other_bytes=int(MAX_REQUEST_KB * 1000),
                                                      upload_bytes=MAX_UPLOAD_BYTES)]})


if __name__ == "__main__":
    main()
