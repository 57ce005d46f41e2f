"""JSON-LD forms of DTDL literal values: value objects and localizable strings.

A boolean, integer or string property may be written plainly (``true``) or as a JSON-LD value
object (``{"@value": true, "@type": "xsd:boolean"}``); ``displayName`` and ``description`` are
localizable: a string, a map of language code to string, or a list of strings and
``{"@value", "@language"}`` objects with at most one text per language (plain text counts as
English).

Example:
    >>> unwrap_value({"@value": 3, "@type": "xsd:integer"})
    3
    >>> read_lang_string([{"@value": "Pumpe", "@language": "de"}, "pump"])
    ({'de': 'Pumpe', 'en': 'pump'}, None)
    >>> read_lang_string({"English": "pump"})[1]
    "'English' is not a language code such as 'en' or 'de-CH'"
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["read_lang_string", "unwrap_value"]

_XSD: Final = "http://www.w3.org/2001/XMLSchema#"
_DATATYPES: Final = {bool: "boolean", int: "integer", str: "string"}
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_NODE_KEYS: Final = frozenset({"@id", "@context", "@graph"})


def _extra_keys_ok(obj: dict[str, object], allowed: set[str], version: int) -> bool:
    """DTDL v3 allows only ``allowed`` keys in a value object; v2 ignores others but never
    ``@id``, ``@context`` or ``@graph`` (which would make it a node, not a value)."""
    if version >= 3:
        return set(obj) <= allowed
    return not _NODE_KEYS & set(obj)


def unwrap_value(value: object, version: int = 3) -> object:
    """The literal in ``value``: unwraps a one-element list and a well-formed value object.

    A value object with a wrong ``@type`` is returned as it is, so the caller's type check
    rejects it; so is one with keys other than ``@value`` and ``@type``, except in DTDL
    ``version`` 2, which ignores them (``@language``, unknown keywords).

    Example:
        >>> unwrap_value([True]), unwrap_value({"@value": True, "@type": "boolean"})
        (True, {'@value': True, '@type': 'boolean'})
        >>> unwrap_value({"@value": 3, "@language": "en"}, 2)
        3
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict) or "@value" not in value or not _extra_keys_ok(
        value, {"@value", "@type"}, version
    ):
        return value
    literal = value["@value"]
    if "@type" in value:
        declared = value["@type"]
        if isinstance(declared, list) and len(declared) == 1:
            declared = declared[0]
        expected = _DATATYPES.get(type(literal))
        if expected is None or declared not in (f"xsd:{expected}", _XSD + expected):
            return value
    return literal


def read_lang_string(value: object, version: int = 3) -> tuple[dict[str, str], str | None]:
    """The texts of a localizable string by language code, and what is wrong with it (or None).

    In a list, DTDL ``version`` 2 ignores keys of a ``{"@value", "@language"}`` object other
    than those two (such as ``@type``); version 3 rejects them.

    Example:
        >>> read_lang_string(["hello", "hi"])[1]
        'it has more than one text for language en'
    """
    if isinstance(value, str):
        return {"en": value}, None
    if isinstance(value, dict):
        texts: dict[str, str] = {}
        for lang, text in value.items():
            if lang.startswith("@"):
                return {}, ("a language map cannot hold JSON-LD keywords such as "
                            f"'{lang}' (write a list of {{'@value', '@language'}} objects)")
            if not _LANGUAGE.fullmatch(lang):
                return {}, f"'{lang}' is not a language code such as 'en' or 'de-CH'"
            if not isinstance(text, str):
                return {}, f"the text for '{lang}' must be a string, not {text!r}"
            texts[lang] = text
        return texts, None
    if not isinstance(value, list):
        return {}, f"it must be a string or a map of language code to string, not {value!r}"
    texts = {}
    for item in value:
        lang, text, problem = _list_item(item, version)
        if problem:
            return {}, problem
        if lang in texts:
            return {}, f"it has more than one text for language {lang}"
        texts[lang] = text
    return texts, None


def _list_item(item: object, version: int) -> tuple[str, str, str | None]:
    if isinstance(item, str):
        return "en", item, None
    if not isinstance(item, dict) or "@value" not in item or not _extra_keys_ok(
        item, {"@value", "@language"}, version
    ):
        return "", "", ("each entry must be a string or an object with '@value' and optionally "
                        f"'@language', not {item!r}")
    text, lang = item["@value"], item.get("@language", "en")
    if not isinstance(text, str):
        return "", "", f"'@value' must be a string, not {text!r}"
    if not isinstance(lang, str) or not _LANGUAGE.fullmatch(lang):
        return "", "", f"'@language' {lang!r} is not a language code such as 'en' or 'de-CH'"
    return lang, text, None
