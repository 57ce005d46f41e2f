"""Parse a batch of DTDL documents into resolved :class:`~holotwin.models.elements.Interface`
objects: ``@context``, ``@id``, ``extends`` (by DTMI or inline), ``schemas`` and ``contents``.

Documents in one batch may reference each other and anything already registered (through a
:class:`ModelLookup`). Every problem in the batch is collected; if there is any, the batch raises
one :class:`~holotwin.errors.ModelError` listing them all.

Example:
    >>> class Nothing:
    ...     def interface(self, dtmi): return None
    ...     def schema(self, dtmi): return None
    >>> doc = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Fan;1", "@type": "Interface",
    ...        "contents": [{"@type": "Property", "name": "rpm", "schema": "double"}]}
    >>> batch = parse_batch([doc], Nothing())
    >>> [(m.id, list(m.properties)) for m in batch.models]
    [('dtmi:ex:Fan;1', ['rpm'])]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Protocol

from holotwin.errors import ModelError, ModelIssue
from holotwin.models.contents import parse_content
from holotwin.models.contexts import read_context_list
from holotwin.models.elements import (
    Command,
    Component,
    Content,
    Interface,
    Property,
    Relationship,
    Telemetry,
)
from holotwin.models.identifiers import dtmi_problem, is_dtmi
from holotwin.models.parsing import (
    V2_CONTEXT,
    ParseContext,
    as_list,
    check_keys,
    child_label,
    class_of,
    read_id,
    read_text,
    read_types,
)
from holotwin.models.rules import rule_id
from holotwin.models.schema import Schema
from holotwin.models.schema_builder import COMPLEX_CLASSES, SchemaBuilder, SchemaDefinition
from holotwin.models.terms import expand_terms

__all__ = ["ModelLookup", "ParsedBatch", "parse_batch"]

_MAX_EXTENDS_DEPTH: Final = {2: 10, 3: 10}
_MAX_EXTENDS: Final = {2: 2, 3: 1024}
_MAX_CONTENTS_V2: Final = 300
_MAX_INTERFACE_ID: Final = 128


class ModelLookup(Protocol):
    """What the parser may look up among models registered before this batch."""

    def interface(self, dtmi: str) -> Interface | None:
        """The registered interface ``dtmi`` (top-level or inline), or None."""

    def schema(self, dtmi: str) -> Schema | None:
        """The registered named complex schema ``dtmi``, or None."""


@dataclass(frozen=True)
class ParsedBatch:
    """The result of parsing a batch.

    ``models`` are the top-level interfaces in document order; ``interfaces`` every interface
    built (inline ones too); ``schemas`` the named complex schemas; ``owners`` maps every
    ``@id`` in the batch to the top-level model holding it; ``references`` maps each model to
    the DTMIs it refers to outside itself (bases, component schemas, targets, schemas).
    """

    models: tuple[Interface, ...]
    interfaces: Mapping[str, Interface]
    schemas: Mapping[str, Schema]
    owners: Mapping[str, str]
    references: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class _Source:
    obj: dict[str, Any]
    ctx: ParseContext
    owner: str
    top: bool
    document: dict[str, Any]


def parse_batch(
    documents: Sequence[object], known: ModelLookup, *, allow_undefined_extensions: bool = False
) -> ParsedBatch:
    """Parse and resolve ``documents``; raise :class:`ModelError` listing every problem.

    A document may also be a list of documents (a JSON file holding an array). With
    ``allow_undefined_extensions``, extension contexts holotwin does not know are accepted, and
    so are the co-types and properties they may define (unchecked).
    """
    flat: list[object] = []
    for doc in documents:
        flat.extend(doc if isinstance(doc, list) else [doc])
    return _BatchParser(known, allow_undefined_extensions).run(flat)


class _BatchParser:
    def __init__(self, known: ModelLookup, allow_undefined: bool = False) -> None:
        self.known = known
        self.allow_undefined = allow_undefined
        self.issues: list[ModelIssue] = []
        self.sources: dict[str, _Source] = {}
        self.definitions: dict[str, SchemaDefinition] = {}
        self.owners: dict[str, str] = {}
        self.top_ids: list[str] = []
        self.built: dict[str, Interface] = {}
        self.failed: set[str] = set()
        self.stack: list[str] = []
        self.depths: dict[str, int] = {}
        self.refs: dict[str, set[str]] = {}
        self.elements: dict[str, dict[str, Any]] = {}
        self.schemas = SchemaBuilder(known.schema, self.definitions, self.elements)

    def report(self, element: str, prop: str | None, rule: str, message: str) -> None:
        self.issues.append(ModelIssue(element, prop, rule_id(rule), message))

    def run(self, documents: Sequence[object]) -> ParsedBatch:
        for i, doc in enumerate(documents):
            self._read_document(i, doc)
        for dtmi in self.top_ids:
            self._interface(dtmi)
        if self.issues:
            raise ModelError(self.issues)
        references = {
            owner: frozenset(r for r in refs if self.owners.get(r) != owner)
            for owner, refs in self.refs.items()
        }
        return ParsedBatch(
            models=tuple(self.built[d] for d in self.top_ids),
            interfaces=MappingProxyType(dict(self.built)),
            schemas=MappingProxyType(dict(self.schemas.built)),
            owners=MappingProxyType(dict(self.owners)),
            references=MappingProxyType(references),
        )

    # -- reading the batch ------------------------------------------------------------------

    def _read_document(self, index: int, doc: object) -> None:
        raw_id = doc.get("@id") if isinstance(doc, dict) else None
        label = raw_id if isinstance(raw_id, str) and raw_id else f"document[{index}]"
        if not isinstance(doc, dict):
            self.report(label, None, "notAnObject",
                        "each document must be a JSON object holding one Interface, "
                        f"not {type(doc).__name__}")
            return
        ctx = self._top_context(doc, label)
        if ctx is None:
            return
        original = doc
        doc = expand_terms(original, ctx.version)
        if not isinstance(doc, dict):
            return
        if class_of(doc.get("@type"), ctx.version, ["Interface"]) is None:
            rule = "missingType" if "@type" not in doc else "notAnInterface"
            self.report(label, "@type", rule,
                        f"a top-level element must have @type 'Interface', not {doc.get('@type')!r}")
            return
        dtmi = read_id(ctx, doc, label, required=True)
        if dtmi is None or not self._short_enough(ctx, dtmi):
            return
        if self._claim(dtmi, dtmi, label):
            self.sources[dtmi] = _Source(doc, ctx, dtmi, top=True, document=original)
            self.top_ids.append(dtmi)
            self.refs[dtmi] = set()
            self._scan(doc, ctx, dtmi)

    def _top_context(self, doc: dict[str, Any], label: str) -> ParseContext | None:
        if "@context" not in doc:
            self.report(label, "@context", "missingContext",
                        "the document has no @context (use 'dtmi:dtdl:context;3')")
            return None
        read = read_context_list(doc["@context"], top=True, version=None,
                                 allow_undefined=self.allow_undefined)
        for rule, message in read.problems:
            self.report(label, "@context", rule, message)
        if read.version is None or read.problems:
            return None
        return ParseContext(read.version, read.extensions, self.issues, self.allow_undefined,
                            read.undefined)

    def _short_enough(self, ctx: ParseContext, dtmi: str) -> bool:
        """DTDL limits an Interface's @id to 128 characters (other elements': 2048)."""
        if len(dtmi) <= _MAX_INTERFACE_ID:
            return True
        ctx.report(dtmi, "@id", "idTooLong",
                   f"the @id of Interface {dtmi[:40]}... has {len(dtmi)} characters; DTDL "
                   f"v{ctx.version} allows at most {_MAX_INTERFACE_ID} for an Interface")
        return False

    def _claim(self, dtmi: str, owner: str, label: str) -> bool:
        """Record that ``owner`` defines ``dtmi``; report it if someone else does already."""
        if dtmi in self.owners:
            self.report(label, "@id", "duplicateId",
                        f"@id {dtmi} is used by more than one element in this batch")
            return False
        if self.known.interface(dtmi) is not None or self.known.schema(dtmi) is not None:
            self.report(label, "@id", "duplicateId", f"@id {dtmi} is already registered")
            return False
        self.owners[dtmi] = owner
        return True

    def _scan(self, value: object, ctx: ParseContext, owner: str) -> None:
        """Find every element with an @id below a document: inline interfaces and schemas."""
        children: list[object]
        if isinstance(value, dict):
            children = [v for k, v in value.items() if k != "@context"]
        elif isinstance(value, list):
            children = list(value)
        else:
            return
        for child in children:
            if isinstance(child, dict) and isinstance(child.get("@id"), str):
                dtmi = child["@id"]
                if is_dtmi(dtmi, ctx.version) and self._claim(dtmi, owner, dtmi):
                    self.elements[dtmi] = child
                    if class_of(child.get("@type"), ctx.version, ["Interface"]):
                        if self._short_enough(ctx, dtmi):
                            self.sources[dtmi] = _Source(child, ctx, owner, top=False,
                                                         document=child)
                    elif class_of(child.get("@type"), ctx.version, COMPLEX_CLASSES):
                        self.definitions[dtmi] = (child, ctx, dtmi)
            self._scan(child, ctx, owner)

    # -- building interfaces ----------------------------------------------------------------

    def _interface(self, dtmi: str) -> Interface | None:
        if dtmi in self.built:
            return self.built[dtmi]
        if dtmi in self.failed or dtmi in self.stack:
            return None
        source = self.sources.get(dtmi)
        if source is None:
            return self.known.interface(dtmi)
        self.stack.append(dtmi)
        try:
            iface = self._build(dtmi, source)
        finally:
            self.stack.pop()
        if iface is None:
            self.failed.add(dtmi)
        else:
            self.built[dtmi] = iface
        return iface

    def _depth(self, dtmi: str) -> int:
        """How many ``extends`` levels lie below interface ``dtmi``."""
        if dtmi not in self.depths:
            iface = self._interface(dtmi)
            bases = iface.extends if iface else ()
            self.depths[dtmi] = 1 + max((self._depth(b) for b in bases), default=-1)
        return self.depths[dtmi]

    def _reference(
        self, ctx: ParseContext, value: object, label: str, prop: str, owner: str
    ) -> str | None:
        """Resolve an interface named in ``extends`` or a Component ``schema``."""
        what = "extends" if prop == "extends" else "Component schema"
        if isinstance(value, dict):
            dtmi = value.get("@id")
            if class_of(value.get("@type"), ctx.version, ["Interface"]) is None:
                self.report(label, prop, "invalidInterface",
                            f"an inline {what} must be an object with @type 'Interface'")
                return None
            source = self.sources.get(dtmi) if isinstance(dtmi, str) else None
            if source is None or source.obj is not value:
                if not isinstance(dtmi, str) or dtmi_problem(dtmi, ctx.version):
                    self.report(label, prop, "missingId",
                                f"the inline {what} interface needs a valid @id (a DTMI)")
                return None
            return dtmi if self._interface(str(dtmi)) else None
        problem = dtmi_problem(value, ctx.version)
        if problem:
            self.report(label, prop, "invalidReference",
                        f"{what} {value!r} is not a valid interface DTMI: {problem}")
            return None
        dtmi = str(value)
        self.refs[owner].add(dtmi)
        if dtmi in self.stack:
            path = " -> ".join([*self.stack[self.stack.index(dtmi):], dtmi])
            rule = "extendsCycle" if prop == "extends" else "componentCycle"
            self.report(label, prop, rule, f"interface {dtmi} contains itself ({path})")
            return None
        if dtmi in self.sources:
            return dtmi if self._interface(dtmi) else None
        if self.known.interface(dtmi) is None:
            rule = "unknownExtends" if prop == "extends" else "unknownComponentSchema"
            self.report(label, prop, rule,
                        f"{what} {dtmi} is not an interface in this batch or already registered")
            return None
        return dtmi

    def _component_schema(self, ctx: ParseContext, dtmi: str, label: str) -> str | None:
        """``dtmi`` if it may be a Component's schema: DTDL forbids components in components."""
        iface = self._interface(dtmi)
        if iface is None or not iface.components:
            return dtmi
        ctx.report(label, "schema", "excludedType",
                   f"Component {label} has schema {dtmi}, which has components "
                   f"({', '.join(iface.components)}); a Component's interface may not contain "
                   "Components")
        return None

    def _build(self, dtmi: str, source: _Source) -> Interface | None:
        obj, ctx, label = source.obj, source.ctx, dtmi
        if not source.top:
            ctx = ctx.nested(obj, label, definition=True)
        refs = self.refs[source.owner]
        read_types(ctx, obj, label, "Interface")
        check_keys(ctx, obj, label, "Interface", ["contents", "extends", "schemas"])
        display_name = read_text(ctx, obj, label, "displayName")
        description = read_text(ctx, obj, label, "description")
        read_text(ctx, obj, label, "comment")

        bases = self._bases(ctx, obj, label, source.owner)
        schemas = self._local_schemas(ctx, obj, label, refs)

        def reference(c: ParseContext, value: object, lab: str, prop: str) -> str | None:
            found = self._reference(c, value, lab, prop, source.owner)
            if found is not None and prop == "schema":
                return self._component_schema(c, found, lab)
            return found

        own: list[tuple[str, Content]] = []
        for i, item in enumerate(as_list(obj.get("contents"))):
            item_label = child_label(label, item, f"contents[{i}]")
            element = parse_content(ctx, item, item_label, self.schemas, refs, reference)
            if element is not None:
                if any(element.name == other.name for _, other in own):
                    ctx.report(item_label, "name", "duplicateName",
                               f"'{element.name}' is the name of more than one content "
                               f"element of {dtmi}")
                else:
                    own.append((item_label, element))
        merged = self._merge(ctx, label, bases, own)
        if ctx.version < 3 and len(merged) > _MAX_CONTENTS_V2:
            ctx.report(label, "contents", "tooManyContents",
                       f"a DTDL v2 interface may have at most {_MAX_CONTENTS_V2} contents "
                       f"(inherited included), this one has {len(merged)}")

        def table(kind: type[Any]) -> Mapping[str, Any]:
            return MappingProxyType({n: e for n, e in merged.items() if isinstance(e, kind)})

        return Interface(
            id=dtmi, dtdl_version=ctx.version, display_name=display_name,
            description=description, extends=tuple(bases), properties=table(Property),
            telemetry=table(Telemetry), commands=table(Command),
            relationships=table(Relationship), components=table(Component),
            schemas=MappingProxyType(schemas), document=source.document,
        )

    def _bases(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, owner: str
    ) -> list[str]:
        items = as_list(obj.get("extends"))
        most = _MAX_EXTENDS.get(ctx.version, 1024)
        if len(items) > most:
            ctx.report(label, "extends", "tooManyExtends",
                       f"Interface {label} extends {len(items)} interfaces; DTDL "
                       f"v{ctx.version} allows at most {most}")
        bases: list[str] = []
        for item in items:
            base = self._reference(ctx, item, label, "extends", owner)
            if base is not None and base not in bases:
                bases.append(base)
        limit = _MAX_EXTENDS_DEPTH.get(ctx.version, 12)
        depth = 1 + max((self._depth(b) for b in bases), default=-1)
        if depth > limit:
            ctx.report(label, "extends", "extendsTooDeep",
                       f"Interface {label} extends {depth} levels deep; DTDL v{ctx.version} "
                       f"allows at most {limit}")
        return bases

    def _local_schemas(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, refs: set[str]
    ) -> dict[str, Schema]:
        schemas: dict[str, Schema] = {}
        for i, item in enumerate(as_list(obj.get("schemas"))):
            item_label = child_label(label, item, f"schemas[{i}]")
            if not isinstance(item, dict) or not is_dtmi(item.get("@id"), ctx.version):
                ctx.report(item_label, "schemas", "invalidSchemaDefinition",
                           "each entry of schemas must be an Array, Enum, Map or Object "
                           "with a valid @id")
                continue
            if ctx.version >= 3 and V2_CONTEXT in as_list(item.get("@context")):
                ctx.report(item_label, "@context", "contextVersionChange",
                           f"schema {item_label} in the schemas of DTDL v3 Interface {label} "
                           "cannot be written in DTDL v2 (dtmi:dtdl:context;2)")
                continue
            schema = self.schemas.build(ctx, item, label, "schemas", set())
            if schema is not None:
                schemas[str(item["@id"])] = schema
        return schemas

    def _merge(
        self, ctx: ParseContext, label: str, bases: list[str], own: list[tuple[str, Content]]
    ) -> dict[str, Content]:
        merged: dict[str, Content] = {}
        origin: dict[str, str] = {}
        for base_id in bases:
            base = self._interface(base_id)
            if base is None:
                continue
            for table in (base.properties, base.telemetry, base.commands, base.relationships,
                          base.components):
                for name, element in table.items():
                    if name in merged and merged[name] is not element:
                        ctx.report(label, "extends", "duplicateName",
                                   f"'{name}' is inherited from both {origin[name]} and "
                                   f"{base_id}")
                        continue
                    merged[name] = element
                    origin.setdefault(name, base_id)
        for item_label, element in own:
            if element.name in merged:
                ctx.report(item_label, "name", "duplicateName",
                           f"'{element.name}' is already defined by base interface "
                           f"{origin[element.name]}")
                continue
            merged[element.name] = element
        return merged
