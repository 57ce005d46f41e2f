"""What-if scenarios (holotwin): stored, run in the background with progress, compared.

- ``POST /scenarios``: store a scenario and start it (``?run=false``: only store); 202.
- ``GET /scenarios``, ``GET /scenarios/{id}`` (status, progress, results and KPIs when done).
- ``POST /scenarios/{id}/run``: run it again on a new fork of the live state; 202.
- ``DELETE /scenarios/{id}``.
- ``POST /scenarios/compare``: ``{"ids": [baseline, ...]}`` side by side (read scope).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.errors import InvalidInputError

router = APIRouter()


@router.post("/scenarios", status_code=202)
async def create(request: Request) -> JSONResponse:
    service = service_of(request)
    body = await read_json(request)
    doc = await run_in_threadpool(service.create_scenario, body)
    if request.query_params.get("run", "true").lower() != "false":
        await run_in_threadpool(service.start_scenario, doc["id"])
        doc = await run_in_threadpool(service.get_scenario, doc["id"])
    return JSONResponse(doc, status_code=202,
                        headers={"Location": f"/scenarios/{doc['id']}"})


@router.get("/scenarios")
async def list_all(request: Request) -> JSONResponse:
    return JSONResponse({"value": await run_in_threadpool(service_of(request).list_scenarios)})


@router.post("/scenarios/compare")
async def compare(request: Request) -> JSONResponse:
    body = await read_json(request)
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidInputError("'ids' must be a non-empty list of scenario ids, the "
                                "baseline first")
    return JSONResponse(await run_in_threadpool(service_of(request).compare_scenarios, ids))


@router.get("/scenarios/{scenario_id}")
async def get(scenario_id: str, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(service_of(request).get_scenario, scenario_id))


@router.post("/scenarios/{scenario_id}/run", status_code=202)
async def run(scenario_id: str, request: Request) -> JSONResponse:
    service = service_of(request)
    await run_in_threadpool(service.start_scenario, scenario_id)
    return JSONResponse(await run_in_threadpool(service.get_scenario, scenario_id),
                        status_code=202)


@router.delete("/scenarios/{scenario_id}", status_code=204)
async def delete(scenario_id: str, request: Request) -> Response:
    await run_in_threadpool(service_of(request).delete_scenario, scenario_id)
    return Response(status_code=204)
