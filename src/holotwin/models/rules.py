"""The ``rule`` ids of :class:`~holotwin.errors.ModelIssue`: DTDL validation ids.

Where the reference DTDL parser (DTDLParser for .NET) has a ``ValidationID`` for a problem, the
issue's ``rule`` is that id (``dtmi:dtdl:parsingError:...``), so tools that know the official ids
can match holotwin's findings. The parser modules name problems with short words
(``"invalidName"``); :func:`rule_id` turns them into the id reported. Two rules have no official
counterpart and keep a holotwin name: :data:`Rule.UNRESOLVED` (a referenced model is in neither
the batch nor the registry: the reference parser raises a resolution error instead of a parsing
error) and :data:`Rule.INVALID_OPTION`.

Example:
    >>> rule_id("invalidName")
    'dtmi:dtdl:parsingError:stringInvalid'
    >>> rule_id("dtmi:dtdl:parsingError:invalidId")
    'dtmi:dtdl:parsingError:invalidId'
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["PARSING_ERROR", "Rule", "rule_id"]

PARSING_ERROR: Final = "dtmi:dtdl:parsingError:"


class Rule:
    """The rule ids holotwin reports (constants, not an enum, so they compare as strings)."""

    MISSING_CONTEXT: Final = PARSING_ERROR + "missingContext"
    MISSING_DTDL_CONTEXT: Final = PARSING_ERROR + "missingDtdlContext"
    INVALID_CONTEXT: Final = PARSING_ERROR + "invalidContextSpecifier"
    UNDEFINED_CONTEXT: Final = PARSING_ERROR + "unresolvableContextSpecifier"
    CONTEXT_VERSION: Final = PARSING_ERROR + "disallowedContextVersion"
    NOT_OBJECT: Final = PARSING_ERROR + "notJsonObject"
    NOT_ROOTABLE: Final = PARSING_ERROR + "typeNotRootable"
    MISSING_TYPE: Final = PARSING_ERROR + "missingTypeInfo"
    WRONG_TYPE: Final = PARSING_ERROR + "disallowedType"
    CLASS_NOT_STRING: Final = PARSING_ERROR + "classNotString"
    TYPE_UNDEFINED_TERM: Final = PARSING_ERROR + "typeUndefinedTerm"
    TYPE_IRRELEVANT: Final = PARSING_ERROR + "typeIrrelevantDtmiOrTerm"
    TYPE_INVALID_DTMI: Final = PARSING_ERROR + "typeInvalidDtmi"
    TYPE_NOT_DTMI_NOR_TERM: Final = PARSING_ERROR + "typeNotDtmiNorTerm"
    PROPERTY_UNDEFINED_TERM: Final = PARSING_ERROR + "propertyUndefinedTerm"
    PROPERTY_IRRELEVANT: Final = PARSING_ERROR + "propertyIrrelevantDtmiOrTerm"
    PROPERTY_INVALID_DTMI: Final = PARSING_ERROR + "propertyInvalidDtmi"
    PROPERTY_NOT_DTMI_NOR_TERM: Final = PARSING_ERROR + "propertyNotDtmiNorTerm"
    KEYWORD_DISALLOWED: Final = PARSING_ERROR + "keywordDisallowed"
    GRAPH_DISALLOWED: Final = PARSING_ERROR + "graphDisallowed"
    DUPLICATE_PROPERTY: Final = PARSING_ERROR + "duplicatePropertyName"
    MISSING_ID: Final = PARSING_ERROR + "missingTopLevelId"
    INVALID_ID: Final = PARSING_ERROR + "invalidId"
    ID_NOT_STRING: Final = PARSING_ERROR + "idNotString"
    RESERVED_ID: Final = PARSING_ERROR + "reservedId"
    DUPLICATE_ID: Final = PARSING_ERROR + "duplicateDefinition"
    MISSING_STRING: Final = PARSING_ERROR + "stringCountBelowMin"
    MISSING_OBJECT: Final = PARSING_ERROR + "objectCountBelowMin"
    STRING_INVALID: Final = PARSING_ERROR + "stringInvalid"
    STRING_NOT_STRING: Final = PARSING_ERROR + "stringNotString"
    STRING_TOO_LONG: Final = PARSING_ERROR + "stringTooLong"
    LANG_STRING_NOT_STRING: Final = PARSING_ERROR + "langStringValueNotString"
    LANG_STRING_TOO_LONG: Final = PARSING_ERROR + "langStringValueTooLong"
    LANG_STRING_CODE_NOT_UNIQUE: Final = PARSING_ERROR + "langStringElementCodeNotUnique"
    LANG_STRING_ELEMENT: Final = PARSING_ERROR + "langStringElementNotStringOrObject"
    LANG_STRING_INVALID_CODE: Final = PARSING_ERROR + "langStringInvalidCode"
    BOOLEAN_NOT_BOOLEAN: Final = PARSING_ERROR + "booleanNotBoolean"
    INTEGER_NOT_INTEGER: Final = PARSING_ERROR + "integerNotInteger"
    VALUE_BELOW_MIN: Final = PARSING_ERROR + "valueBelowMin"
    BAD_DTMI_OR_TERM: Final = PARSING_ERROR + "badDtmiOrTerm"
    IDENTIFIER_NOT_DTMI: Final = PARSING_ERROR + "identifierNotDtmi"
    REF_NOT_STRING_OR_OBJECT: Final = PARSING_ERROR + "refNotStringOrObject"
    ELEMENT_NOT_OBJECT: Final = PARSING_ERROR + "propertyElementNotObject"
    MULTIPLE_VALUES: Final = PARSING_ERROR + "objectMultipleValues"
    NOT_UNIQUE: Final = PARSING_ERROR + "nonUniquePropertyValue"
    RECURSIVE: Final = PARSING_ERROR + "recursiveStructureNarrow"
    TOO_DEEP: Final = PARSING_ERROR + "excessiveDepthNarrow"
    TOO_MANY: Final = PARSING_ERROR + "objectCountAboveMax"
    NON_CONFORMANT_VALUE: Final = PARSING_ERROR + "nonConformantPropertyValue"
    CONFLICTING_COTYPES: Final = PARSING_ERROR + "conflictingSupplementalTypes"
    MISSING_SUPPLEMENTAL: Final = PARSING_ERROR + "missingSupplementalIdentifierProperty"
    INVALID_COTYPE: Final = PARSING_ERROR + "invalidCotype"
    VALUE_OBJECT: Final = PARSING_ERROR + "valueObjectInvalidProp"
    VALUE_ABOVE_MAX: Final = PARSING_ERROR + "valueAboveMax"
    ID_TOO_LONG: Final = PARSING_ERROR + "idTooLongForType"
    EXCLUDED_TYPE: Final = PARSING_ERROR + "excludedType"
    UNRESOLVED: Final = "unresolvedReference"
    INVALID_OPTION: Final = "invalidOption"


_BY_WORD: Final = MappingProxyType({
    "componentCycle": Rule.RECURSIVE,
    "contextVersionChange": Rule.CONTEXT_VERSION,
    "duplicateEnumValue": Rule.NOT_UNIQUE,
    "duplicateId": Rule.DUPLICATE_ID,
    "duplicateName": Rule.NOT_UNIQUE,
    "excludedType": Rule.EXCLUDED_TYPE,
    "extendsCycle": Rule.RECURSIVE,
    "extendsTooDeep": Rule.TOO_DEEP,
    "invalidBoolean": Rule.BOOLEAN_NOT_BOOLEAN,
    "invalidCommandType": Rule.BAD_DTMI_OR_TERM,
    "invalidContent": Rule.ELEMENT_NOT_OBJECT,
    "invalidContentType": Rule.WRONG_TYPE,
    "invalidContext": Rule.INVALID_CONTEXT,
    "invalidEnumValue": Rule.NON_CONFORMANT_VALUE,
    "invalidEnumValueSchema": Rule.NON_CONFORMANT_VALUE,
    "invalidField": Rule.ELEMENT_NOT_OBJECT,
    "invalidId": Rule.INVALID_ID,
    "invalidInteger": Rule.INTEGER_NOT_INTEGER,
    "invalidInterface": Rule.WRONG_TYPE,
    "invalidMap": Rule.ELEMENT_NOT_OBJECT,
    "invalidMapKey": Rule.NON_CONFORMANT_VALUE,
    "invalidMultiplicity": Rule.NON_CONFORMANT_VALUE,
    "invalidName": Rule.STRING_INVALID,
    "invalidPayload": Rule.ELEMENT_NOT_OBJECT,
    "invalidProperty": Rule.ELEMENT_NOT_OBJECT,
    "invalidReference": Rule.IDENTIFIER_NOT_DTMI,
    "invalidSchema": Rule.REF_NOT_STRING_OR_OBJECT,
    "invalidSchemaDefinition": Rule.ELEMENT_NOT_OBJECT,
    "invalidTarget": Rule.IDENTIFIER_NOT_DTMI,
    "invalidText": Rule.LANG_STRING_NOT_STRING,
    "invalidType": Rule.CLASS_NOT_STRING,
    "invalidUnit": Rule.BAD_DTMI_OR_TERM,
    "idTooLong": Rule.ID_TOO_LONG,
    "missingContext": Rule.MISSING_CONTEXT,
    "missingId": Rule.MISSING_ID,
    "missingName": Rule.MISSING_STRING,
    "missingProperty": Rule.MISSING_OBJECT,
    "missingType": Rule.MISSING_TYPE,
    "missingUnit": Rule.MISSING_SUPPLEMENTAL,
    "multipleSemanticTypes": Rule.CONFLICTING_COTYPES,
    "notAnInterface": Rule.NOT_ROOTABLE,
    "notAnObject": Rule.NOT_OBJECT,
    "propertyArray": Rule.NON_CONFORMANT_VALUE,
    "schemaCycle": Rule.RECURSIVE,
    "schemaTooDeep": Rule.TOO_DEEP,
    "semanticTypeNotAllowed": Rule.INVALID_COTYPE,
    "semanticTypeSchema": Rule.NON_CONFORMANT_VALUE,
    "textTooLong": Rule.LANG_STRING_TOO_LONG,
    "tooFew": Rule.MISSING_OBJECT,
    "tooHigh": Rule.VALUE_ABOVE_MAX,
    "tooMany": Rule.TOO_MANY,
    "tooManyContents": Rule.TOO_MANY,
    "tooManyExtends": Rule.TOO_MANY,
    "undefinedContext": Rule.UNDEFINED_CONTEXT,
    "undefinedProperty": Rule.PROPERTY_UNDEFINED_TERM,
    "undefinedType": Rule.TYPE_UNDEFINED_TERM,
    "unknownComponentSchema": Rule.UNRESOLVED,
    "unknownExtends": Rule.UNRESOLVED,
    "unknownSchema": Rule.BAD_DTMI_OR_TERM,
    "unresolved": Rule.UNRESOLVED,
    "wrongType": Rule.WRONG_TYPE,
})


def rule_id(word: str) -> str:
    """The reported rule id for a parser's short problem word (an id is returned unchanged)."""
    return _BY_WORD.get(word, word)
