"""Small pieces every tab uses: a sentence beside the field it is about, a download button's update, the page's
assets (CSS and JavaScript files), and scrolling a result into view when it is not."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import gradio as gr

from . import views

ASSETS = Path(__file__).resolve().parent / "assets"


@cache
def asset(name: str) -> str:
    """An asset file's text, without its leading comment lines (Gradio wraps JavaScript as `return <js>`)."""
    lines = (ASSETS / name).read_text().splitlines()
    while lines and (lines[0].startswith("//") or lines[0].startswith("/*") and lines[0].endswith("*/")):
        lines.pop(0)
    return "\n".join(lines) + "\n"


PAGE_SCRIPTS = ("page.js", "tour.js", "links.js")  # each `() => {...}`: run in order once the page has loaded
PAGE_STYLES = ("style.css", "train.css", "tour.css", "links.css")


def page_js() -> str:
    """The page's scripts as one function (Gradio runs one): each file's function, called in turn (a file not
    there yet is skipped)."""
    calls = [f"({asset(name).strip().rstrip(';')})();" for name in PAGE_SCRIPTS if (ASSETS / name).exists()]
    return "() => {\n" + "\n".join(calls) + "\n}\n"


def page_css() -> str:
    return "\n".join(asset(name) for name in PAGE_STYLES if (ASSETS / name).exists())


def field(s, value, elem_id: str, **kw) -> gr.components.Component:
    """The component for a control, from its row in the controls table (`seq2seq.controls.Setting`)."""
    common = dict(label=s.label, info=s.info or None, elem_id=elem_id, **kw)
    if s.widget == "dropdown":
        return gr.Dropdown(list(s.choices), value=value, **common)
    if s.widget == "radio":
        return gr.Radio(list(s.choices), value=value, **common)
    if s.widget == "checkbox":
        return gr.Checkbox(value, **common)
    if s.widget == "slider":
        return gr.Slider(s.low, s.high, value=value, step=s.step, **common)
    return gr.Number(value, minimum=s.low, maximum=s.high, precision=0 if s.whole else None, **common)


def message_html(text: str = "", kind: str = "error") -> str:
    """A sentence shown beside the field it is about (not a red pill on every output)."""
    return f'<div class="s2s-message {kind}" role="alert">{views.esc(text)}</div>' if text else ""


def say(text: str = "", kind: str = "error"):
    """A message component's update: the sentence, or hidden when there is nothing to say."""
    return gr.update(value=message_html(text, kind), visible=bool(text))


def download(path):
    """A download button's update: the file when there is one, hidden when there is none."""
    if path is None or isinstance(path, str):
        return gr.update(value=path, visible=path is not None)
    return path  # gr.skip()


def scroll_to(elem_id: str, room: int, narrow: int) -> str:
    """JavaScript run as an event starts: bring `elem_id` into view when `room` pixels below its top (`narrow`
    on a phone) would not fit in the window, handing the event's inputs on unchanged. (On a phone the results
    sit below the form.)"""
    scroll = (f"const e = document.getElementById('{elem_id}'); if (e) {{ "
              f"const r = e.getBoundingClientRect(), room = window.innerWidth < 640 ? {narrow} : {room}; "
              f"if (r.top < 0 || r.top + room > window.innerHeight) e.scrollIntoView({{block: 'start'}}); }}")
    return f"(...args) => {{ {scroll} return args; }}"
