"""The model registry: the set of DTDL interfaces holotwin knows, added in atomic batches.

Example:
    >>> from holotwin.models import ModelRegistry, define_interface
    >>> reg = ModelRegistry()
    >>> _ = reg.add([define_interface("dtmi:ex:Machine;1", properties={"serial": "string"}),
    ...              define_interface("dtmi:ex:Pump;1", extends=["dtmi:ex:Machine;1"],
    ...                               properties={"speed": "double"})])
    >>> reg.ids(), reg.is_a("dtmi:ex:Pump;1", "dtmi:ex:Machine;1")
    (['dtmi:ex:Machine;1', 'dtmi:ex:Pump;1'], True)
    >>> list(reg.require("dtmi:ex:Pump;1").properties)
    ['serial', 'speed']
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from holotwin.errors import ConflictError, ModelError, NotFoundError
from holotwin.models.elements import Interface
from holotwin.models.interfaces import ParsedBatch, parse_batch
from holotwin.models.schema import Schema

__all__ = ["ModelRegistry"]


@dataclass
class _Entry:
    interface: Interface
    document: dict[str, Any]
    owned: frozenset[str]
    references: frozenset[str]
    decommissioned: bool = False


class _Lookup:
    """What the parser sees of a registry (read-only)."""

    def __init__(self, interfaces: dict[str, Interface], schemas: dict[str, Schema]) -> None:
        self._interfaces = interfaces
        self._schemas = schemas

    def interface(self, dtmi: str) -> Interface | None:
        return self._interfaces.get(dtmi)

    def schema(self, dtmi: str) -> Schema | None:
        return self._schemas.get(dtmi)


class ModelRegistry:
    """The DTDL interfaces known to one holotwin instance.

    Models are added in batches that are validated as a whole (documents may reference each
    other and anything registered before); a batch with any problem adds nothing. Interfaces
    declared inline (a Component ``schema`` or an ``extends`` entry written out in full) can be
    looked up by their ``@id`` with :meth:`get` but are not models of their own: :meth:`ids`,
    ``len`` and :meth:`remove` deal with top-level models only.

    Example:
        >>> from holotwin.models import define_interface
        >>> reg = ModelRegistry()
        >>> [fan] = reg.add([define_interface("dtmi:ex:Fan;1", properties={"rpm": "double"})])
        >>> "dtmi:ex:Fan;1" in reg, len(reg)
        (True, 1)
        >>> reg.remove("dtmi:ex:Fan;1")
        >>> reg.get("dtmi:ex:Fan;1") is None
        True
    """

    def __init__(self) -> None:
        self._models: dict[str, _Entry] = {}
        self._interfaces: dict[str, Interface] = {}
        self._schemas: dict[str, Schema] = {}
        self._owners: dict[str, str] = {}

    # -- adding and removing -----------------------------------------------------------------

    def add(
        self, documents: Sequence[object], *, allow_undefined_extensions: bool = False
    ) -> list[Interface]:
        """Validate and register a batch of DTDL documents (all or nothing).

        Returns the new top-level interfaces, bases and other dependencies before the models
        that use them (the order they are registered in). Raises :class:`ConflictError` if an
        ``@id`` is already registered and :class:`ModelError` listing every problem found.
        """
        if isinstance(documents, str | bytes | dict) or not isinstance(documents, Sequence):
            raise ModelError("models must be given as a list of DTDL documents")
        docs = copy.deepcopy(list(documents))
        taken = [d["@id"] for d in docs
                 if isinstance(d, dict) and isinstance(d.get("@id"), str)
                 and (d["@id"] in self._owners or d["@id"] in self._interfaces)]
        if taken:
            raise ConflictError(
                "Model(s) already registered: " + ", ".join(taken)
                + " (a model version cannot be changed; upload a new version)"
            )
        batch = parse_batch(docs, _Lookup(self._interfaces, self._schemas),
                            allow_undefined_extensions=allow_undefined_extensions)
        ordered = _dependency_order(batch)
        for iface in ordered:
            owned = frozenset(i for i, owner in batch.owners.items() if owner == iface.id)
            self._models[iface.id] = _Entry(
                iface, iface.document, owned, batch.references.get(iface.id, frozenset())
            )
        self._interfaces.update(batch.interfaces)
        self._schemas.update(batch.schemas)
        self._owners.update(batch.owners)
        return ordered

    def remove(self, dtmi: str) -> None:
        """Forget model ``dtmi`` (and what it declares inline).

        Raises :class:`NotFoundError` if it is not registered and :class:`ConflictError` naming
        the models that still reference it (extends, component schema, relationship target or
        a schema it declares).
        """
        self.remove_many([dtmi])

    def remove_many(self, dtmis: Sequence[str]) -> None:
        """Forget several models at once: references among them do not block each other
        (how a failed batch is rolled back, even when its models target one another)."""
        entries = {d: self._entry(d) for d in dtmis}
        owned = set().union(*(e.owned for e in entries.values())) if entries else set()
        users = [other for other, e in self._models.items()
                 if other not in entries and e.references & owned]
        if users:
            raise ConflictError(
                f"Model {', '.join(entries)} is still referenced by {', '.join(users)}; "
                "remove those first"
            )
        for dtmi, entry in entries.items():
            del self._models[dtmi]
            for item in entry.owned:
                self._interfaces.pop(item, None)
                self._schemas.pop(item, None)
                self._owners.pop(item, None)

    def decommission(self, dtmi: str, flag: bool = True) -> None:
        """Mark model ``dtmi`` decommissioned (no new twins) or, with ``flag=False``, not."""
        self._entry(dtmi).decommissioned = flag

    def is_decommissioned(self, dtmi: str) -> bool:
        """True if ``dtmi`` (or the model declaring it inline) is decommissioned."""
        return self._entry(self._owners.get(dtmi, dtmi)).decommissioned

    # -- lookup --------------------------------------------------------------------------------

    def get(self, dtmi: str) -> Interface | None:
        """The interface ``dtmi`` (a model or an interface declared inline), or None."""
        return self._interfaces.get(dtmi)

    def require(self, dtmi: str) -> Interface:
        """The interface ``dtmi``; :class:`NotFoundError` ``("model", dtmi)`` if unknown."""
        found = self._interfaces.get(dtmi)
        if found is None:
            raise NotFoundError("model", dtmi)
        return found

    def schema(self, dtmi: str) -> Schema | None:
        """The named complex schema ``dtmi`` declared by a registered model, or None."""
        return self._schemas.get(dtmi)

    def ids(self) -> list[str]:
        """The DTMIs of the registered models, in the order they were registered."""
        return list(self._models)

    def document(self, dtmi: str) -> dict[str, Any]:
        """A copy of the DTDL document of model ``dtmi`` as uploaded."""
        return copy.deepcopy(self._entry(dtmi).document)

    def __contains__(self, dtmi: object) -> bool:
        return dtmi in self._interfaces

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[Interface]:
        return (e.interface for e in self._models.values())

    # -- the model graph -----------------------------------------------------------------------

    def is_a(self, dtmi: str, base_dtmi: str) -> bool:
        """True if ``dtmi`` is ``base_dtmi`` or extends it (directly or transitively)."""
        seen: set[str] = set()
        todo = [dtmi]
        while todo:
            current = todo.pop()
            if current == base_dtmi:
                return True
            if current in seen:
                continue
            seen.add(current)
            iface = self._interfaces.get(current)
            if iface is not None:
                todo.extend(iface.extends)
        return False

    def descendants(self, base_dtmi: str) -> set[str]:
        """``base_dtmi`` plus every registered model that extends it."""
        return {base_dtmi} | {m for m in self._models if self.is_a(m, base_dtmi)}

    def dependencies(self, dtmi: str) -> list[str]:
        """The registered models ``dtmi`` references, transitively (bases, component schemas,
        relationship targets, schemas), each after its own dependencies."""
        start = self._owners.get(dtmi, dtmi)
        self._entry(start)
        order: list[str] = []
        seen = {start}

        def visit(model: str) -> None:
            for ref in sorted(self._models[model].references):
                owner = self._owners.get(ref)
                if owner is None or owner in seen:
                    continue
                seen.add(owner)
                visit(owner)
                order.append(owner)

        visit(start)
        return order

    def _entry(self, dtmi: str) -> _Entry:
        entry = self._models.get(dtmi)
        if entry is None:
            raise NotFoundError("model", dtmi)
        return entry


def _dependency_order(batch: ParsedBatch) -> list[Interface]:
    """The batch's models with every model after the batch models it references."""
    by_id = {m.id: m for m in batch.models}
    order: list[Interface] = []
    placed: set[str] = set()

    def place(dtmi: str) -> None:
        placed.add(dtmi)
        for ref in sorted(batch.references.get(dtmi, frozenset())):
            owner = batch.owners.get(ref)
            if owner is not None and owner not in placed:
                place(owner)
        order.append(by_id[dtmi])

    for model in batch.models:
        if model.id not in placed:
            place(model.id)
    return order
