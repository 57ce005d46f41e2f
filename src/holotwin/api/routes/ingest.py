"""holotwin: ingestion connectors' status, the dead letters, and HTTP batch ingestion."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from holotwin.api.deps import read_json, service_of
from holotwin.api.routes.twins import int_param
from holotwin.clock import to_iso
from holotwin.ingest.http import HttpBatchSource
from holotwin.ingest.pipeline import IngestPipeline
from holotwin.store.base import DeadLetter

router = APIRouter()


def _batch_source(request: Request) -> HttpBatchSource:
    """The app's HTTP batch source, attached to the connectors' pipeline (or, without
    connectors, to a pipeline of its own); made on first use, on the event loop thread."""
    state = request.app.state
    source: HttpBatchSource | None = getattr(state, "http_batch", None)
    if source is None:
        ingestion = getattr(state, "ingestion", None)
        pipeline = (ingestion.pipeline if ingestion is not None
                    else IngestPipeline(service_of(request)))
        source = HttpBatchSource()
        source.start(pipeline)
        state.http_batch = source
    return source


@router.get("/ingest/connectors")
async def connectors(request: Request) -> JSONResponse:
    """Each configured connector: connected or not, messages received, written and
    dead-lettered, and its last error."""
    ingestion = getattr(request.app.state, "ingestion", None)
    value = ingestion.status() if ingestion is not None else []
    batch = getattr(request.app.state, "http_batch", None)
    if batch is not None:
        value.append(batch.status())
    return JSONResponse({"value": value})


@router.post("/ingest/batch")
async def ingest_batch(request: Request) -> JSONResponse:
    """Readings and messages in bulk (see ``holotwin.ingest.http``), written in one
    transaction through the ingestion pipeline; the answer, after the commit, counts accepted,
    rejected (dead-lettered, with reasons) and duplicate items."""
    body = await read_json(request)
    source = _batch_source(request)
    report = await run_in_threadpool(source.ingest, body)
    return JSONResponse(report)


def dead_letter_json(d: DeadLetter) -> dict[str, object]:
    return {"id": d.id, "time": to_iso(d.time), "source": d.source, "topic": d.topic,
            "stage": d.stage, "reason": d.reason, "payload": d.payload, "encoding": d.encoding}


@router.get("/ingest/deadletters")
async def dead_letters(request: Request) -> JSONResponse:
    """Dead letters oldest first, after the id ``after``; ``nextAfter`` continues the list."""
    service = service_of(request)
    after = int_param(request, "after", 0, low=0, high=2**62)
    limit = int_param(request, "limit", 100, high=1000)
    letters = await run_in_threadpool(service.list_dead_letters, after, limit)
    total = await run_in_threadpool(service.count_dead_letters)
    return JSONResponse({
        "value": [dead_letter_json(d) for d in letters],
        "count": total,
        "nextAfter": letters[-1].id if len(letters) == limit else None,
    })
