"""What stands between the public and the app's handlers: a request-size limit and a last-resort error net.

No gradio import here (the error net takes the error class it raises), so both are testable alone.
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import traceback
from typing import Any, Callable

log = logging.getLogger("seq2seq-playground")


class BodyLimit:
    """ASGI middleware: refuse a request whose body is larger than its limit, before anything parses it.

    Uploads (paths ending in /upload) get `upload_bytes` (plus room for the multipart envelope); every
    other request gets `other_bytes`. A declared Content-Length over the limit is refused at once; a
    body without one is counted as it arrives and refused when it passes the limit."""

    def __init__(self, app: Callable, other_bytes: int, upload_bytes: int):
        self.app = app
        self.other_bytes = other_bytes
        self.upload_bytes = upload_bytes + 64_000

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if scope.get("path", "").rstrip("/").endswith("/upload") else self.other_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is None and b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            # a body of unknown size: refused before a byte is read (browsers and gradio_client always say
            # how long theirs is; and a parser cut off mid-body may leave its temp file behind)
            await _refuse(send, limit, status=411, why="Say how long the request is (Content-Length)")
            return
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = True
            if too_big:
                await _refuse(send, limit)
                return
        seen = 0
        started = False

        async def counted_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)


class _TooLarge(Exception):
    pass


async def _refuse(send: Callable, limit: int, status: int = 413, why: str = "Request too large") -> None:
    body = json.dumps({"detail": f"{why}: this app accepts at most {limit // 1000:,} KB here."}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def friendly(error: type[Exception], passes: tuple[type[BaseException], ...] = ()) -> Callable:
    """Decorator: an unexpected exception in a handler becomes `error` with a plain sentence (and the
    traceback goes to the server log), never a framework's generic message. Exceptions of the types in
    `passes` (the framework's own errors, already worded for people) go through unchanged."""
    def wrap(fn: Callable) -> Callable:
        def convert(e: Exception) -> Exception:
            log.error("handler %s failed:\n%s", fn.__name__, "".join(traceback.format_exception(e))[-4000:])
            return error(f"Something went wrong on the server ({type(e).__name__}); nothing of yours was lost. "
                         f"Please try again.")

        if inspect.iscoroutinefunction(fn):  # async handlers: a cancelled request is a CancelledError, not caught
            @functools.wraps(fn)
            async def call_async(*args: Any, **kwargs: Any):
                try:
                    return await fn(*args, **kwargs)
                except passes:
                    raise
                except Exception as e:  # noqa: BLE001
                    raise convert(e) from None
            return call_async

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*args: Any, **kwargs: Any):
                try:
                    yield from fn(*args, **kwargs)
                except passes:
                    raise
                except Exception as e:  # noqa: BLE001
                    raise convert(e) from None
            return gen

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any):
            try:
                return fn(*args, **kwargs)
            except passes:
                raise
            except Exception as e:  # noqa: BLE001
                raise convert(e) from None
        return call
    return wrap


# ---------------------------------------------------------------- every call's inputs, counted and readable

TITLE = "Check the input"
MAX_NAMES = 12  # an endpoint with more inputs than this is said by its count alone (/train: see the docs)


def where(block_fn: Any) -> str:
    """An event as a caller knows it: "/decode" for a public endpoint, else "This page's event"."""
    public = getattr(block_fn, "api_visibility", "public") == "public" and getattr(block_fn, "api_name", None)
    return f"/{block_fn.api_name}" if public else "This page's event"


def _label(block: Any) -> str:
    """A component as the page labels it, without a hint in brackets ("Source", not "Source (tokens ...)")."""
    label = str(getattr(block, "label", None) or getattr(block, "elem_id", None) or type(block).__name__.lower())
    return label.split(" (")[0]


def _is_file_input(block: Any) -> bool:
    return type(block).__name__ in ("File", "UploadButton", "Files")


def inputs_problem(block_fn: Any, inputs: Any) -> str | None:
    """None when `inputs` has as many values as the event has inputs; else the sentence that says how many it
    takes, and which (its components' labels, without the session state the server keeps itself)."""
    wanted = [b for b in block_fn.inputs if not getattr(b, "stateful", False)]
    got = len(inputs) if isinstance(inputs, list) else 0
    if got == len(block_fn.inputs):
        return None
    names = f" ({', '.join(_label(b) for b in wanted)})" if 0 < len(wanted) <= MAX_NAMES else ""
    # "more" or "fewer", not a count: a client may have added the session state's slot to what its caller sent
    sent = "none" if not got else "more" if got > len(block_fn.inputs) else "fewer"
    takes = "no values" if not wanted else f"{len(wanted)} value{'s' if len(wanted) != 1 else ''}"
    return f"{where(block_fn)} takes {takes}{names}, and was sent {sent}."


def guard_inputs(blocks: Any, error: type[Exception]) -> None:
    """Make every call's inputs, whatever sent them, fail as one sentence (`error`, the framework's error for
    people, which takes a `title`) rather than as the framework's bare error: too few or too many values, or a
    value its own reading refuses before a handler sees it (a file that was not uploaded, a malformed file
    description).

    Gradio (6.31) checks an event's inputs in `Blocks.preprocess_data(block_fn, inputs, state, ...)` before any
    handler runs, and answers too few with a ValueError that a public server shows as `{"error": null}` (too many
    it ignores); this wraps that method on `blocks`. A script calling /call/<api_name> may leave out the session
    state (Gradio fills it in, as it does there); so may one joining the queue with the endpoint's values."""
    original = blocks.preprocess_data

    async def preprocess_data(block_fn: Any, inputs: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
        stateful = [i for i, b in enumerate(block_fn.inputs) if getattr(b, "stateful", False)]
        if isinstance(inputs, list) and stateful and len(inputs) == len(block_fn.inputs) - len(stateful):
            values = iter(inputs)  # the values without the session state, as /call/<api_name> takes them
            inputs = [None if i in stateful else next(values) for i in range(len(block_fn.inputs))]
        problem = inputs_problem(block_fn, inputs)
        if problem:
            raise error(problem, title=TITLE)
        try:
            return await original(block_fn, inputs, state, *args, **kwargs)
        except error:
            raise
        except Exception as e:  # noqa: BLE001 - the framework's own reading refused a value
            log.warning("inputs of %s refused: %s", getattr(block_fn, "name", "?"), str(e)[:500])
            if any(_is_file_input(b) for b in block_fn.inputs):
                raise error(f"{where(block_fn)} takes a file uploaded to this app: upload it first (a script "
                            f"sends it with gradio_client's handle_file).", title=TITLE) from None
            raise error(f"{where(block_fn)} could not read the values sent: send values of the kinds the form "
                        f"shows.", title=TITLE) from None

    blocks.preprocess_data = preprocess_data
