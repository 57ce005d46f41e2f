"""How a twin model declares its behavior: :class:`BehaviorBinding`.

A binding is stored per DTDL model (``PUT /models/{id}/behavior``) and applies to the twins of
that model and of the models that extend it (the nearest binding wins). As JSON::

    {
      "behavior": "battery-circuit",                    # a name from holotwin.behaviors.BEHAVIORS
                                                        # or "fmu" (see FMU bindings below)
      "inputs": {"i": "current"},                       # behavior input  <- telemetry signal
      "outputs": {"t": "temperature", "v": "voltage"},  # behavior output <- telemetry signal
      "parameters": {"qMax": 7600},                     # overrides of the behavior's defaults
      "initial": {"qb": 7600}, "initialStd": {"qb": 200},   # the first estimate (default:
                                                        # the behavior's initial state)
      "estimator": "unscented",                         # unscented | kalman | particle
      "processNoise": {"qb": 0.01},                     # variances per second, per state
      "measurementNoise": {"v": 0.02},                  # variances, per output
      "prediction": {"every": 60, "horizon": 7200, "dt": 10, "method": "unscented",
                     "samples": 200}                    # the live time-to-event (optional)
    }

Inputs are held from one reading to the next; a measurement is the set of output signals
read at one source time (missing ones are left out of that correction).

**FMU bindings.** ``"behavior": "fmu"`` runs an FMI 2.0 co-simulation FMU
(:class:`~holotwin.behaviors.fmu.FmuBehavior`, needs ``pip install 'holotwin[fmi]'``),
described by a member ``fmu``::

    "fmu": {"file": "cooling.fmu",                      # inside the service's FMU folder
            "states": ["T"],                            # Real variables of the FMU
            "inputs": ["T_amb"], "outputs": ["T"],
            "parameters": {"C": 500, "h": 2},           # the FMU parameters the behavior has
            "events": {"cooled": ["T", 313.15, "below"]},   # state or output, threshold,
                                                        # "below" | "above"
            "outputStep": 0.1}                          # optional: see FmuBehavior

Only ``file`` and ``states`` are required. ``file`` is a relative path inside the folder the
service takes FMU files from (``TwinService(fmu_dir=...)``; ``holotwin --fmu-dir``, default
``<data-dir>/fmu``): absolute paths and ``..`` are refused, because loading an FMU runs its
native code, so only files an operator put in that folder are loaded (symbolic links there
are followed). The other members then use the FMU's names exactly as a built-in behavior's:
``inputs`` must map every FMU input, ``outputs`` some of its outputs, ``initial`` defaults to
the states' start values. The behavior's parameters are the ones ``fmu.parameters`` names
(with those values); only they can be overridden by ``parameters``, calibration and what-if
scenarios. A fixed (non-tunable) FMU parameter takes one value for all twins simulated
together, so twins whose values of it differ cannot share a batch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from holotwin.behaviors import BEHAVIORS, Behavior, behavior_class
from holotwin.behaviors.fmu import FmuBehavior, FmuError
from holotwin.errors import InvalidInputError, NotFoundError

__all__ = ["ESTIMATORS", "FMU", "PREDICTORS", "BehaviorBinding", "FmuSettings",
           "PredictionSettings"]

ESTIMATORS = ("unscented", "kalman", "particle")
PREDICTORS = ("unscented", "monte-carlo")
#: the ``behavior`` of a binding that runs an FMU (its member ``fmu`` says which)
FMU = "fmu"
_KEYS = {"behavior", "inputs", "outputs", "parameters", "initial", "initialStd", "estimator",
         "processNoise", "measurementNoise", "prediction", "fmu"}
_FMU_KEYS = ("file", "states", "inputs", "outputs", "parameters", "events", "outputStep")
_FMU_FOLDER_HELP = "set it with holotwin --fmu-dir FOLDER (default <data-dir>/fmu)"


def _number(value: object, where: str, *, positive: bool = False, minimum: float = -math.inf
            ) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, got {value!r}")
    if (positive and value <= 0) or value < minimum:
        raise InvalidInputError(f"{where} must be {'positive' if positive else f'>= {minimum}'}, "
                                f"got {value!r}")
    return float(value)


def _names(raw: object, allowed: tuple[str, ...], where: str, *, signals: bool = False,
           minimum: float = -math.inf, hint: str = "") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} must be an object, got {raw!r}")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in allowed:
            raise InvalidInputError(f"{where}: {name!r} is not one of "
                                    f"{', '.join(allowed) or 'none'}{hint}")
        if signals:
            if not isinstance(value, str) or not value:
                raise InvalidInputError(f"{where}.{name} must name a telemetry signal")
            out[name] = value
        else:
            out[name] = _number(value, f"{where}.{name}", minimum=minimum)
    return out


def _variables(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise InvalidInputError(f"{where} must be a list of FMU variable names, got {raw!r}")
    return tuple(raw)


def _relative_file(raw: object) -> str:
    """``fmu.file`` checked as a relative path that stays inside the FMU folder."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInputError(f"fmu.file must name an FMU file in the FMU folder, e.g. "
                                f"'cooling.fmu', got {raw!r}")
    if "\x00" in raw:
        raise InvalidInputError("fmu.file must not contain a NUL character")
    windows = PureWindowsPath(raw)
    if PurePosixPath(raw).is_absolute() or raw.startswith("\\") or windows.drive \
            or windows.is_absolute():
        raise InvalidInputError(f"fmu.file must be a path relative to the FMU folder, got the "
                                f"absolute path {raw!r}")
    if ".." in PurePosixPath(raw.replace("\\", "/")).parts:
        raise InvalidInputError(f"fmu.file must stay inside the FMU folder: {raw!r} has a "
                                "'..' part")
    return raw


def _fmu_folder(folder: Path | None, file: str) -> Path:
    if folder is None:
        raise InvalidInputError(f"fmu.file: this service takes no FMU files (it has no FMU "
                                f"folder); {_FMU_FOLDER_HELP}")
    fmu_dir = Path(folder)
    if not fmu_dir.is_dir():
        raise InvalidInputError(f"fmu.file: the FMU folder {fmu_dir} does not exist; create it "
                                f"and put {file} in it, or {_FMU_FOLDER_HELP}")
    path = fmu_dir / file
    if not path.is_file():
        raise InvalidInputError(f"fmu.file: there is no FMU file {file!r} in the FMU folder "
                                f"{fmu_dir}")
    return path


Direction = Literal["below", "above"]


@dataclass(frozen=True)
class FmuSettings:
    """The member ``fmu`` of an FMU binding (see the module docs): ``file`` as given
    (relative), ``path`` where it is, and the names and values chosen from the FMU."""

    file: str
    path: Path
    states: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    parameters: tuple[tuple[str, float], ...] = ()
    events: tuple[tuple[str, str, float, Direction], ...] = ()
    output_step: float | None = None

    @classmethod
    def parse(cls, raw: object, fmu_dir: Path | None) -> FmuSettings:
        """Check the member ``fmu`` against the FMU folder ``fmu_dir`` (and the FMU)."""
        if not isinstance(raw, dict):
            raise InvalidInputError(f"fmu must be an object {{\"file\": ..., \"states\": "
                                    f"[...]}}, got {raw!r}")
        unknown = set(raw) - set(_FMU_KEYS)
        if unknown:
            raise InvalidInputError(f"fmu: unknown member {sorted(unknown)[0]!r}; known: "
                                    f"{', '.join(_FMU_KEYS)}")
        file = _relative_file(raw.get("file"))
        states = _variables(raw.get("states"), "fmu.states")
        if not states:
            raise InvalidInputError("fmu.states must name at least one state variable of the "
                                    "FMU")
        parameters = raw.get("parameters", {})
        if not isinstance(parameters, dict):
            raise InvalidInputError(f"fmu.parameters must be an object of FMU parameter name: "
                                    f"value, got {parameters!r}")
        events = raw.get("events", {})
        if not isinstance(events, dict):
            raise InvalidInputError(f"fmu.events must be an object of event name: [state or "
                                    f"output, threshold, 'below' or 'above'], got {events!r}")
        checked: list[tuple[str, str, float, Direction]] = []
        for name, spec in events.items():
            where = f"fmu.events.{name}"
            if not isinstance(spec, list) or len(spec) != 3 or not isinstance(spec[0], str) \
                    or spec[2] not in ("below", "above"):
                raise InvalidInputError(f"{where} must be [state or output, threshold, 'below' "
                                        f"or 'above'], got {spec!r}")
            direction: Direction = "below" if spec[2] == "below" else "above"
            checked.append((name, spec[0], _number(spec[1], f"{where}[1]"), direction))
        step = raw.get("outputStep")
        settings = cls(
            file=file, path=_fmu_folder(fmu_dir, file), states=states,
            inputs=_variables(raw.get("inputs"), "fmu.inputs"),
            outputs=_variables(raw.get("outputs"), "fmu.outputs"),
            parameters=tuple((str(k), _number(v, f"fmu.parameters.{k}"))
                             for k, v in parameters.items()),
            events=tuple(checked),
            output_step=None if step is None else _number(step, "fmu.outputStep",
                                                          positive=True))
        settings.behavior_class()  # the FMU and the names chosen from it
        return settings

    def behavior_class(self) -> type[Behavior]:
        """The FmuBehavior class of this FMU and these names: it takes parameter values by
        name, like a built-in behavior class. Made once per FMU file version (the model
        description is read again only when the file changes)."""
        try:
            stat = self.path.stat()
        except OSError:
            raise InvalidInputError(f"fmu.file: the FMU file {self.file!r} is no longer in the "
                                    f"FMU folder ({self.path.parent})") from None
        try:
            return _fmu_class(self, (stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except (InvalidInputError, FmuError) as exc:  # FmuError: FMPy is not installed
            raise InvalidInputError(f"fmu: {exc.message}") from None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file": self.file, "states": list(self.states), "inputs": list(self.inputs),
            "outputs": list(self.outputs), "parameters": dict(self.parameters),
            "events": {n: [source, threshold, direction]
                       for n, source, threshold, direction in self.events}}
        if self.output_step is not None:
            doc["outputStep"] = self.output_step
        return doc

    @property
    def key(self) -> str:
        """``fmu:<file>#<digest of the names and values>``: equal for the same FMU class."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return f"{FMU}:{self.file}#{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@functools.lru_cache(maxsize=64)
def _fmu_class(settings: FmuSettings, version: tuple[int, int, int]) -> type[Behavior]:
    """A memo of classes (never instances: each binding's behavior gets its own FMU
    instance), keyed by the settings and the file's inode, size and modification time."""
    made = FmuBehavior(settings.path, states=settings.states, inputs=settings.inputs,
                       outputs=settings.outputs, parameters=dict(settings.parameters),
                       events={n: (source, threshold, direction)
                               for n, source, threshold, direction in settings.events},
                       output_step=settings.output_step)
    return type(made)


@dataclass(frozen=True)
class PredictionSettings:
    """The live time-to-event: recomputed when ``every`` seconds of data have passed since the
    last one, simulating up to ``horizon`` s in steps of ``dt`` with the inputs held."""

    every: float = 60.0
    horizon: float = 86_400.0
    dt: float = 10.0
    method: str = "unscented"
    samples: int = 200

    @classmethod
    def parse(cls, raw: object) -> PredictionSettings:
        if not isinstance(raw, dict):
            raise InvalidInputError(f"prediction must be an object, got {raw!r}")
        unknown = set(raw) - {"every", "horizon", "dt", "method", "samples"}
        if unknown:
            raise InvalidInputError(f"prediction: unknown member {sorted(unknown)[0]!r}")
        method = raw.get("method", "unscented")
        if method not in PREDICTORS:
            raise InvalidInputError(f"prediction.method must be one of {', '.join(PREDICTORS)}")
        samples = raw.get("samples", 200)
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 10000:
            raise InvalidInputError("prediction.samples must be an integer from 1 to 10000")
        settings = cls(
            every=_number(raw.get("every", 60.0), "prediction.every", minimum=0.0),
            horizon=_number(raw.get("horizon", 86_400.0), "prediction.horizon", positive=True),
            dt=_number(raw.get("dt", 10.0), "prediction.dt", positive=True),
            method=method, samples=samples)
        if settings.horizon / settings.dt > 100_000:
            raise InvalidInputError("prediction: horizon / dt is over 100,000 steps")
        return settings


@dataclass(frozen=True)
class BehaviorBinding:
    """A model's behavior and how its twins' telemetry feeds it; see the module docs."""

    behavior: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    parameters: dict[str, float] = field(default_factory=dict)
    initial: dict[str, float] = field(default_factory=dict)
    initial_std: dict[str, float] = field(default_factory=dict)
    estimator: str = "unscented"
    process_noise: dict[str, float] = field(default_factory=dict)
    measurement_noise: dict[str, float] = field(default_factory=dict)
    prediction: PredictionSettings | None = None
    #: the FMU of an FMU binding (``behavior`` "fmu"), None for a built-in behavior
    fmu: FmuSettings | None = None

    @classmethod
    def parse(cls, raw: object, fmu_dir: Path | None = None) -> BehaviorBinding:
        """Check a binding document; an InvalidInputError names the member at fault.
        ``fmu_dir``: the folder FMU files are taken from (None: FMU bindings are refused)."""
        if not isinstance(raw, dict):
            raise InvalidInputError("A behavior binding must be a JSON object")
        unknown = set(raw) - _KEYS
        if unknown:
            raise InvalidInputError(f"Unknown member {sorted(unknown)[0]!r} in the binding; "
                                    f"known: {', '.join(sorted(_KEYS))}")
        name = raw.get("behavior")
        if not isinstance(name, str):
            raise InvalidInputError("behavior must name a behavior, e.g. 'battery-circuit'")
        fmu: FmuSettings | None = None
        hint = ""
        if name == FMU:
            if raw.get("fmu") is None:
                raise InvalidInputError('behavior "fmu" needs a member fmu: {"file": '
                                        '"cooling.fmu", "states": [...], ...}')
            fmu = FmuSettings.parse(raw["fmu"], fmu_dir)
            kind = fmu.behavior_class()
            hint = " (an FMU parameter is a behavior parameter when fmu.parameters names it)"
        else:
            try:
                kind = behavior_class(name)
            except NotFoundError:
                raise InvalidInputError(f"Unknown behavior {name!r}; known: "
                                        f"{', '.join(sorted(BEHAVIORS))}, or {FMU} (an FMU "
                                        "file, with a member fmu)") from None
            if raw.get("fmu") is not None:
                raise InvalidInputError(f'The member fmu goes with "behavior": "{FMU}", not '
                                        f"{name!r}")
        estimator = raw.get("estimator", "unscented")
        if estimator not in ESTIMATORS:
            raise InvalidInputError(f"estimator must be one of {', '.join(ESTIMATORS)}")
        binding = cls(
            behavior=name,
            inputs=_names(raw.get("inputs"), kind.inputs, "inputs", signals=True),
            outputs=_names(raw.get("outputs"), kind.outputs, "outputs", signals=True),
            parameters=_names(raw.get("parameters"), tuple(kind.parameters), "parameters",
                              hint=hint),
            initial=_names(raw.get("initial"), kind.states, "initial"),
            initial_std=_names(raw.get("initialStd"), kind.states, "initialStd", minimum=0.0),
            estimator=estimator,
            process_noise=_names(raw.get("processNoise"), kind.states, "processNoise",
                                 minimum=0.0),
            measurement_noise=_names(raw.get("measurementNoise"), kind.outputs,
                                     "measurementNoise", minimum=0.0),
            prediction=None if raw.get("prediction") is None
            else PredictionSettings.parse(raw["prediction"]),
            fmu=fmu,
        )
        if not binding.outputs:
            raise InvalidInputError("outputs must map at least one behavior output to a signal")
        missing = [i for i in kind.inputs if i not in binding.inputs]
        if missing:
            raise InvalidInputError(f"inputs must map every input of {name}: missing "
                                    f"{', '.join(missing)}")
        binding.make_behavior()  # parameters the behavior itself refuses
        return binding

    def behavior_class(self) -> type[Behavior]:
        """The class of this binding's behavior (built in, or made for its FMU)."""
        if self.fmu is not None:
            return self.fmu.behavior_class()
        return behavior_class(self.behavior)

    def make_behavior(self, parameters: dict[str, Any] | None = None) -> Behavior:
        """The behavior with this binding's parameters (and ``parameters``, e.g. one array per
        parameter for a batch of twins calibrated each to its own asset); a new instance
        each call (an FMU's is instantiated on first use)."""
        return self.behavior_class()(**{**self.parameters, **(parameters or {})})

    @property
    def key(self) -> str:
        """What tells this binding's behavior apart from others': twins whose bindings share
        a key can be simulated in one batch (their behaviors differ by parameters only). The
        behavior's name, or for an FMU ``fmu:<file>#<digest of the fmu member>``."""
        return self.fmu.key if self.fmu is not None else self.behavior

    def signals(self) -> set[str]:
        """Every telemetry signal the binding reads."""
        return set(self.inputs.values()) | set(self.outputs.values())

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"behavior": self.behavior, "inputs": self.inputs,
                               "outputs": self.outputs, "estimator": self.estimator}
        for key, value in (("parameters", self.parameters), ("initial", self.initial),
                           ("initialStd", self.initial_std), ("processNoise", self.process_noise),
                           ("measurementNoise", self.measurement_noise)):
            if value:
                doc[key] = value
        if self.prediction is not None:
            p = self.prediction
            doc["prediction"] = {"every": p.every, "horizon": p.horizon, "dt": p.dt,
                                 "method": p.method, "samples": p.samples}
        if self.fmu is not None:
            doc["fmu"] = self.fmu.to_json()
        return doc
