"""``/events``: the change feed, as Server-Sent Events or as JSON pages.

``GET /events`` with ``Accept: text/event-stream`` streams events as they commit; each SSE
``id`` is the event's sequence number, so a client that reconnects with ``Last-Event-ID``
(browsers' EventSource does this by itself) resumes exactly after the last event it saw.
Without a ``Last-Event-ID`` (or ``lastEventId`` parameter) the stream starts with new events.
Any other ``Accept`` gets one JSON page: ``{"value": [...], "lastEventId": N}``.

Filters: ``twinId`` (repeatable), ``modelId`` (that model or any extending it), ``type``
(repeatable: ``twin.updated``, ``telemetry``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from holotwin.api.deps import service_of
from holotwin.api.routes.twins import int_param
from holotwin.errors import InvalidInputError
from holotwin.twins.events import EVENT_KINDS

router = APIRouter()

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 1.0  # also picks up events written by other processes sharing the store


class FeedBroadcaster:
    """Wakes change-feed streams when the service commits events (thread-safe notify)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def notify(self, seq: int) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


def _filters(request: Request) -> tuple[list[str] | None, str | None, list[str] | None]:
    params = request.query_params
    twins = params.getlist("twinId") or None
    model = params.get("modelId") or None
    kinds = params.getlist("type") or None
    for kind in kinds or ():
        if kind not in EVENT_KINDS:
            raise InvalidInputError(f"Unknown event type {kind!r}; use one of {', '.join(EVENT_KINDS)}")
    if model is not None:
        service_of(request).model_family(model)  # 404 for an unknown model
    return twins, model, kinds


def _resume_point(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise InvalidInputError(f"Last-Event-ID must be an event number, got {raw!r}")
    return int(raw)


@router.get("/events", response_model=None)
async def events(request: Request) -> Response:
    service = service_of(request)
    twins, model, kinds = _filters(request)
    after = _resume_point(request)
    if "text/event-stream" not in request.headers.get("accept", ""):
        limit = int_param(request, "limit", 1000, high=10_000)
        page = await run_in_threadpool(service.read_events, after or 0, limit, twins, model, kinds)
        last = page[-1].seq if page else (after or 0)
        return JSONResponse({"value": [e.to_json() for e in page], "lastEventId": last})
    if after is None:
        after = await run_in_threadpool(service.last_event_seq)
    broadcaster: FeedBroadcaster = request.app.state.broadcaster

    async def stream() -> AsyncIterator[str]:
        last = after
        yield f"retry: 2000\nid: {last}\n\n"
        idle = 0.0
        while not await request.is_disconnected():
            page = await run_in_threadpool(service.read_events, last, 500, twins, model, kinds)
            for event in page:
                data = json.dumps(event.to_json(), separators=(",", ":"))
                yield f"id: {event.seq}\nevent: {event.kind}\ndata: {data}\n\n"
                last = event.seq
            if len(page) == 500:
                continue
            if page:
                idle = 0.0
            await broadcaster.wait(POLL_SECONDS)
            idle += POLL_SECONDS
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield ": keepalive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
