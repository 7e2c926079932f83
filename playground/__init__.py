"""seq2seq playground, the web app: a Gradio page of tabs (Train, Decode, Compare) and an HTTP API over the
`seq2seq` library. It imports `seq2seq`; `seq2seq` never imports it.

    from playground.demo import build_demo, launch
    launch(build_demo())

Importing this package imports nothing heavy: it only sets, before anything imports gradio, the environment
that keeps the server offline (no analytics, no hub calls: nothing may download at run time). The worker
processes (`playground.worker`) import it too, so it must stay this small.
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# how often a page's heartbeat is checked: a closed tab is noticed (its training stopped, its files and model
# released) within about two of these, not Gradio's default 2 × 15 s
os.environ.setdefault("GRADIO_HEARTBEAT_INTERVAL", "5")
