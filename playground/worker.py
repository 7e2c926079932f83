"""Training in worker processes: hard bounds on time and memory, and nothing shared with the caller.

A server that trains for several people at once should not train in its own process: one large run
holds its interpreter (decoding slows for everyone), a run that overruns cannot be cut short, and the
memory a run used stays with the server after it ends. Here every run is a process of its own,
forked from a "zygote" that has already imported torch (so a run starts in milliseconds, not the
seconds a fresh Python needs), at a lower CPU priority than the caller. The caller streams its
events, can ask it to stop, and can kill it: at its deadline, when its memory grows past a limit, or
when nobody is listening any more. When it ends, its memory goes back to the operating system.

    pool = WorkerPool()                      # starts the zygote (about 2 s, once)
    run = pool.start(Job(...))               # a new process; returns once the model is built
    for message in run.messages():           # StepEvent / EvalEvent / Snapshot ..., DoneEvent last
        ...
    run.stop()                               # cooperative: finishes the current step, evaluates, ends

Messages between the processes are pickles over a socket pair: both ends are this program, and no
user file is ever unpickled (weights travel as safetensors bytes).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Iterator

from seq2seq.pacing import Held

NICE = 10              # workers run at this CPU priority (higher = yields to the server)
BATCH_SECONDS = 0.1    # step events are sent in batches about this often
STOP_WITHIN = 0.5      # after a stop, a run evaluates its last weights only if that fits in this (train()'s stop_within)
FINISH_SECONDS = 15.0  # a run that has sent its DoneEvent gets this long to send its weights and state
START_TIMEOUT = 30.0   # seconds for a worker to build its model and say it started
STATE_ALWAYS_PARAMETERS = 2_000_000  # snapshots of a model this small carry the training state every time
STATE_SECONDS = 10.0   # ... of a larger one, this often


@dataclass
class Job:
    """Everything a worker needs, as plain data."""
    model_config: dict[str, Any]
    task: dict[str, Any]
    train_config: dict[str, Any]
    weights: bytes | None = None      # safetensors bytes to continue from; None: a new model from the seed
    start_step: int = 0
    eval_at_start: bool = False
    snapshot_seconds: float = 2.0     # send the weights this often while training (0: never)
    state: bytes | None = None        # TrainState.to_bytes() to go on from exactly; None: a fresh state from the seed
    watch: list[list[str]] = field(default_factory=list)  # sources whose greedy outputs each evaluation carries


@dataclass
class Started:
    pid: int
    parameters: int


@dataclass
class Snapshot:
    """The model's weights at `step`, while it trains (safetensors bytes), and with some of them the training state
    at that step (TrainState bytes): a run killed later still goes on exactly from the last one that has it."""
    step: int
    weights: bytes
    state: bytes | None = None


@dataclass
class Finished:
    """The model's weights and training state (TrainState bytes) when the run ended (after the DoneEvent):
    a Job with both goes on exactly where this one stopped."""
    weights: bytes
    state: bytes


@dataclass
class Failed:
    message: str


class WorkerError(RuntimeError):
    """A run that could not start or died; the message is one sentence for a person."""


# ---------------------------------------------------------------- the worker side


def weights_bytes(model) -> bytes:
    """A model's weights as safetensors bytes (what runs send and receive)."""
    from safetensors.torch import save
    return save({name: t.detach().contiguous() for name, t in model.state_dict().items()})


def model_from_weights(model_config, weights: bytes):
    """A model with `model_config`'s shapes and the weights a run sent."""
    from safetensors.torch import load

    from seq2seq.builder import from_config
    model = from_config(model_config)
    model.load_state_dict(load(weights))
    return model.eval()


def _run_job(conn: Connection) -> None:
    """One training run, in a freshly forked process."""
    import torch
    from safetensors.torch import load

    from seq2seq.config import ModelConfig, TrainConfig
    from seq2seq import build_model, count_parameters
    from seq2seq.builder import from_config
    from seq2seq.data import task_from_dict
    from seq2seq.pacing import Pace
    from seq2seq.training import DoneEvent, EvalEvent, TrainState, train

    torch.set_num_threads(1)
    job: Job = conn.recv()
    if hasattr(job, "run_in_worker"):  # another kind of job (Compare's charts: playground.charts)
        job.run_in_worker(conn)
        return
    try:
        model_config = ModelConfig.from_dict(job.model_config)
        train_config = TrainConfig.from_dict(job.train_config)
        task = task_from_dict(job.task)
        if job.weights is None:
            model = build_model(model_config, seed=train_config.seed)
        else:
            model = from_config(model_config)
            model.load_state_dict(load(job.weights))
        state = TrainState.fresh(train_config.seed) if job.state is None else TrainState.from_bytes(job.state, model)
    except Exception as e:  # noqa: BLE001 - reported to the caller, who says it in a sentence
        conn.send(Failed(f"could not build the model: {e}"))
        return
    parameters = count_parameters(model)
    conn.send(Started(os.getpid(), parameters))
    if job.weights is None and job.snapshot_seconds:  # the caller has no copy of a new model yet
        conn.send(Snapshot(job.start_step, weights_bytes(model)))

    stop = threading.Event()
    pace = Pace()

    def listen() -> None:  # "stop" from the caller, or the caller gone: either way, stop; and the pace's messages
        try:
            while (message := conn.recv()) != "stop":
                pace.apply(message)
        except (EOFError, OSError):
            pass
        stop.set()

    threading.Thread(target=listen, daemon=True).start()
    lock = threading.Lock()  # one sender at a time: this loop, or the flusher below
    pending: list[Any] = []
    last_sent = [time.monotonic()]
    ended = threading.Event()

    def send(message: Any) -> None:
        with lock:
            conn.send(message)

    def send_pending() -> None:
        with lock:
            if pending:
                conn.send(pending[:])
                pending.clear()
            last_sent[0] = time.monotonic()

    def flush_held() -> None:  # steps held back by a long evaluation are sent while it runs (shown, and timed)
        while not ended.wait(BATCH_SECONDS):
            if pending and time.monotonic() - last_sent[0] >= BATCH_SECONDS:
                try:
                    send_pending()
                except OSError:
                    return

    threading.Thread(target=flush_held, daemon=True).start()
    snap = {"at": time.monotonic(), "state_at": time.monotonic(), "step": None}  # the last snapshot sent
    step_now = [job.start_step]

    def send_snapshot(step: int) -> None:  # the state too (Adam's moments: twice the weights) every time for a
        now = time.monotonic()  # small model, every STATE_SECONDS for a large one (a few percent of its time)
        with_state = parameters <= STATE_ALWAYS_PARAMETERS or now - snap["state_at"] >= STATE_SECONDS
        send(Snapshot(step, weights_bytes(model), state.to_bytes() if with_state else None))
        snap.update(at=now, step=step, **({"state_at": now} if with_state else {}))

    def on_hold() -> None:  # paused: the weights it is held with, for a decoding meanwhile (not ones up to 2 s old)
        if job.snapshot_seconds and snap["step"] != step_now[0]:
            send_pending()
            send_snapshot(step_now[0])

    pace.on_hold = on_hold
    try:
        for event in train(model, task, train_config, stop, start_step=job.start_step,
                           eval_at_start=job.eval_at_start, state=state, watch=job.watch,
                           stop_within=STOP_WITHIN, pace=pace):
            with lock:
                pending.append(event)
            step_now[0] = event.step
            now = time.monotonic()
            single = getattr(event, "single", False)  # a step asked for while paused: shown at once
            if isinstance(event, (EvalEvent, DoneEvent)) or single or now - last_sent[0] >= BATCH_SECONDS:
                send_pending()
            if isinstance(event, DoneEvent):
                ended.set()
                send(Finished(weights_bytes(model), state.to_bytes()))
                return
            if job.snapshot_seconds and (now - snap["at"] >= job.snapshot_seconds or single):
                send_snapshot(event.step)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # the caller went away: nothing to report to
    except MemoryError:
        send(Failed("it ran out of memory"))
    except Exception as e:  # noqa: BLE001
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        send(Failed("it ran out of memory" if "alloc" in text.lower() else f"training failed: {text[:200]}"))
    finally:
        ended.set()


def _zygote(fd: int) -> None:
    """Import torch once, then fork one process per run; exits when the caller closes the socket."""
    import torch  # noqa: F401 - the point: every run starts with torch already imported

    from seq2seq import builder, config, model, tasks, training  # noqa: F401
    from seq2seq.training import warm_up
    from safetensors import torch as _st  # noqa: F401

    torch.set_num_threads(1)  # before any op: one thread per run, and no thread pool to fork
    warm_up()
    os.nice(NICE)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # runs are reaped by the kernel
    control = socket.socket(fileno=fd)
    control.sendall(b"R")
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not msg:
            return
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                control.close()
                _run_job(Connection(fds[0]))
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])


# ---------------------------------------------------------------- the caller side


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return None


class WorkerPool:
    """Starts runs in processes forked from one zygote (started on the first run, or by warm_up())."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zygote: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._ready = False  # the zygote has said it is ready

    def warm_up(self, wait: bool = True) -> None:
        """Start the zygote now (it imports torch and warms up for a few seconds); wait=False returns at once,
        so a server can start answering meanwhile: the first run waits for it then."""
        with self._lock:
            if wait:
                self._ensure_zygote()
            elif self._zygote is None:
                self._spawn()

    def _spawn(self) -> None:
        if self._control is not None:
            self._control.close()
        ours, theirs = socket.socketpair()
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                                         os.environ.get("PYTHONPATH")]))}
        self._zygote = subprocess.Popen([sys.executable, "-m", "playground.worker", str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self._control, self._ready = ours, False

    def _ensure_zygote(self) -> socket.socket:
        if self._zygote is None or self._zygote.poll() is not None or self._control is None:
            self._spawn()
        if not self._ready:
            self._control.settimeout(60)
            try:
                ready = self._control.recv(1) == b"R"
            except OSError:
                ready = False
            if not ready:
                self._zygote = None
                raise WorkerError("the training worker did not start")
            self._control.settimeout(None)
            self._ready = True
        return self._control

    def start(self, job: Job, *, memory_limit_mb: float | None = None, deadline: float | None = None) -> "Run":
        """Fork a worker for `job`; returns once it has built its model (raises WorkerError if it cannot).

        memory_limit_mb: kill the run if its memory grows by more than this. deadline: kill the run this
        many seconds after it started, whatever it is doing."""
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                for attempt in (1, 2):  # a zygote that died is restarted once
                    control = self._ensure_zygote()
                    try:
                        socket.send_fds(control, [b"J"], [theirs.fileno()])
                        break
                    except OSError:
                        if attempt == 2:
                            raise
                        self._zygote = None
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        conn.send(job)
        if not conn.poll(START_TIMEOUT):
            conn.close()
            raise WorkerError("the training worker did not answer")
        try:
            first = conn.recv()
        except (EOFError, OSError):
            conn.close()
            raise WorkerError("the training worker died before it started") from None
        if isinstance(first, Failed):
            conn.close()
            raise WorkerError(first.message)
        return Run(conn, first, memory_limit_mb, deadline)

    def close(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()
                self._control = None
            if self._zygote is not None:
                try:
                    self._zygote.wait(5)
                except subprocess.TimeoutExpired:
                    self._zygote.kill()
                self._zygote = None


@dataclass
class Killed:
    """The caller killed the run (deadline, memory, nobody listening): why, in a few words."""
    reason: str
    message: str


@dataclass
class Run:
    conn: Connection
    started: Started
    memory_limit_mb: float | None = None
    deadline: float | None = None
    start_time: float = field(default_factory=time.monotonic)
    stop_time: float | None = None
    peak_growth_mb: float = 0.0

    def __post_init__(self) -> None:
        self.base_rss_mb = _rss_mb(self.pid) or 0.0
        self.finished = False
        self.paused, self.slowed, self.held = False, None, Held()  # its pace, as asked for, and the time held
        self._send_lock = threading.Lock()  # the page's buttons send from their own threads

    @property
    def pid(self) -> int:
        return self.started.pid

    def pace(self, message: Any) -> None:
        """"pause", "resume", "step" (one step, paused), ("slow", steps a second or None) or ("change", {"lr": ...,
        "teacher_forcing": ...}) for the run's pace (seq2seq.pacing.Pace.apply). Its deadline does not count the
        time it is held (paused or slowed)."""
        if isinstance(message, tuple) and message[0] == "slow":
            self.slowed = message[1]
        self.paused = message in ("pause", "step") or (self.paused and message != "resume")
        self._send(message)
        self.held.set(self.paused or self.slowed is not None)

    def _send(self, message: Any) -> None:
        try:
            with self._send_lock:
                self.conn.send(message)
        except OSError:
            pass

    def stop(self) -> None:
        """Ask the run to stop after its current step (it then evaluates and ends)."""
        if self.stop_time is None:
            self.stop_time = time.monotonic()
        self._send("stop")

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def messages(self, poll: float = 0.05, stop_grace: float = 2.0) -> Iterator[Any]:
        """Events (lists of train events), Snapshot, then DoneEvent's batch and Finished; or Killed / Failed.

        Kills the run when it passes its deadline, grows past its memory limit, or ignores a stop for
        `stop_grace` seconds; once it has sent its DoneEvent (it is sending its weights and state, which for a
        large model takes a second or more), the deadline and the stop wait FINISH_SECONDS more. Yields None
        every `poll` seconds when there is nothing new (so the caller can look around)."""
        self.ended_at = None  # when the DoneEvent came
        try:
            while not self.finished:
                reason = self._why_kill(stop_grace)
                if reason is not None:
                    self.kill()
                    self.finished = True
                    yield reason
                    return
                try:
                    ready = self.conn.poll(poll)
                    message = self.conn.recv() if ready else None
                except (EOFError, OSError):
                    self.finished = True
                    yield Failed("the training process ended unexpectedly")
                    return
                if isinstance(message, (Finished, Failed)) or getattr(message, "final", False):
                    self.finished = True
                elif isinstance(message, list) and self.ended_at is None and \
                        any(getattr(event, "event", None) == "done" for event in message):
                    self.ended_at = time.monotonic()
                yield message
        finally:
            self.close()

    def _why_kill(self, stop_grace: float) -> Killed | None:
        now = time.monotonic()
        rss = _rss_mb(self.pid)
        if rss is not None:
            self.peak_growth_mb = max(self.peak_growth_mb, rss - self.base_rss_mb)
        if self.memory_limit_mb is not None and self.peak_growth_mb > self.memory_limit_mb:
            return Killed("memory", f"it used more than {self.memory_limit_mb:,.0f} MB of memory")
        if getattr(self, "ended_at", None) is not None:  # it has ended and is sending its model: let it
            if now - self.ended_at <= FINISH_SECONDS:
                return None
            return Killed("finish", "it did not send its model")
        if self.deadline is not None and now - self.start_time - self.held.seconds(now) > self.deadline:
            return Killed("deadline", f"it ran past its time limit of {self.deadline:.0f} s")
        if self.stop_time is not None and now - self.stop_time > stop_grace:
            return Killed("stop", "it did not stop when asked")
        return None

    def close(self) -> None:
        if not self.finished:
            self.kill()
            self.finished = True
        try:
            self.conn.close()
        except OSError:
            pass


if __name__ == "__main__":
    # through the package, so the classes pickled to the caller are playground.worker's, not __main__'s
    from playground.worker import _zygote as zygote
    zygote(int(sys.argv[1]))
