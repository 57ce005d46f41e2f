"""``/models``: upload, list, get, decommission and delete DTDL models (Azure shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of
from holotwin.clock import to_iso
from holotwin.errors import PatchError
from holotwin.store.base import ModelRecord

router = APIRouter()


def _language_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"en": str(value)}


def model_data(record: ModelRecord, include_definition: bool) -> dict[str, Any]:
    """A ``DigitalTwinsModelData`` object."""
    out: dict[str, Any] = {
        "id": record.id,
        "uploadTime": to_iso(record.upload_time),
        "decommissioned": record.decommissioned,
    }
    display = _language_map(record.document.get("displayName"))
    description = _language_map(record.document.get("description"))
    if display:
        out["displayName"] = display
    if description:
        out["description"] = description
    if include_definition:
        out["model"] = record.document
    return out


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


@router.post("/models", status_code=201)
async def create_models(request: Request) -> JSONResponse:
    body = await read_json(request)
    records = await run_in_threadpool(service_of(request).add_models, body)
    return JSONResponse([model_data(r, True) for r in records], status_code=201)


@router.get("/models")
async def list_models(request: Request) -> JSONResponse:
    params = request.query_params
    deps = params.getlist("dependenciesFor") or None
    include = _flag(params.get("includeModelDefinition"))
    records = await run_in_threadpool(service_of(request).list_models, deps)
    return JSONResponse({"value": [model_data(r, include) for r in records], "nextLink": None})


@router.get("/models/{model_id}")
async def get_model(model_id: str, request: Request) -> JSONResponse:
    include = _flag(request.query_params.get("includeModelDefinition"))
    record = service_of(request).get_model(model_id)
    return JSONResponse(model_data(record, include))


@router.patch("/models/{model_id}", status_code=204)
async def update_model(model_id: str, request: Request) -> Response:
    body = await read_json(request)
    ops = body if isinstance(body, list) else None
    if (
        not ops
        or len(ops) != 1
        or not isinstance(ops[0], dict)
        or ops[0].get("op") not in ("replace", "add")
        or ops[0].get("path") != "/decommissioned"
        or not isinstance(ops[0].get("value"), bool)
    ):
        raise PatchError(
            "A model can only be patched with "
            '[{"op": "replace", "path": "/decommissioned", "value": true}]',
            "/decommissioned",
        )
    await run_in_threadpool(service_of(request).decommission_model, model_id, ops[0]["value"])
    return Response(status_code=204)


@router.delete("/models/{model_id}", status_code=204)
async def delete_model(model_id: str, request: Request) -> Response:
    await run_in_threadpool(service_of(request).delete_model, model_id)
    return Response(status_code=204)
