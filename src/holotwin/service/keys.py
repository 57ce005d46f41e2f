"""API keys with scopes ``read`` < ``write`` < ``admin``.

A key looks like ``htk_<id>_<secret>``; only a SHA-256 hash of the secret is stored (keys are
long random strings, so a fast hash is enough), and the key is shown once, when it is created.

- ``read``: read models, twins, relationships, telemetry, history, the change feed, queries.
- ``write``: also create, change and delete models, twins and relationships; send telemetry.
- ``admin``: also manage API keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from holotwin.clock import Clock, SystemClock
from holotwin.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from holotwin.store.base import ApiKeyRecord, Store

__all__ = ["SCOPES", "ApiKeys"]

SCOPES = ("read", "write", "admin")
_PREFIX = "htk_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    """Create, check and revoke API keys kept in a store."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()

    def create(self, name: str, scope: str) -> tuple[ApiKeyRecord, str]:
        """Make a key; returns its record and the key itself (shown only now)."""
        if scope not in SCOPES:
            raise InvalidInputError(f"Unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
        if not name.strip():
            raise InvalidInputError("An API key needs a name (who or what uses it)")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = ApiKeyRecord(key_id, name.strip(), scope, _hash(secret), self.clock.now())
        self.store.put_api_key(record)
        return record, f"{_PREFIX}{key_id}_{secret}"

    def verify(self, key: str) -> ApiKeyRecord:
        """The record of a valid key; AuthenticationError otherwise."""
        if not key.startswith(_PREFIX) or key.count("_") < 2:
            raise AuthenticationError("Malformed API key")
        key_id, _, secret = key[len(_PREFIX):].partition("_")
        record = self.store.get_api_key(key_id)
        if record is None or not hmac.compare_digest(record.secret_hash, _hash(secret)):
            raise AuthenticationError("Unknown or revoked API key")
        return record

    @staticmethod
    def require(record: ApiKeyRecord, scope: str) -> None:
        """PermissionDeniedError unless the key's scope includes ``scope``."""
        if SCOPES.index(record.scope) < SCOPES.index(scope):
            raise PermissionDeniedError(
                f"API key '{record.name}' has scope '{record.scope}'; this needs '{scope}'"
            )

    def revoke(self, key_id: str) -> None:
        if not self.store.delete_api_key(key_id):
            raise NotFoundError("API key", key_id)

    def list(self) -> list[ApiKeyRecord]:
        return self.store.list_api_keys()
