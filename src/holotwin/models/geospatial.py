"""DTDL geospatial schemas (``point``, ``lineString``, ``polygon`` and their ``multi`` forms).

Values are GeoJSON geometry objects: ``{"type": "Point", "coordinates": [lon, lat]}``.
Positions hold two or three numbers (longitude and latitude in degrees, optional altitude in m).

Example:
    >>> GeospatialSchema("point").is_valid({"type": "Point", "coordinates": [4.9, 52.4]})
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from holotwin.models.schema import Schema, child_path

__all__ = ["GEOSPATIAL_SCHEMAS", "GeospatialSchema"]

GEOSPATIAL_SCHEMAS: Final = MappingProxyType({
    "point": ("Point", 0),
    "multiPoint": ("MultiPoint", 1),
    "lineString": ("LineString", 1),
    "multiLineString": ("MultiLineString", 2),
    "polygon": ("Polygon", 2),
    "multiPolygon": ("MultiPolygon", 3),
})
"""DTDL geospatial schema name -> (GeoJSON ``type``, nesting depth of the position arrays)."""


def _position_problem(value: object) -> str | None:
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        return "a position is a list of 2 or 3 numbers"
    if any(isinstance(c, bool) or not isinstance(c, int | float) for c in value):
        return "a position holds only numbers"
    return None


@dataclass(frozen=True)
class GeospatialSchema(Schema):
    """A DTDL geospatial schema; values are GeoJSON geometries of the matching ``type``.

    Example:
        >>> line = GeospatialSchema("lineString")
        >>> line.describe()
        'lineString (GeoJSON LineString)'
        >>> line.validate({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "/route")
        >>> line.is_valid({"type": "Point", "coordinates": [0, 0]})
        False
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in GEOSPATIAL_SCHEMAS:
            raise ValueError(f"'{self.name}' is not a DTDL geospatial schema")

    @property
    def kind(self) -> str:
        return self.name

    def describe(self) -> str:
        return f"{self.name} (GeoJSON {GEOSPATIAL_SCHEMAS[self.name][0]})"

    def validate(self, value: object, path: str) -> None:
        geo_type, depth = GEOSPATIAL_SCHEMAS[self.name]
        if not isinstance(value, dict):
            raise self.fail(path, value)
        if value.get("type") != geo_type:
            raise self.fail(path, value, f"'type' must be '{geo_type}'")
        unknown = sorted(set(value) - {"type", "coordinates", "bbox"})
        if unknown:
            raise self.fail(child_path(path, unknown[0]), value, f"unknown member '{unknown[0]}'")
        problem = self._coordinates_problem(value.get("coordinates"), depth)
        if problem:
            raise self.fail(child_path(path, "coordinates"), value.get("coordinates"), problem)

    def _coordinates_problem(self, value: object, depth: int) -> str | None:
        if depth == 0:
            return _position_problem(value)
        if not isinstance(value, list):
            return f"'coordinates' must be nested lists {depth + 1} deep"
        minimum = 2 if (self.name in ("lineString", "multiLineString") and depth == 1) else 0
        if self.name in ("polygon", "multiPolygon") and depth == 1:
            minimum = 4
            if value and value[0] != value[-1]:
                return "a polygon ring must end at its first position"
        if len(value) < minimum:
            return f"needs at least {minimum} positions"
        for item in value:
            problem = self._coordinates_problem(item, depth - 1)
            if problem:
                return problem
        return None
