"""holotwin: ingestion connectors' status and the dead letters."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from holotwin.api.deps import service_of
from holotwin.api.routes.twins import int_param
from holotwin.clock import to_iso
from holotwin.store.base import DeadLetter

router = APIRouter()


@router.get("/ingest/connectors")
async def connectors(request: Request) -> JSONResponse:
    """Each configured connector: connected or not, messages received, written and
    dead-lettered, and its last error."""
    ingestion = getattr(request.app.state, "ingestion", None)
    value = ingestion.status() if ingestion is not None else []
    return JSONResponse({"value": value})


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
