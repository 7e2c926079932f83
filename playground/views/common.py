"""Shared by every view: colours and escaping (every token a user typed is shown as text, never markup)."""
from __future__ import annotations

import html
import re

ACCENT = (79, 70, 229)  # indigo, as the Space's colours
RIGHT, WRONG = "#15803d", "#b91c1c"


def esc(token: str) -> str:
    return html.escape(token)


_MARKDOWN = re.compile(r"([\\`*_\[\]<>&|~])")


def md(text: str) -> str:
    """Text someone typed (a file's name, a token), for a Markdown view, mid-line: every character Markdown or HTML
    would read as markup there (emphasis, code, links, tags, entities, tables, strike-through) escaped with a
    backslash, so it shows as written."""
    return _MARKDOWN.sub(r"\\\1", text)


def _shade(p: float) -> str:
    r, g, b = ACCENT
    text = "color:#fff;" if p > 0.55 else ""
    return f"background:rgba({r},{g},{b},{p:.3f});{text}"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


