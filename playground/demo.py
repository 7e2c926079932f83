"""The page: `build_demo()` composes the tabs (one module each) and the API; `launch()` starts the server, and
only once it listens, what it needs later (the training zygote, the bundled models, the watchdog).

    from playground.demo import build_demo, launch
    launch(build_demo())
"""
from __future__ import annotations

import gc
import logging
import os
import threading
import time

import gradio as gr
from starlette.middleware import Middleware

from . import comparing, gradio_internals, limits, registry, tour
from .api import declare_api
from .compare_tab import build_compare_tab
from .decode_tab import build_decode_tab
from .links import build_notice, wire_links
from .map_tab import build_map_tab, declare_map_api
from .models import load_bundled
from .page import page_css, page_js
from .train_tab import build_train_tab
from .runs_tab import build_runs_tab, declare_runs_api
from .training import WORKERS
from .webguard import BodyLimit, guard_inputs

TITLE = ("## seq2seq playground\nTrain an encoder–decoder (LSTM, GRU or Transformer) on a toy task, watch the loss fall, then watch it "
         "decode one token at a time (on the CPU, in seconds).")


def build_demo() -> gr.Blocks:
    """The whole page and its API; builds components only (no model is loaded, no process started)."""
    gradio_internals.keep_lean_session_states()  # per-session page state without copies of every value shown
    with gr.Blocks(title="seq2seq playground", delete_cache=(60, 3600)) as demo:
        session_state = gr.State(None, time_to_live=limits.SESSION_TTL, delete_callback=registry.forget_session)
        with gr.Row(equal_height=False, elem_id="title-row"):
            gr.Markdown(TITLE, elem_id="title")
            gr.HTML(tour.LAUNCH_HTML, elem_id="tour-launch", min_width=200)
        notice = build_notice()  # what a link asked for that could not be set
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Train", id="train", elem_id="train-tab"):
                train = build_train_tab(demo, session_state)
            with gr.Tab("Decode", id="decode", elem_id="decode-tab"):
                decode = build_decode_tab(session_state, train.form["task"])
            with gr.Tab("Compare", id="compare", elem_id="compare-tab"):
                compare = build_compare_tab(session_state)
            with gr.Tab("Runs", id="runs", elem_id="runs-tab") as runs_tab_item:
                runs_tab = build_runs_tab(session_state, train)
            with gr.Tab("Encoder map", id="map", elem_id="map-tab"):
                encoder_map = build_map_tab(session_state, train.form["task"])
        declare_api(demo, session_state, train, decode, compare)
        declare_map_api(session_state, encoder_map)
        tour.build_tour(demo, train)  # the guided tour: its panel, and "Show me" setting each step's controls
        wire_links(demo, train, decode, tabs, notice)  # a link's settings as the page loads; Copy link; the file
        # the Decode tab's examples and model line follow whatever may change the session's model
        train.train_event.then(**decode.refresh)
        train.upload.upload(**decode.refresh)
        demo.load(**decode.refresh)
        runs_tab.make_current_event.then(**decode.refresh)
        # the Runs tab lists whatever runs the session has when it is opened, and after every training or load
        runs_tab_item.select(**runs_tab.refresh)
        train.train_event.then(**runs_tab.refresh)
        train.upload.upload(**runs_tab.refresh)
        declare_runs_api(session_state, runs_tab)

        def page_closed(request: gr.Request) -> None:
            registry.session_closed(demo, request)
        demo.unload(page_closed)
    guard_inputs(demo, gr.Error)  # too few or too many inputs, or an unreadable file: a sentence, not {"error": null}
    return demo


def start_background() -> None:
    """What the server needs soon but not to answer its first page: torch, the training zygote (it imports
    torch and warms up), the bundled models, the meta-device shapes an upload check uses, the watchdog."""
    WORKERS.warm_up(wait=False)
    threading.Thread(target=registry.watchdog, daemon=True, name="watchdog").start()
    threading.Thread(target=registry.sweeper, daemon=True, name="sessions").start()

    def load() -> None:
        import torch
        torch.set_num_threads(1)  # the server decodes on one thread; trainings run in their own processes

        from seq2seq import ModelConfig, build_model
        with torch.device("meta"):  # what checking an upload's shapes initialises (~75 MB, once): now, not then
            build_model(ModelConfig(5, 5, emb_dim=1, hidden_dim=1))
        load_bundled()
        begun = time.monotonic()
        try:
            if comparing.measure_default_charts():  # the first Compare of the default pair: answered at once
                print(f"The Compare tab's default charts are measured ({time.monotonic() - begun:.1f} s).", flush=True)
        except Exception:  # noqa: BLE001 - measured on first use instead
            logging.getLogger("seq2seq-playground").exception("measuring the default charts failed")
    threading.Thread(target=load, daemon=True, name="load-bundled").start()


def launch(demo: gr.Blocks) -> None:
    """Serve the page (127.0.0.1:7860 locally, 0.0.0.0 on a Space; GRADIO_SERVER_NAME/PORT override)."""
    on_space = bool(os.environ.get("SPACE_ID"))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    demo.queue(default_concurrency_limit=4)
    # everything built so far lives as long as the server: keep the garbage collector from re-scanning it
    # (its full collections were ~300 ms pauses in every request)
    gc.collect()
    gc.freeze()
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), ssr_mode=False,
                css=page_css(), js=page_js(), theme=gr.themes.Soft(primary_hue="indigo"),
                max_file_size=limits.MAX_UPLOAD_BYTES, state_session_capacity=limits.MAX_GRADIO_SESSIONS,
                app_kwargs={"middleware": [Middleware(BodyLimit, other_bytes=int(limits.MAX_REQUEST_KB * 1000),
                                                      upload_bytes=limits.MAX_UPLOAD_BYTES)]},
                prevent_thread_lock=True)
    start_background()
    demo.block_thread()
