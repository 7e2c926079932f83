"""The guided tour: eight steps that tell the story of the page by themselves, for a visitor alone or a presenter
with a clicker. Each step has a title, a sentence or two, a "Show me" that sets up what it is about (through
the same controls a person uses: a preset, a source, a model, then the Train / Decode / Compare button pressed
like a click) and where to look. The page's script (assets/tour.js) shows the steps, moves between them (Back /
Next, PageDown / PageUp or the arrow keys of a clicker), highlights where to look and opens by itself with
`?tour=1`; "Presenter" (or `?presenter=1`) enlarges the page for a projector and hides the advanced settings.

Every sentence here is checked against what the page shows at that step (tests/browser/test_tour.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from . import settings
from .views import esc

PRIVATE = dict(api_visibility="private", queue=False)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    text: str                     # one or two sentences (HTML: written here, never from a user)
    look: str                     # the elem_id of what to look at
    tab: str                      # the page's tab the step is on: train | decode | compare
    press: str | None = None      # the button "Show me" presses once the controls are set (None: nothing)
    preset: str | None = None     # the Train tab's preset to choose, and settings over it
    train: dict[str, Any] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)   # Decode controls by elem_id: source, model, strategy
    view: str | None = None       # the Decode tab's view to open, by its name, once the decoding is shown
    compare: dict[str, Any] = field(default_factory=dict)  # Compare controls by elem_id
    data_example: str | None = None  # "your pairs": the example file "Show me" gives
    live: str = ""                # how long a live run takes, said on the button ("" : none)


LONG_SOURCE = "3 1 4 1 5 9 2 6 5 3 5 8 9 7"   # 14 digits: longer than the bundled reverse models were trained on
BEAM_SOURCE = "9 6 4 8 1 5 2 8 8 4 0 8"        # 12 digits: greedy gets it wrong, a beam of 5 right (bundled reverse)
HELD_OUT = "9 0 8 1 0"                         # the first of the Train tab's held-out examples for reverse
ATTENTION_SOURCE = "9 0 8 1 0 5 2"

STEPS = (
    Step("seed", "The tutorial's data cannot be learned",
         "The seed tutorial trains on random pairs: every target digit is drawn afresh, unrelated to the source. "
         "<b>Show me</b> trains its own model on them for 300 steps: the loss falls to the grey line and no "
         "lower, because all a model can learn is how long the answer is and that every digit is as likely.",
         look="loss-plot", tab="train", press="train-button", preset="Seed tutorial settings",
         train={"steps": 300}, live="about 5 s"),
    Step("learn", "A task that can be learned",
         "Reversing the digits can be learned. <b>Show me</b> trains the tuned model on it: watch its answers to "
         "four held-out sources, never used for training, turn ✓ within seconds.",
         look="preview", tab="train", press="train-button", preset="Tuned default", live="about 10 s"),
    Step("steps", "One token at a time",
         "The decoder writes the answer one token at a time, each time picking the likeliest next token. The "
         "player steps through the decoding of a held-out source by the bundled reverse model: the bars are the "
         "probabilities behind each choice.",
         look="playback", tab="decode", press="decode-button",
         decode={"decode-input": HELD_OUT, "decode-model": "bundled:reverse", "decode-strategy": "greedy"},
         view="Steps"),
    Step("attention", "Attention: where each step looked",
         "This bundled model has attention: before each output token it looks back at every source digit. Each "
         "row of the map is one output step and its darkest cell is where it looked most: to reverse, the first "
         "output looks at the last digit and the last output at the first, so the dark cells run along the "
         "anti-diagonal.",
         look="decode-attention", tab="decode", press="decode-button",
         decode={"decode-input": ATTENTION_SOURCE, "decode-model": "bundled:reverse-attention",
                 "decode-strategy": "greedy"}, view="Attention"),
    Step("longer", "Longer than anything it has seen",
         "Both bundled reverse models were trained on 3 to 10 digits. On 14, the model without attention (A), "
         "which must carry the whole source in one vector, gets it wrong; the one with attention (B) reverses it. "
         "The chart shows how often each is exactly right at every length.",
         look="compare-chart", tab="compare", press="compare-button",
         compare={"compare-input": LONG_SOURCE, "compare-model-a": "bundled:reverse",
                  "compare-model-b": "bundled:reverse-attention"}),
    Step("exposure", "Exposure bias",
         "While training, the decoder is fed the right previous token (teacher forcing); in use it is fed its own "
         "guesses. <b>Show me</b> trains the tuned model for 150 steps: on held-out sources its tokens are more "
         "often right fed the right ones (“forced”) than fed its own (“free”); the gap is what it never "
         "practised. (“ratio” is how often training fed the right token; the Training settings can lower it.)",
         look="accuracy-plot", tab="train", press="train-button", preset="Tuned default",
         train={"steps": 150}, live="about 3 s"),
    Step("beam", "Beam search, and what if",
         "On this 12-digit source, longer than any it was trained on, the model without attention decoded "
         "greedily gets it wrong. Beam search keeps the 5 likeliest partial answers at every step, not just "
         "one, and finds the right answer; the tree shows what it kept. In the <i>What if</i> view, force any "
         "token and see whether the model recovers.",
         look="beam-tree-drawing", tab="decode", press="decode-button",
         decode={"decode-input": BEAM_SOURCE, "decode-model": "bundled:reverse", "decode-strategy": "beam"},
         view="Beams"),
    Step("yours", "Your turn",
         "Now your own data: <b>Show me</b> gives the example file of dates written 17 ways, each with its ISO "
         "form, and chooses the attention preset. Press <b>Train</b>, or upload your own pairs (a .tsv, .csv, "
         ".jsonl or .txt file), or set up the form yourself.",
         look="data-status", tab="train", preset="LSTM + attention (fastest)", data_example="dates"),
)


def steps_html() -> str:
    """Every step's title and text (the script shows the current one)."""
    sections = []
    for i, step in enumerate(STEPS):
        live = f'<p class="s2s-tour-live">Show me trains live: {esc(step.live)}.</p>' if step.live else ""
        sections.append(
            f'<section class="s2s-tour-step" data-step="{i}" data-key="{step.key}" data-look="{step.look}" '
            f'data-tab="{step.tab}" data-press="{step.press or ""}" data-example="{step.data_example or ""}" '
            f'data-view="{esc(step.view or "")}" hidden>'
            f'<h3><span class="s2s-tour-count">{i + 1} / {len(STEPS)}</span> {esc(step.title)}</h3>'
            f'<p>{step.text}</p>{live}</section>')
    return "".join(sections)


NAV_HTML = ('<div class="s2s-tour-nav"><button type="button" data-tour="back">← Back</button>'
            '<button type="button" data-tour="next">Next →</button>'
            '<button type="button" data-tour="leave" aria-label="Leave the tour">✕<span class="s2s-wide"> Leave</span>'
            '</button><span class="s2s-tour-keys">PageDown: show me, then next · PageUp: back · Esc: leave</span></div>')

LAUNCH_HTML = ('<div class="s2s-launch"><button type="button" id="tour-start" data-tour="start">▶ Take the tour'
               '</button><label class="s2s-presenter"><input type="checkbox" id="presenter-switch"> Presenter</label>'
               '</div>')


def by_id(demo: gr.Blocks, elem_id: str) -> gr.components.Component:
    """The page's component with this elem_id (the tour sets controls the tabs build, found by the same ids as
    the browser finds them)."""
    for block in demo.blocks.values():
        if getattr(block, "elem_id", None) == elem_id:
            return block
    raise KeyError(f"no component with elem_id {elem_id!r}")


def build_tour(demo: gr.Blocks, train) -> None:
    """The tour's panel (shown by the script while the tour is open) and its "Show me" button, whose event sets the
    current step's controls (a preset as choosing it does: `train.preset_updates`) and hands back to the script,
    which presses the step's button and points at where to look. `train`: the Train tab
    (playground.train_tab.TrainTab). Call inside the Blocks, after the tabs."""
    tabs, mode, data_box = by_id(demo, "tabs"), by_id(demo, "train-mode"), by_id(demo, "data-box")
    with gr.Group(elem_id="s2s-tour", elem_classes="s2s-tour"):
        gr.HTML(steps_html(), elem_id="tour-steps")
        with gr.Row(elem_classes="s2s-tour-actions"):
            show = gr.Button("Show me", variant="primary", size="sm", elem_id="tour-show", scale=0, min_width=100)
            gr.HTML(NAV_HTML, elem_id="tour-nav")
            which = gr.Number(0, visible=False, precision=0)  # the step: the script sends it with the click
    controls = {elem_id for step in STEPS for elem_id in {**step.decode, **step.compare}}
    outputs = list(dict.fromkeys([tabs, mode, data_box, *train.preset_outputs,
                                  *(by_id(demo, elem_id) for elem_id in sorted(controls))]))

    def show_step(i):
        """The controls of step `i` (as the script sends it), set as a person would set them."""
        try:
            step = STEPS[int(i)]
        except (TypeError, ValueError, IndexError):
            raise gr.Error("The tour has no such step.", title="Tour") from None
        updates = {tabs: gr.update(selected=step.tab)}
        if step.preset is not None:
            updates.update(train.preset_updates(step.preset, step.train))
            updates[mode] = "continue" if step.data_example else "new"  # each run of the story: a model of its own
        for elem_id, value in {**step.decode, **step.compare}.items():
            updates[by_id(demo, elem_id)] = value
        if step.data_example is not None:
            updates[train.form["task"]] = settings.DATA_TASK
            updates[data_box] = gr.update(visible=True)
        return updates

    show.click(show_step, which, outputs, js="() => [window.s2sTour ? window.s2sTour.state().step : -1]",
               **PRIVATE).then(None, None, None, js="() => { window.s2sTour && window.s2sTour.ready(); }")
