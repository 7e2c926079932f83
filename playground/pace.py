"""Pause, One step, Slow and settings changed while paused, for the session's training (as the page's buttons and
/pause, /resume, /one_step, /slow and /change call them). The run itself is held by its worker (seq2seq.pacing):
pausing never changes what it learns. A run held longer than HOLD_SECONDS in all is stopped (the training's
loop does that), so a paused tab left open does not keep a worker and a training slot for ever."""
from __future__ import annotations

import math
import time

import gradio as gr

from seq2seq.controls import number

from . import limits
from .registry import RUNNING, Active, session_key
from .settings import SettingsError

NOT_TRAINING = "Nothing is training: press Train first, then Pause, One step or Slow act on the run."


def running(request: gr.Request | None) -> Active:
    """The session's training (SettingsError when there is none, or it is ending)."""
    active = RUNNING.get(session_key(request))
    if active is None or active.run.stop_time is not None or getattr(active.run, "ended_at", None) is not None:
        raise SettingsError(NOT_TRAINING, "Not training")
    return active


def paused_line(step: int) -> str:
    return (f"Paused after step {step:,}. One step does a single update; Continue goes on exactly as if it had "
            f"never paused; the learning rate and teacher forcing can be changed now (from the next step).")


def pause(request: gr.Request | None) -> str:
    active = running(request)
    active.run.pace("pause")
    settled(active)
    return paused_line(active.last_step)


def settled(active: Active, quiet: float = 0.3, longest: float = 3.0) -> None:
    """Wait until the run's reported step has stopped moving (the steps under way when it was held have come),
    `quiet` seconds without a new one, at most `longest` seconds."""
    step, since, until = active.last_step, time.monotonic(), time.monotonic() + longest
    while time.monotonic() < until and not active.run.finished:
        time.sleep(0.05)
        if active.last_step != step:
            step, since = active.last_step, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def resume(request: gr.Request | None) -> str:
    active = running(request)
    active.run.pace("resume")
    return f"Continuing from step {active.last_step:,}."


def slow(request: gr.Request | None, on) -> str:
    """Slow on (about SLOW_STEPS steps a second, for narration) or off (full speed)."""
    if not isinstance(on, bool):
        raise SettingsError("Slow is true (a few steps a second) or false (full speed).", "Check the settings")
    active = running(request)
    active.run.pace(("slow", limits.SLOW_STEPS if on else None))
    if on:
        return f"Slow: about {limits.SLOW_STEPS:g} steps a second from step {active.last_step:,}."
    return f"Full speed from step {active.last_step:,}."


def change(request: gr.Request | None, lr=None, teacher_forcing=None) -> str:
    """New learning rate and/or teacher-forcing ratio, from the next step (only while paused); checked by the
    form's own rules."""
    given = {name: value for name, value in (("lr", lr), ("teacher_forcing", teacher_forcing))
             if value is not None and value != ""}
    if not given:
        raise SettingsError("Give a learning rate or a teacher-forcing ratio to change.", "Nothing to change")
    values = {name: float(number(limits.SETTINGS[name], value)) for name, value in given.items()}
    active = running(request)
    values = {name: value for name, value in values.items() if value != getattr(active, name)}  # what changes
    if not values:
        raise SettingsError(f"Nothing changes: the run already uses learning rate {active.lr:g} and teacher forcing "
                            f"{active.teacher_forcing:g}.", "Nothing to change")
    if not active.run.paused:
        raise SettingsError("Pause first: the learning rate and teacher forcing change only while paused, from the "
                            "next step.", "Pause first")
    active.run.pace(("change", values))
    active.lr = values.get("lr", active.lr)
    active.teacher_forcing = values.get("teacher_forcing", active.teacher_forcing)
    what = ", ".join(f"{'learning rate' if k == 'lr' else 'teacher forcing'} {v:g}" for k, v in values.items())
    return f"From step {active.last_step + 1:,}: {what} (marked on the loss curve)."


def one_step(request: gr.Request | None) -> str:
    """A single update (pausing first): waits for it and says its loss, its gradient norm before clipping, its
    learning rate and how the watched sources' answers changed."""
    active = running(request)
    seen = len(active.singles)
    active.run.pace("step")
    until = time.monotonic() + limits.STEP_WAIT
    while len(active.singles) == seen:
        if time.monotonic() > until or active.run.finished or RUNNING.get(session_key(request)) is not active:
            raise SettingsError("The step did not come: the run has ended or is busy evaluating; try again.",
                                "No step")
        time.sleep(0.02)
    return step_report(active.singles[-1], active.clip, active.task)


def step_report(event, clip: float, task) -> str:
    """One step, in words: its loss, gradient norm (and whether it was clipped), learning rate, and what the
    watched sources' answers became."""
    norm = event.grad_norm
    clipped = f" (clipped to {clip:g})" if norm is not None and math.isfinite(norm) and norm > clip else ""
    parts = [f"Step {event.step:,}: loss {event.loss:.4f}",
             f"gradient norm {norm:.3g} before clipping{clipped}" if norm is not None else "gradient norm unknown",
             f"learning rate {event.lr:.3g}" if event.lr is not None else "learning rate unknown"]
    line = " · ".join(parts) + "."
    before, after = event.watch_before or [], event.watch or []
    if not after:
        return line + " (No sources are watched: the preview is empty.)"
    changed = [(i, b, a) for i, (b, a) in enumerate(zip(before, after)) if b != a]
    if not changed:
        return line + f" The preview's {len(after)} answers did not change."
    said = "; ".join(f"source {i + 1}: {quoted(task, b)} → {quoted(task, a)}" for i, b, a in changed[:3])
    more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
    return line + f" Preview: {len(changed)} of {len(after)} answers changed — {said}{more}."


def quoted(task, output: str) -> str:
    """An output (tokens joined by spaces) as the page writes it, in quotes; "nothing" when it is empty."""
    text = task.vocab.text(output.split()) if output else ""
    return f"“{text}”" if text else "nothing"
