"""``/digitaltwins/{id}``: twins, components, desired state and twin history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.clock import from_iso, to_iso
from holotwin.errors import InvalidInputError

router = APIRouter()


def twin_response(doc: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(doc, status_code=status, headers={"ETag": doc["$etag"]})


def _conditions(request: Request) -> dict[str, str | None]:
    return {"if_match": request.headers.get("if-match")}


def _is_merge_patch(request: Request, body: Any) -> bool:
    ctype = request.headers.get("content-type", "")
    return "merge-patch" in ctype or (isinstance(body, dict) and "json-patch" not in ctype)


def time_param(request: Request, name: str, default: float | None = None) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return from_iso(raw)
    except InvalidInputError:
        raise InvalidInputError(
            f"Query parameter '{name}' must be an ISO 8601 time or epoch seconds, got {raw!r}"
        ) from None


def int_param(request: Request, name: str, default: int, low: int = 1, high: int = 100_000) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"Query parameter '{name}' must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInputError(f"Query parameter '{name}' must be {low} to {high}, got {value}")
    return value


@router.get("/digitaltwins")
async def list_twins(request: Request) -> JSONResponse:
    """holotwin: twins ordered by id, paged with ``after``; ``model`` keeps twins of a model
    (or models extending it)."""
    limit = int_param(request, "limit", 100, high=1000)
    docs = await run_in_threadpool(
        service_of(request).list_twins,
        request.query_params.get("model"),
        request.query_params.get("after"),
        limit,
    )
    next_after = docs[-1]["$dtId"] if len(docs) == limit else None
    return JSONResponse({"value": docs, "nextAfter": next_after})


@router.get("/digitaltwins/{twin_id}")
async def get_twin(twin_id: str, request: Request) -> JSONResponse:
    as_of = time_param(request, "asOf")
    service = service_of(request)
    if as_of is not None:
        return twin_response(await run_in_threadpool(service.twin_at, twin_id, as_of))
    telemetry = request.query_params.get("telemetry", "true").lower() != "false"
    doc = await run_in_threadpool(service.get_twin, twin_id, with_telemetry=telemetry)
    return twin_response(doc)


@router.put("/digitaltwins/{twin_id}")
async def put_twin(twin_id: str, request: Request) -> JSONResponse:
    body = await read_json(request)
    result = await run_in_threadpool(
        lambda: service_of(request).put_twin(
            twin_id, body,
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
    )
    return twin_response(result.document)


@router.patch("/digitaltwins/{twin_id}", status_code=204)
async def patch_twin(twin_id: str, request: Request) -> Response:
    body = await read_json(request)
    service = service_of(request)
    method = service.merge_patch_twin if _is_merge_patch(request, body) else service.patch_twin
    doc = await run_in_threadpool(lambda: method(twin_id, body, **_conditions(request)))
    return Response(status_code=204, headers={"ETag": doc["$etag"]})


@router.delete("/digitaltwins/{twin_id}", status_code=204)
async def delete_twin(twin_id: str, request: Request) -> Response:
    await run_in_threadpool(
        lambda: service_of(request).delete_twin(twin_id, **_conditions(request))
    )
    return Response(status_code=204)


@router.get("/digitaltwins/{twin_id}/components/{component}")
async def get_component(twin_id: str, component: str, request: Request) -> JSONResponse:
    doc, etag = await run_in_threadpool(service_of(request).read_component, twin_id, component)
    return JSONResponse(doc, headers={"ETag": etag})


@router.patch("/digitaltwins/{twin_id}/components/{component}", status_code=204)
async def patch_component(twin_id: str, component: str, request: Request) -> Response:
    body = await read_json(request)
    doc = await run_in_threadpool(
        lambda: service_of(request).patch_component(twin_id, component, body,
                                                    **_conditions(request))
    )
    return Response(status_code=204, headers={"ETag": doc["$etag"]})


@router.patch("/digitaltwins/{twin_id}/desired")
async def set_desired(twin_id: str, request: Request) -> JSONResponse:
    """holotwin: set desired values of writable properties (``{"setpoint": 21.5}``)."""
    body = await read_json(request)
    doc = await run_in_threadpool(
        lambda: service_of(request).set_desired(twin_id, body, **_conditions(request))
    )
    return twin_response(doc)


@router.get("/digitaltwins/{twin_id}/history")
async def twin_history(twin_id: str, request: Request) -> JSONResponse:
    """holotwin: the twin's change events (each with its revision and the twin after it),
    oldest first; ``order=newest``: the newest ``limit`` events, newest first."""
    start = time_param(request, "start")
    end = time_param(request, "end")
    limit = int_param(request, "limit", 1000, high=10_000)
    order = request.query_params.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise InvalidInputError(f"Query parameter 'order' must be 'oldest' or 'newest', got "
                                f"{order!r}")
    events = await run_in_threadpool(service_of(request).twin_history, twin_id, start, end, limit,
                                     order == "newest")
    return JSONResponse(
        {"value": [e.to_json() | {"time": to_iso(e.time)} for e in events]}
    )
