"""Telemetry: ``POST .../telemetry`` (Azure) and ``GET .../telemetry`` history (holotwin)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.api.routes.twins import int_param, time_param
from holotwin.clock import from_iso, to_iso
from holotwin.errors import InvalidInputError
from holotwin.store.base import TelemetryPoint

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


@router.get("/digitaltwins/{twin_id}/telemetry")
async def history(twin_id: str, request: Request) -> JSONResponse:
    """holotwin: without ``signal`` the latest reading of each signal; with ``signal`` the
    readings in ``[start, end)``; with ``interval`` (seconds) min/max/mean/last per bucket."""
    service = service_of(request)
    signal = request.query_params.get("signal")
    if not signal:
        latest = await run_in_threadpool(service.latest_telemetry, twin_id)
        return JSONResponse({"value": [{"signal": p.signal} | _point(p) for p in latest]})
    await run_in_threadpool(service.get_twin, twin_id)  # 404 for an unknown twin
    end = time_param(request, "end", float("inf"))
    start = time_param(request, "start", 0.0)
    assert start is not None and end is not None
    raw_interval = request.query_params.get("interval")
    if raw_interval:
        try:
            interval = float(raw_interval)
        except ValueError:
            raise InvalidInputError(
                f"Query parameter 'interval' must be seconds, got {raw_interval!r}"
            ) from None
        if end == float("inf"):
            end = service.clock.now() + 1.0
        buckets = await run_in_threadpool(
            service.telemetry_aggregate, twin_id, signal, start, end, interval
        )
        return JSONResponse(
            {
                "signal": signal,
                "interval": interval,
                "value": [
                    {"start": to_iso(b.start), "count": b.count, "min": b.min, "max": b.max,
                     "mean": b.mean, "last": b.last}
                    for b in buckets
                ],
            }
        )
    limit = int_param(request, "limit", 10_000, high=100_000)
    points = await run_in_threadpool(service.telemetry_history, twin_id, signal, start, end, limit)
    return JSONResponse({"signal": signal, "value": [_point(p) for p in points]})
