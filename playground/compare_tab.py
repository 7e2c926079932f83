"""The Compare tab: two models decode the same source side by side, and a chart shows how often each is exactly
right at every source length, including lengths longer than either was trained on. /compare is declared in
`playground.api` over the same components."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from . import comparing, views
from .decode_tab import PRIVATE
from .models import COMPARE_CHOICES, COMPARE_COLOURS, COMPARE_DEFAULTS
from .page import say, scroll_to
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))
EMPTY_COMPARE = ('<p class="legend" id="compare-empty">Pick two models for the same task and press <b>Compare</b>: '
                 "both decode the source side by side, with their attention, and the chart shows how often each is "
                 "exactly right at every source length, including lengths longer than any it was trained on.</p>")


EDGE_KEY = (f'<p class="legend" id="by-length-edge"><span class="edge-swatch" style="border-color:{views.EDGE_COLOUR}">'
            '</span> Grey line: the longest source length the models were trained on; longer sources to its right.</p>')


def chart_update(frame) -> tuple[gr.LinePlot, str]:
    """The chart's value with its legend naming the two models only, which fits a phone's width (Gradio draws the
    legend in one row under the plot and cuts what does not fit), and the line under it that names the grey line."""
    names = list(dict.fromkeys(frame[views.BY_LENGTH_COLUMNS[2]]))
    models = [name for name in names if name != views.TRAINED_EDGE]
    return gr.LinePlot(frame, colors_in_legend=models), EDGE_KEY if views.TRAINED_EDGE in names else ""


@dataclass
class CompareTab:
    """The Compare tab's components the API uses."""
    source: gr.Textbox
    model_a: gr.Dropdown
    model_b: gr.Dropdown
    a: gr.HTML
    b: gr.HTML
    chart: gr.LinePlot
    note: gr.Markdown


def build_compare_tab(session_state: gr.State) -> CompareTab:
    """The Compare tab's layout and its Compare button."""
    with gr.Row(equal_height=True):
        source = gr.Textbox("3 1 4 1 5 9 2 6 5 3 5 8 9 7", label="Source (try one longer than trained)",
                            elem_id="compare-input", scale=4, min_width=200)
        model_a = gr.Dropdown(COMPARE_CHOICES, value=COMPARE_DEFAULTS[0], label="Model A", elem_id="compare-model-a",
                              scale=3, min_width=180)
        model_b = gr.Dropdown(COMPARE_CHOICES, value=COMPARE_DEFAULTS[1], label="Model B", elem_id="compare-model-b",
                              scale=3, min_width=180)
        button = gr.Button("Compare", variant="primary", elem_id="compare-button", scale=1, min_width=90)
    message = gr.HTML("", elem_id="compare-message", visible=False)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            a = gr.HTML(EMPTY_COMPARE, elem_id="compare-a", elem_classes="scroll-x")
            b = gr.HTML("", elem_id="compare-b", elem_classes="scroll-x")
        with gr.Column(scale=5, min_width=320, elem_id="compare-chart"):
            x, y, colour = views.BY_LENGTH_COLUMNS
            chart = gr.LinePlot(None, x=x, y=y, color=colour, y_lim=[0, 100], title="Exact match by source length",
                                color_map=COMPARE_COLOURS, elem_id="by-length-plot", height=260)
            edge_key = gr.HTML("", elem_id="by-length-key")  # the page's own: /compare returns the chart's data
            note = gr.Markdown(elem_id="by-length-note", elem_classes="legend")

    @guarded
    async def compare_on_page(source, model_a, model_b, session, request: gr.Request):
        try:
            c = await comparing.compare(source, model_a, model_b, session, request)
        except gr.Error as e:
            return {a: EMPTY_COMPARE, b: "", chart: None, edge_key: "", note: "", message: say(e.message)}
        plot, key = chart_update(c.by_length)
        return {a: c.a, b: c.b, chart: plot, edge_key: key, note: c.note, message: say()}

    button.click(compare_on_page, [source, model_a, model_b, session_state], [a, b, chart, edge_key, note, message],
                 js=scroll_to("compare-chart", 300, 320), **PRIVATE, **comparing.COMPARES)
    return CompareTab(source, model_a, model_b, a, b, chart, note)
