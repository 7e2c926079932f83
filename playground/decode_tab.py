"""The Decode tab: a source, a model, a strategy; the answer marked right or wrong, the step table, and the
views (the step player, probabilities, attention, the beam tree, "what if"). /decode and /what_if are declared
in `playground.api` over the same components."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from seq2seq import validation_set
from seq2seq.controls import DECODING
from seq2seq.tasks import MAX_SOURCE_CHARS

from . import decoding, limits, settings, views
from .cancel import in_thread
from .gradio_internals import event_payload
from .models import AUTO, MODEL_CHOICES, pick_model
from .registry import checked, keep_sessions_within_memory, session_of
from .page import asset, field, say, scroll_to
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))
PRIVATE = dict(api_visibility="private", preprocess=False)  # values arrive as sent: the handler checks them
DECODES = dict(concurrency_id="decode", concurrency_limit=limits.DECODES_AT_ONCE)  # never behind a training
STRATEGY_FIELDS = ("width", "temperature", "sample_k", "top_p", "seed")  # shown for beam / sampling only

EMPTY_VERDICT = ('<p class="legend" id="decode-empty">Press <b>Decode</b> (or click an example) to see the '
                 "model’s answer, marked right or wrong, and how it chose each token.</p>")
EMPTY_PLAYER = '<p class="legend">The decoding, one step at a time, appears here.</p>'
EMPTY_WHAT_IF = ('<p class="legend" id="what-if-empty">Click any token in the probabilities, a bar in the Steps '
                 'view or a “#” cell of the step table: the decoding is run again with that token '
                 'forced at that step, and shown beside the original.</p>')


@dataclass
class DecodeTab:
    """The Decode tab's components the API uses."""
    source: gr.Textbox
    model_choice: gr.Dropdown
    top_k: gr.Slider
    strategy: list  # the strategy, then STRATEGY_FIELDS' controls
    verdict: gr.HTML
    steps_table: gr.Dataframe
    distribution: gr.HTML
    attention_map: gr.HTML
    playback: gr.HTML
    beam_tree: gr.HTML
    model_info: gr.Markdown
    what_if_box: gr.HTML
    refresh: dict  # the event that shows held-out examples and which model: run again when the model may change


def control(name: str, elem_id: str | None = None, **kw) -> gr.components.Component:
    """A Decode control from its row in the table, showing its default."""
    s = DECODING[name]
    return field(s, s.default, elem_id or f"decode-{name.replace('_', '-')}", **kw)


def last_decoding(session) -> views.Decoded | None:
    """The session's last decoding on this tab (None before one, or once it was let go to make room)."""
    try:
        session = checked(session)
    except gr.Error:
        return None
    return session.decoded if session is not None else None


def build_decode_tab(session_state: gr.State, train_task: gr.components.Component) -> DecodeTab:
    """The Decode tab's layout and its page events. `train_task` is the Train tab's task field ("Automatic"
    follows it)."""
    examples_state = gr.State([])     # the example sources shown
    with gr.Row(equal_height=True):
        source = gr.Textbox("3 1 4 1 5 9", label="Source (tokens separated by spaces; for your pairs or dates, text as written)", elem_id="decode-input",
                            scale=4, min_width=200)
        decode_button = gr.Button("Decode", variant="primary", elem_id="decode-button", scale=1, min_width=90)
        model_choice = gr.Dropdown(MODEL_CHOICES, value=AUTO, label="Model", elem_id="decode-model", scale=4,
                                   min_width=200)
        strategy = control("strategy", scale=2, min_width=130)
    decode_message = gr.HTML("", elem_id="decode-message", visible=False)
    with gr.Row(equal_height=True):
        examples = gr.Dataset(components=[source], samples=[], label="Held-out examples: click one to decode it",
                              elem_id="decode-examples", scale=5)
        top_k = control("top_k", "decode-topk", scale=2, min_width=140)
        fields = {name: control(name, scale=1 if name == "seed" else 2, min_width=90 if name == "seed" else 140,
                               visible=False) for name in STRATEGY_FIELDS}
    model_info = gr.Markdown(elem_id="decode-model-info", elem_classes="legend")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            verdict = gr.HTML(EMPTY_VERDICT, elem_id="decode-verdict")
            steps_table = gr.Dataframe(label="Decoding steps (click a row to see that step, a # cell to force that "
                                             "token)", interactive=False, elem_id="decode-steps", max_height=300)
        with gr.Column(scale=6, min_width=320):
            with gr.Tabs(selected="view-steps", elem_id="decode-views") as decode_views:
                with gr.Tab("Steps", id="view-steps", elem_id="view-steps"):
                    playback = gr.HTML(EMPTY_PLAYER, elem_id="playback", js_on_load=asset("click_token.js"))
                with gr.Tab("Probabilities", id="view-probabilities", elem_id="view-probabilities"):
                    distribution = gr.HTML("", elem_id="decode-distribution", elem_classes="scroll-x",
                                           js_on_load=asset("click_token.js"))
                with gr.Tab("Attention", id="view-attention", elem_id="view-attention"):
                    attention_head = gr.Dropdown([(views.AVERAGE, views.AVERAGE)], value=views.AVERAGE,
                                                 label="Which attention (Transformer)", visible=False,
                                                 elem_id="decode-attention-head")
                    attention_map = gr.HTML("", elem_id="decode-attention", elem_classes="scroll-x")
                with gr.Tab("Beams", id="view-tree", elem_id="view-tree"):
                    beam_tree = gr.HTML(decoding.EMPTY_TREE, elem_id="beam-tree")
                with gr.Tab("What if", id="view-what-if", elem_id="view-what-if"):
                    what_if_box = gr.HTML(EMPTY_WHAT_IF, elem_id="what-if")
    strategy_inputs = [strategy, *fields.values()]

    @guarded
    async def decode_on_page(source, model_choice, top_k, train_task, strategy, session, request: gr.Request,
                             **values):
        """The Decode button: as /decode, but a bad source is one sentence under the box, and the old result goes.
        Beam search opens the beam tree; otherwise the step-by-step view. A cancelled request stops decoding."""
        try:
            chosen = decoding.read_strategy(strategy, **values)
            d = await in_thread(decoding.decode, source, model_choice, top_k, train_task, session, request, chosen)
        except gr.Error as e:
            if checked(session) is not None:
                session.decoded = None  # the old result goes
            return {verdict: EMPTY_VERDICT, steps_table: None, distribution: "", attention_map: "",
                    playback: EMPTY_PLAYER, session_state: gr.skip(), beam_tree: decoding.EMPTY_TREE,
                    what_if_box: EMPTY_WHAT_IF, attention_head: gr.update(visible=False), decode_message: say(e.message)}
        heads = views.head_choices(d.decoded)
        session = session_of(session, request)  # it keeps the decoding (counted in its memory) for what follows
        session.decoded = d.decoded
        keep_sessions_within_memory()
        return {verdict: d.verdict, steps_table: d.steps, distribution: d.distribution, attention_map: d.attention,
                playback: d.player, session_state: session, model_info: d.info, beam_tree: d.tree,
                what_if_box: EMPTY_WHAT_IF,
                decode_views: gr.Tabs(selected="view-tree" if chosen.kind == "beam" else "view-steps"),
                attention_head: gr.update(choices=heads or [(views.AVERAGE, views.AVERAGE)], value=views.AVERAGE,
                                          visible=bool(heads)),
                decode_message: say()}

    async def what_if_at(step, token, model_choice, train_task, session, request) -> dict:
        try:
            html = await in_thread(decoding.what_if, last_decoding(session), step, token, model_choice, train_task,
                                   session, request)
        except gr.Error as e:
            return {decode_message: say(e.message)}
        return {what_if_box: html, decode_views: gr.Tabs(selected="view-what-if"), decode_message: say()}

    @guarded
    async def what_if_clicked(model_choice, train_task, session, evt: gr.EventData, request: gr.Request):
        """A click on an alternative token (heatmap cell or player bar): what if it had been chosen."""
        data = event_payload(evt)
        if not isinstance(data, dict) or "step" not in data or "token" not in data:
            return {}
        return await what_if_at(data["step"], data["token"], model_choice, train_task, session, request)

    @guarded
    async def what_if_selected(model_choice, train_task, session, evt: gr.SelectData, request: gr.Request):
        """A click on a "#k" cell of the step table: what if that alternative had been chosen."""
        index, row = evt.index, evt.row_value
        column = index[1] if isinstance(index, (list, tuple)) and len(index) == 2 else None
        token = views.alternative_at(row, column) if isinstance(row, list) and isinstance(column, int) and row else None
        if token is None:
            return {}
        return await what_if_at(row[0], token, model_choice, train_task, session, request)

    @guarded
    def top_k_changed(session, top_k):
        """Top-k moved: the step table again from the last decoding, without decoding again."""
        decoded = last_decoding(session)
        if not isinstance(decoded, views.Decoded):
            return gr.skip()
        try:
            k = settings.number(DECODING["top_k"], top_k)
        except settings.SettingsError:
            return gr.skip()
        return views.steps_frame(decoded, min(k, len(decoded.tokens)))

    @guarded
    def attention_head_changed(session, head):
        """A Transformer's attention map for one layer's head, or the average, from the last decoding."""
        decoded = last_decoding(session)
        if not isinstance(decoded, views.Decoded) or head not in {value for _, value in views.head_choices(decoded)}:
            return gr.skip()
        return views.attention_html(decoded, head)

    def strategy_changed(kind):
        """Show the controls of the chosen strategy only."""
        return {fields[name]: gr.update(visible=kind == "beam" if name == "width" else kind == "sampling")
                for name in STRATEGY_FIELDS}

    @guarded
    def pick_example(index, samples):
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(samples or []):
            raise gr.Error("Pick one of the examples.", title="Unknown example")
        return samples[index][:MAX_SOURCE_CHARS]

    @guarded
    def example_sources(choice, task_name, session, request: gr.Request):
        """A few held-out sources (never seen in training) for the model the Decode tab would use."""
        try:
            _, task, info = pick_model(choice, task_name, session, request)
        except gr.Error as e:
            return {examples: gr.Dataset(samples=[]), examples_state: [], model_info: e.message}
        try:
            samples = [task.vocab.text(ex.source, "source") for ex in validation_set(task, 5, seed=7)]
        except ValueError:  # a loaded model whose pairs are not given here: it decodes, with no examples to offer
            samples = []
        return {examples: gr.Dataset(samples=[[s] for s in samples]), examples_state: samples, model_info: info}

    refresh = dict(fn=example_sources, inputs=[model_choice, train_task, session_state],
                   outputs=[examples, examples_state, model_info], **PRIVATE)
    model_choice.change(**refresh)
    train_task.change(**refresh)
    decode_inputs = dict(inputs=[source, model_choice, top_k, train_task, strategy, session_state],
                         inputs_kwargs=dict(fields),
                         outputs=[verdict, steps_table, distribution, attention_map, playback, session_state,
                                  model_info, beam_tree, what_if_box, decode_views, attention_head, decode_message])
    for trigger in (decode_button.click, source.submit):
        trigger(decode_on_page, **decode_inputs, js=scroll_to("decode-verdict", 300, 400), **PRIVATE, **DECODES)
    examples.click(pick_example, [examples, examples_state], source, **PRIVATE).then(
        decode_on_page, **decode_inputs, **PRIVATE, **DECODES)
    strategy.change(strategy_changed, strategy, list(fields.values()), **PRIVATE, show_progress="hidden")
    top_k.change(top_k_changed, [session_state, top_k], steps_table, **PRIVATE, show_progress="hidden")
    attention_head.change(attention_head_changed, [session_state, attention_head], attention_map, **PRIVATE,
                          show_progress="hidden")
    what_if_inputs = [model_choice, train_task, session_state]
    what_if_outputs = [what_if_box, decode_views, decode_message]
    for trigger in (distribution.click, playback.click):
        trigger(what_if_clicked, what_if_inputs, what_if_outputs, **PRIVATE, **DECODES)
    steps_table.select(what_if_selected, what_if_inputs, what_if_outputs, **PRIVATE, **DECODES)
    tab = DecodeTab(source, model_choice, top_k, strategy_inputs, verdict, steps_table, distribution, attention_map,
                    playback, beam_tree, model_info, what_if_box, refresh)
    return tab
