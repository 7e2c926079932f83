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
