"""The server's limits, each read once from its environment variable (docs/public.md lists them), and the
fixed cadences of the live page. A bad value stops the server at start with a sentence, not mid-request."""
from __future__ import annotations

import os

from seq2seq.data import DataLimits

from . import settings
from .budget import Budget


def env_number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise SystemExit(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value


try:
    BUDGET = Budget.from_env()  # memory and time per training
except ValueError as e:
    raise SystemExit(str(e)) from None
try:
    DATA = DataLimits.from_env()  # your own pairs: SEQ2SEQ_DATA_BYTES, _PAIRS, _TOKENS, _SYMBOLS
except ValueError as e:
    raise SystemExit(str(e)) from None
MAX_TRAININGS = int(env_number("SEQ2SEQ_MAX_TRAININGS", 2, 1, 64))  # trainings at once; the rest queue
MAX_SECONDS = int(env_number("SEQ2SEQ_MAX_RUN_SECONDS", 600, 5, 86_400))  # longest single run
MAX_UPLOAD_MB = env_number("SEQ2SEQ_MAX_UPLOAD_MB", 80, 1, 10_000)  # checkpoint uploads
MAX_REQUEST_KB = env_number("SEQ2SEQ_MAX_REQUEST_KB", 256, 16, 100_000)  # every other request body
SESSIONS_MB = env_number("SEQ2SEQ_SESSIONS_MB", 1000, 0.1, 1_000_000)  # models kept for all sessions at once
SESSION_TTL = env_number("SEQ2SEQ_SESSION_TTL", 3 * 3600, 60, 7 * 86_400)  # a session untouched this long goes
MAX_UPLOAD_BYTES = int(MAX_UPLOAD_MB * 1e6)
MAX_GRADIO_SESSIONS = 1000  # sessions whose page state Gradio keeps (its default, 10,000, is ~GBs)
DECODES_AT_ONCE = 8         # decodes, what-ifs and comparisons running at once (never behind a training)
DECODE_SECONDS = env_number("SEQ2SEQ_DECODE_SECONDS", 3, 0.05, 3600)  # estimated CPU time of one decoding (+ what if)
DECODE_MB = env_number("SEQ2SEQ_DECODE_MB", 80, 1, 100_000)  # estimated memory it keeps and produces (records, HTML)
UNWATCHED_SECONDS = 5.0     # a run nobody reads for this long stops
STOP_GRACE = env_number("SEQ2SEQ_STOP_GRACE", 1.0, 0.5, 600)  # a run still going this long after Stop is killed
UPDATE_EVERY = 0.75         # seconds between live updates of the plots and status
HOLD_SECONDS = env_number("SEQ2SEQ_HOLD_SECONDS", 300, 10, 86_400)  # a run paused or slowed this long in all stops
SLOW_STEPS = 3.0            # steps a second when slowed, for narration
STEP_WAIT = 15.0            # seconds One step waits for its step to be reported (a large model's step and evaluation)
MAX_RUNS = 6                # runs a session keeps (the oldest beyond it is dropped, and the page says so)
PLOT_POINTS = 300           # points per plotted series, however long the history
BY_LENGTH_N = 100           # held-out sources per length in the comparison's chart (fewer to fit its time)
BY_LENGTH_FLOOR = 20        # ... but never fewer than this: a model that needs fewer is too slow to compare
COMPARE_SECONDS = env_number("SEQ2SEQ_COMPARE_SECONDS", 10, 1, 3600)  # estimated CPU time of one model's chart
COMPARE_DEADLINE_FACTOR = 3.0  # a chart's worker is killed past this many times its estimate (+5 s) of CPU time
COMPARES_AT_ONCE = 2        # charts measured at once (each in a worker process); the rest wait their turn
BY_LENGTH_MORE = 4          # lengths past the longest either compared model was trained on
MAP_SOURCES = 300           # held-out sources on the Encoder map (fewer to fit its time) ...
MAP_FLOOR = 100             # ... but never fewer than this: a model that needs fewer is too slow to map
MAP_SECONDS = env_number("SEQ2SEQ_MAP_SECONDS", 5, 0.5, 3600)  # estimated CPU time of one map (in a decode's slot)

SETTINGS = settings.table(MAX_SECONDS)  # the form, the presets, the messages and /train's parameters
