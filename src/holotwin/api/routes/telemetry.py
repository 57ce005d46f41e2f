"""Telemetry: ``POST .../telemetry`` (Azure) and ``GET .../telemetry`` history (holotwin)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.api.routes.twins import int_param, time_param
from holotwin.clock import from_iso, to_iso
from holotwin.errors import InvalidInputError
from holotwin.store.base import Bucket, TelemetryPoint

router = APIRouter()


async def _publish(request: Request, twin_id: str, component: str | None) -> Response:
    body = await read_json(request)
    header = request.headers.get("telemetry-source-time")
    source_time = from_iso(header) if header else None
    await run_in_threadpool(
        lambda: service_of(request).publish_telemetry(
            twin_id, body,
            message_id=request.headers.get("message-id"),
            source_time=source_time,
            component=component,
        )
    )
    return Response(status_code=204)


@router.post("/digitaltwins/{twin_id}/telemetry", status_code=204)
async def publish(twin_id: str, request: Request) -> Response:
    return await _publish(request, twin_id, None)


@router.post("/digitaltwins/{twin_id}/components/{component}/telemetry", status_code=204)
async def publish_component(twin_id: str, component: str, request: Request) -> Response:
    return await _publish(request, twin_id, component)


def _point(p: TelemetryPoint) -> dict[str, object]:
    return {"time": to_iso(p.time), "value": p.value if p.raw is None else p.raw}


MAX_SIGNALS = 50


def _interval(request: Request) -> float | None:
    raw = request.query_params.get("interval")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInputError(f"Query parameter 'interval' must be seconds, got {raw!r}") from None


def _buckets(buckets: list[Bucket]) -> list[dict[str, object]]:
    return [{"start": to_iso(b.start), "count": b.count, "min": b.min, "max": b.max,
             "mean": b.mean, "last": b.last} for b in buckets]


@router.get("/digitaltwins/{twin_id}/telemetry")
async def history(twin_id: str, request: Request) -> JSONResponse:
    """holotwin: without ``signal`` the latest reading of each signal; with ``signal`` the
    readings in ``[start, end)``; with ``interval`` (seconds) min/max/mean/last per bucket.
    ``signal`` may be repeated (up to 50): the answer then holds one series per signal under
    ``signals``, in the order asked, ``limit`` applying to each."""
    service = service_of(request)
    signals = list(dict.fromkeys(request.query_params.getlist("signal")))
    if not signals or signals == [""]:
        latest = await run_in_threadpool(service.latest_telemetry, twin_id)
        return JSONResponse({"value": [{"signal": p.signal} | _point(p) for p in latest]})
    if "" in signals:
        raise InvalidInputError("Query parameter 'signal' must not be empty")
    if len(signals) > MAX_SIGNALS:
        raise InvalidInputError(
            f"At most {MAX_SIGNALS} signals can be read at once, got {len(signals)}")
    await run_in_threadpool(service.get_twin, twin_id)  # 404 for an unknown twin
    end = time_param(request, "end", float("inf"))
    start = time_param(request, "start", 0.0)
    assert start is not None and end is not None
    interval = _interval(request)
    limit = int_param(request, "limit", 10_000, high=100_000)

    def read() -> list[dict[str, object]]:
        if interval is None:
            return [{"signal": s, "value": [_point(p) for p in service.telemetry_history(
                twin_id, s, start, end, limit)]} for s in signals]
        stop = service.clock.now() + 1.0 if end == float("inf") else end
        return [{"signal": s, "interval": interval, "value": _buckets(
            service.telemetry_aggregate(twin_id, s, start, stop, interval))} for s in signals]

    series = await run_in_threadpool(read)
    if len(signals) == 1:
        return JSONResponse(series[0])
    return JSONResponse({"signals": series})
