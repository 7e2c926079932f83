"""Pause, one step, slow: a run's pace, set from another thread while train() runs (the app's buttons, through its
worker process), and settings changed while it is paused. train() asks `Pace.wait()` before each step.

    pace = Pace()
    threading.Thread(target=lambda: list(train(model, task, config, pace=pace))).start()
    pace.pause()                       # holds before the next step (the plots keep what they have)
    pace.one_step()                    # one update, then held again; its StepEvent has loss, grad_norm, lr
    pace.change(lr=0.001)              # applies from the next step (only while paused)
    pace.slow(3)                       # about 3 steps a second; pace.slow(None) for full speed
    pace.resume()

Pausing never changes the training: nothing random is drawn while held, and the time held (paused, or waiting
between slow steps) is left out of the run's clock, so its time budget and its evaluation rhythm count only the
time it trained. Resuming gives exactly the training an unpaused run gives."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

MAX_SLOW = 20.0  # steps per second: slower than this is "slow" (faster: full speed)
MIN_SLOW = 0.2


@dataclass
class Change:
    """Settings changed while paused, applied from the next step: the learning rate (config.lr, before any decay or
    warmup factor) and the teacher-forcing ratio (config.teacher_forcing, where a decaying schedule starts from)."""
    lr: float | None = None
    teacher_forcing: float | None = None

    def describe(self) -> str:
        parts = []
        if self.lr is not None:
            parts.append(f"learning rate {self.lr:g}")
        if self.teacher_forcing is not None:
            parts.append(f"teacher forcing {self.teacher_forcing:g}")
        return ", ".join(parts)


@dataclass
class Pace:
    """What the caller wants of the run's pace. Thread-safe: the caller's thread sets it, train()'s reads it."""
    paused: bool = False
    steps_per_second: float | None = None  # slow; None: full speed
    held_seconds: float = 0.0              # time train() was held (paused, or between slow steps)
    on_hold: Callable[[], None] | None = None  # called in train()'s thread as it comes to a hold, between two steps
    _credit: int = 0                        # single steps asked for while paused
    _change: Change | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _last_step_at: float | None = None

    def pause(self) -> None:
        with self._cond:
            self.paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self.paused, self._credit = False, 0
            self._cond.notify_all()

    def one_step(self) -> None:
        """One update (the run pauses first when it was not paused)."""
        with self._cond:
            self.paused = True
            self._credit += 1
            self._cond.notify_all()

    def slow(self, steps_per_second: float | None) -> None:
        if steps_per_second is not None and not (MIN_SLOW <= steps_per_second <= MAX_SLOW):
            raise ValueError(f"slow must be {MIN_SLOW:g}–{MAX_SLOW:g} steps a second, got {steps_per_second!r}")
        with self._cond:
            self.steps_per_second = steps_per_second
            self._cond.notify_all()

    def change(self, lr: float | None = None, teacher_forcing: float | None = None) -> None:
        """Settings for the next step on (only while paused: a running run would apply them at a step nobody chose)."""
        with self._cond:
            if not self.paused:
                raise ValueError("settings change only while the run is paused")
            old = self._change or Change()
            self._change = Change(lr if lr is not None else old.lr,
                                  teacher_forcing if teacher_forcing is not None else old.teacher_forcing)
            self._cond.notify_all()

    def apply(self, message) -> None:
        """A message from another process (the app's worker): "pause", "resume", "step", ("slow", steps a second or
        None) or ("change", {"lr": ..., "teacher_forcing": ...}); anything else, or a bad value, is ignored."""
        try:
            if message in ("pause", "resume", "step"):
                {"pause": self.pause, "resume": self.resume, "step": self.one_step}[message]()
            elif isinstance(message, tuple) and len(message) == 2 and message[0] == "slow":
                self.slow(message[1])
            elif isinstance(message, tuple) and len(message) == 2 and message[0] == "change" and \
                    isinstance(message[1], dict):
                self.change(**message[1])
        except (TypeError, ValueError):
            pass

    def wait(self, stopped: Callable[[], bool], clock: Callable[[], float] = time.monotonic) -> tuple[bool, Change | None]:
        """Before a step: hold while paused (until resumed, a single step is asked for, or `stopped()`), or until
        the slow pace's next step is due. Returns (whether this step is a single one asked for while paused, the
        settings changed since the last step or None); the time held adds to held_seconds. Each time it comes to a hold
        while paused (a pause, or after a single step), `on_hold()` is called once, outside the lock: the model is
        between two steps (e.g. to show the weights it is held with)."""
        with self._cond:
            begun = clock()
            single = announced = False
            while not stopped():
                if self.paused:
                    if self._credit:
                        self._credit -= 1
                        single = True
                        break
                    if not announced and self.on_hold is not None:
                        announced = True
                        self._cond.release()
                        try:
                            self.on_hold()
                        finally:
                            self._cond.acquire()
                        continue
                    self._cond.wait(0.1)
                    continue
                rate = self.steps_per_second
                if rate is not None and self._last_step_at is not None:
                    due = self._last_step_at + 1.0 / rate
                    if clock() < due:
                        self._cond.wait(min(0.1, due - clock()))
                        continue
                break
            change, self._change = self._change, None
            now = clock()
            self.held_seconds += now - begun
            self._last_step_at = now
            return single, change


@dataclass
class Held:
    """The time a run has been held, as its caller counts it (its deadline leaves that time out)."""
    since: float | None = None
    total: float = 0.0

    def set(self, holding: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if holding and self.since is None:
            self.since = now
        elif not holding and self.since is not None:
            self.total, self.since = self.total + now - self.since, None

    def seconds(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return self.total + (now - self.since if self.since is not None else 0.0)
