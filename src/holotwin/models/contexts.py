"""DTDL ``@context`` values: which DTDL version a document uses and which extensions it adds.

A document's top-level ``@context`` names the DTDL language context (``dtmi:dtdl:context;2`` or
``;3``) and may add extension contexts after it; any element may add extension contexts with its
own ``@context``. A context that holotwin does not know (``dtmi:com:example:context;1``) is an
*undefined extension*: an error, unless the caller allows undefined extensions, in which case the
terms and co-types it might define are accepted without being checked.

Example:
    >>> read_context_list(["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
    ...                   top=True, version=None, allow_undefined=False)
    ContextList(version=3, extensions=frozenset({'dtmi:dtdl:extension:quantitativeTypes;1'}), \
undefined=False, problems=())
    >>> read_context_list("dtmi:com:example:context;1", top=False, version=3,
    ...                   allow_undefined=False).problems[0][0]
    'dtmi:dtdl:parsingError:unresolvableContextSpecifier'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from holotwin.models.identifiers import CONTEXT_VERSIONS, KNOWN_EXTENSIONS, dtmi_problem
from holotwin.models.rules import Rule

__all__ = ["EXTENSIONS_BY_VERSION", "ContextList", "read_context_list"]

IOTCENTRAL_V2: Final = "dtmi:iotcentral:context;2"

EXTENSIONS_BY_VERSION: Final = {2: frozenset({IOTCENTRAL_V2}), 3: KNOWN_EXTENSIONS}
"""The extension contexts holotwin knows, per DTDL major version."""


@dataclass(frozen=True)
class ContextList:
    """What a ``@context`` value says: the DTDL ``version`` (None if it names none), the known
    ``extensions`` it adds, whether it adds an ``undefined`` extension (allowed by the caller),
    and its ``problems`` as ``(rule, message)`` pairs."""

    version: int | None
    extensions: frozenset[str]
    undefined: bool
    problems: tuple[tuple[str, str], ...]


def read_context_list(
    value: object, *, top: bool, version: int | None, allow_undefined: bool
) -> ContextList:
    """Read a ``@context`` value found at the top of a document (``top``) or on a nested element
    of a DTDL ``version`` document."""
    problems: list[tuple[str, str]] = []
    if value is None or isinstance(value, dict) or not isinstance(value, str | list):
        problems.append((Rule.INVALID_CONTEXT,
                         "@context must be a context DTMI (e.g. 'dtmi:dtdl:context;3') or a list "
                         f"of them, not {value!r}"))
        return ContextList(version, frozenset(), False, tuple(problems))
    items = value if isinstance(value, list) else [value]
    extensions: set[str] = set()
    undefined = False
    found: int | None = None
    for position, item in enumerate(items):
        if not isinstance(item, str):
            problems.append((Rule.INVALID_CONTEXT,
                             f"@context entries must be context DTMIs (strings), not {item!r}"))
            continue
        if item in CONTEXT_VERSIONS:
            if not top and version is not None and CONTEXT_VERSIONS[item] != version:
                problems.append((Rule.CONTEXT_VERSION,
                                 f"an element of a DTDL v{version} document cannot switch to "
                                 f"{item}"))
            found = CONTEXT_VERSIONS[item]
            continue
        if item.startswith("dtmi:dtdl:context"):
            problems.append((Rule.INVALID_CONTEXT,
                             f"'{item}' is not a DTDL language context (use "
                             "'dtmi:dtdl:context;2' or 'dtmi:dtdl:context;3')"))
            continue
        problem = dtmi_problem(item, 2)  # a context DTMI always carries a version
        if problem:
            problems.append((Rule.INVALID_CONTEXT,
                             f"@context entry '{item}' is not a context DTMI: {problem}"))
            continue
        if top and found is None and not (position == 0 and item == IOTCENTRAL_V2
                                          and _names_version(items, 2)):
            problems.append((Rule.INVALID_CONTEXT,
                             f"the DTDL context must come before the extension context '{item}'"))
            continue
        # the IoT Central context may precede the DTDL v2 context it belongs to
        in_force = found or version or (2 if _names_version(items, 2) else 3)
        known = EXTENSIONS_BY_VERSION.get(in_force, frozenset())
        if item in known:
            extensions.add(item)
        elif allow_undefined:
            undefined = True
        else:
            problems.append((Rule.UNDEFINED_CONTEXT,
                             f"'{item}' is not a DTDL v{found or version} extension context that "
                             "holotwin knows (undefined extensions are not allowed)"))
    if top and found is None:
        problems.append((Rule.MISSING_DTDL_CONTEXT,
                         "the document's @context must name the DTDL context, "
                         "'dtmi:dtdl:context;2' or 'dtmi:dtdl:context;3'"))
    return ContextList(found if top else version, frozenset(extensions), undefined,
                       tuple(problems))


def _names_version(items: list[object], version: int) -> bool:
    return any(CONTEXT_VERSIONS.get(i) == version for i in items if isinstance(i, str))
