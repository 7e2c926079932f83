"""What the app shows, as plain data and HTML: step tables, probability heatmaps, playback, plot frames.

No gradio and no model math here: these functions only format a decoding Trace or a training History,
so they are easy to test and the tabs stay wiring. One module per kind of view; this one gathers them.
"""
from .beams import *  # noqa: F401,F403
from .common import *  # noqa: F401,F403
from .common import _mark, _shade  # noqa: F401
from .decoding import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
