"""The exceptions holotwin raises.

Every exception derives from :class:`HolotwinError`. Domain code raises these; only ``api/``
turns them into HTTP responses (see ``holotwin.api.problems``) and only ``cli/`` into messages.

The tree::

    HolotwinError
    ├── InvalidInputError          bad input from a caller (HTTP 400)
    │   ├── ModelError             a DTDL document is invalid (carries ``issues``)
    │   ├── PropertyValueError     a value does not match its schema (``path``, ``expected``)
    │   ├── PatchError             a JSON Patch / merge patch cannot be applied (``path``)
    │   ├── QueryError             a query cannot be parsed or run (``position``)
    │   ├── PayloadTooLargeError   a request body is over the size limit (413)
    │   ├── MappingError           (ingest.mapping) a message cannot be mapped to readings
    │   └── ConnectorConfigError   (ingest.config) a connector file is invalid
    ├── NotFoundError              a twin, relationship, component or model does not exist (404)
    │   └── DeletedWhileRunning    (service.runs) a scenario or optimization deleted as it ran
    ├── ConflictError              the thing exists already or is still referenced (409)
    ├── PreconditionFailedError    ``If-Match`` / ``If-None-Match`` did not hold (412)
    ├── AuthenticationError        no or unknown credentials (401)
    ├── PermissionDeniedError      credentials lack the scope (403)
    ├── StoreError                 the storage backend failed (503)
    ├── ComputeError               (compute.base) a task or the executor failed (503)
    ├── FmuError                   (behaviors.fmu) an FMU failed while it ran (422)
    ├── SourceError                (ingest.source) an ingestion source failed to start or run
    └── LeaseLostError             (service.lease) another server took over the work of a lease

Exceptions marked with a module live there, beside the code that raises them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "HolotwinError",
    "InvalidInputError",
    "ModelError",
    "ModelIssue",
    "NotFoundError",
    "PatchError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "PropertyValueError",
    "QueryError",
    "StoreError",
]


class HolotwinError(Exception):
    """Root of every holotwin exception. ``code`` is a stable machine-readable name."""

    code = "HolotwinError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(HolotwinError):
    """The caller sent something holotwin cannot accept."""

    code = "InvalidInput"


@dataclass(frozen=True)
class ModelIssue:
    """One problem found in a DTDL document.

    ``element`` is the ``@id`` (or a path such as ``dtmi:x;1/contents[2]``) of the element at
    fault, ``property`` the DTDL property at fault (``schema``, ``name``, ...), ``rule`` a short
    stable identifier (for DTDL conformance cases the ``ValidationID``), ``message`` words a
    modeller understands.
    """

    element: str
    property: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.element + (f" property '{self.property}'" if self.property else "")
        return f"{where}: {self.message}"


class ModelError(InvalidInputError):
    """One or more DTDL documents are invalid; ``issues`` lists every problem found."""

    code = "InvalidModel"

    def __init__(self, issues: Sequence[ModelIssue] | str) -> None:
        if isinstance(issues, str):
            issues = [ModelIssue(element="", property=None, rule="invalid", message=issues)]
        self.issues: list[ModelIssue] = list(issues)
        text = "; ".join(str(i) for i in self.issues[:5])
        if len(self.issues) > 5:
            text += f"; and {len(self.issues) - 5} more"
        super().__init__(f"Invalid model: {text}")


class PropertyValueError(InvalidInputError):
    """A value does not match the schema declared for it.

    ``path`` is the JSON pointer of the value inside the twin (``/temperature``,
    ``/pump/settings/speed``), ``expected`` a description of the schema (``double``,
    ``enum string (on, off)``), ``value`` the value received.
    """

    code = "ValidationFailed"

    def __init__(self, path: str, expected: str, value: object, reason: str | None = None) -> None:
        self.path = path
        self.expected = expected
        self.value = value
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = f"Property '{path}' expects {expected}, got {shown}"
        if reason:
            msg += f" ({reason})"
        super().__init__(msg)


class PatchError(InvalidInputError):
    """A JSON Patch or merge patch is malformed or cannot be applied (``path`` names where)."""

    code = "JsonPatchInvalid"

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class QueryError(InvalidInputError):
    """A query is not valid; ``position`` is the 0-based character offset where it went wrong."""

    code = "QueryInvalid"

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        super().__init__(message)


class PayloadTooLargeError(InvalidInputError):
    """A request body is larger than ``limit`` bytes."""

    code = "PayloadTooLarge"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The request body is larger than the limit of {limit} bytes")


class NotFoundError(HolotwinError):
    """``kind`` (twin, relationship, component, model, ...) ``id`` does not exist."""

    code = "NotFound"

    def __init__(self, kind: str, id: str, message: str | None = None) -> None:
        self.kind = kind
        self.id = id
        super().__init__(message or f"{kind[:1].upper()}{kind[1:]} '{id}' was not found")


class ConflictError(HolotwinError):
    """The operation conflicts with what exists (already there, still referenced)."""

    code = "Conflict"


class PreconditionFailedError(HolotwinError):
    """An ``If-Match`` or ``If-None-Match`` condition did not hold."""

    code = "PreconditionFailed"

    def __init__(self, message: str, *, expected: str | None = None, actual: str | None = None):
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class AuthenticationError(HolotwinError):
    """No credentials, or credentials holotwin does not know."""

    code = "Unauthorized"


class PermissionDeniedError(HolotwinError):
    """The credentials are valid but lack the scope the operation needs."""

    code = "Forbidden"


class StoreError(HolotwinError):
    """The storage backend failed (connection lost, disk full, ...)."""

    code = "StoreUnavailable"
