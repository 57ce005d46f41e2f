"""DTDL v2 semantic types and the units each accepts.

In DTDL v2 a Property or Telemetry with a semantic type co-type (``Temperature``) must name a
``unit`` of that type's unit type (``degreeCelsius``); the unit may be written as a term or as
``dtmi:standard:unit:<term>;2``. DTDL v3 moves these into the quantitative-types extension, whose
tables holotwin does not check beyond the form of the value.

Example:
    >>> unit_problem("Temperature", "degreeCelsius", 2) is None
    True
    >>> unit_problem("Temperature", "gigawatt", 2)
    "unit 'gigawatt' is not a unit of Temperature (use one of degreeCelsius, \
degreeFahrenheit, kelvin)"
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

__all__ = ["UNITS_V2", "unit_problem"]

_UNIT_TYPES: Final = MappingProxyType({
    "Acceleration": "metrePerSecondSquared centimetrePerSecondSquared gForce",
    "Angle": "radian degreeOfArc minuteOfArc secondOfArc turn",
    "AngularAcceleration": "radianPerSecondSquared",
    "AngularVelocity": "radianPerSecond degreePerSecond revolutionPerSecond revolutionPerMinute",
    "Area": "squareMetre squareCentimetre squareMillimetre squareKilometre hectare squareFoot "
            "squareInch acre",
    "Capacitance": "farad millifarad microfarad nanofarad picofarad",
    "Current": "ampere microampere milliampere",
    "DataRate": " ".join(f"{p}{u}PerSecond" for u in ("bit", "byte") for p in (
        "", "kibi", "mebi", "gibi", "tebi", "exbi", "zebi", "yobi")),
    "DataSize": " ".join(f"{p}{u}" for u in ("bit", "byte") for p in (
        "", "kibi", "mebi", "gibi", "tebi", "exbi", "zebi", "yobi")),
    "Density": "kilogramPerCubicMetre gramPerCubicMetre",
    "Length": "metre centimetre millimetre micrometre nanometre kilometre foot inch mile "
              "nauticalMile astronomicalUnit",
    "ElectricCharge": "coulomb",
    "Energy": "joule kilojoule megajoule gigajoule electronvolt megaelectronvolt kilowattHour",
    "Force": "newton pound ounce ton",
    "Frequency": "hertz kilohertz megahertz gigahertz",
    "Illuminance": "lux footcandle",
    "Inductance": "henry millihenry microhenry",
    "Luminance": "candelaPerSquareMetre",
    "Power": "watt microwatt milliwatt kilowatt megawatt gigawatt horsepower kilowattHourPerYear",
    "LuminousFlux": "lumen",
    "LuminousIntensity": "candela",
    "MagneticFlux": "weber maxwell",
    "MagneticInduction": "tesla",
    "Mass": "kilogram gram milligram microgram tonne slug",
    "MassFlowRate": "gramPerSecond kilogramPerSecond gramPerHour kilogramPerHour",
    "Pressure": "pascal kilopascal bar millibar millimetresOfMercury poundPerSquareInch "
                "inchesOfMercury inchesOfWater",
    "RelativeHumidity": "percent",
    "Resistance": "ohm milliohm kiloohm megaohm",
    "SoundPressure": "decibel bel",
    "Temperature": "kelvin degreeCelsius degreeFahrenheit",
    "TimeSpan": "second millisecond microsecond nanosecond minute hour day year",
    "Torque": "newtonMetre",
    "Velocity": "metrePerSecond centimetrePerSecond kilometrePerSecond metrePerHour "
                "kilometrePerHour milePerHour milePerSecond knot",
    "Voltage": "volt millivolt microvolt kilovolt megavolt",
    "Volume": "cubicMetre cubicCentimetre litre millilitre cubicFoot cubicInch fluidOunce gallon",
    "VolumeFlowRate": "litrePerSecond millilitrePerSecond litrePerHour millilitrePerHour",
})
_SAME_UNITS: Final = {"Distance": "Length", "Humidity": "Density", "Latitude": "Angle",
                      "Longitude": "Angle", "Luminosity": "Power", "Thrust": "Force"}

UNITS_V2: Final = MappingProxyType({
    semantic: frozenset(_UNIT_TYPES[_SAME_UNITS.get(semantic, semantic)].split())
    for semantic in (*_UNIT_TYPES, *_SAME_UNITS)
})
"""The units each DTDL v2 semantic type accepts."""

_UNIT_DTMI = re.compile(r"dtmi:standard:unit:([A-Za-z]+);2")


def unit_problem(semantic: str, unit: object, version: int) -> str | None:
    """Say why ``unit`` cannot be the unit of an element of semantic type ``semantic``."""
    if not isinstance(unit, str):
        return f"unit must be a unit name such as 'kelvin', not {unit!r}"
    if version >= 3 or semantic not in UNITS_V2:
        return None
    match = _UNIT_DTMI.fullmatch(unit)
    term = match[1] if match else unit
    if term not in UNITS_V2[semantic]:
        return (f"unit '{unit}' is not a unit of {semantic} (use one of "
                f"{', '.join(sorted(UNITS_V2[semantic]))})")
    return None
