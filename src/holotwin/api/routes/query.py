"""``POST /query`` (Azure shape: ``{"query": ..., "continuationToken": ...}``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from holotwin.api.deps import read_json, service_of
from holotwin.errors import InvalidInputError

router = APIRouter()


@router.post("/query")
async def query(request: Request) -> JSONResponse:
    body = await read_json(request)
    if not isinstance(body, dict) or "query" not in body:
        raise InvalidInputError('The body must be {"query": "SELECT ..."}')
    token = body.get("continuationToken")
    if token is not None and not isinstance(token, str):
        raise InvalidInputError("continuationToken must be a string")
    raw_size = request.headers.get("max-items-per-page")
    size = int(raw_size) if raw_size and raw_size.isdigit() and 0 < int(raw_size) <= 1000 else 100
    rows, next_token = await run_in_threadpool(
        service_of(request).query, body["query"], token, size
    )
    return JSONResponse({"value": rows, "continuationToken": next_token})
