"""What every route needs: the service, the caller's scope, and a JSON body read safely."""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from holotwin.errors import AuthenticationError, InvalidInputError, PayloadTooLargeError
from holotwin.service import ApiKeys, TwinService

__all__ = ["SESSION_COOKIE", "ApiSettings", "authorize", "is_loopback", "read_json",
           "service_of"]

#: the cookie the dashboard's sign-in sets (the API key; HttpOnly, SameSite=Strict)
SESSION_COOKIE = "holotwin_key"


@dataclass(frozen=True)
class ApiSettings:
    """How the API behaves. ``auth``: require API keys; ``max_body``: largest body in bytes."""

    auth: bool = False
    max_body: int = 4 * 1024 * 1024


def service_of(request: Request) -> TwinService:
    service: TwinService = request.app.state.service
    return service


def _reject_constant(name: str) -> Any:
    raise InvalidInputError(f"Malformed JSON: {name} is not a JSON number")


async def read_json(request: Request) -> Any:
    """The request body as JSON; 413 over the size limit, 400 for malformed JSON."""
    limit: int = request.app.state.settings.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidInputError("The request body is empty; a JSON document is expected")
    try:
        # RFC 8259: JSON between systems is UTF-8 (json.loads would also guess UTF-16/32)
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InvalidInputError("The request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def _scope_for(request: Request) -> str:
    path = request.url.path
    if path.startswith("/keys"):
        return "admin"
    if request.method in ("GET", "HEAD", "OPTIONS") or path == "/query" \
            or path in ("/predict", "/scenarios/compare") or path.endswith("/predict"):
        return "read"  # a query or a prediction changes nothing
    return "write"


async def authorize(request: Request) -> None:
    """Check the API key (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) when auth is on."""
    if not request.app.state.settings.auth:
        return
    key = request.headers.get("x-api-key")
    header = request.headers.get("authorization", "")
    if key is None and header.lower().startswith("bearer "):
        key = header[7:].strip()
    if not key:  # the dashboard's sign-in keeps the key in an HttpOnly, SameSite cookie
        key = request.cookies.get(SESSION_COOKIE)
    if not key:
        raise AuthenticationError(
            "This server requires an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        )
    keys: ApiKeys = request.app.state.keys
    cache: dict[str, Any] = request.app.state.key_cache
    # Verified keys are cached briefly so a revoked key stops working within 10 s.
    hit = cache.get(key)
    if hit is not None and hit[1] > time.monotonic():
        record = hit[0]
    else:
        record = keys.verify(key)
        if len(cache) > 1000:
            cache.clear()
        cache[key] = (record, time.monotonic() + 10.0)
    ApiKeys.require(record, _scope_for(request))
    request.state.api_key = record


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
