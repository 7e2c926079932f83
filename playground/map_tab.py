"""The Encoder map tab: a trained model's context vectors (the encoder's final state the decoder starts from) for a
few hundred held-out sources, projected onto their two principal components and coloured by the source's length,
its first or last token, or the answer's first token; hovering a point shows its source and the model's output.
The numbers are the library's (`seq2seq.encoder_map`); this module picks the model, bounds the cost, and draws.
/encoder_map is declared here too (`declare_map_api`), over the same components."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr
import pandas as pd

from seq2seq.data import DataTask

from . import limits, views
from .cancel import in_thread
from .cost import eval_seconds
from .decode_tab import DECODES, PRIVATE
from .models import AUTO, MODEL_CHOICES, describe_model, pick_model
from .page import say, scroll_to
from .registry import problem
from .webguard import friendly

if TYPE_CHECKING:
    from seq2seq import Seq2Seq, Task
    from seq2seq.encoder_map import ContextMap

guarded = friendly(gr.Error, (gr.Error,))
AS_SENT = {"preprocess": False}  # values arrive as sent: the handler checks them
COLOURINGS = {"length": "length", "first": "first token", "last": "last token", "answer": "answer's first token"}
COLOUR_CHOICES = [(label, value) for value, label in COLOURINGS.items()]
OWN_ANSWER = "target's first symbol"  # "answer's first token", for your pairs
# the plot's colour column for each colouring (a plain field name: the tooltip reads it as it is)
COLUMNS = {"length": "length", "first": "first token", "last": "last token", "answer": "answer starts with"}
X, Y, SOURCE, OUTPUT = "PC1", "PC2", "source", "output"
# an ordered colouring (length) runs from dark to light along viridis; tokens take Tableau's 20 colours in turn
VIRIDIS = ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b")
TABLEAU = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
EMPTY_NOTE = ('<p class="legend" id="map-empty">Press <b>Draw the map</b>: each point is one held-out source, placed '
              "by what the encoder hands the decoder (its final state), squeezed onto the two directions along which "
              "those states differ most. Colour them by a property of the source and see whether the encoder "
              "sorts sources by it.</p>")


@dataclass
class MapTab:
    """The Encoder map tab's components the API uses."""
    model_choice: gr.Dropdown
    colour_by: gr.Radio
    train_task: gr.components.Component
    plot: gr.ScatterPlot
    note: gr.Markdown


def map_size(model: Seq2Seq, task: Task) -> tuple[int, float]:
    """How many held-out sources the map shows (MAP_SOURCES, or fewer down to MAP_FLOOR so that encoding and decoding
    them fits MAP_SECONDS) and the estimated seconds; a gr.Error, before any work, when even the fewest do not fit."""
    config = getattr(model, "config", None)
    if config is None:  # never the app's: nothing to estimate from
        return limits.MAP_SOURCES, 0.0
    n = limits.MAP_SOURCES
    while n > limits.MAP_FLOOR and eval_seconds(config, task.spec, n) > limits.MAP_SECONDS:
        n = max(limits.MAP_FLOOR, n // 2)
    took = eval_seconds(config, task.spec, n)
    if took > limits.MAP_SECONDS:
        raise problem(f"Mapping {describe_model(model)} even on {n} sources takes about {took:.0f} s; this app allows "
                      f"{limits.MAP_SECONDS:g} s for a map: map a smaller model, or one trained on shorter sources.",
                      "Too slow to map")
    return n, took


def _palette(anchors: tuple[str, ...], k: int) -> list[str]:
    """k colours evenly along the anchors (linear in RGB)."""
    rgb = [tuple(int(a[i:i + 2], 16) for i in (1, 3, 5)) for a in anchors]
    out = []
    for j in range(k):
        t = j / max(k - 1, 1) * (len(rgb) - 1)
        i = min(int(t), len(rgb) - 2)
        f = t - i
        out.append("#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(rgb[i], rgb[i + 1])))
    return out


def colour_map(by: str, order: list[str]) -> dict[str, str]:
    colours = _palette(VIRIDIS, len(order)) if by == "length" else \
        [TABLEAU[i % len(TABLEAU)] for i in range(len(order))]
    return dict(zip(order, colours))


def legend_html(title: str, colours: dict[str, str]) -> str:
    """The colours' key under the plot, as HTML that wraps onto more lines where it must (a phone, 20 lengths), in the
    categories' order; every category escaped (your pairs' symbols are text someone gave)."""
    swatch = ("display:inline-block;width:9px;height:9px;border-radius:50%;border:2px solid {};margin-right:4px;"
              "vertical-align:-1px")
    keys = "".join(f'<span class="map-key" style="white-space:nowrap"><span style="{swatch.format(colour)}"></span>'
                   f"{views.esc(category)}</span>" for category, colour in colours.items())
    return (f'<div id="map-legend-body" class="legend" style="display:flex;flex-wrap:wrap;gap:2px 12px;'
            f'align-items:center"><b>{views.esc(title)}</b>{keys}</div>')


def percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else "<1%"


def axis_title(axis: int, share: float) -> str:
    return f"PC{axis} ({percent(share)} of the variance)"


def colour_title(by: str, own_pairs: bool) -> str:
    return OWN_ANSWER if own_pairs and by == "answer" else COLOURINGS[by]


def plot_update(m: ContextMap, by: str, own_pairs: bool) -> gr.ScatterPlot:
    """The scatter plot's value and settings: one point per source, in its category's order (the key's order),
    coloured (color_map), with the explained variance on each axis and the source and output on hover. Vega's own
    legend is off: it is one row, cut where a phone ends; `legend_html` is the key."""
    column = COLUMNS[by] if not (own_pairs and by == "answer") else "target starts with"
    colours = m.colour(by)
    order = m.order(by)
    rank = {c: i for i, c in enumerate(order)}
    rows = sorted(range(m.n), key=lambda i: rank[colours[i]])  # the colour scale's domain: categories as they come
    frame = pd.DataFrame({X: [m.points[i][0] for i in rows], Y: [m.points[i][1] for i in rows],
                          column: [colours[i] for i in rows], SOURCE: [m.sources[i] for i in rows],
                          OUTPUT: [m.outputs[i] for i in rows]})
    return gr.ScatterPlot(frame, x=X, y=Y, color=column, x_title=axis_title(1, m.explained[0]),
                          y_title=axis_title(2, m.explained[1]), color_title=colour_title(by, own_pairs),
                          color_map=colour_map(by, order), colors_in_legend=[], tooltip=[SOURCE, OUTPUT])


def map_note(m: ContextMap, by: str, task: Task, info: str, sized: int) -> str:
    """What was projected, how much of its variance each axis explains, on how many sources, and (attention, the
    Transformer) why the map is only part of the story. Markdown; the task's name is escaped by views.describe_task."""
    first, second = m.explained
    own = isinstance(task, DataTask)
    colour = colour_title(by, own)
    fewer = (f" (not {limits.MAP_SOURCES}: this model is slow enough that this app's time for a map allows {sized})"
             if sized < limits.MAP_SOURCES else " (all the held-out sources there are)" if m.n < sized else "")
    right = sum(m.right)
    lines = [(f"**{m.n} held-out sources**{fewer}, one point each. Projected: {m.what}, onto the two directions "
              f"along which these states differ most (their first two principal components)."),
             (f"**PC1 explains {percent(first)} of the variance, PC2 {percent(second)}: together "
              f"{percent(first + second)}**; the rest is in directions the map leaves out."),
             (f"Coloured by **{colour}**; hover a point for its source and the model's output (greedy: {right} of "
              f"{m.n} exactly right).")]
    if m.reads_every_state:
        reads = ("A Transformer's decoder reads every encoder output at every step" if "Transformer" in m.what else
                 "This model has attention: its decoder also reads every encoder state at every step, not only the "
                 "final one")
        lines.append(f"**{reads}, so this map is only part of the story:** much of what it decodes from is in the "
                     f"states it attends to (the Decode tab's Attention view shows where it looks).")
    lines.append(f"Model: {info.removeprefix('Decoding with ')}.")
    return "\n\n".join(lines)


def draw(model_choice, colour_by, train_task, session, request, *, should_stop=None) -> tuple[gr.ScatterPlot, str]:
    """The map of the chosen model (as the Decode tab chooses it) on its task's held-out sources: (plot, note). A
    gr.Error for a bad choice, a model with no held-out sources here, or one too slow to map; seq2seq.Interrupted
    when `should_stop` says yes."""
    if not isinstance(colour_by, str) or colour_by not in COLOURINGS:
        raise problem(f"Colour by must be one of {', '.join(COLOURINGS)}.", "Unknown colouring")
    if not isinstance(model_choice, str):  # (pick_model looks a value up in a set: a list would be a TypeError)
        raise problem("Model must be one of the menu's choices.", "Unknown model")
    model, task, info = pick_model(model_choice, train_task, session, request)
    n, _ = map_size(model, task)
    # torch: on the first map, not when the page is built
    from seq2seq.encoder_map import context_map
    try:
        m = context_map(model, task, n, should_stop=should_stop)
    except ValueError as e:  # your pairs not loaded here, or too few held out
        text = str(e)
        raise problem(f"Cannot draw a map: {text[0].lower()}{text[1:]}.", "No sources to map") from None
    own = isinstance(task, DataTask)
    return plot_update(m, colour_by, own), map_note(m, colour_by, task, info, n)


def build_map_tab(session_state: gr.State, train_task: gr.components.Component) -> MapTab:
    """The Encoder map tab's layout and its Draw button. `train_task` is the Train tab's task field ("Automatic"
    follows it)."""
    with gr.Row(equal_height=True):
        model_choice = gr.Dropdown(MODEL_CHOICES, value=AUTO, label="Model", elem_id="map-model", scale=4,
                                   min_width=200)
        colour_by = gr.Radio(COLOUR_CHOICES, value="length", label="Colour by", elem_id="map-colour", scale=4,
                             min_width=200)
        button = gr.Button("Draw the map", variant="primary", elem_id="map-button", scale=1, min_width=120)
    message = gr.HTML("", elem_id="map-message", visible=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=320):
            plot = gr.ScatterPlot(None, x=X, y=Y, title="Context vectors", elem_id="encoder-map", height=330)
            legend = gr.HTML("", elem_id="map-legend")  # the page's own: /encoder_map's plot carries its color_map
        with gr.Column(scale=4, min_width=280):
            note = gr.Markdown(EMPTY_NOTE, elem_id="map-note")

    @guarded
    async def draw_on_page(model_choice, colour_by, train_task, session, request: gr.Request):
        try:
            shown, text = await in_thread(draw, model_choice, colour_by, train_task, session, request)
        except gr.Error as e:
            return {plot: None, legend: "", note: EMPTY_NOTE, message: say(e.message)}
        return {plot: shown, legend: legend_html(shown.color_title, shown.color_map), note: text, message: say()}

    inputs = [model_choice, colour_by, train_task, session_state]
    for trigger in (button.click, colour_by.input):
        trigger(draw_on_page, inputs, [plot, legend, note, message], js=scroll_to("encoder-map", 300, 320), **PRIVATE,
                **DECODES)
    return MapTab(model_choice, colour_by, train_task, plot, note)


def declare_map_api(session_state: gr.State, tab: MapTab) -> None:
    """/encoder_map(model_choice, colour_by, train_task): the map as the tab draws it, (plot, note)."""

    @guarded
    async def encoder_map_endpoint(model_choice: str, colour_by: str, train_task: str, session,
                                   request: gr.Request):
        """/encoder_map: the chosen model's context vectors of held-out sources on their two principal components:
        the plot (its data: PC1, PC2, the colour, source, output; its axis titles: each one's share of the variance)
        and a note saying what was projected and how much of its variance each axis explains. Cancelled, it stops."""
        return await in_thread(draw, model_choice, colour_by, train_task, session, request)

    gr.on([], encoder_map_endpoint, [tab.model_choice, tab.colour_by, tab.train_task, session_state],
          [tab.plot, tab.note], api_name="encoder_map", **DECODES, **AS_SENT)
