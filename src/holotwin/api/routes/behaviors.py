"""Behaviors (holotwin): the library, bindings per model, estimates, predictions, calibration.

- ``GET /behaviors``: the built-in behaviors with states, inputs, outputs, events, parameters.
- ``GET|PUT|DELETE /models/{id}/behavior``: the model's behavior binding.
- ``GET|DELETE /digitaltwins/{id}/estimate``: the twin's current estimate; start it afresh.
- ``POST /digitaltwins/{id}/predict`` and ``POST /predict`` (a fleet: ``{"twins": [...]}``):
  time of each event with percentiles, and output trajectories with bands (read scope).
- ``POST /digitaltwins/{id}/behavior/fit``: fit parameters to the twin's history.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.clock import from_iso
from holotwin.errors import InvalidInputError

router = APIRouter()

_PREDICT_KEYS = {"horizon", "dt", "method", "samples", "load", "twins"}


@router.get("/behaviors")
async def list_behaviors(request: Request) -> JSONResponse:
    return JSONResponse({"value": await run_in_threadpool(service_of(request).list_behaviors)})


@router.get("/models/{model_id}/behavior")
async def get_binding(model_id: str, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(service_of(request).get_behavior_binding,
                                                model_id))


@router.put("/models/{model_id}/behavior")
async def put_binding(model_id: str, request: Request) -> JSONResponse:
    body = await read_json(request)
    doc = await run_in_threadpool(service_of(request).put_behavior_binding, model_id, body)
    return JSONResponse(doc)


@router.delete("/models/{model_id}/behavior", status_code=204)
async def delete_binding(model_id: str, request: Request) -> Response:
    await run_in_threadpool(service_of(request).delete_behavior_binding, model_id)
    return Response(status_code=204)


@router.get("/digitaltwins/{twin_id}/estimate")
async def estimate(twin_id: str, request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(service_of(request).get_estimate, twin_id))


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or value == float("inf"):
        raise InvalidInputError(f"'{name}' must be a positive number of seconds, got {value!r}")
    return float(value)


@router.delete("/digitaltwins/{twin_id}/estimate", status_code=204)
async def reset_estimate(twin_id: str, request: Request) -> Response:
    """Start the twin's estimate afresh (its asset was replaced or repaired)."""
    service = service_of(request)
    await run_in_threadpool(service.get_twin, twin_id)  # 404 for an unknown twin
    await run_in_threadpool(service.reset_estimate, twin_id)
    return Response(status_code=204)


def _options(body: object, fleet: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInputError("A prediction request must be a JSON object")
    unknown = set(body) - _PREDICT_KEYS - (set() if fleet else {"twins"})
    if unknown or (not fleet and "twins" in body):
        raise InvalidInputError(f"Unknown member {sorted(unknown or {'twins'})[0]!r}; known: "
                                "horizon, dt, method, samples, load" + (", twins" if fleet
                                                                         else ""))
    horizon = _seconds(body.get("horizon"), "horizon")
    dt = _seconds(body.get("dt", 10.0), "dt")
    samples = body.get("samples", 200)
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise InvalidInputError(f"'samples' must be an integer, got {samples!r}")
    if horizon / dt > 100_000:
        raise InvalidInputError("horizon / dt is over 100,000 steps")
    return {"horizon": horizon, "dt": dt, "samples": samples,
            "method": body.get("method", "monte-carlo"), "load": body.get("load")}


@router.post("/digitaltwins/{twin_id}/predict")
async def predict_twin(twin_id: str, request: Request) -> JSONResponse:
    options = _options(await read_json(request), fleet=False)
    out = await run_in_threadpool(
        lambda: service_of(request).predict_twins([twin_id], **options))
    return JSONResponse(out[twin_id])


@router.post("/predict")
async def predict_fleet(request: Request) -> JSONResponse:
    body = await read_json(request)
    options = _options(body, fleet=True)
    twins = body.get("twins")
    if not isinstance(twins, list) or not twins or not all(isinstance(t, str) for t in twins):
        raise InvalidInputError("'twins' must be a non-empty list of twin ids")
    if len(twins) > 10_000:
        raise InvalidInputError("At most 10,000 twins per prediction")
    out = await run_in_threadpool(lambda: service_of(request).predict_twins(twins, **options))
    return JSONResponse({"value": out})


def _time(value: object, name: str) -> float:
    if isinstance(value, str):
        return from_iso(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"'{name}' must be an ISO 8601 time or epoch seconds")
    return float(value)


@router.post("/digitaltwins/{twin_id}/behavior/fit")
async def fit(twin_id: str, request: Request) -> JSONResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInputError("A fit request must be a JSON object")
    names = body.get("parameters")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidInputError("'parameters' must be a non-empty list of parameter names")
    start = _time(body.get("start", 0.0), "start")
    end = _time(body.get("end", float("inf")), "end")
    if end <= start:
        raise InvalidInputError("'end' must be after 'start'")
    return JSONResponse(await run_in_threadpool(
        service_of(request).fit_twin_behavior, twin_id, names, start, end))
