"""Optimizations over scenarios (holotwin): stored, run in the background with progress.

- ``POST /optimizations``: store an optimization and start it (``?run=false``: only store);
  202 with ``Location``. The body is described in :mod:`holotwin.service.optimizations`.
- ``GET /optimizations``, ``GET /optimizations/{id}`` (status, progress; when done the best
  candidates, every candidate's knob values and objective, and the ids of the scenarios
  stored for the baseline and the best ones, ready for ``POST /scenarios/compare``).
- ``POST /optimizations/{id}/run``: run it again on a new fork; 202.
- ``DELETE /optimizations/{id}`` (the scenarios it stored stay).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of

router = APIRouter()


@router.post("/optimizations", status_code=202)
async def create(request: Request) -> JSONResponse:
    service = service_of(request)
    body = await read_json(request)
    doc = await run_in_threadpool(service.create_optimization, body)
    if request.query_params.get("run", "true").lower() != "false":
        await run_in_threadpool(service.start_optimization, doc["id"])
        doc = await run_in_threadpool(service.get_optimization, doc["id"])
    return JSONResponse(doc, status_code=202,
                        headers={"Location": f"/optimizations/{doc['id']}"})


@router.get("/optimizations")
async def list_all(request: Request) -> JSONResponse:
    return JSONResponse({"value": await run_in_threadpool(
        service_of(request).list_optimizations)})


@router.get("/optimizations/{optimization_id}")
async def get(optimization_id: str, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(service_of(request).get_optimization,
                                                optimization_id))


@router.post("/optimizations/{optimization_id}/run", status_code=202)
async def run(optimization_id: str, request: Request) -> JSONResponse:
    service = service_of(request)
    await run_in_threadpool(service.start_optimization, optimization_id)
    return JSONResponse(await run_in_threadpool(service.get_optimization, optimization_id),
                        status_code=202)


@router.delete("/optimizations/{optimization_id}", status_code=204)
async def delete(optimization_id: str, request: Request) -> Response:
    await run_in_threadpool(service_of(request).delete_optimization, optimization_id)
    return Response(status_code=204)
