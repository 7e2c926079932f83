"""Every use of a private Gradio attribute, each with the reason no public API does it (Gradio 6.31).

tests/unit/test_gradio_internals.py fails when Gradio changes one of them, so an upgrade shows here first.
"""
from __future__ import annotations

import os
from copy import copy
from typing import Any

import gradio as gr
from gradio import state_holder
from gradio.components.api_component import Api  # what gr.api() itself builds its endpoints from
from gradio.state_holder import SessionState


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


class LeanSessionState(SessionState):
    """Gradio's per-session state without its copy of the page's configuration. Gradio keeps, for every session
    (10,000 by default), every block's config and the last value of every input and output it has seen — the
    whole HTML of each decoding, for scripts whose sessions never close — only to serve "deep links", which this
    app does not offer: 224 KB per session before any request, ~2.5 MB after one beam-10 decoding of 200 tokens
    (measured). The stateful values (gr.State) are kept as before."""

    def __init__(self, blocks: gr.Blocks):
        self.blocks_config = copy(blocks.default_config)
        self.config_values = _NoValues()
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600  # as Gradio's

    def _update_value_in_config(self, key: int, value: Any) -> None:
        pass

    def _update_config(self, key: int) -> None:
        pass


class _NoValues(dict):
    """A dict that keeps nothing (SessionState.config_values: read only by deep links)."""

    def __setitem__(self, key, value) -> None:
        pass


def keep_lean_session_states() -> None:
    """Make Gradio create LeanSessionState for every new session (it names the class in its state holder)."""
    state_holder.SessionState = LeanSessionState


def abandoned(request: gr.Request | None) -> bool:
    """Whether the client that sent `request` has gone away (closed its event stream) while its event still
    runs: Gradio then marks the session's running events not alive, but lets them run to the end, and has no
    public way to ask."""
    app = getattr(getattr(request, "request", None), "app", None)
    blocks = app.get_blocks() if app is not None and hasattr(app, "get_blocks") else None
    queue = getattr(blocks, "_queue", None)
    key = getattr(request, "session_hash", None)
    if queue is None or key is None:
        return False
    return any(event.session_hash == key and not event.alive for jobs in list(queue.active_jobs) if jobs
               for event in list(jobs))
