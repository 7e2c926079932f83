"""Work that a cancelled request stops: a blocking function run in a thread, given a `should_stop` to ask.

How Gradio (6.31) cancels an event: gradio_client's `Job.cancel()` (and the page, for an event listed in another's
`cancels=`) posts /gradio_api/cancel, and the server cancels the asyncio task that runs the event
(`gradio.utils.cancel_tasks`, by the task's name: session and function). A plain (sync) handler runs in a worker
thread that nothing can stop: the event ends for the client, its concurrency slot is freed, and the thread computes
on. So a handler that should stop is `async def`, and runs its work through `in_thread`: the work runs in a thread;
when the request is cancelled, the `CancelledError` that arrives at the `await` sets the work's stop flag and is
raised again at once, and the work (which asks `should_stop()` before every decoder step: seq2seq.decode's
`should_stop`) raises `seq2seq.Interrupted` at its next check and ends: its thread is free within a decoder step.

    async def handler(...):
        return await in_thread(decoding.decode, source, ..., should_stop_arg="should_stop")

Wrap such handlers with `webguard.friendly`, which passes `CancelledError` through (it is no Exception).
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

import anyio.to_thread
import gradio as gr

from . import gradio_internals

T = TypeVar("T")


class StopFlag:
    """A `should_stop` callable: says yes once `set()` (the request was cancelled); cheap to ask every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def __call__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, should_stop=..., **kwargs)` in a worker thread, awaited. If the awaiting task is cancelled (the
    request was), the flag is set, so `fn` stops at its next check, and CancelledError goes on at once (the thread
    is abandoned to finish its current step, its result dropped). When a gr.Request is among the arguments,
    `should_stop` also says yes once its client has gone away (its event stream closed, no cancel sent). An error
    of `fn`'s own is raised as usual."""
    flag = StopFlag()
    request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)

    def should_stop() -> bool:  # cancelled, or its client went away without cancelling (a closed tab)
        return flag() or (request is not None and gradio_internals.abandoned(request))

    work = functools.partial(fn, *args, should_stop=should_stop, **kwargs)
    try:
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except BaseException as e:  # cancelled (or fn failed): nothing of the work is wanted any more
        flag.set()
        if type(e).__name__ == "Interrupted":  # seq2seq.Interrupted (not imported: it would import torch)
            raise gr.Error("This request was abandoned: its page or script went away.", title="Abandoned") from None
        raise
