"""``/digitaltwins/{id}/relationships`` and ``/incomingrelationships`` (Azure shapes)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from holotwin.api.deps import read_json, service_of

router = APIRouter()


@router.get("/digitaltwins/{twin_id}/relationships")
async def list_relationships(twin_id: str, request: Request) -> JSONResponse:
    name = request.query_params.get("relationshipName") or None
    docs = await run_in_threadpool(service_of(request).list_relationships, twin_id, name)
    return JSONResponse({"value": docs, "nextLink": None})


@router.get("/digitaltwins/{twin_id}/incomingrelationships")
async def list_incoming(twin_id: str, request: Request) -> JSONResponse:
    docs = await run_in_threadpool(service_of(request).list_incoming, twin_id)
    value = [
        {
            "$relationshipId": d["$relationshipId"],
            "$sourceId": d["$sourceId"],
            "$relationshipName": d["$relationshipName"],
            "$relationshipLink": f"/digitaltwins/{d['$sourceId']}/relationships/{d['$relationshipId']}",
        }
        for d in docs
    ]
    return JSONResponse({"value": value, "nextLink": None})


@router.get("/digitaltwins/{twin_id}/relationships/{relationship_id}")
async def get_relationship(twin_id: str, relationship_id: str, request: Request) -> JSONResponse:
    doc = await run_in_threadpool(service_of(request).get_relationship, twin_id, relationship_id)
    return JSONResponse(doc, headers={"ETag": doc["$etag"]})


@router.put("/digitaltwins/{twin_id}/relationships/{relationship_id}")
async def put_relationship(twin_id: str, relationship_id: str, request: Request) -> JSONResponse:
    body = await read_json(request)
    result = await run_in_threadpool(
        lambda: service_of(request).put_relationship(
            twin_id, relationship_id, body,
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        )
    )
    return JSONResponse(result.document, headers={"ETag": result.document["$etag"]})


@router.patch("/digitaltwins/{twin_id}/relationships/{relationship_id}", status_code=204)
async def patch_relationship(twin_id: str, relationship_id: str, request: Request) -> Response:
    body = await read_json(request)
    doc = await run_in_threadpool(
        lambda: service_of(request).patch_relationship(
            twin_id, relationship_id, body, if_match=request.headers.get("if-match")
        )
    )
    return Response(status_code=204, headers={"ETag": doc["$etag"]})


@router.delete("/digitaltwins/{twin_id}/relationships/{relationship_id}", status_code=204)
async def delete_relationship(twin_id: str, relationship_id: str, request: Request) -> Response:
    await run_in_threadpool(
        lambda: service_of(request).delete_relationship(
            twin_id, relationship_id, if_match=request.headers.get("if-match")
        )
    )
    return Response(status_code=204)
