"""A Train click (or a /train call): check the settings, start a worker process, stream what it reports as
`Frame`s until it ends, and keep its model in the session. The session changes only once the run has started;
a run nobody reads is stopped, and one that ignores Stop is killed."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import gradio as gr
from gradio.utils import get_upload_folder

from seq2seq import TASK_NAMES, DoneEvent, EvalEvent, ModelConfig, Task, TrainConfig, make_spec, validation_set
from seq2seq.controls import DATA_TASK
from seq2seq.data import task_to_dict
from seq2seq.history import History

from . import limits, pace, runs, settings, views
from .cost import estimate as estimate_cost, val_size_within
from .registry import RUNNING, STARTING, STARTING_LOCK, Active, keep_sessions_within_memory, session_key, \
    session_of
from .sessions import Session
from .uploads import form_values_of
from .settings import SettingsError
from .worker import FINISH_SECONDS, Failed, Finished, Job, Killed, Snapshot, WorkerError, WorkerPool, \
    model_from_weights, weights_bytes

WORKERS = WorkerPool()  # cheap to make: its zygote starts on the first run, or when the server has started


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
    ended: bool = False  # the run's last frame (its model kept, its files written)


def task_of(values: dict, session=None) -> Task:
    """The task the form describes (for "your pairs", the session's pairs when it has some), or the default one
    while its lengths are being edited."""
    if values.get("task") == DATA_TASK and isinstance(session, Session) and session.data is not None:
        return session.data
    try:
        return Task(make_spec(settings.choice(limits.SETTINGS["task"], values.get("task")), values.get("min_len"),
                              values.get("max_len")))
    except (SettingsError, ValueError):
        return Task(make_spec(values.get("task") if values.get("task") in TASK_NAMES else "reverse"))


def watch_default(task: Task, n: int = 4) -> str:
    """A few held-out sources (never trained on) for the live preview, as a person types them."""
    try:
        examples = validation_set(task, n, seed=11)
    except ValueError:  # a model's pairs that are not loaded
        return ""
    return "\n".join(task.vocab.text(ex.source, "source") for ex in examples)


def preview_rows(task: Task, sources: list[list[str]], outputs: list[str] | None):
    """(source, output, right answer) of each watched source, as text: outputs come as tokens joined by spaces."""
    rows = []
    for i, source in enumerate(sources):
        want = task.expected(source)
        said = outputs[i] if outputs is not None and i < len(outputs) else None
        rows.append((task.vocab.text(source, "source"), None if said is None else task.vocab.text(said.split()),
                     None if want is None else task.vocab.text(want)))
    return rows


def plots(session: Session, log_scale: bool | None = None):
    """The loss and accuracy plots of the session's history (None before there is anything to draw)."""
    history = session.history
    log_scale = session.log_scale if log_scale is None else log_scale
    floor = session.task.loss_floor() if session.task is not None else None
    return (views.loss_frame(history, limits.PLOT_POINTS, log_scale, floor),
            views.accuracy_frame(history, limits.PLOT_POINTS))


def why_not_continue(session: Session, task: Task, model_config: ModelConfig) -> str | None:
    """Why the session's model cannot go on training with these settings (None: it can): its tokens or its shape
    differ. Train then starts a new model and says why."""
    if session.task.vocab != task.vocab:  # first: other tokens also change the vocabulary sizes
        return f"{task.title} uses different tokens from {session.task.title}"
    if session.model.config != model_config:
        return f"the model settings changed ({'; '.join(settings.changed(session.model.config, model_config, limits.SETTINGS))})"
    return None


def training(values: dict, mode, watch_text, session, request: gr.Request, unread: Callable[[str], int]):
    """Check the settings, start a worker, and stream Frames until the run ends; the model ends up in the
    session, which changes only once the run has started. Raises SettingsError for a bad setting.
    `unread(key)` counts the session's streamed updates nobody has read yet."""
    data = session.data if isinstance(session, Session) else None
    task, model_config, train_config = settings.read(values, limits.SETTINGS, limits.BUDGET, data)
    mode = settings.mode(mode)
    watch = settings.watch_sources(watch_text, task)
    session = session_of(session, request)
    key = session_key(request)
    ending_until = time.monotonic() + FINISH_SECONDS
    while True:
        with STARTING_LOCK:  # one training per session, even if a script sends two at once
            active = RUNNING.get(key)
            # a run that has ended and is handing over its model (a second for the largest) is waited for
            if active is None or getattr(active.run, "ended_at", None) is None or time.monotonic() > ending_until:
                if key in RUNNING or key in STARTING:
                    raise SettingsError("This session is already training: stop it first.", "Already training")
                STARTING.add(key)
                break
        time.sleep(0.05)
    try:
        yield from _train(task, model_config, train_config, mode, watch, session, key, unread)
    finally:
        STARTING.discard(key)


def _train(task: Task, model_config: ModelConfig, train_config: TrainConfig, mode: str, watch: list[list[str]],
           session: Session, key: str, unread: Callable[[str], int]):
    continuing = mode == "continue" and session.model is not None
    why_new = why_not_continue(session, task, model_config) if continuing else None
    continuing = continuing and why_new is None
    spec = task.spec
    cost = estimate_cost(model_config, train_config, spec)  # settings.read has checked it against the budget
    budget = train_config.time_budget  # train() keeps room in it for a step and the final evaluation
    train_config = replace(train_config, val_size=val_size_within(model_config, spec, limits.BUDGET.eval_seconds),
                           eval_seconds=settings.EVAL_SECONDS)
    start = session.history.last_step if continuing else 0
    job = Job(model_config.to_dict(), task_to_dict(task), train_config.to_dict(),
              weights=weights_bytes(session.model) if continuing else None, start_step=start,
              eval_at_start=not (continuing and session.history.evals),
              state=session.state if continuing else None, watch=watch)
    try:
        run = WORKERS.start(job, memory_limit_mb=1.25 * max(limits.BUDGET.memory_mb, cost.memory_mb),
                            deadline=budget + 1.0)
    except WorkerError as e:
        raise SettingsError(f"Training could not start: {e}. Nothing of yours was changed.", "Cannot train") from None
    # started: only now does the session change
    active = RUNNING[key] = Active(run, last_step=start, clip=train_config.clip, task=task, lr=train_config.lr,
                                   teacher_forcing=train_config.teacher_forcing)
    session.released = session.last_status = None
    if not continuing:
        session.model, session.history, session.seconds, session.source = None, History(), 0.0, "trained here"
        session.state = session.current_run = None  # a new model: no kept run's (until it is recorded)
    session.task, session.snapshot, session.snapshot_model, session.snapshot_config = task, None, None, model_config
    session.exact_snapshot = None
    session.train_config = {k: v for k, v in train_config.to_dict().items() if k not in ("val_size", "eval_seconds")}
    history = session.history
    how = f"continuing from step {start:,}" if continuing else "new model"
    if why_new:
        how += f": {why_new}, so the last model could not continue"
    eta = views.Eta(start, start + train_config.steps if train_config.steps else None, budget)

    def frame(status, preview=None) -> Frame:
        loss, accuracy = plots(session)
        if run.paused and not run.finished and done is None and ended is None:  # One step's report, or paused
            single = active.singles[-1] if active.singles else None
            status = pace.step_report(single, active.clip, task) if single and single.step == history.last_step \
                else pace.paused_line(history.last_step)
        # A LinePlot draws only the colour series present in its first data after None: a new model's plots are
        # None until its first training loss (so they start again with every series of this run, e.g. the seed
        # task's floor), and the accuracy plot until its points span two steps (one step: an axis of 0.000000s)
        if not history.losses:
            loss = None
        if accuracy is not None and accuracy["step"].nunique() < 2:
            accuracy = None
        return Frame(loss, accuracy, status, gr.skip(), gr.skip(), session,
                     preview if preview is not None else gr.skip())

    def preview(event) -> str | None:
        return views.preview_html(preview_rows(task, watch, event.watch), event.step) if watch else None

    last_time, done, ended, final = time.perf_counter(), None, None, None
    marks_drawn = len(history.marks)  # settings changed while paused, drawn on the loss plot
    try:
        yield frame(f"Starting ({how}): {views.describe_task(task, markdown=False)}; "
                    f"{views.describe_config(model_config, run.started.parameters)}",
                    views.preview_html(preview_rows(task, watch, None)))
        unread_since, shown_points, evals_before, latest_preview = None, False, len(history.evals), None
        said_done = False  # the status has said how the run ended (its model is on its way)
        for message in run.messages(stop_grace=limits.STOP_GRACE):
            now_m = time.monotonic()
            active.pulled = now_m
            if isinstance(message, list):
                for event in message:
                    history.record(event)
                    active.last_step = history.last_step
                    if isinstance(event, (EvalEvent, DoneEvent)) or getattr(event, "single", False):
                        latest_preview = preview(event) or latest_preview
                    if getattr(event, "single", False):
                        active.singles.append(event)
                    if isinstance(event, DoneEvent):
                        done = event
            elif isinstance(message, Snapshot):
                session.snapshot = message
                if message.state is not None:
                    session.exact_snapshot = message
            elif isinstance(message, Finished):
                final = message
            elif isinstance(message, (Killed, Failed)):
                ended = message
            # nobody reading what this run streams (an API call whose stream is never opened): stop it
            if unread(key) > 0:
                unread_since = unread_since or now_m
                if now_m - unread_since > limits.UNWATCHED_SECONDS and active.why is None:
                    active.why = "nobody was watching it"
                    run.stop()
            else:
                unread_since = None
            if run.held.seconds(now_m) > limits.HOLD_SECONDS and active.why is None:  # a paused tab left open
                active.why = f"it was paused or slowed for more than {views.duration(limits.HOLD_SECONDS)}"
                run.stop()
            if done is not None and final is None and ended is None and not said_done:
                # the run has ended: say so now; its weights and state (a second for the largest models) follow
                said_done = True
                ended_frame = frame(done_status(done, start, active), latest_preview)
                # the last run's files are replaced as this one's are written: none to click meanwhile
                ended_frame.checkpoint = ended_frame.metrics = None
                yield ended_frame
            now = time.perf_counter()
            first_points = not shown_points and (history.losses or len(history.evals) > evals_before)
            if len(history.marks) > marks_drawn and done is None and ended is None:
                # a LinePlot draws only the series of its first data after None: None, then with the mark
                marks_drawn = len(history.marks)
                yield Frame(None, gr.skip(), gr.skip(), gr.skip(), gr.skip(), session, gr.skip())
                last_time = 0.0
            if done is None and ended is None and (now - last_time >= limits.UPDATE_EVERY or first_points
                                                   or latest_preview is not None and run.paused):
                shown_points = shown_points or bool(first_points)
                elapsed = history.elapsed[-1] if history.elapsed and history.steps[-1] > start else 0.0
                last_time = now
                yield frame(views.progress_line(history.last_step, history, eta, elapsed), latest_preview)
                latest_preview = None
        yield finish(session, model_config, start, done, ended, final, active, frame, latest_preview, continuing)
    finally:
        if RUNNING.get(key) is active:
            del RUNNING[key]
        run.close()
        if session.model is None:  # abandoned mid-run: keep what it sent
            session.keep_snapshot(model_config)
        session.snapshot = session.exact_snapshot = session.snapshot_model = None


def finish(session: Session, model_config: ModelConfig, start: int, done: DoneEvent | None, ended,
           final: Finished | None, active: Active, frame, preview, continued: bool = False) -> Frame:
    """The run is over: keep its model in the session (and as a run: the Runs tab), say how it ended, offer the
    downloads."""
    if final is not None:
        session.model = model_from_weights(model_config, final.weights)
        session.state = final.state
    elif session.snapshot is not None:  # killed or failed: the latest snapshot it sent (with its state, if one has)
        session.keep_snapshot(model_config)
    else:  # killed before it sent any: the model is the one it started from
        session.history.truncate(start)
    if done is not None and final is not None:
        session.seconds += done.elapsed
        status = done_status(done, start, active)
    else:
        what = ended.message if ended is not None else "the training process ended unexpectedly"
        if isinstance(ended, Killed) and ended.reason == "stop" and active.why:
            what = active.why
        how = "exactly from there" if session.state is not None else "from there, with a fresh optimizer"
        status = (f"Stopped: {what}. Kept the model from step {session.history.last_step:,}; press Train to "
                  f"continue it {how}.")
    if session.model is not None:
        dropped = runs.record(session, form_values_of(session), continued)
        if dropped:
            status += f" {dropped}"
    session.last_status = status
    keep_sessions_within_memory()
    result = frame(status, preview)
    result.ended = True
    if session.model is not None:
        checkpoint_zip, metrics_csv = session.write_downloads(Path(get_upload_folder()))
        result.checkpoint, result.metrics = str(checkpoint_zip), str(metrics_csv)
    else:
        result.checkpoint = result.metrics = None
    return result


def done_status(done: DoneEvent, start: int, active: Active) -> str:
    """The status line of a run that ended by itself (or by Stop): how, and the figures of the model it keeps."""
    return views.done_line(done.reason, done.message, done.step - start, done.elapsed, done.step, done.exact_match,
                           done.token_accuracy, done.val_loss, active.why,
                           None if done.evaluated else done.figures_step)


def stop(request: gr.Request | None) -> str:
    """Ask this session's training to stop; it finishes the current step and keeps the model."""
    active = RUNNING.get(session_key(request))
    if active is None:
        return "Nothing is training."
    active.run.stop()
    return "Stopping…"
