"""seq2seq playground: train an LSTM encoder-decoder on a toy task and watch it learn, then watch it decode.

UI wiring only: components, events and per-session state. Every bit of model work is a call into the
`seq2seq` package (training runs in worker processes, `seq2seq.worker`; a session's model, history and
downloads are `seq2seq.session`); the settings, their labels, ranges and presets are one table in
`settings`; everything shown is formatted by `views`. Safe to leave on a public Space: settings are checked against a cost budget
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

import gc  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from gradio.utils import NamedString, get_upload_folder  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

import settings  # noqa: E402
import views  # noqa: E402
from seq2seq import (CheckpointError, DoneEvent, EvalEvent, ModelConfig, Seq2Seq, Task,  # noqa: E402
                     TrainConfig, greedy_decode, load_checkpoint, make_spec, validation_set)
from seq2seq.checkpoint import CONFIG_FILE, load_checkpoint_zip  # noqa: E402
from seq2seq.cost import Budget, estimate as estimate_cost, val_size_within  # noqa: E402
from seq2seq.history import History  # noqa: E402
from seq2seq.lengths import accuracy_by_length  # noqa: E402
from seq2seq import strategy as strategies  # noqa: E402
from seq2seq.model import count_parameters  # noqa: E402
from seq2seq.session import Session  # noqa: E402
from seq2seq.strategy import KINDS, Strategy  # noqa: E402
from seq2seq.tasks import MAX_SOURCE_CHARS, TASK_NAMES  # noqa: E402
from seq2seq.worker import Failed, Finished, Job, Killed, Run, Snapshot, WorkerError, WorkerPool, model_from_weights, \
    weights_bytes  # noqa: E402
from settings import SettingsError  # noqa: E402
from webguard import BodyLimit, friendly  # noqa: E402

torch.set_num_threads(1)  # the server decodes on one thread; trainings run in their own processes
log = logging.getLogger("seq2seq-playground")
guarded = friendly(gr.Error, (gr.Error,))  # an unexpected failure is a sentence, never Gradio's generic error


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


def _preprocess_with(component: gr.components.Component, preprocess) -> None:
    """Give `component` its own `preprocess(self, payload)`. Through its class, not the instance: an event that
    updates a component's properties (gr.update(visible=...)) makes Gradio build a fresh instance of its class
    for the session, and an instance's own attribute would be lost with it."""
    cls = type(component)
    component.__class__ = type(cls.__name__, (cls,), {"preprocess": preprocess, "__module__": cls.__module__})


def as_sent(*components: gr.components.Component) -> None:
    """These components' values reach their handlers as sent: the handler checks them and says what is
    wrong in the field's own words. (Gradio's own check names no field, and a value of the wrong type
    makes it fail with its generic "upstream app has raised an exception".)"""
    for component in components:
        _preprocess_with(component, lambda self, payload: payload)


def guard_input(component: gr.components.Component, sentence: str) -> None:
    """A value this component cannot read (sent by a script) gets `sentence`, not Gradio's generic error."""
    original = type(component).preprocess

    def preprocess(self, payload):
        try:
            return original(self, payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001
            raise gr.Error(sentence, title="Check the input") from None
    _preprocess_with(component, preprocess)


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
MAX_GRADIO_SESSIONS = 1000  # sessions whose page state Gradio keeps (its default, 10,000, is ~GBs)
UNWATCHED_SECONDS = 5.0    # a run nobody reads for this long stops
STOP_GRACE = 1.5           # a run still going this long after Stop (or its time) is killed
UPDATE_EVERY = 0.75        # seconds between live updates of the plots and status
PLOT_POINTS = 300          # points per plotted series, however long the history
MAX_UPLOAD_BYTES = int(MAX_UPLOAD_MB * 1e6)

SETTINGS = settings.table(MAX_SECONDS)  # the form, the presets, the messages and /train's parameters
PRESETS = settings.PRESETS  # each a value for every setting, by name
WORKERS = WorkerPool()

# session_hash -> the training running for that browser session (present only while it runs)
RUNNING: dict[str, "Active"] = {}
STARTING: set[str] = set()  # sessions whose training is being started
STARTING_LOCK = threading.Lock()
# session_hash -> that session's state, so its files and model can be released when its browser goes away
SESSIONS: "OrderedDict[str, Session]" = OrderedDict()  # least recently used first

AUTO = "auto"
SESSION = "session"
MODEL_CHOICES = ([("Automatic: a model for the Train tab's task (yours if you trained one)", AUTO),
                  ("Your model (trained or loaded in this session)", SESSION)]
                 + [(f"Bundled: {name}", f"bundled:{name}") for name in BUNDLED])
CHOICE_VALUES = {value for _, value in MODEL_CHOICES}
COMPARE_CHOICES = ([("Your model (this session)", SESSION)]  # two particular models: never "Automatic"
                   + [(label, value) for label, value in MODEL_CHOICES if value.startswith("bundled:")])
COMPARE_DEFAULTS = ("bundled:reverse" if "reverse" in BUNDLED else SESSION,
                    "bundled:reverse-attention" if "reverse-attention" in BUNDLED else SESSION)
# every series the comparison's chart can draw, coloured: model A indigo, model B amber, the trained edge grey
COMPARE_COLOURS = ({f"{side}: {label}": colour for side, colour in zip("AB", views.MODEL_COLOURS)
                    for label in ["your model", *BUNDLED]} | {views.TRAINED_EDGE: views.EDGE_COLOUR})
BY_LENGTH_N = 100   # held-out sources per length in the comparison's chart
BY_LENGTH_MORE = 4  # lengths past the longest either model was trained on


def problem(message: str, title: str = "Check the settings") -> gr.Error:
    return gr.Error(message, title=title)


def as_error(e: SettingsError) -> gr.Error:
    return gr.Error(str(e), title=e.title)


def message_html(text: str = "", kind: str = "error") -> str:
    """A sentence shown beside the field it is about (not a red pill on every output)."""
    return f'<div class="s2s-message {kind}" role="alert">{views.esc(text)}</div>' if text else ""


def say(text: str = "", kind: str = "error"):
    """A message component's update: the sentence, or hidden when there is nothing to say."""
    return gr.update(value=message_html(text, kind), visible=bool(text))


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
        raise problem("This session's state is not valid; reload the page.", "Reload")
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
    return views.describe_config(model.config, count_parameters(model))


def task_of(values: dict) -> Task:
    """The task the form describes, or the default one while its lengths are being edited."""
    try:
        return Task(make_spec(settings.choice(SETTINGS["task"], values.get("task")), values.get("min_len"),
                              values.get("max_len")))
    except (SettingsError, ValueError):
        return Task(make_spec(values.get("task") if values.get("task") in TASK_NAMES else "reverse"))


def watch_default(task: Task, n: int = 4) -> str:
    """A few held-out sources (never trained on) for the live preview."""
    return "\n".join(" ".join(ex.source) for ex in validation_set(task, n, seed=11))


def preview_rows(task: Task, sources: list[list[str]], outputs: list[str] | None):
    rows = []
    for i, source in enumerate(sources):
        want = task.expected(source)
        rows.append((" ".join(source), outputs[i] if outputs is not None and i < len(outputs) else None,
                     None if want is None else " ".join(want)))
    return rows


def plots(session: Session, log_scale: bool | None = None):
    """The loss and accuracy plots of the session's history (None before there is anything to draw)."""
    history = session.history
    log_scale = session.log_scale if log_scale is None else log_scale
    floor = session.task.loss_floor() if session.task is not None else None
    return (views.loss_frame(history, PLOT_POINTS, log_scale, floor), views.accuracy_frame(history, PLOT_POINTS))


# ---------------------------------------------------------------- the form


def apply_preset(name: str):
    """The preset's values in every field (showing the fields its architecture uses), its note, its task's note,
    its model's diagram and preview sources."""
    if name not in PRESETS:
        raise problem(f"Preset must be one of: {', '.join(PRESETS)}.", "Unknown preset")
    values = PRESETS[name]
    task = Task(make_spec(values["task"], values["min_len"], values["max_len"]))
    fields = form_values(values)
    diagram = views.diagram_html(settings.model_config(values, len(task.vocab)), len(task.vocab))
    return fields + [settings.PRESET_NOTES[name], views.describe_task(task), watch_default(task), diagram, say()]


def form_values(values: dict) -> list:
    """Updates for every form field, in SETTINGS order: the value given (or none), and for the model fields
    whether the architecture uses them."""
    used = model_fields_used(values.get("arch", "rnn"))
    return [gr.update(value=values[k], visible=used[k]) if k in used and k in values else
            gr.update(visible=used[k]) if k in used else values.get(k, gr.skip()) for k in SETTINGS]


def model_fields_used(arch) -> dict[str, bool]:
    """Which model fields the architecture uses (the others are hidden)."""
    unused = settings.RNN_ONLY if arch == "transformer" else settings.TRANSFORMER_ONLY
    return {name: name not in unused for name in settings.MODEL_FIELDS}


def task_changed(name: str):
    """New task: its default lengths, its description, a few of its held-out sources to watch."""
    try:
        task = Task(make_spec(settings.choice(SETTINGS["task"], name)))
    except SettingsError as e:
        raise as_error(e) from None
    return task.spec.min_len, task.spec.max_len, views.describe_task(task), watch_default(task)


def lengths_changed(name, min_len, max_len):
    """New lengths: the task's note says so (and its best possible loss, for random)."""
    return views.describe_task(task_of({"task": name, "min_len": min_len, "max_len": max_len}))


def model_changed(*values):
    """The diagram, with the sizes as they now are (a value out of range keeps the last diagram), and only the
    fields the chosen architecture uses."""
    *model_values, task_name, min_len, max_len = values
    named = dict(zip(settings.MODEL_FIELDS, model_values))
    shown = [gr.update(visible=used) for used in model_fields_used(named.get("arch")).values()]
    try:
        task = task_of({"task": task_name, "min_len": min_len, "max_len": max_len})
        config = settings.model_config(named, len(task.vocab))
    except (SettingsError, ValueError):
        return gr.skip(), *shown
    return views.diagram_html(config, len(task.vocab)), *shown


def preview_changed(text, name, min_len, max_len):
    task = task_of({"task": name, "min_len": min_len, "max_len": max_len})
    try:
        sources = settings.watch_sources(text, task)
    except SettingsError as e:
        return views.preview_html([]), say(str(e))
    return views.preview_html(preview_rows(task, sources, None)), say()


def redraw(log_scale, session):
    """Log scale on or off: the loss plot again from the session's history."""
    if not isinstance(session, Session):
        return gr.skip()
    session.log_scale = bool(log_scale)
    return plots(session)[0] if session.history.losses else gr.skip()


# ---------------------------------------------------------------- training


def unread_updates(key: str) -> int:
    """How many of this session's streamed updates wait in Gradio's queue, unread by any client."""
    queue = getattr(demo, "_queue", None)
    messages = queue.pending_messages_per_session.get(key) if queue is not None else None
    return messages.qsize() if messages is not None else 0


def check_continue(session: Session, task: Task, model_config: ModelConfig) -> None:
    if session.model.config != model_config:
        changed = "; ".join(settings.changed(session.model.config, model_config, SETTINGS))
        raise SettingsError(f"The model settings changed ({changed}), so this model cannot continue. Set them back, "
                            f"or choose “Start a new model”.", "Cannot continue")
    if session.task.vocab != task.vocab:
        raise SettingsError(f"{task.name} uses different tokens from {session.task.name}, so this model cannot "
                            f"continue on it. Choose “Start a new model”.", "Cannot continue")


@dataclass
class Frame:
    """One update of the Train tab, as the training loop sees it (each event handler picks its outputs)."""
    loss: object = None
    accuracy: object = None
    status: object = None
    checkpoint: object = None
    metrics: object = None
    session: object = None
    preview: object = None
    message: object = None


def training(values: dict, mode: str, watch_text, session, request: gr.Request):
    """Check the settings, start a worker, and stream Frames until the run ends; the model ends up in the
    session, which changes only once the run has started. Raises SettingsError for a bad setting."""
    task, model_config, train_config = settings.read(values, SETTINGS, BUDGET)
    mode = settings.mode(mode)
    watch = settings.watch_sources(watch_text, task)
    session = session_of(session, request)
    key = session_key(request)
    with STARTING_LOCK:  # one training per session, even if a script sends two at once
        if key in RUNNING or key in STARTING:
            raise SettingsError("This session is already training: stop it first.", "Already training")
        STARTING.add(key)
    try:
        yield from _train(task, model_config, train_config, mode, watch, session, key)
    finally:
        STARTING.discard(key)


def _train(task: Task, model_config: ModelConfig, train_config: TrainConfig, mode: str, watch: list[list[str]],
           session: Session, key: str):
    continuing = mode == "continue" and session.model is not None
    if continuing:
        check_continue(session, task, model_config)
    spec = task.spec
    cost = estimate_cost(model_config, train_config, spec)  # settings.read has checked it against the budget
    budget = train_config.time_budget  # train() keeps room in it for a step and the final evaluation
    train_config = replace(train_config, val_size=val_size_within(model_config, spec, BUDGET.eval_seconds),
                           eval_seconds=settings.EVAL_SECONDS)
    start = session.history.last_step if continuing else 0
    job = Job(model_config.to_dict(), spec.to_dict(), train_config.to_dict(),
              weights=weights_bytes(session.model) if continuing else None, start_step=start,
              eval_at_start=not (continuing and session.history.evals),
              state=session.state if continuing else None, watch=watch)
    try:
        run = WORKERS.start(job, memory_limit_mb=1.25 * max(BUDGET.memory_mb, cost.memory_mb),
                            deadline=budget + 1.0)
    except WorkerError as e:
        raise SettingsError(f"Training could not start: {e}. Nothing of yours was changed.", "Cannot train") from None
    # started: only now does the session change
    active = RUNNING[key] = Active(run)
    session.released = session.last_status = None
    if not continuing:
        session.model, session.history, session.seconds, session.source = None, History(), 0.0, "trained here"
        session.state = None
    session.task, session.snapshot, session.snapshot_model, session.snapshot_config = task, None, None, model_config
    session.train_config = {k: v for k, v in train_config.to_dict().items() if k not in ("val_size", "eval_seconds")}
    history = session.history
    how = f"continuing from step {start:,}" if continuing else "new model"
    eta = views.Eta(start, start + train_config.steps if train_config.steps else None, budget)

    def frame(status, preview=None) -> Frame:
        loss, accuracy = plots(session)
        # a LinePlot draws only the colour series present in its first data: wait for a training loss
        return Frame(loss if history.losses else gr.skip(), accuracy, status, gr.skip(), gr.skip(), session,
                     preview if preview is not None else gr.skip(), say())

    def preview(event) -> str | None:
        return views.preview_html(preview_rows(task, watch, event.watch), event.step) if watch else None

    try:
        yield frame(f"Starting ({how}): {views.describe_task(task, markdown=False)}; "
                    f"{views.describe_config(model_config, run.started.parameters)}",
                    views.preview_html(preview_rows(task, watch, None)))
        last_time, done, ended, final = time.perf_counter(), None, None, None
        unread_since, shown_points, evals_before, latest_preview = None, False, len(history.evals), None
        for message in run.messages(stop_grace=STOP_GRACE):
            now_m = time.monotonic()
            active.pulled = now_m
            if isinstance(message, list):
                for event in message:
                    history.record(event)
                    if isinstance(event, (EvalEvent, DoneEvent)):
                        latest_preview = preview(event) or latest_preview
                    if isinstance(event, DoneEvent):
                        done = event
            elif isinstance(message, Snapshot):
                session.snapshot = message
            elif isinstance(message, Finished):
                final = message
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
                elapsed = history.elapsed[-1] if history.elapsed and history.steps[-1] > start else 0.0
                last_time = now
                yield frame(views.progress_line(history.last_step, history, eta, elapsed), latest_preview)
                latest_preview = None
        yield finish(session, model_config, start, done, ended, final, active, frame, latest_preview)
    finally:
        if RUNNING.get(key) is active:
            del RUNNING[key]
        run.close()
        if session.model is None:  # abandoned mid-run: keep what it sent
            session.keep_snapshot(model_config)
        session.snapshot = session.snapshot_model = None


def finish(session: Session, model_config: ModelConfig, start: int, done: DoneEvent | None, ended,
           final: Finished | None, active: Active, frame, preview) -> Frame:
    """The run is over: keep its model in the session, say how it ended, offer the downloads."""
    if final is not None:
        session.model = model_from_weights(model_config, final.weights)
        session.state = final.state
    elif session.snapshot is not None:  # killed or failed: the latest weights it sent
        session.keep_snapshot(model_config)
    else:  # killed before it sent any: the model is the one it started from
        session.history.truncate(start)
    if done is not None:
        session.seconds += done.elapsed
        status = views.done_line(done.reason, done.message, done.step - start, done.elapsed, done.step,
                                 done.exact_match, done.token_accuracy, done.val_loss, active.why)
    else:
        what = ended.message if ended is not None else "the training process ended unexpectedly"
        if isinstance(ended, Killed) and ended.reason == "stop" and active.why:
            what = active.why
        status = (f"Stopped: {what}. Kept the model from step {session.history.last_step:,}; press Train to "
                  f"continue it.")
    session.last_status = status
    keep_sessions_within_memory()
    result = frame(status, preview)
    if session.model is not None:
        checkpoint_zip, metrics_csv = session.write_downloads(Path(get_upload_folder()))
        result.checkpoint, result.metrics = str(checkpoint_zip), str(metrics_csv)
    else:
        result.checkpoint = result.metrics = None
    return result


TRAIN_PARAMETERS = list(SETTINGS) + ["mode"]  # /train's parameters: the settings' names, then `mode`


def _bind(names: list[str], args, kwargs) -> dict:
    bound = dict(zip(names + ["session", "request"], args))
    bound.update(kwargs)
    return bound


def run_training(*args, **kwargs):
    """/train for scripts: streams (loss plot, accuracy plot, status, checkpoint zip, metrics CSV); a bad setting
    is an error."""
    b = _bind(TRAIN_PARAMETERS, args, kwargs)
    try:
        for f in training({k: b.get(k) for k in SETTINGS}, b.get("mode"), None, b.get("session"), b.get("request")):
            yield f.loss, f.accuracy, f.status, f.checkpoint, f.metrics, f.session
    except SettingsError as e:
        raise as_error(e) from None


def train_on_page(*args, **kwargs):
    """The Train button: as /train, plus the live preview; a bad setting is one sentence beside the button,
    and what the page shows stays as it was."""
    b = _bind(TRAIN_PARAMETERS + ["watch"], args, kwargs)
    try:
        for f in training({k: b.get(k) for k in SETTINGS}, b.get("mode"), b.get("watch"), b.get("session"),
                          b.get("request")):
            yield (f.loss, f.accuracy, f.status, download(f.checkpoint), download(f.metrics), f.session, f.preview,
                   f.message, gr.update(visible=False), gr.update(visible=True))
    except SettingsError as e:
        yield (*[gr.skip()] * 7, say(str(e)), gr.skip(), gr.skip())


def download(path):
    """A download button's update: the file when there is one, hidden when there is none."""
    if path is None or isinstance(path, str):
        return gr.update(value=path, visible=path is not None)
    return path  # gr.skip()


def _with_signature(fn, names: list[str]):
    """Give `fn` the named parameters it documents (the settings' names, then `mode`...), so Gradio's API page
    and gradio_client's keyword arguments follow the settings table."""
    P = inspect.Parameter
    params = [P(name, P.POSITIONAL_OR_KEYWORD) for name in names + ["session"]]
    fn.__signature__ = inspect.Signature(params + [P("request", P.POSITIONAL_OR_KEYWORD, annotation=gr.Request)])
    fn.__annotations__ = {"request": gr.Request}  # what Gradio reads to pass the request in
    return fn


_with_signature(run_training, TRAIN_PARAMETERS)
_with_signature(train_on_page, TRAIN_PARAMETERS + ["watch"])


def stop_training(request: gr.Request):
    """/stop: ask this session's training to stop; it finishes the current step and keeps the model."""
    active = RUNNING.get(session_key(request))
    if active is None:
        return "Nothing is training."
    active.run.stop()
    return "Stopping…"


def stop_on_page(session, request: gr.Request):
    """The Stop button: as /stop, but a run that has already ended keeps its result on the page."""
    if session_key(request) in RUNNING:
        return stop_training(request)
    gr.Info("Nothing is training.")
    return gr.skip()



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
        s = SETTINGS[name]
        value = getattr(model_config, name)
        if not s.low <= value <= s.high:
            raise ValueError(f"its model has {s.short.lower()} {value}; this app allows {s.low:g}–{s.high:g}")
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


def read_upload(file, session, request: gr.Request):
    """A checkpoint zip (as downloaded from the Train tab), checked and loaded; the file is deleted either way."""
    if not file or not isinstance(file, str):
        raise problem("Choose a checkpoint .zip first.", "No file")
    path = Path(file)
    try:
        name = path.name if len(path.name) <= 60 else path.name[:57] + "…"
        if session_key(request) in RUNNING:
            raise problem("Stop the training first: loading replaces this session's model.", "Training")
        try:
            if path.stat().st_size > MAX_UPLOAD_BYTES:
                raise CheckpointError(f"it is larger than {MAX_UPLOAD_MB:g} MB")
            checkpoint = load_checkpoint_zip(path, max_weights_bytes=MAX_UPLOAD_BYTES, check=upload_check)
        except (CheckpointError, OSError) as e:
            text = str(e) if isinstance(e, CheckpointError) else "the file could not be read"
            raise problem(f"Cannot load {name}: {text}. Your current model is unchanged.", "Cannot load") from None
    finally:
        _delete_upload(path)
    session = session_of(session, request)
    session.adopt(checkpoint, f"uploaded {name}")
    return session, name


def loaded_sentence(session: Session, name: str) -> str:
    return (f"Loaded {name}: {describe_model(session.model)}; task "
            f"{views.describe_task(session.task, markdown=False)}; step {session.history.last_step:,}. The Decode tab "
            f"uses it; Train continues it" + ("" if session.state is not None else " (with a fresh optimizer: this "
                                                                                  "file carries none)") + ".")


@guarded
def load_uploaded(file, session, request: gr.Request):
    """/load: a checkpoint zip becomes this session's model."""
    session, name = read_upload(file, session, request)
    return session, loaded_sentence(session, name)


@guarded
def load_on_page(file, session, request: gr.Request):
    """Load a checkpoint from the page: it becomes the session's model everywhere. The form takes its settings
    (so Train continues it), the plots show its curve, the status its step."""
    try:
        session, name = read_upload(file, session, request)
    except gr.Error as e:
        return (gr.skip(), message_html(e.message), *[gr.skip()] * (len(SETTINGS) + 6))
    c, spec = session.model.config, session.task.spec
    values = {"task": spec.name, "min_len": spec.min_len, "max_len": spec.max_len, "cell": c.cell,
              "emb_dim": c.emb_dim, "hidden_dim": c.hidden_dim, "n_layers": c.n_layers, "dropout": c.dropout,
              "attention": str(c.attention), "bidirectional": c.bidirectional, "arch": c.arch, "heads": c.heads}
    saved = session.train_config or {}
    for key in ("batch_size", "lr", "teacher_forcing", "lr_decay", "seed", "warmup", "schedule"):  # as trained
        try:
            if key in saved:
                s = SETTINGS[key]
                values[key] = (settings.choice(s, saved[key]) if s.choices else settings.flag(s, saved[key])
                               if s.widget == "checkbox" else settings.number(s, saved[key]))
        except SettingsError:
            pass
    loss, accuracy = plots(session)
    if not session.history.losses:  # a LinePlot draws only the series of its first data: wait for a training loss
        loss = None
    sentence = loaded_sentence(session, name)
    status = f"{sentence} Press Train to continue it from step {session.history.last_step:,}."
    return (session, message_html(sentence, "info"), *form_values(values), "continue",
            loss, accuracy, status, gr.update(visible=loss is None and accuracy is None),
            gr.update(visible=loss is not None or accuracy is not None))
# ---------------------------------------------------------------- decoding


def pick_model(choice: str, train_task: str, session: Session | None, request: gr.Request | None):
    """(model, task, sentence saying which model) for the Decode tab's model choice. "Automatic" uses a model
    for the Train tab's task: the session's own when it learns that task, else the bundled one."""
    if choice not in CHOICE_VALUES:
        raise problem("Model must be one of the menu's choices.", "Unknown model")
    if train_task not in TASK_NAMES:
        raise problem(f"Task must be one of {', '.join(TASK_NAMES)}.", "Unknown task")
    if session is not None and not isinstance(session, Session):
        raise problem("This session's state is not valid; reload the page.", "Reload")
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
            note = f"your model ({session.source}, step {session.history.last_step:,})"
        return model, session.task, f"Decoding with {note}: {describe_model(model)}; {views.describe_task(session.task)}"
    name = choice.removeprefix("bundled:") if choice != AUTO else train_task
    if name not in BUNDLED:
        why = " (it cannot be learned)" if name == "random" else ""
        raise problem(f"There is no bundled model for {name}{why}. Train one on the Train tab, or pick one of: "
                      f"{', '.join(BUNDLED)}.", "No model for this task")
    checkpoint = BUNDLED[name]
    score = checkpoint.training.get("exact_match")
    scored = f", {score:.1%} held-out exact match" if isinstance(score, float) else ""
    yours = (f" (your model learns {session.task.name}; pick “Your model” to use it)"
             if choice == AUTO and trained and session.task is not None else "")
    return (checkpoint.model, checkpoint.task, f"Decoding with the bundled **{name}** model "
            f"({describe_model(checkpoint.model)}{scored}){yours}; {views.describe_task(checkpoint.task)}")


STRATEGIES = [("Greedy", "greedy"), ("Beam search", "beam"), ("Sampling", "sampling")]
MAX_SAMPLE_K = 20  # "sample from the top k": more is all of a toy vocabulary


def read_strategy(kind, width=5, temperature=1.0, sample_k=0, top_p=1.0, seed=0) -> Strategy:
    """The Decode tab's strategy controls as a Strategy, or a gr.Error naming the bad value."""
    if kind not in KINDS:
        raise problem(f"Strategy must be one of {', '.join(KINDS)} (you gave {str(kind)[:20]!r}).", "Unknown strategy")
    try:
        if kind == "beam":
            return Strategy("beam", width=settings.in_range("Beam width", width, True, 1, 10, "Check the input"))
        if kind == "sampling":
            k = settings.in_range("Sample from the top k", sample_k, True, 0, MAX_SAMPLE_K, "Check the input")
            return Strategy("sampling", temperature=settings.in_range("Temperature", temperature, False, 0.05, 5,
                                                                      "Check the input"),
                            top_k=k or None, top_p=settings.in_range("Top-p", top_p, False, 0.01, 1, "Check the input"),
                            seed=settings.in_range("Seed", seed, True, 0, 2**31 - 1, "Check the input"))
    except SettingsError as e:
        raise as_error(e) from None
    return Strategy("greedy")


def check_source(source) -> None:
    """A gr.Error unless `source` is text a model could be given (before choosing a model)."""
    if not isinstance(source, str) or not source.strip():
        raise problem("Type a source sequence to decode, e.g. 3 1 4 1 5 9.", "Nothing to decode")
    if len(source) > MAX_SOURCE_CHARS:
        raise problem(f"The source is {len(source):,} characters long; at most {MAX_SOURCE_CHARS:,} are allowed.",
                      "Cannot decode")


def parse_source(source: str, task: Task) -> list[str]:
    """The source's tokens for the task's vocabulary, or a gr.Error saying which tokens it does not know."""
    try:
        return task.vocab.parse(source)
    except ValueError as e:
        raise problem(f"{str(e)[0].upper()}{str(e)[1:]}.", "Cannot decode") from None


def decoded_views(source: str, model_choice, top_k, train_task, session, request, strategy: Strategy):
    """Decode `source` with `strategy`: (output, verdict, step table, heatmap, attention, player, Decoded, model
    sentence, beam tree)."""
    check_source(source)
    try:
        k = settings.in_range("Top-k alternatives", top_k, True, 1, 10, "Check the input")
    except SettingsError as e:
        raise as_error(e) from None
    model, task, info = pick_model(model_choice, train_task, session, request)
    tokens = parse_source(source, task)
    trace, search = strategies.run(model, task.vocab, tokens, strategy, top_k=10)
    decoded = views.Decoded(trace, task.expected(tokens), shown_tokens(task), itos=task.vocab.itos)
    tree = views.beam_tree_html(search, decoded.expected) if search is not None else EMPTY_TREE
    k = min(k, len(decoded.tokens))
    return (trace.output, views.verdict_html(decoded), views.steps_frame(decoded, k), views.distribution_html(decoded),
            views.attention_html(decoded), views.playback_html(decoded), decoded,
            f"{info}. Strategy: {strategy.describe()}.", tree)


def shown_tokens(task: Task) -> list[str]:
    """The tokens a model can choose, in the order the views show them (no padding, start or unknown)."""
    return [t for t in task.vocab.itos if t not in ("<pad>", "<sos>", "<unk>")]


@guarded
def decode(source: str, model_choice: str = AUTO, top_k: int = 3, train_task: str = "reverse",
           strategy: str = "greedy", width: int = 5, temperature: float = 1.0, sample_k: int = 0,
           top_p: float = 1.0, seed: int = 0, session: Session | None = None, request: gr.Request = None):
    """/decode: the output string first, then the verdict, step table, heatmap, attention, player, the beam tree
    (beam search only), and last which model (and strategy)."""
    chosen = read_strategy(strategy, width, temperature, sample_k, top_p, seed)
    output, verdict, table, heat, attention, player, _, info, tree = decoded_views(
        source, model_choice, top_k, train_task, session, request, chosen)
    return output, verdict, table, heat, attention, player, tree, info


def decode_on_page(source, model_choice, top_k, train_task, strategy, width, temperature, sample_k, top_p, seed,
                   session, request: gr.Request):
    """The Decode button: as /decode, but a bad source is one sentence under the box, and the old result goes.
    Beam search opens the beam tree; otherwise the step-by-step view."""
    try:
        chosen = read_strategy(strategy, width, temperature, sample_k, top_p, seed)
        output, verdict, table, heat, attention, player, decoded, info, tree = decoded_views(
            source, model_choice, top_k, train_task, session, request, chosen)
    except gr.Error as e:
        return ("", EMPTY_VERDICT, None, "", "", EMPTY_PLAYER, None, gr.skip(), EMPTY_TREE, EMPTY_WHAT_IF,
                gr.skip(), gr.update(visible=False), say(e.message))
    view = "view-tree" if chosen.kind == "beam" else "view-steps"
    heads = views.head_choices(decoded)
    head = gr.update(choices=heads or [(views.AVERAGE, views.AVERAGE)], value=views.AVERAGE, visible=bool(heads))
    return (output, verdict, table, heat, attention, player, decoded, info, tree, EMPTY_WHAT_IF,
            gr.Tabs(selected=view), head, say())


def what_if_views(decoded, step, token, model_choice, train_task, session, request) -> str:
    """The last decoding beside the same one with `token` forced at `step` (from 1), as HTML."""
    if not isinstance(decoded, views.Decoded):
        raise problem("Decode a source first, then click an alternative token to see what if.", "Nothing decoded")
    model, task, _ = pick_model(model_choice, train_task, session, request)
    if shown_tokens(task) != decoded.tokens:
        raise problem("The model changed since this decoding: press Decode again.", "Decode again")
    try:
        step = int(step)
        changed = strategies.what_if(model, task.vocab, decoded.trace, step, str(token))
    except (TypeError, ValueError) as e:
        raise problem(f"Cannot force that: {e}.", "Cannot force") from None
    forced = views.Decoded(changed, decoded.expected, decoded.tokens, forced=step, itos=task.vocab.itos)
    return views.what_if_html(decoded, forced)


@guarded
def what_if(source: str, step: int, token: str, model_choice: str = AUTO, train_task: str = "reverse",
            strategy: str = "greedy", width: int = 5, temperature: float = 1.0, sample_k: int = 0,
            top_p: float = 1.0, seed: int = 0, session: Session | None = None, request: gr.Request = None):
    """/what_if: decode `source` as /decode would, then again with `token` forced at `step` (from 1) and greedy
    after it; both side by side, as HTML."""
    chosen = read_strategy(strategy, width, temperature, sample_k, top_p, seed)
    *_, decoded, _, _ = decoded_views(source, model_choice, 3, train_task, session, request, chosen)
    return what_if_views(decoded, step, token, model_choice, train_task, session, request)


def what_if_on_page(decoded, model_choice, train_task, session, evt: gr.EventData, request: gr.Request):
    """A click on an alternative token (heatmap cell, player bar or step-table cell): what if it was chosen."""
    data = getattr(evt, "_data", None)
    if isinstance(data, dict) and "index" in data:  # the step table's select: a "#k" cell of a row
        index, frame_row = data.get("index"), data.get("row_value")
        column = index[1] if isinstance(index, (list, tuple)) and len(index) == 2 else None
        token = (views.alternative_at(frame_row, column)
                 if isinstance(frame_row, list) and isinstance(column, int) and frame_row else None)
        if token is None:
            return gr.skip(), gr.skip(), say()
        data = {"step": frame_row[0], "token": token}
    if not isinstance(data, dict) or "step" not in data or "token" not in data:
        return gr.skip(), gr.skip(), say()
    try:
        html = what_if_views(decoded, data["step"], data["token"], model_choice, train_task, session, request)
    except gr.Error as e:
        return gr.skip(), gr.skip(), say(e.message)
    return html, gr.Tabs(selected="view-what-if"), say()


EMPTY_VERDICT = ('<p class="legend" id="decode-empty">Press <b>Decode</b> (or click an example) to see the '
                 "model’s answer, marked right or wrong, and how it chose each token.</p>")
EMPTY_PLAYER = '<p class="legend">The decoding, one step at a time, appears here.</p>'
EMPTY_TREE = ('<p class="legend" id="beam-empty">Choose <b>Beam search</b> as the strategy and press Decode: the '
              'tree of every hypothesis it tried, kept and dropped, appears here.</p>')
EMPTY_WHAT_IF = ('<p class="legend" id="what-if-empty">Click any token in the probabilities, a bar in the Steps '
                 'view or a “#” cell of the step table: the decoding is run again with that token '
                 'forced at that step, and shown beside the original.</p>')


def top_k_changed(decoded, top_k):
    """Top-k moved: the step table again from the last decoding, without decoding again."""
    if not isinstance(decoded, views.Decoded):
        return gr.skip()
    try:
        k = settings.in_range("Top-k alternatives", top_k, True, 1, 10, "Check the input")
    except SettingsError:
        return gr.skip()
    return views.steps_frame(decoded, min(k, len(decoded.tokens)))


def attention_head_changed(decoded, head):
    """A Transformer's attention map for one layer's head, or the average, from the last decoding."""
    if not isinstance(decoded, views.Decoded) or head not in {value for _, value in views.head_choices(decoded)}:
        return gr.skip()
    return views.attention_html(decoded, head)


def strategy_changed(kind):
    """Show the controls of the chosen strategy only."""
    return gr.update(visible=kind == "beam"), *[gr.update(visible=kind == "sampling")] * 4


@guarded
def pick_example(sample):
    if not isinstance(sample, (list, tuple)) or not sample or not isinstance(sample[0], str):
        raise problem("Pick one of the examples.", "Unknown example")
    return sample[0][:MAX_SOURCE_CHARS]


def example_sources(choice: str, train_task: str, session: Session | None, request: gr.Request = None):
    """A few held-out sources (never seen in training) for the model the Decode tab would use."""
    try:
        _, task, info = pick_model(choice, train_task, session, request)
    except gr.Error as e:
        return gr.Dataset(samples=[]), e.message
    samples = [[" ".join(ex.source)] for ex in validation_set(task, 5, seed=7)]
    return gr.Dataset(samples=samples), info
# ---------------------------------------------------------------- comparing two models

_BY_LENGTH: dict[tuple, list] = {}  # (bundled model, task, lengths) -> rows: bundled models never change


def by_length(choice: str, model: Seq2Seq, task: Task, lengths: range) -> list:
    key = (choice, task.name, lengths.start, lengths.stop)
    if choice.startswith("bundled:") and key in _BY_LENGTH:
        return _BY_LENGTH[key]
    rows = accuracy_by_length(model, task.name, lengths, task.spec, BY_LENGTH_N)
    if choice.startswith("bundled:"):
        _BY_LENGTH[key] = rows
    return rows


def model_label(choice: str) -> str:
    return "your model" if choice == SESSION else choice.removeprefix("bundled:")


def compare_views(source, choice_a, choice_b, session, request):
    """Both models' answers to `source` (greedy, marked, with attention) and their held-out exact match at each
    source length, from the shortest either was trained on to BY_LENGTH_MORE past the longest."""
    for choice in (choice_a, choice_b):
        if choice not in {v for _, v in COMPARE_CHOICES}:
            raise problem("Each model must be one of the menu's choices.", "Unknown model")
    if choice_a == choice_b:
        raise problem("Pick two different models to compare.", "Same model")
    check_source(source)
    (model_a, task_a, _), (model_b, task_b, _) = (pick_model(c, "reverse", session, request)
                                                  for c in (choice_a, choice_b))
    if task_a.name != task_b.name:
        raise problem(f"Model A learns {task_a.name} and model B {task_b.name}: pick two models for the same task.",
                      "Different tasks")
    tokens = parse_source(source, task_a)
    names = {f"A: {model_label(choice_a)}": (choice_a, model_a, task_a),
             f"B: {model_label(choice_b)}": (choice_b, model_b, task_b)}
    cap = 9 if task_a.name == "addition" else 50
    lengths = range(min(task_a.spec.min_len, task_b.spec.min_len),
                    min(cap, max(task_a.spec.max_len, task_b.spec.max_len) + BY_LENGTH_MORE) + 1)
    panels, results = [], {}
    for which, (name, (choice, model, task)) in zip("ab", names.items()):
        trace = greedy_decode(model, task.vocab, tokens, top_k=3)
        decoded = views.Decoded(trace, task.expected(tokens), shown_tokens(task), itos=task.vocab.itos)
        panels.append(views.compare_html(f"{name} — {describe_model(model)}", decoded, which))
        results[name] = (task.spec, by_length(choice, model, task, lengths))
    same_range = task_a.spec.max_len == task_b.spec.max_len
    frame = views.by_length_frame({name: rows for name, (_, rows) in results.items()},
                                  task_a.spec.max_len if same_range else None)
    return panels[0], panels[1], frame, views.by_length_note(results)


@guarded
def compare(source: str, model_a: str = COMPARE_DEFAULTS[0], model_b: str = COMPARE_DEFAULTS[1],
            session: Session | None = None, request: gr.Request = None):
    """/compare: each model's answer (HTML), their exact match by source length (a table) and a note."""
    return compare_views(source, model_a, model_b, session, request)


def compare_on_page(source, model_a, model_b, session, request: gr.Request):
    try:
        a, b, frame, note = compare_views(source, model_a, model_b, session, request)
    except gr.Error as e:
        return EMPTY_COMPARE, "", None, "", say(e.message)
    return a, b, frame, note, say()


EMPTY_COMPARE = ('<p class="legend" id="compare-empty">Pick two models for the same task and press <b>Compare</b>: '
                 "both decode the source side by side, with their attention, and the chart shows how often each is "
                 "exactly right at every source length, including lengths longer than any it was trained on.</p>")

# A click on a token in the heatmap or a bar in the player asks "what if it had been chosen here?"
CLICK_TOKEN = """
element.addEventListener('click', (e) => {
  const cell = e.target.closest('[data-token]');
  if (!cell) return;
  const row = cell.closest('[data-step]');
  const step = +(cell.dataset.step || (row && row.dataset.step));
  if (step) trigger('click', {step: step, token: cell.dataset.token});
});
"""
# ---------------------------------------------------------------- layout

CSS = """
#title h2 { margin: 0; font-size: 1.25em; } #title p { margin: 0; opacity: 0.8; }
.heatmap { border-collapse: collapse; font-size: 0.85em; margin: 0.25em 0; }
.heatmap th, .heatmap td { border: 1px solid rgba(128,128,128,0.25); padding: 2px 5px; text-align: center;
  min-width: 2.2em; white-space: nowrap; }
.heatmap tr[data-step] { cursor: pointer; }
.heatmap tr.s2s-current th, .heatmap tr.s2s-current td { box-shadow: inset 0 2px 0 #f59e0b, inset 0 -2px 0 #f59e0b; }
.heatmap tr.s2s-current th { background: #fde68a; color: #111; }
.scroll-x { overflow-x: auto; max-width: 100%; }
#decode-steps [role=row].s2s-current [role=gridcell] { background: #fde68a !important; color: #111; }
#decode-steps [role=gridcell] { cursor: pointer; }
#decode-steps [role=columnheader], #decode-steps th { white-space: nowrap; word-break: keep-all; }
.legend { font-size: 0.8em; opacity: 0.75; }
.bar { display: flex; align-items: center; gap: 0.5em; margin: 2px 0; }
.bar-label { width: 3.5em; text-align: right; font-family: monospace; }
.bar-fill { display: inline-block; height: 0.9em; max-width: 60%; }
.so-far span { margin-right: 0.35em; font-size: 1.2em; font-family: monospace; }
.s2s-controls { display: flex; align-items: center; gap: 0.4em; flex-wrap: wrap; margin-bottom: 0.3em; }
.s2s-controls button { border: 1px solid rgba(128,128,128,0.4); border-radius: 6px; padding: 2px 12px;
  background: rgba(128,128,128,0.08); }
.s2s-controls input[type=range] { flex: 1; min-width: 120px; }
.s2s-message.error { color: #b91c1c; font-weight: 600; }
.s2s-message.info { opacity: 0.85; }
.preview { border-collapse: collapse; font-size: 0.9em; width: 100%; }
.preview caption { text-align: left; font-weight: 600; padding-bottom: 2px; }
.preview th, .preview td { text-align: left; padding: 1px 8px 1px 0; white-space: nowrap; }
.diagram { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; font-size: 0.78em; margin: 4px 0; }
.diagram .box { border: 1px solid rgba(79,70,229,0.5); border-radius: 6px; padding: 2px 6px; text-align: center; }
.diagram .box span { opacity: 0.75; }
#empty-plots { min-height: 120px; display: flex; align-items: center; justify-content: center;
  border: 1px dashed rgba(128,128,128,0.4); border-radius: 8px; }
#train-status textarea { font-size: 0.95em; }
body { overflow-anchor: none; }  /* plots appearing under the status must not scroll the page */
@media (max-width: 640px) { #train-results, #compare-chart { order: -1; } }  /* on a phone: Train, status and plots first */
#decode-model-info p { margin: 0; }
.beam-tree text { font-size: 11px; text-anchor: middle; fill: currentColor; font-family: ui-monospace, monospace; }
.beam-tree text.head { font-size: 11px; opacity: 0.7; }
.beam-tree text.more { font-size: 11px; text-anchor: start; opacity: 0.6; }
.beam-tree rect { fill: rgba(79,70,229,0.12); stroke: rgba(79,70,229,0.45); }
.beam-tree .pruned { opacity: 0.4; }
.beam-tree .pruned rect { fill: rgba(128,128,128,0.1); stroke: rgba(128,128,128,0.5); stroke-dasharray: 3 2; }
.strip span { display: inline-block; min-width: 1.6em; text-align: center; font-family: monospace; margin-right: 2px;
  border-radius: 3px; }
.bar[data-token], #distribution-table td[data-token] { cursor: pointer; }
.bar[data-token]:hover { background: rgba(245,158,11,0.15); }
#what-if-table th { padding-right: 1em; white-space: nowrap; }
.compare h4 { margin: 0.2em 0; }
@media (max-width: 640px) { .heatmap { font-size: 0.75em; } .heatmap th, .heatmap td { padding: 1px 3px; min-width: 1.8em; } }
"""

# The step-by-step player runs in the page: every step's panel arrives with the decoding, so stepping needs no
# server round trip (two quick clicks cannot race) and the step table and both heatmaps highlight the same step.
JS = """
() => {
  const S = {t: 1, timer: null, body: null};
  const q = (sel) => document.querySelector(sel);
  const count = () => { const b = q('#playback-body'); return b ? +b.dataset.steps : 0; };
  function apply() {
    const body = q('#playback-body');
    if (!body) return;
    if (body !== S.body) { S.body = body; S.t = 1; stop(); }
    const t = S.t;
    body.querySelectorAll('.s2s-panel').forEach(p => { const h = +p.dataset.step !== t; if (p.hidden !== h) p.hidden = h; });
    const range = q('#playback-step'); if (range && +range.value !== t) range.value = t;
    const at = q('#playback-at'), text = t + ' / ' + count(); if (at && at.textContent !== text) at.textContent = text;
    document.querySelectorAll('#distribution-table tr[data-step], #attention-table tr[data-step]')
      .forEach(tr => tr.classList.toggle('s2s-current', +tr.dataset.step === t));
    document.querySelectorAll('#decode-steps [role=row]').forEach(row => {
      const cell = row.querySelector('[role=gridcell]');
      row.classList.toggle('s2s-current', !!cell && parseInt(cell.textContent) === t);
    });
  }
  function go(t) { const n = count(); if (!n) return; S.t = Math.max(1, Math.min(n, t)); apply(); }
  function stop() { if (S.timer) { clearInterval(S.timer); S.timer = null; } const b = q('#playback-play'); if (b && b.textContent !== 'Play') b.textContent = 'Play'; }
  function play() {
    if (S.timer) return stop();
    if (S.t >= count()) S.t = 0;
    go(S.t + 1);
    const b = q('#playback-play'); if (b) b.textContent = 'Pause';
    S.timer = setInterval(() => { if (S.t >= count()) return stop(); go(S.t + 1); }, 700);
  }
  document.addEventListener('click', e => {
    const button = e.target.closest('[data-s2s]');
    if (button) { const a = button.dataset.s2s; if (a === 'play') play(); else { stop(); go(S.t + (a === 'next' ? 1 : -1)); } return; }
    const cell = e.target.closest('#decode-steps [role=gridcell]');
    const row = cell && cell.closest('[role=row]');
    const first = row && row.querySelector('[role=gridcell]');
    if (first && parseInt(first.textContent)) { stop(); go(parseInt(first.textContent)); return; }
    const tr = e.target.closest('#distribution-table tr[data-step], #attention-table tr[data-step]');
    if (tr) { stop(); go(+tr.dataset.step); }
  });
  document.addEventListener('input', e => { if (e.target.id === 'playback-step') { stop(); go(+e.target.value); } });
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; apply(); });
  }).observe(document.body, {childList: true, subtree: true});
}
"""

# Bring what was asked for into view when it is not (on a phone the results sit below the form): scroll
# only if `room` pixels below the element's top (`narrow` on a phone) would not fit in the window.
def scroll_to(elem_id: str, room: int, narrow: int) -> str:
    return (f"() => {{ const e = document.getElementById('{elem_id}'); if (!e) return; "
            f"const r = e.getBoundingClientRect(), room = window.innerWidth < 640 ? {narrow} : {room}; "
            f"if (r.top < 0 || r.top + room > window.innerHeight) e.scrollIntoView({{block: 'start'}}); }}")


def passing(js: str) -> str:
    """`js` run as an event starts, handing the event's inputs on unchanged."""
    return f"(...args) => {{ ({js})(); return args; }}"


def form_field(s: settings.Setting, **kw) -> gr.components.Component:
    """The form's component for a setting, from its row in the table."""
    common = dict(label=s.label, info=s.info or None, elem_id=f"setting-{s.name.replace('_', '-')}", **kw)
    value = PRESETS[settings.DEFAULT_PRESET][s.name]
    if s.widget == "dropdown":
        return gr.Dropdown(list(s.choices), value=value, **common)
    if s.widget == "radio":
        return gr.Radio(list(s.choices), value=value, **common)
    if s.widget == "checkbox":
        return gr.Checkbox(value, **common)
    if s.widget == "slider":
        return gr.Slider(s.low, s.high, value=value, step=s.step, **common)
    return gr.Number(value, minimum=s.low, maximum=s.high, precision=0 if s.whole else None, **common)


with gr.Blocks(title="seq2seq playground", delete_cache=(60, 3600)) as demo:
    session_state = gr.State(None, time_to_live=SESSION_TTL, delete_callback=_forget_session)
    decoded_state = gr.State(None)
    gr.Markdown("## seq2seq playground\nTrain an LSTM encoder–decoder on a toy task, watch the loss fall, then watch "
                "it decode one token at a time (on the CPU, in seconds).", elem_id="title")
    d = PRESETS[settings.DEFAULT_PRESET]
    first_task = Task(make_spec(d["task"], d["min_len"], d["max_len"]))
    form: dict[str, gr.components.Component] = {}
    with gr.Tabs():
        with gr.Tab("Train", id="train", elem_id="train-tab"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=4, min_width=320, elem_id="train-settings"):
                    preset = gr.Radio(list(PRESETS), value=settings.DEFAULT_PRESET, label="Preset", elem_id="preset")
                    preset_note = gr.Markdown(settings.PRESET_NOTES[settings.DEFAULT_PRESET], elem_id="preset-note")
                    with gr.Row():
                        for name in ("task", "min_len", "max_len"):
                            form[name] = form_field(SETTINGS[name], min_width=90)
                    task_note = gr.Markdown(views.describe_task(first_task), elem_id="task-note")
                    groups = {"model": "Model", "training": "Training", "stopping": "When to stop"}
                    for group, title in groups.items():
                        with gr.Accordion(title, open=False, elem_id=f"settings-{group}"):
                            if group == "model":
                                diagram = gr.HTML(views.diagram_html(settings.model_config(d, len(first_task.vocab)),
                                                                     len(first_task.vocab)), elem_id="model-diagram-box")
                            with gr.Row():
                                for s in settings.form_order(SETTINGS, group):
                                    shown = model_fields_used(d["arch"]).get(s.name, True)
                                    form[s.name] = form_field(s, min_width=140, visible=shown)
                    with gr.Accordion("Watch these sources while it trains", open=False, elem_id="watch-box"):
                        watch = gr.Textbox(watch_default(first_task), lines=4, max_lines=6, show_label=False,
                                           info="One source per line (at most 6): their answers are shown live.",
                                           elem_id="watch-sources")
                    with gr.Accordion("Save or load a model", open=False, elem_id="save-load"):
                        with gr.Row():
                            checkpoint_file = gr.DownloadButton("Checkpoint (.zip)", visible=False,
                                                                elem_id="download-checkpoint", size="sm")
                            metrics_file = gr.DownloadButton("Metrics (.csv)", visible=False,
                                                             elem_id="download-metrics", size="sm")
                            upload = gr.UploadButton("Load a checkpoint (.zip)", file_types=[".zip"], size="sm",
                                                     elem_id="upload-checkpoint")
                        upload_status = gr.HTML(message_html("A checkpoint downloaded here loads back as your model: "
                                                             "decode with it, or train it further.", "info"),
                                                elem_id="upload-status")
                with gr.Column(scale=7, min_width=320, elem_id="train-results"):
                    with gr.Row(equal_height=True):
                        mode = gr.Radio(list(settings.MODES), value="continue", label="When you press Train",
                                        elem_id="train-mode", scale=3, min_width=170)
                        train_button = gr.Button("Train", variant="primary", elem_id="train-button", scale=1,
                                                 min_width=70)
                        stop_button = gr.Button("Stop", variant="stop", elem_id="stop-button", scale=1, min_width=70)
                    settings_message = gr.HTML("", elem_id="settings-message", visible=False)
                    status = gr.Textbox(label="Status", value="Not trained yet: press Train.", interactive=False,
                                        elem_id="train-status", lines=2, max_lines=3)
                    empty_plots = gr.Markdown("Press **Train** to see the loss fall and the held-out accuracy rise "
                                              "(held-out: sources never used for training).", elem_id="empty-plots")
                    with gr.Row(visible=False, elem_id="plots") as plot_row:
                        loss_plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss",
                                                color_map=views.LOSS_COLOURS, elem_id="loss-plot", height=230,
                                                min_width=280)
                        accuracy_plot = gr.LinePlot(None, x="step", y="percent", color="series",
                                                    title="Held-out accuracy, %", y_lim=[0, 100],
                                                    color_map=views.ACCURACY_COLOURS, elem_id="accuracy-plot",
                                                    height=230, min_width=280)
                    log_scale = gr.Checkbox(False, label="Loss on a log scale (log₁₀)", elem_id="log-scale",
                                            container=False)
                    preview = gr.HTML(views.preview_html(preview_rows(first_task, [s.split() for s in
                                                                                   watch_default(first_task).split("\n")],
                                                                      None)), elem_id="preview", elem_classes="scroll-x")

        with gr.Tab("Decode", id="decode", elem_id="decode-tab"):
            with gr.Row(equal_height=True):
                source = gr.Textbox("3 1 4 1 5 9", label="Source (tokens separated by spaces)",
                                    elem_id="decode-input", scale=4, min_width=200)
                decode_button = gr.Button("Decode", variant="primary", elem_id="decode-button", scale=1,
                                          min_width=90)
                model_choice = gr.Dropdown(MODEL_CHOICES, value=AUTO, label="Model", elem_id="decode-model",
                                           scale=4, min_width=200)
                strategy = gr.Dropdown(STRATEGIES, value="greedy", label="Strategy", elem_id="decode-strategy",
                                       scale=2, min_width=130)
            decode_message = gr.HTML("", elem_id="decode-message", visible=False)
            with gr.Row(equal_height=True):
                examples = gr.Dataset(components=[source], samples=[],
                                      label="Held-out examples: click one to decode it", elem_id="decode-examples",
                                      scale=5)
                top_k = gr.Slider(1, 10, value=3, step=1, label="Top-k shown", elem_id="decode-topk",
                                  scale=2, min_width=140)
                width = gr.Slider(1, 10, value=5, step=1, label="Beam width", elem_id="decode-width", scale=2,
                                  min_width=140, visible=False)
                temperature = gr.Slider(0.05, 5, value=1.0, step=0.05, label="Temperature", elem_id="decode-temperature",
                                        scale=2, min_width=140, visible=False,
                                        info="Below 1: sharper, above 1: flatter")
                sample_k = gr.Slider(0, MAX_SAMPLE_K, value=0, step=1, label="Sample from top k (0: all)",
                                     elem_id="decode-sample-k", scale=2, min_width=140, visible=False)
                top_p = gr.Slider(0.01, 1, value=1.0, step=0.01, label="Top-p", elem_id="decode-top-p", scale=2,
                                  min_width=140, visible=False, info="Smallest set of tokens this probable")
                sample_seed = gr.Number(0, precision=0, minimum=0, label="Seed", elem_id="decode-seed", scale=1,
                                        min_width=90, visible=False)
            model_info = gr.Markdown(elem_id="decode-model-info", elem_classes="legend")
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=320):
                    verdict = gr.HTML(EMPTY_VERDICT, elem_id="decode-verdict")
                    steps_table = gr.Dataframe(label="Decoding steps (click a row to see that step, a # cell to "
                                                     "force that token)", interactive=False,
                                               elem_id="decode-steps", max_height=300)
                with gr.Column(scale=6, min_width=320):
                    with gr.Tabs(selected="view-steps", elem_id="decode-views") as decode_views:
                        with gr.Tab("Steps", id="view-steps", elem_id="view-steps"):
                            playback = gr.HTML(EMPTY_PLAYER, elem_id="playback", js_on_load=CLICK_TOKEN)
                        with gr.Tab("Probabilities", id="view-probabilities", elem_id="view-probabilities"):
                            distribution = gr.HTML("", elem_id="decode-distribution", elem_classes="scroll-x",
                                                   js_on_load=CLICK_TOKEN)
                        with gr.Tab("Attention", id="view-attention", elem_id="view-attention"):
                            attention_head = gr.Dropdown([(views.AVERAGE, views.AVERAGE)], value=views.AVERAGE,
                                                         label="Which attention (Transformer)", visible=False,
                                                         elem_id="decode-attention-head")
                            attention_map = gr.HTML("", elem_id="decode-attention", elem_classes="scroll-x")
                        with gr.Tab("Beams", id="view-tree", elem_id="view-tree"):
                            beam_tree = gr.HTML(EMPTY_TREE, elem_id="beam-tree")
                        with gr.Tab("What if", id="view-what-if", elem_id="view-what-if"):
                            what_if_box = gr.HTML(EMPTY_WHAT_IF, elem_id="what-if")
            output = gr.Textbox(visible=False, elem_id="decode-output")  # /decode's first value, for scripts

        with gr.Tab("Compare", id="compare", elem_id="compare-tab"):
            with gr.Row(equal_height=True):
                compare_source = gr.Textbox("3 1 4 1 5 9 2 6 5 3 5 8 9 7", label="Source (try one longer than trained)",
                                            elem_id="compare-input", scale=4, min_width=200)
                model_a = gr.Dropdown(COMPARE_CHOICES, value=COMPARE_DEFAULTS[0], label="Model A",
                                      elem_id="compare-model-a", scale=3, min_width=180)
                model_b = gr.Dropdown(COMPARE_CHOICES, value=COMPARE_DEFAULTS[1], label="Model B",
                                      elem_id="compare-model-b", scale=3, min_width=180)
                compare_button = gr.Button("Compare", variant="primary", elem_id="compare-button", scale=1,
                                           min_width=90)
            compare_message = gr.HTML("", elem_id="compare-message", visible=False)
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=320):
                    compare_a = gr.HTML(EMPTY_COMPARE, elem_id="compare-a", elem_classes="scroll-x")
                    compare_b = gr.HTML("", elem_id="compare-b", elem_classes="scroll-x")
                with gr.Column(scale=5, min_width=320, elem_id="compare-chart"):
                    by_length_plot = gr.LinePlot(None, x=views.BY_LENGTH_COLUMNS[0], y=views.BY_LENGTH_COLUMNS[1],
                                                 color=views.BY_LENGTH_COLUMNS[2], y_lim=[0, 100],
                                                 title="Exact match by source length", color_map=COMPARE_COLOURS,
                                                 elem_id="by-length-plot", height=260)
                    by_length_note = gr.Markdown(elem_id="by-length-note", elem_classes="legend")

    # scripts' endpoints: the same handlers, raising errors (the page shows them as one sentence instead)
    with gr.Row(visible=False):
        api_train, api_stop, api_decode, api_load, api_what_if, api_compare = (gr.Button(visible=False)
                                                                                for _ in range(6))
        api_step = gr.Number(visible=False, precision=0)
        api_token = gr.Textbox(visible=False)
        api_file = gr.File(visible=False)
        api_message = gr.Textbox(visible=False)

    settings_inputs = [form[name] for name in SETTINGS]
    as_sent(*settings_inputs, mode, preset, model_choice, top_k, strategy, width, temperature, sample_k, top_p,
            sample_seed, model_a, model_b, api_step, attention_head)
    upload._process_single_file = api_file._process_single_file = upload_path  # Gradio's own leave an empty temp file per upload
    guard_input(examples, "Pick one of the examples.")
    private = dict(api_visibility="private")

    preset.change(guarded(apply_preset), preset,
                  settings_inputs + [preset_note, task_note, watch, diagram, settings_message], **private)
    form["task"].input(guarded(task_changed), form["task"],
                       [form["min_len"], form["max_len"], task_note, watch], **private)
    for name in ("min_len", "max_len"):
        form[name].change(guarded(lengths_changed),
                          [form["task"], form["min_len"], form["max_len"]], task_note, **private)
    for name in (*settings.MODEL_FIELDS, "task"):
        form[name].change(guarded(model_changed), [form[n] for n in (*settings.MODEL_FIELDS, "task", "min_len", "max_len")],
                          [diagram, *[form[n] for n in settings.MODEL_FIELDS]], **private, show_progress="hidden")
    watch.change(guarded(preview_changed),
                 [watch, form["task"], form["min_len"], form["max_len"]], [preview, settings_message], **private,
                 show_progress="hidden")
    log_scale.change(guarded(redraw), [log_scale, session_state], loss_plot, **private)

    train_outputs = [loss_plot, accuracy_plot, status, checkpoint_file, metrics_file, session_state]
    training_group = dict(concurrency_limit=MAX_TRAININGS, concurrency_id="train")
    train_event = train_button.click(guarded(train_on_page),
                                     settings_inputs + [mode, watch, session_state],
                                     train_outputs + [preview, settings_message, empty_plots, plot_row],
                                     show_progress_on=[status], js=passing(scroll_to("train-status", 440, 790)),
                                     **private, **training_group)
    api_train.click(guarded(run_training), settings_inputs + [mode, session_state],
                    train_outputs, api_name="train", **training_group)
    stop_button.click(guarded(stop_on_page), session_state, status, queue=False, **private)
    api_stop.click(guarded(stop_training), None, api_message, api_name="stop", queue=False)
    upload.upload(load_on_page, [upload, session_state],
                  [session_state, upload_status, *settings_inputs, mode, loss_plot, accuracy_plot, status,
                   empty_plots, plot_row], **private)
    api_load.click(load_uploaded, [api_file, session_state], [session_state, api_message], api_name="load")

    refresh_examples = dict(fn=guarded(example_sources),
                            inputs=[model_choice, form["task"], session_state], outputs=[examples, model_info],
                            **private)
    train_event.then(**refresh_examples)
    model_choice.change(**refresh_examples)
    form["task"].change(**refresh_examples)
    upload.upload(**refresh_examples)
    demo.load(**refresh_examples)

    decoding = dict(concurrency_id="decode", concurrency_limit=8)  # decoding never waits behind training
    strategy_inputs = [strategy, width, temperature, sample_k, top_p, sample_seed]
    strategy.change(strategy_changed, strategy, strategy_inputs[1:], **private, show_progress="hidden")
    decode_inputs = [source, model_choice, top_k, form["task"], *strategy_inputs, session_state]
    page_outputs = [output, verdict, steps_table, distribution, attention_map, playback, decoded_state, model_info,
                    beam_tree, what_if_box, decode_views, attention_head, decode_message]
    on_page = guarded(decode_on_page)
    for trigger in (decode_button.click, source.submit):
        trigger(on_page, decode_inputs, page_outputs, js=passing(scroll_to("decode-verdict", 300, 400)), **private,
                **decoding)
    examples.click(pick_example, examples, source, **private).then(on_page, decode_inputs, page_outputs, **private,
                                                                   **decoding)
    api_decode.click(decode, decode_inputs, [output, verdict, steps_table, distribution, attention_map, playback,
                                             beam_tree, model_info], api_name="decode", **decoding)
    top_k.change(guarded(top_k_changed), [decoded_state, top_k], steps_table, **private,
                 show_progress="hidden")
    attention_head.change(guarded(attention_head_changed), [decoded_state, attention_head], attention_map, **private,
                          show_progress="hidden")
    what_if_inputs = [decoded_state, model_choice, form["task"], session_state]
    what_if_outputs = [what_if_box, decode_views, decode_message]
    for trigger in (distribution.click, playback.click, steps_table.select):
        trigger(guarded(what_if_on_page), what_if_inputs, what_if_outputs, **private, **decoding)
    api_what_if.click(what_if, [source, api_step, api_token, model_choice, form["task"], *strategy_inputs,
                                session_state], what_if_box, api_name="what_if", **decoding)
    compare_button.click(guarded(compare_on_page), [compare_source, model_a, model_b, session_state],
                         [compare_a, compare_b, by_length_plot, by_length_note, compare_message], **private,
                         js=passing(scroll_to("compare-chart", 300, 320)), **decoding)
    api_compare.click(compare, [compare_source, model_a, model_b, session_state],
                      [compare_a, compare_b, by_length_plot, by_length_note], api_name="compare", **decoding)
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
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), ssr_mode=False, css=CSS, js=JS,
                theme=gr.themes.Soft(primary_hue="indigo"), max_file_size=MAX_UPLOAD_BYTES,
                state_session_capacity=MAX_GRADIO_SESSIONS,
                app_kwargs={"middleware": [Middleware(BodyLimit, other_bytes=int(MAX_REQUEST_KB * 1000),
                                                      upload_bytes=MAX_UPLOAD_BYTES)]})


if __name__ == "__main__":
    main()
