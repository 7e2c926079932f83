"""The Train tab's lab bench: Pause (Continue), One step and Slow (Full speed) beside Train and Stop, and while
paused, in the place of "When you press Train", the learning rate and teacher forcing to use from the next step.
Each button's sentence goes to the status; one that cannot act says why beside the buttons. The work is in
playground/pace.py (also behind /pause, /resume, /one_step, /slow and /change)."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from . import limits, pace, settings
from .page import say
from .registry import RUNNING, session_key
from .settings import SettingsError
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))
PRIVATE = dict(api_visibility="private", preprocess=False)
PAUSE, CONTINUE, SLOW, FULL_SPEED = "Pause", "Continue", "Slow", "Full speed"  # the buttons' two labels each


@dataclass
class PausedBox:
    column: gr.Column
    lr: gr.Number
    teacher_forcing: gr.Number
    apply: gr.Button


@dataclass
class PaceButtons:
    pause: gr.Button
    step: gr.Button
    slow: gr.Button

    def idle_outputs(self, box: PausedBox, mode) -> list:
        """What a run's end sets back: the labels, the paused box hidden, the mode shown."""
        return [self.pause, self.slow, box.column, mode]


def build_paused_box() -> PausedBox:
    """Shown while paused, in the mode's place (so nothing on the page moves)."""
    d = settings.PRESETS[settings.DEFAULT_PRESET]
    with gr.Column(visible=False, scale=3, min_width=320, elem_id="paused-box") as column:
        with gr.Row(equal_height=True, elem_id="paused-settings"):
            lr, teacher_forcing = (gr.Number(d[name], label=limits.SETTINGS[name].short, min_width=width,
                                             minimum=limits.SETTINGS[name].low, maximum=limits.SETTINGS[name].high,
                                             elem_id=f"paused-{name.replace('_', '-')}")
                                   for name, width in (("lr", 115), ("teacher_forcing", 135)))
            apply = gr.Button("Apply", elem_id="apply-change", min_width=56)
    return PausedBox(column, lr, teacher_forcing, apply)


def build_pace_buttons() -> PaceButtons:
    return PaceButtons(gr.Button(PAUSE, elem_id="pause-button", min_width=60),
                       gr.Button("One step", elem_id="step-button", min_width=60),
                       gr.Button(SLOW, elem_id="slow-button", min_width=60))


@dataclass
class Wired:
    controls: object  # (paused, slowed) -> the updates of the labels, the paused box and the mode


def wire_pace(box: PausedBox, buttons: PaceButtons, mode, status, message) -> Wired:
    def controls(paused: bool, slowed: bool) -> dict:
        return {buttons.pause: CONTINUE if paused else PAUSE, buttons.slow: FULL_SPEED if slowed else SLOW,
                box.column: gr.update(visible=paused), mode: gr.update(visible=not paused)}

    def now(request) -> dict:
        """The buttons as the session's run now is (all as they start when nothing is training)."""
        active = RUNNING.get(session_key(request))
        run = active.run if active is not None else None
        return controls(bool(run is not None and run.paused), bool(run is not None and run.slowed))

    def paced(act, request, *args, more: dict | None = None) -> dict:
        try:
            sentence = act(request, *args)
        except SettingsError as e:
            return {message: say(str(e))}
        return {**now(request), status: sentence, message: say(), **(more or {})}

    @guarded
    def pause_on_page(request: gr.Request):
        """Pause, or Continue when paused; pausing shows the rates the run has, to change."""
        active = RUNNING.get(session_key(request))
        if active is not None and active.run.paused:
            return paced(pace.resume, request)
        rates = {box.lr: active.lr, box.teacher_forcing: active.teacher_forcing} if active is not None else {}
        return paced(pace.pause, request, more=rates)

    @guarded
    def step_on_page(request: gr.Request):
        return paced(pace.one_step, request)

    @guarded
    def slow_on_page(request: gr.Request):
        active = RUNNING.get(session_key(request))
        return paced(pace.slow, request, not (active is not None and active.run.slowed))

    @guarded
    def change_on_page(lr, teacher_forcing, request: gr.Request):
        return paced(pace.change, request, lr, teacher_forcing)

    outputs = [buttons.pause, buttons.slow, box.column, mode, status, message]
    buttons.pause.click(pause_on_page, None, [*outputs, box.lr, box.teacher_forcing], queue=False, **PRIVATE)
    buttons.step.click(step_on_page, None, outputs, concurrency_id="pace", concurrency_limit=None, **PRIVATE)
    buttons.slow.click(slow_on_page, None, outputs, queue=False, **PRIVATE)
    box.apply.click(change_on_page, [box.lr, box.teacher_forcing], outputs, queue=False, **PRIVATE)
    return Wired(controls)
