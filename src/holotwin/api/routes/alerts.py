"""Analytics (holotwin): anomaly detectors, rules, alerts and alert sinks.

- ``GET /detectors``, ``GET|PUT|DELETE /detectors/{id}``: anomaly detector configurations.
- ``GET /rules``, ``GET|PUT|DELETE /rules/{id}``: alert rules.
- ``GET /alerts?state=open|raised|acknowledged|cleared&twin=&rule=&severity=&limit=``,
  ``GET /alerts/{id}``; ``POST /alerts/{id}/acknowledge`` and ``POST /alerts/{id}/clear``
  with an optional body ``{"by": "...", "note": "..."}``.
- ``GET /alert-sinks``, ``GET|PUT|DELETE /alert-sinks/{id}``: the webhooks and MQTT topics
  alerts are delivered to (with each sink's delivery status).

See :mod:`holotwin.service.alerts` for the documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.errors import InvalidInputError
from holotwin.service import TwinService

router = APIRouter()


def _crud(path: str, get: Callable[[TwinService], Callable[..., Any]],
          put: Callable[[TwinService], Callable[..., Any]],
          delete: Callable[[TwinService], Callable[..., Any]],
          listing: Callable[[TwinService], Callable[..., Any]]) -> None:
    """GET (list), GET, PUT and DELETE routes of one kind of configuration document."""

    async def list_all(request: Request) -> JSONResponse:
        return JSONResponse({"value": await run_in_threadpool(listing(service_of(request)))})

    async def get_one(item_id: str, request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(get(service_of(request)), item_id))

    async def put_one(item_id: str, request: Request) -> JSONResponse:
        body = await read_json(request)
        return JSONResponse(await run_in_threadpool(put(service_of(request)), item_id, body))

    async def delete_one(item_id: str, request: Request) -> Response:
        await run_in_threadpool(delete(service_of(request)), item_id)
        return Response(status_code=204)

    router.add_api_route(path, list_all, methods=["GET"])
    router.add_api_route(f"{path}/{{item_id}}", get_one, methods=["GET"])
    router.add_api_route(f"{path}/{{item_id}}", put_one, methods=["PUT"])
    router.add_api_route(f"{path}/{{item_id}}", delete_one, methods=["DELETE"],
                         status_code=204)


_crud("/detectors", lambda s: s.get_detector, lambda s: s.put_detector,
      lambda s: s.delete_detector, lambda s: s.list_detectors)
_crud("/rules", lambda s: s.get_rule, lambda s: s.put_rule, lambda s: s.delete_rule,
      lambda s: s.list_rules)
_crud("/alert-sinks", lambda s: s.get_alert_sink, lambda s: s.put_alert_sink,
      lambda s: s.delete_alert_sink, lambda s: s.list_alert_sinks)


@router.get("/alerts")
async def list_alerts(request: Request) -> JSONResponse:
    q = request.query_params
    raw = q.get("limit", "1000")
    if not raw.isdigit():
        raise InvalidInputError(f"'limit' must be a positive integer, got {raw!r}")
    found = await run_in_threadpool(
        lambda: service_of(request).list_alerts(
            state=q.get("state"), twin_id=q.get("twin"), rule=q.get("rule"),
            severity=q.get("severity"), limit=int(raw)))
    return JSONResponse({"value": found})


@router.get("/alerts/{alert_id}")
async def get_alert(alert_id: str, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(service_of(request).get_alert, alert_id))


async def _who(request: Request) -> tuple[str, str]:
    body: Any = {}
    if (await request.body()).strip():
        body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"by", "note"}:
        raise InvalidInputError("The body, when given, is {\"by\": text, \"note\": text}")
    key = getattr(request.state, "api_key", None)
    by = body.get("by") or (f"api key {key.name}" if key is not None else "")
    return by, body.get("note", "")


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(alert_id: str, request: Request) -> JSONResponse:
    by, note = await _who(request)
    return JSONResponse(await run_in_threadpool(service_of(request).acknowledge_alert,
                                                alert_id, by, note))


@router.post("/alerts/{alert_id}/clear")
async def clear(alert_id: str, request: Request) -> JSONResponse:
    by, note = await _who(request)
    return JSONResponse(await run_in_threadpool(service_of(request).clear_alert,
                                                alert_id, by, note))
