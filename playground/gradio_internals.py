"""Every use of a private Gradio attribute, each with the reason no public API does it (Gradio 6.31).

tests/unit/test_gradio_internals.py fails when Gradio changes one of them, so an upgrade shows here first.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.components.api_component import Api  # what gr.api() itself builds its endpoints from


def api_only_input(label: str, schema: dict[str, Any], default: Any = None) -> gr.components.Component:
    """An endpoint's input that has no place on the page (/what_if's step and token): the component gr.api()
    makes for each of its parameters, used here because gr.api() cannot also take the page's gr.State (the
    session) as an input."""
    return Api(default, schema, label)


def unread_updates(demo: gr.Blocks, key: str) -> int:
    """How many of a session's streamed updates wait in Gradio's queue, unread by any client: an API call
    whose stream is never opened is noticed by this alone (Gradio has no public count of them)."""
    queue = getattr(demo, "_queue", None)
    messages = queue.pending_messages_per_session.get(key) if queue is not None else None
    return messages.qsize() if messages is not None else 0


def forget_page_state(demo: gr.Blocks, key: str) -> None:
    """Gradio keeps a closed session's copy of the page's state for an hour, and the session entry until
    10,000 newer ones push it out; the browser is gone, so let it go now (no public call does this)."""
    holder = getattr(demo, "state_holder", None)
    if holder is not None:
        with holder.lock:
            holder.session_data.pop(key, None)
            holder.time_last_used.pop(key, None)


def event_payload(evt: gr.EventData) -> Any:
    """What the page's JavaScript sent with an event (`trigger('click', {...})` in an HTML component's
    js_on_load): Gradio keeps it only in EventData's `_data`."""
    return getattr(evt, "_data", None)
