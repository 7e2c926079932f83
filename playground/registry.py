"""The server's sessions: which browser session has which `Session` (model, history, downloads), which one is
training, and their release — when the page closes, when it is left untouched, or to keep every session's
models within SEQ2SEQ_SESSIONS_MB. One registry per server process.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import gradio as gr

from . import gradio_internals, limits
from .sessions import Session
from .worker import FINISH_SECONDS, Run


@dataclass
class Active:
    """A training in progress for one session."""
    run: Run
    pulled: float = field(default_factory=time.monotonic)  # when the page's stream last asked for more
    why: str | None = None                                 # why it was stopped, when not by the user
    last_step: int = 0                                     # the step it has reported last
    singles: list = field(default_factory=list)            # its steps taken one at a time (One step), in order
    clip: float = 1.0                                      # its gradient clipping, and its task: for their report
    task: object = None
    lr: float = 0.0                                        # its learning rate and teacher-forcing ratio (as changed
    teacher_forcing: float = 1.0                           # while paused)


# session_hash -> the training running for that browser session (present only while it runs)
RUNNING: dict[str, Active] = {}
STARTING: set[str] = set()  # sessions whose training is being started
STARTING_LOCK = threading.Lock()
# session_hash -> that session's state, so its files and model can be released when its browser goes away
SESSIONS: "OrderedDict[str, Session]" = OrderedDict()  # least recently used first


def problem(message: str, title: str = "Check the settings") -> gr.Error:
    return gr.Error(message, title=title)


def session_key(request: gr.Request | None) -> str:
    return (request.session_hash if request is not None else None) or "anonymous"


def checked(session) -> Session | None:
    """The page's session state as sent back by Gradio: a Session, or None before there is one."""
    if session is not None and not isinstance(session, Session):
        raise problem("This session's state is not valid; reload the page.", "Reload")
    return session


def session_of(session, request: gr.Request | None) -> Session:
    """This browser's Session (a new one the first time), registered as the most recently used."""
    session = checked(session) or Session()
    key = session_key(request)
    session.last_used = time.monotonic()
    SESSIONS[key] = session
    SESSIONS.move_to_end(key)
    keep_sessions_within_memory()
    return session


def keep_sessions_within_memory(now: float | None = None) -> None:
    """Sessions whose browsers never say goodbye (scripts calling the HTTP API) must not pile up: a session
    unused for SESSION_TTL seconds is released; and past SESSIONS_MB in all (models, training states, kept
    decodings and Compare's rows), the least recently used sessions first drop their results (which asking
    again remakes), then the runs they keep beside their current model, then their models. A training session is never released."""
    now = time.monotonic() if now is None else now
    for key, session in list(SESSIONS.items()):
        if key not in RUNNING and now - session.last_used > limits.SESSION_TTL:
            SESSIONS.pop(key, None)
            session.release("it was not used for a long time")
    total = sum(s.memory_mb() for s in SESSIONS.values())
    for session in list(SESSIONS.values()):  # oldest first: results go before anyone's model
        if total <= limits.SESSIONS_MB:
            return
        if session.results_bytes():
            before = session.memory_mb()
            session.drop_results()
            total -= before - session.memory_mb()
    for session in list(SESSIONS.values()):  # then the runs kept beside anyone's current model
        if total <= limits.SESSIONS_MB:
            return
        if session.runs_bytes():
            from .runs import drop_old_runs
            before = session.memory_mb()
            drop_old_runs(session)
            total -= before - session.memory_mb()
    for key in list(SESSIONS):
        if total <= limits.SESSIONS_MB or len(SESSIONS) <= 1:
            break
        if key in RUNNING:
            continue
        session = SESSIONS.pop(key)
        total -= session.memory_mb()
        session.release("it was let go to make room: this server keeps the models of the sessions used most "
                        "recently")


def sweeper(every: float = 30.0) -> None:
    """Releases sessions left unused past SESSION_TTL even when no request comes. Runs for the server's life."""
    while True:
        time.sleep(every)
        try:
            keep_sessions_within_memory()
        except Exception:  # noqa: BLE001 - a session changing under it: try again next time
            pass


def training_here(session: Session | None, request: gr.Request | None) -> bool:
    return session is not None and session_key(request) in RUNNING and session.snapshot is not None


def session_closed(demo: gr.Blocks, request: gr.Request) -> None:
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
    threading.Thread(target=_release_after, args=(demo, key, session), daemon=True).start()


def _release_after(demo: gr.Blocks, key: str, session: Session | None) -> None:
    deadline = time.monotonic() + 30
    while key in RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
    if session is not None:
        session.release()
    time.sleep(2)  # Gradio marks the session closed after its unload handlers are scheduled
    gradio_internals.forget_page_state(demo, key)


def forget_session(session) -> None:
    """gr.State's delete_callback: a session untouched for SESSION_TTL seconds."""
    if isinstance(session, Session):
        for key, known in list(SESSIONS.items()):
            if known is session:
                SESSIONS.pop(key, None)
        session.release()


def watchdog() -> None:
    """Stops runs that nobody reads any more (the client went away mid-stream, so Gradio stopped asking the
    training generator for updates), and kills those that ignore it. Runs for the server's life."""
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        for key, active in list(RUNNING.items()):
            run = active.run
            if now - active.pulled > limits.UNWATCHED_SECONDS and run.stop_time is None:
                active.why = "nobody was watching it"
                run.stop()
            ended = getattr(run, "ended_at", None)  # when it sent its DoneEvent: it is sending its model since
            if ended is not None:
                grace_over = now - ended > FINISH_SECONDS
            else:
                grace_over = run.stop_time is not None and now - run.stop_time > limits.STOP_GRACE
            if grace_over and now - active.pulled > 1:
                run.close()  # not pulled, so messages() cannot enforce it: kill it here
                if RUNNING.get(key) is active:
                    del RUNNING[key]
