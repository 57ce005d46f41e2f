"""KPIs (holotwin): of a twin and the twins below it, and their configuration per model.

- ``GET /digitaltwins/{id}/kpis?start=&end=&depth=``: availability, MTBF, MTTR, OEE, energy
  over ``[start, end)`` (ISO 8601 or epoch seconds; default: the hour up to now), rolled up
  ``depth`` levels of the twin graph (default 2: plant, lines, machines). With
  ``maxAge=SECONDS`` (and no ``start`` or ``end``): the last hour's report as the server keeps
  it for dashboards, at most that old or being computed again (``computedAt`` says when it
  was computed; see :mod:`holotwin.service.kpi_reports`).
- ``GET|PUT|DELETE /models/{id}/kpis``: the KPI configuration of a model (GET: the one that
  applies, its own, a base's or the defaults, with ``definedBy``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.api.routes.twins import int_param, time_param
from holotwin.errors import InvalidInputError
from holotwin.service.kpi_reports import KpiReports
from holotwin.service.kpis import DEFAULT_DEPTH, MAX_DEPTH

router = APIRouter()


@router.get("/digitaltwins/{twin_id}/kpis")
async def twin_kpis(twin_id: str, request: Request) -> JSONResponse:
    start = time_param(request, "start")
    end = time_param(request, "end")
    depth = int_param(request, "depth", DEFAULT_DEPTH, low=0, high=MAX_DEPTH)
    raw_age = request.query_params.get("maxAge")
    if raw_age is not None:
        if start is not None or end is not None:
            raise InvalidInputError("'maxAge' is for the report of the last hour: not with "
                                    "'start' or 'end'")
        try:
            max_age = float(raw_age)  # its range is checked by KpiReports.get
        except ValueError:
            raise InvalidInputError(f"Query parameter 'maxAge' must be seconds, got "
                                    f"{raw_age!r}") from None
        reports: KpiReports = request.app.state.kpi_reports
        return JSONResponse(await run_in_threadpool(reports.get, twin_id, depth, max_age))
    return JSONResponse(await run_in_threadpool(
        lambda: service_of(request).twin_kpis(twin_id, start, end, depth=depth)))


@router.get("/models/{model_id}/kpis")
async def get_config(model_id: str, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(service_of(request).get_kpi_config, model_id))


@router.put("/models/{model_id}/kpis")
async def put_config(model_id: str, request: Request) -> JSONResponse:
    body = await read_json(request)
    return JSONResponse(await run_in_threadpool(service_of(request).put_kpi_config, model_id,
                                                body))


@router.delete("/models/{model_id}/kpis", status_code=204)
async def delete_config(model_id: str, request: Request) -> Response:
    await run_in_threadpool(service_of(request).delete_kpi_config, model_id)
    return Response(status_code=204)
