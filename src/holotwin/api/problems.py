"""RFC 9457 problem details: the one place where errors become HTTP responses.

Every error response is ``application/problem+json``::

    {"type": "urn:holotwin:problem:ValidationFailed", "title": "Bad Request", "status": 400,
     "detail": "Property '/speed' expects double, got 'fast'", "instance": "/digitaltwins/p1",
     "code": "ValidationFailed", "path": "/speed", "expected": "double",
     "error": {"code": "ValidationFailed", "message": "..."}}

The ``error`` member repeats code and message in the shape Azure Digital Twins uses, so that
``azure-digitaltwins-core`` shows the message in its exceptions.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from holotwin.behaviors.fmu import FmuError
from holotwin.compute import ComputeError
from holotwin.errors import (
    AuthenticationError,
    ConflictError,
    HolotwinError,
    ModelError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    PropertyValueError,
    QueryError,
    StoreError,
)

__all__ = ["install_problem_handlers", "problem_response", "status_for"]

log = logging.getLogger("holotwin.api")

_STATUS: list[tuple[type[HolotwinError], int]] = [
    (PayloadTooLargeError, 413),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PreconditionFailedError, 412),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (StoreError, 503),
    (ComputeError, 503),  # a worker process died, Ray cannot be reached
    (FmuError, 422),  # the FMU failed while it ran: the request was fine, the model was not
]


def status_for(exc: HolotwinError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:holotwin:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body["code"] = code
    body.update({k: v for k, v in extra.items() if v is not None})
    body["error"] = {"code": code, "message": detail}
    return Response(
        json.dumps(body, default=str),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _extra(exc: HolotwinError) -> dict[str, Any]:
    if isinstance(exc, PropertyValueError):
        return {"path": exc.path, "expected": exc.expected}
    if isinstance(exc, ModelError):
        return {
            "issues": [
                {"element": i.element, "property": i.property, "rule": i.rule, "message": i.message}
                for i in exc.issues
            ]
        }
    if isinstance(exc, QueryError):
        return {"position": exc.position}
    path = getattr(exc, "path", None)
    return {"path": path} if isinstance(path, str) else {}


async def _holotwin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HolotwinError)  # registered for HolotwinError only
    status = status_for(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="holotwin"'} if status == 401 else None
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return problem_response(status, exc.code, exc.message, request.url.path, headers, **_extra(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HttpError")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No such endpoint: {request.method} {request.url.path}"
    return problem_response(exc.status_code, code, detail, request.url.path,
                            dict(exc.headers) if exc.headers else None)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}")
    return problem_response(400, "InvalidInput", "; ".join(parts) or "Invalid request",
                            request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("Unexpected error on %s %s", request.method, request.url.path)
    return problem_response(500, "InternalError", "An unexpected error occurred; see the server log",
                            request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HolotwinError, _holotwin_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
