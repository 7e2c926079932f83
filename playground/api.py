"""The HTTP API: /data, /train, /decode, /stop, /load, /what_if and /compare, each declared once, as an event with no
trigger on the page (what gr.api() does) over the page's own components, so an endpoint returns exactly what
the page would show. Names, parameters and their order are what docs/api.md documents: change them only
with it. The page's own events are private; these are the only public ones."""
from __future__ import annotations

import gradio as gr

from . import comparing, decoding, limits, pace
from .compare_tab import CompareTab
from .cancel import in_thread
from .decode_tab import DECODES, DecodeTab
from .gradio_internals import api_only_input, unread_updates
from .pairs import give_pairs
from .settings import SettingsError
from .train_tab import TrainTab
from .training import stop, training
from .uploads import read_upload
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))
AS_SENT = dict(preprocess=False)  # values arrive as sent: each handler checks them in the field's own words


def declare_api(demo: gr.Blocks, session_state: gr.State, train: TrainTab, decode: DecodeTab,
                compare: CompareTab) -> None:
    """Declare the seven endpoints over the tabs' components."""

    @guarded
    def data_endpoint(file=None, text=None, example=None, source_tokens="detect", target_tokens="detect", session=None,
                      request: gr.Request = None):
        """/data: your own pairs (a file, pasted text, or an example's name; the first given) become this session's
        pairs, which /train trains on with task "data"; returns what was read. Bad data: an error, and nothing
        changes."""
        session, sentence = give_pairs(file, text, example, source_tokens, target_tokens, session, request)
        return session, sentence

    @guarded
    def train_endpoint(session, request: gr.Request, **values):
        """/train: every Train-tab setting by name, then `mode`; streams (loss plot, accuracy plot, status,
        checkpoint zip, metrics CSV). A bad setting is an error with the form's sentence."""
        mode = values.pop("mode", None)
        try:
            for f in training(values, mode, None, session, request, lambda key: unread_updates(demo, key)):
                yield f.loss, f.accuracy, f.status, f.checkpoint, f.metrics, f.session
        except SettingsError as e:
            raise decoding.as_error(e) from None

    def paced(act, request, *args):
        """/pause, /resume, /one_step, /slow, /change: the sentence, or an error saying why not."""
        try:
            return act(request, *args)
        except SettingsError as e:
            raise decoding.as_error(e) from None

    @guarded
    def pause_endpoint(request: gr.Request) -> str:
        """/pause: hold this session's training before its next step (exactly: /resume goes on as if never paused)."""
        return paced(pace.pause, request)

    @guarded
    def resume_endpoint(request: gr.Request) -> str:
        """/resume: go on from where /pause or /one_step held the run."""
        return paced(pace.resume, request)

    @guarded
    def one_step_endpoint(request: gr.Request) -> str:
        """/one_step: a single update (pausing first); its loss, gradient norm before clipping, learning rate and
        how the watched answers changed."""
        return paced(pace.one_step, request)

    @guarded
    def slow_endpoint(on, request: gr.Request) -> str:
        """/slow: true, about three steps a second (for narration); false, full speed."""
        return paced(pace.slow, request, on)

    @guarded
    def change_endpoint(lr, teacher_forcing, request: gr.Request) -> str:
        """/change: the learning rate and/or teacher-forcing ratio from the next step (only while paused)."""
        return paced(pace.change, request, lr, teacher_forcing)

    @guarded
    def stop_endpoint(request: gr.Request) -> str:
        """/stop: ask this session's training to stop; it finishes the current step and keeps the model."""
        return stop(request)

    @guarded
    async def decode_endpoint(source: str, model_choice: str, top_k: int, train_task: str, strategy: str,
                              width: int, temperature: float, sample_k: int, top_p: float, seed: int, session,
                              request: gr.Request):
        """/decode: the output string first, then the verdict, step table, heatmap, attention, player, the beam
        tree (beam search only), and last which model (and strategy). Cancelled, it stops decoding."""
        chosen = decoding.read_strategy(strategy, width, temperature, sample_k, top_p, seed)
        d = await in_thread(decoding.decode, source, model_choice, top_k, train_task, session, request, chosen)
        return d.output, d.verdict, d.steps, d.distribution, d.attention, d.player, d.tree, d.info

    @guarded
    async def what_if_endpoint(source: str, step: int, token: str, model_choice: str, train_task: str,
                               strategy: str, width: int, temperature: float, sample_k: int, top_p: float, seed: int,
                               session, request: gr.Request) -> str:
        """/what_if: decode `source` as /decode would, then again with `token` forced at `step` (from 1) and
        greedy after it; both side by side, as HTML. Refused before any work when both would cost more than the
        decoding budget; cancelled, it stops decoding."""
        chosen = decoding.read_strategy(strategy, width, temperature, sample_k, top_p, seed)

        def both(request, should_stop) -> str:  # the request: so a client gone away stops it too
            d = decoding.decode(source, model_choice, 3, train_task, session, request, chosen, what_if=True,
                                should_stop=should_stop)
            return decoding.what_if(d.decoded, step, token, model_choice, train_task, session, request,
                                    should_stop=should_stop)
        return await in_thread(both, request)

    @guarded
    def load_endpoint(file, session, request: gr.Request):
        """/load: a checkpoint zip becomes this session's model."""
        return read_upload(file, session, request)

    @guarded
    async def compare_endpoint(source: str, model_a: str, model_b: str, session, request: gr.Request):
        """/compare: each model's answer (HTML), their exact match by source length (a table) and a note."""
        c = await comparing.compare(source, model_a, model_b, session, request)
        return c.a, c.b, c.by_length, c.note

    form = train.form
    example = api_only_input("example", {"type": "string", "description": "an example's name: dates, numbers or "
                                                                            "commands (or empty)"})
    gr.on([], data_endpoint, [train.data_upload, train.paste, example, train.source_tokens, train.target_tokens,
                              session_state], [session_state, train.data_status], api_name="data", **AS_SENT)
    gr.on([], train_endpoint, [session_state], inputs_kwargs={**{n: form[n] for n in limits.SETTINGS},
                                                              "mode": train.mode},
          outputs=[train.loss_plot, train.accuracy_plot, train.status, train.checkpoint_file, train.metrics_file,
                   session_state], api_name="train", concurrency_limit=limits.MAX_TRAININGS,
          concurrency_id="train", **AS_SENT)
    gr.on([], stop_endpoint, None, train.status, api_name="stop", queue=False, **AS_SENT)
    gr.on([], pause_endpoint, None, train.status, api_name="pause", queue=False, **AS_SENT)
    gr.on([], resume_endpoint, None, train.status, api_name="resume", queue=False, **AS_SENT)
    gr.on([], one_step_endpoint, None, train.status, api_name="one_step", concurrency_id="pace",
          concurrency_limit=None, **AS_SENT)
    slow_on = api_only_input("on", {"type": "boolean", "description": "true: a few steps a second; false: full speed"},
                             True)
    gr.on([], slow_endpoint, slow_on, train.status, api_name="slow", queue=False, **AS_SENT)
    lr = api_only_input("lr", {"type": "number", "description": "the learning rate from the next step (or None)"})
    ratio = api_only_input("teacher_forcing", {"type": "number", "description": "the teacher-forcing ratio from "
                                                                                "the next step (or None)"})
    gr.on([], change_endpoint, [lr, ratio], train.status, api_name="change", queue=False, **AS_SENT)
    output = api_only_input("output", {"type": "string"})  # /decode's first value: the output as a string
    strategy = decode.strategy
    gr.on([], decode_endpoint, [decode.source, decode.model_choice, decode.top_k, form["task"], *strategy,
                                session_state],
          [output, decode.verdict, decode.steps_table, decode.distribution, decode.attention_map, decode.playback,
           decode.beam_tree, decode.model_info], api_name="decode", **DECODES, **AS_SENT)
    step = api_only_input("step", {"type": "integer", "description": "the step to force, from 1"})
    token = api_only_input("token", {"type": "string", "description": "the token forced at that step"})
    gr.on([], what_if_endpoint, [decode.source, step, token, decode.model_choice, form["task"], *strategy,
                                 session_state], decode.what_if_box, api_name="what_if", **DECODES, **AS_SENT)
    gr.on([], load_endpoint, [train.upload, session_state], [session_state, train.upload_status], api_name="load",
          **AS_SENT)
    gr.on([], compare_endpoint, [compare.source, compare.model_a, compare.model_b, session_state],
          [compare.a, compare.b, compare.chart, compare.note], api_name="compare", **comparing.COMPARES, **AS_SENT)

