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
EMPTY_DISTRIBUTION = ('<p class="legend" id="distribution-empty">Press <b>Decode</b>: every token’s probability at '
                      'every step appears here.</p>')
EMPTY_ATTENTION = ('<p class="legend" id="attention-empty">Press <b>Decode</b>: where the model looked in the source '
                   'at each step appears here (for a model with attention).</p>')
STEPS_MAX_HEIGHT = 460  # a decoding of up to 16 steps whole, without scrolling inside the table
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


def reveal(top: str, bottom: str, answer: str) -> str:
    """JavaScript run once an event's outputs are shown: scroll the page as little as needed to bring `top`'s top to
    `bottom`'s bottom into view, from `top` down as far as fits when it cannot all fit. With an `answer` (a selector)
    shown, it first waits for `bottom` (a table, drawn a moment after its value arrives) to show its cells and keep
    its height for a few frames; without one (a message instead), `top` alone. Nothing when it is in view, or when
    the visitor scrolled meanwhile (the page stays where they put it)."""
    return ("() => { const y0 = window.scrollY, t0 = performance.now(); let last = -1, same = 0; "
            "const step = () => { if (Math.abs(window.scrollY - y0) > 1) return; "
            f"const t = document.getElementById('{top}'), b = document.getElementById('{bottom}'); if (!t) return; "
            f"const wanted = !!document.querySelector('{answer}'), "
            "shown = wanted && !!b && b.offsetParent !== null && !!b.querySelector('[role=gridcell]'), "
            "height = shown ? b.getBoundingClientRect().height : -1; "
            "same = height === last ? same + 1 : 0; last = height; "
            "if ((wanted && !shown || same < 3) && performance.now() - t0 < 3000) { requestAnimationFrame(step); "
            "return; } "
            "const m = 8, h = window.innerHeight, r = t.getBoundingClientRect(), "
            "bottom = shown ? b.getBoundingClientRect().bottom : r.bottom; "
            "const dy = r.top < m ? r.top - m : Math.min(Math.max(bottom - h + m, 0), r.top - m); "
            "if (Math.abs(dy) > 1) window.scrollBy(0, dy); }; requestAnimationFrame(step); }")


REVEAL_ANSWER = reveal("decode-verdict", "decode-steps", "#decode-verdict-body")  # the answer, then its steps


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
                                             "token)", interactive=False, elem_id="decode-steps",
                                       max_height=STEPS_MAX_HEIGHT, visible=False)  # shown with a decoding
        with gr.Column(scale=6, min_width=320):
            with gr.Tabs(selected="view-steps", elem_id="decode-views") as decode_views:
                with gr.Tab("Steps", id="view-steps", elem_id="view-steps"):
                    playback = gr.HTML(EMPTY_PLAYER, elem_id="playback", js_on_load=asset("click_token.js"))
                with gr.Tab("Probabilities", id="view-probabilities", elem_id="view-probabilities"):
                    distribution = gr.HTML(EMPTY_DISTRIBUTION, elem_id="decode-distribution", elem_classes="scroll-x",
                                           js_on_load=asset("click_token.js"))
                with gr.Tab("Attention", id="view-attention", elem_id="view-attention"):
                    attention_head = gr.Dropdown([(views.AVERAGE, views.AVERAGE)], value=views.AVERAGE,
                                                 label="Which attention (Transformer)", visible=False,
                                                 elem_id="decode-attention-head")
                    attention_map = gr.HTML(EMPTY_ATTENTION, elem_id="decode-attention", elem_classes="scroll-x")
                    with gr.Column(visible=False) as attention_offer:  # shown when a bundled model has attention
                        attention_button = gr.Button(elem_id="decode-attention-model", size="md")
                    attention_choice = gr.State(None)  # the bundled model the button decodes with
                with gr.Tab("Beams", id="view-tree", elem_id="view-tree"):
                    beam_tree = gr.HTML(decoding.EMPTY_TREE, elem_id="beam-tree")
                with gr.Tab("What if", id="view-what-if", elem_id="view-what-if"):
                    what_if_box = gr.HTML(EMPTY_WHAT_IF, elem_id="what-if")
    strategy_inputs = [strategy, *fields.values()]

    async def decode_and_show(view, source, model_choice, top_k, train_task, strategy, session, request, values):
        """As /decode, but a bad source is one sentence under the box, and the old result goes. `view`: the view to
        open (None: the beam tree for beam search, else the step-by-step view). A cancelled request stops decoding."""
        try:
            chosen = decoding.read_strategy(strategy, **values)
            d = await in_thread(decoding.decode, source, model_choice, top_k, train_task, session, request, chosen)
        except gr.Error as e:
            if checked(session) is not None:
                session.decoded = None  # the old result goes
            return {verdict: EMPTY_VERDICT, steps_table: gr.update(value=None, visible=False),
                    distribution: EMPTY_DISTRIBUTION, attention_map: EMPTY_ATTENTION, playback: EMPTY_PLAYER,
                    session_state: gr.skip(), beam_tree: decoding.EMPTY_TREE, what_if_box: EMPTY_WHAT_IF,
                    attention_head: gr.update(visible=False), attention_offer: gr.update(visible=False),
                    attention_choice: None, decode_message: say(e.message)}
        heads = views.head_choices(d.decoded)
        session = session_of(session, request)  # it keeps the decoding (counted in its memory) for what follows
        session.decoded = d.decoded
        keep_sessions_within_memory()
        other = d.attention_model
        return {verdict: d.verdict, steps_table: gr.update(value=d.steps, visible=True), distribution: d.distribution,
                attention_map: d.attention, playback: d.player, session_state: session, model_info: d.info,
                beam_tree: d.tree, what_if_box: EMPTY_WHAT_IF,
                decode_views: gr.Tabs(selected=view or ("view-tree" if chosen.kind == "beam" else "view-steps")),
                attention_head: gr.update(choices=heads or [(views.AVERAGE, views.AVERAGE)], value=views.AVERAGE,
                                          visible=bool(heads)),
                attention_offer: gr.update(visible=other is not None),
                attention_button: f"Decode this source with the bundled {other} model" if other
                else "Decode with a model with attention",
                attention_choice: f"bundled:{other}" if other else None,
                decode_message: say()}

    @guarded
    async def decode_on_page(source, model_choice, top_k, train_task, strategy, session, request: gr.Request,
                             **values):
        """The Decode button: beam search opens the beam tree; otherwise the step-by-step view."""
        return await decode_and_show(None, source, model_choice, top_k, train_task, strategy, session, request, values)

    @guarded
    async def decode_for_attention(source, model_choice, top_k, train_task, strategy, session,
                                   request: gr.Request, **values):
        """The Attention view's button, once it has picked the model with attention: decode, and show attention."""
        return await decode_and_show("view-attention", source, model_choice, top_k, train_task, strategy, session,
                                     request, values)

    def pick_attention_model(choice):
        """The Attention view's button: the bundled model with attention for this task, in the model menu."""
        return choice if choice in {value for _, value in MODEL_CHOICES} else gr.skip()

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
                                  model_info, beam_tree, what_if_box, decode_views, attention_head, attention_offer,
                                  attention_button, attention_choice, decode_message])
    answer_in_view = scroll_to("decode-verdict", 300, 400)  # as it starts; REVEAL_ANSWER once it is shown
    for trigger in (decode_button.click, source.submit):
        trigger(decode_on_page, **decode_inputs, js=answer_in_view, **PRIVATE, **DECODES).then(
            None, js=REVEAL_ANSWER, **PRIVATE)
    examples.click(pick_example, [examples, examples_state], source, **PRIVATE).then(
        decode_on_page, **decode_inputs, js=answer_in_view, **PRIVATE, **DECODES).then(
        None, js=REVEAL_ANSWER, **PRIVATE)
    attention_button.click(pick_attention_model, attention_choice, model_choice, **PRIVATE).then(
        decode_for_attention, **decode_inputs, **PRIVATE, **DECODES)
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
