"""A behavior backed by an FMI 2.0 co-simulation FMU, run with FMPy: :class:`FmuBehavior`.

An FMU (Functional Mock-up Unit) is a model exported by a modelling tool (Modelica tools,
Simulink, pythonfmu...) as a zip of a ``modelDescription.xml`` and a compiled library.
:class:`FmuBehavior` makes one a :class:`~holotwin.behaviors.base.Behavior`: you name which of
its Real variables are the ``states``, the ``inputs`` and the ``outputs``, which
``parameters`` to set, and the ``events`` to watch, and estimators and predictors use it like
any behavior. FMPy (``pip install 'holotwin[fmi]'``) is imported when an FMU is opened, never
when this module is imported.

How the Behavior API maps onto FMI:

- **Names are per FMU.** Each ``FmuBehavior(path, ...)`` builds a class of its own (a subclass
  of :class:`FmuBehavior` made with ``type``) whose ``states``, ``inputs``, ``outputs``,
  ``events`` and ``parameters`` are the ones named, because :class:`Behavior` declares them as
  class attributes. That class takes parameter values by name like any behavior class, so
  ``type(behavior)(h=4.0)`` is the same FMU with ``h`` changed (what a what-if scenario does).
- **next_state** runs the rows one after another on **one** FMU instance (an FMU cannot be
  vectorized): for each row it sets the state variables to ``x[row]`` and the inputs to
  ``u[row]`` with ``fmi2SetReal``, calls ``fmi2DoStep`` for ``dt`` and reads the states back
  with ``fmi2GetReal``. It sets the states rather than restoring snapshots
  (``fmi2GetFMUstate`` / ``fmi2SetFMUstate``) because a row is any state (a sample drawn from a
  distribution, a twin's estimate), not one the FMU has been in, and because many FMUs cannot
  take snapshots. The price: FMI 2.0 only promises that inputs and tunable parameters may be
  set between steps, so the FMU must accept new values of its state variables there (FMUs
  that integrate from the values of their variables at each step do; a pythonfmu FMU does).
  An FMU that ignores the values set is caught on first use (the states read back differ)
  and raises :class:`FmuError`. Name every state: a state left out carries over from
  whichever row was stepped before.
- **Time**: the FMU's clock advances by each ``dt``. :meth:`Behavior.next_state` has no time
  argument, so the FMU's equations must not depend on time explicitly (as for every behavior).
- **output** takes an output that is also a state straight from ``x``; any other output is
  read with ``fmi2GetReal`` after setting the states, which relies on the FMU computing its
  outputs from its current variables when they are read (FMI 2.0 asks this of outputs that
  depend on inputs). For an FMU that updates its outputs only in ``fmi2DoStep``, pass
  ``output_step`` (seconds): each row then takes a step that short before the outputs are read.
  The inputs are those of the last step taken: ``output(x)`` has none.
- **events**: ``{"cooled": ("T", 313.15, "below")}`` happens when the state or output ``T`` is
  at or below 313.15 (``"above"``: at or above). The event state is the signed distance to the
  threshold divided by the threshold's magnitude (1 if it is 0): positive before, 0 at it.
- **parameters**: ``{"h": 2.0}`` sets the FMU parameter ``h`` as a start value before the FMU
  is initialized (the default shown by :meth:`Behavior.describe` is that value; its unit and
  description come from the model description). A value per row (an array of shape ``(B,)``,
  a fleet calibrated twin by twin) is set before each row's step and is allowed only for
  tunable parameters (an array of one value repeated counts as that value, as when twins
  that share a fixed parameter are simulated together).
- **lifetime**: the FMU is extracted and instantiated on first use and kept;
  :meth:`FmuBehavior.close` (or a ``with`` block) terminates and frees it and deletes the
  extracted files; a later call instantiates it again. A copy (``copy.copy``, as a predictor
  makes for per-sample parameters) shares the instance; a pickled behavior is rebuilt from the
  FMU file with a fresh instance, so it can be sent to worker processes (the file must be
  readable there). One instance serves one thread at a time.

Errors: bad paths, names, shapes and values raise
:class:`~holotwin.errors.InvalidInputError`; a failing FMU (an FMI call returning error or
fatal, a library that will not load) raises :class:`FmuError`.

>>> FmuBehavior("no/such/cooling.fmu", states=["T"])
Traceback (most recent call last):
...
holotwin.errors.InvalidInputError: There is no FMU file at no/such/cooling.fmu
"""

from __future__ import annotations

import math
import os
import shutil
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.behaviors.base import Array, Behavior, Parameter
from holotwin.errors import HolotwinError, InvalidInputError

__all__ = ["FmuBehavior", "FmuError"]

#: an event: (state or output name, threshold, "below" | "above")
EventSpec = tuple[str, float, Literal["below", "above"]]
DIRECTIONS = ("below", "above")


class FmuError(HolotwinError):
    """The FMU failed: an FMI call returned error or fatal, or its library would not load."""

    code = "FmuError"


def _fmpy() -> Any:
    try:
        import fmpy
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise FmuError("FmuBehavior needs FMPy: pip install 'holotwin[fmi]'") from exc
    return fmpy


@dataclass(frozen=True)
class _Variable:
    name: str
    reference: int
    causality: str
    variability: str
    start: float | None
    unit: str
    description: str


@dataclass(frozen=True)
class _Event:
    name: str
    source: str
    #: "state" (a column of x) or "output" (a column of output(x))
    kind: str
    column: int
    threshold: float
    direction: str


@dataclass(frozen=True)
class _FmuSpec:
    """A checked FMU and the names chosen from it; ``values`` the parameter values given."""

    path: Path
    model_name: str
    guid: str
    identifier: str
    states: tuple[_Variable, ...]
    inputs: tuple[_Variable, ...]
    outputs: tuple[_Variable, ...]
    parameters: tuple[_Variable, ...]
    values: Mapping[str, ArrayLike]
    events: tuple[_Event, ...]
    output_step: float | None
    #: the arguments it was made from, to rebuild it in another process
    arguments: Mapping[str, Any]


def _names(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) \
            or not all(isinstance(v, str) and v for v in value):
        raise InvalidInputError(f"{what} must be a list of variable names, got {value!r}")
    names = tuple(value)
    if len(set(names)) != len(names):
        raise InvalidInputError(f"{what} name a variable twice: {list(names)}")
    return names


def _number(value: object, what: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInputError(f"{what} must be a finite number, got {value!r}")
    return number


def _model_variables(path: Path) -> tuple[Any, dict[str, _Variable]]:
    fmpy = _fmpy()
    try:
        description = fmpy.read_model_description(str(path))
    except Exception as exc:  # FMPy raises bare Exception (and zip, XML errors) for bad files
        raise InvalidInputError(f"{path} is not a readable FMU: {exc}") from exc
    if not str(description.fmiVersion).startswith("2."):
        raise InvalidInputError(f"{path} is an FMI {description.fmiVersion} FMU; FmuBehavior "
                                "runs FMI 2.0 co-simulation FMUs")
    if description.coSimulation is None:
        raise InvalidInputError(f"{path} has no co-simulation interface (model exchange only); "
                                "FmuBehavior runs FMI 2.0 co-simulation FMUs")
    variables: dict[str, _Variable] = {}
    for v in description.modelVariables:
        if v.type != "Real":
            continue
        declared = v.declaredType
        unit = v.unit or (getattr(declared, "unit", None) if declared is not None else None)
        start = None if v.start is None else float(v.start)
        variables[v.name] = _Variable(v.name, int(v.valueReference), str(v.causality),
                                      str(v.variability), start, unit or "1",
                                      v.description or "")
    return description, variables


def _pick(variables: Mapping[str, _Variable], names: tuple[str, ...], what: str,
          path: Path) -> tuple[_Variable, ...]:
    missing = [n for n in names if n not in variables]
    if missing:
        known = sorted(variables)
        shown = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30
                                         else "")
        raise InvalidInputError(f"{path.name} has no Real variable {missing[0]!r} (among the "
                                f"{what}); its Real variables: {shown or 'none'}")
    return tuple(variables[n] for n in names)


def _read(path: object, states: object, inputs: object, outputs: object,
          parameters: Mapping[str, ArrayLike] | None, events: Mapping[str, EventSpec] | None,
          name: str | None, output_step: float | None) -> _FmuSpec:
    """Check an FMU and the names chosen from it (raising :class:`InvalidInputError`)."""
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidInputError(f"FmuBehavior needs the path of an FMU file, got {path!r}")
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"There is no FMU file at {path}")
    state_names = _names(states, "states")
    if not state_names:
        raise InvalidInputError("An FMU behavior needs at least one state")
    input_names, output_names = _names(inputs, "inputs"), _names(outputs, "outputs")
    both = sorted(set(state_names) & set(input_names))
    if both:
        raise InvalidInputError(f"{both[0]!r} is named as a state and as an input")
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidInputError(f"name must be a non-empty string, got {name!r}")
    step = None if output_step is None else _number(output_step, "output_step")
    if step is not None and step <= 0:
        raise InvalidInputError(f"output_step must be > 0 seconds, got {output_step!r}")

    description, variables = _model_variables(file)
    chosen_states = _pick(variables, state_names, "states", file)
    for v in chosen_states:
        if v.causality in ("parameter", "calculatedParameter", "input") \
                or v.variability in ("constant", "fixed", "tunable"):
            raise InvalidInputError(
                f"{v.name!r} of {file.name} is a {v.variability} {v.causality}, not a state "
                "(a continuous or discrete local or output variable)")
    chosen_inputs = _pick(variables, input_names, "inputs", file)
    for v in chosen_inputs:
        if v.causality != "input":
            raise InvalidInputError(f"{v.name!r} of {file.name} has causality {v.causality}; "
                                    "an input must have causality input")
    chosen_outputs = _pick(variables, output_names, "outputs", file)

    if not isinstance(parameters, Mapping | None):
        raise InvalidInputError(f"parameters must map FMU parameter names to values, got "
                                f"{parameters!r}")
    values = dict(parameters or {})
    chosen_parameters = _pick(variables, tuple(values), "parameters", file)
    for v in chosen_parameters:
        if v.causality != "parameter" or v.variability not in ("fixed", "tunable"):
            raise InvalidInputError(f"{v.name!r} of {file.name} is a {v.variability} "
                                    f"{v.causality}, not a fixed or tunable parameter")

    checked: list[_Event] = []
    for event, spec in (events or {}).items():
        if not isinstance(event, str) or not event:
            raise InvalidInputError(f"An event needs a non-empty name, got {event!r}")
        if not isinstance(spec, tuple | list) or len(spec) != 3:
            raise InvalidInputError(f"Event {event!r} must be (state or output name, threshold, "
                                    f"'below' or 'above'), got {spec!r}")
        source, threshold, direction = spec
        if direction not in DIRECTIONS:
            raise InvalidInputError(f"Event {event!r}: the direction must be 'below' or 'above', "
                                    f"got {direction!r}")
        if source in state_names:
            kind, column = "state", state_names.index(source)
        elif source in output_names:
            kind, column = "output", output_names.index(source)
        else:
            raise InvalidInputError(f"Event {event!r} watches {source!r}, which is neither a "
                                    f"state ({', '.join(state_names)}) nor an output "
                                    f"({', '.join(output_names) or 'none'})")
        checked.append(_Event(event, source, kind, column,
                              _number(threshold, f"The threshold of event {event!r}"),
                              direction))

    arguments = {"states": state_names, "inputs": input_names, "outputs": output_names,
                 "events": dict(events or {}), "name": name, "output_step": output_step}
    return _FmuSpec(file.resolve(), name or str(description.modelName), str(description.guid),
                    str(description.coSimulation.modelIdentifier), chosen_states, chosen_inputs,
                    chosen_outputs, chosen_parameters, values, tuple(checked), step, arguments)


def _release(slave: Any, folder: str, errors: tuple[type[BaseException], ...]) -> None:
    """Terminate and free an instance and delete its files (also at garbage collection)."""
    try:
        try:
            slave.terminate()
        except errors:
            pass  # an instance that failed may refuse to terminate; it is freed all the same
        slave.freeInstance()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Instance:
    """One extracted and initialized FMU instance and its communication time (seconds)."""

    def __init__(self, spec: _FmuSpec, start: Mapping[int, float]) -> None:
        fmpy = _fmpy()
        from fmpy.fmi1 import FMICallException
        from fmpy.fmi2 import FMU2Slave

        self.errors: tuple[type[BaseException], ...] = (FMICallException,)
        folder = fmpy.extract(str(spec.path))
        try:
            slave = FMU2Slave(guid=spec.guid, unzipDirectory=folder,
                              modelIdentifier=spec.identifier, instanceName="holotwin")
        except Exception as exc:  # FMPy raises bare Exception when the library will not load
            shutil.rmtree(folder, ignore_errors=True)
            raise FmuError(f"Cannot load {spec.path.name}: {exc}") from exc
        try:
            slave.instantiate()
        except Exception as exc:  # as above, for a failed fmi2Instantiate
            slave.freeLibrary()
            shutil.rmtree(folder, ignore_errors=True)
            raise FmuError(f"Cannot instantiate {spec.path.name}: {exc}") from exc
        self.slave = slave
        self.time = 0.0
        self._finalizer = weakref.finalize(self, _release, slave, folder, self.errors)
        try:
            slave.setupExperiment(startTime=0.0)
            if start:
                slave.setReal(list(start), list(start.values()))
            slave.enterInitializationMode()
            slave.exitInitializationMode()
        except FMICallException as exc:
            self.close()
            raise FmuError(f"{spec.path.name} failed to initialize: {exc}") from exc

    def step(self, dt: float) -> None:
        self.slave.doStep(self.time, dt)
        self.time += dt

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def close(self) -> None:
        self._finalizer()


class FmuBehavior(Behavior):
    """An FMI 2.0 co-simulation FMU as a behavior (see the module docs).

    ``FmuBehavior(path, states=[...], inputs=[...], outputs=[...], parameters={...},
    events={...}, name=None, output_step=None)``: ``path`` the ``.fmu`` file; ``states``,
    ``inputs``, ``outputs`` names of its Real variables; ``parameters`` FMU parameter values
    (start values); ``events`` event name to ``(state or output, threshold, "below" |
    "above")``; ``name`` the behavior's name (default: the FMU's model name); ``output_step``
    see the module docs. The class of the result takes parameter values only:
    ``type(behavior)(h=4.0)``."""

    #: the FMU and names of a class made by ``FmuBehavior(path, ...)``; None on FmuBehavior
    _fmu: ClassVar[_FmuSpec | None] = None

    def __new__(
        cls,
        path: str | os.PathLike[str] | None = None,
        /,
        *,
        states: Sequence[str] = (),
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        parameters: Mapping[str, ArrayLike] | None = None,
        events: Mapping[str, EventSpec] | None = None,
        name: str | None = None,
        output_step: float | None = None,
        **values: ArrayLike,
    ) -> FmuBehavior:
        if cls._fmu is not None:
            if path is not None or states or inputs or outputs or events or name \
                    or output_step is not None:
                raise InvalidInputError(
                    f"{cls._fmu.model_name}: this class is one FMU already; give it parameter "
                    "values only (use FmuBehavior(path, ...) for another)")
            return super().__new__(cls)
        if values:
            raise InvalidInputError(
                f"FmuBehavior takes FMU parameter values as parameters={{...}}, got "
                f"{', '.join(sorted(values))} as keywords")
        spec = _read(path, states, inputs, outputs, parameters, events, name, output_step)
        attributes: dict[str, Any] = {
            "__doc__": f"The FMU {spec.path.name} (model {spec.model_name}) as a behavior.",
            "__module__": __name__,
            "_fmu": spec,
            "name": spec.model_name,
            "states": tuple(v.name for v in spec.states),
            "inputs": tuple(v.name for v in spec.inputs),
            "outputs": tuple(v.name for v in spec.outputs),
            "events": tuple(e.name for e in spec.events),
            "parameters": {v.name: Parameter(_default(spec.values[v.name], v), v.unit,
                                             v.description or f"FMU parameter {v.name}")
                           for v in spec.parameters},
            "initial": tuple(v.start for v in spec.states if v.start is not None)
            if all(v.start is not None for v in spec.states) else (),
        }
        made = type(f"FmuBehavior_{spec.identifier}", (cls,), attributes)
        return super().__new__(made)

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        /,
        *,
        states: Sequence[str] = (),
        inputs: Sequence[str] = (),
        outputs: Sequence[str] = (),
        parameters: Mapping[str, ArrayLike] | None = None,
        events: Mapping[str, EventSpec] | None = None,
        name: str | None = None,
        output_step: float | None = None,
        **values: ArrayLike,
    ) -> None:
        spec = self._spec
        if path is None:  # type(behavior)(h=...): the values it was made with, changed
            given = {**spec.values, **(parameters or {}), **values}
        else:
            given = dict(spec.values)
        super().__init__(**given)
        for v in spec.parameters:
            value = self.p[v.name]
            if value.size > 1 and v.variability != "tunable":
                # one value repeated (twins that share it, simulated in one batch) is that value
                if np.all(value == value[0]):
                    self.p[v.name] = value[:1]
                    continue
                raise InvalidInputError(
                    f"{v.name!r} of {spec.path.name} is a fixed parameter: it takes one value "
                    f"(set before the FMU is initialized), got {self.p[v.name].size}")
        self._instance: _Instance | None = None
        self._checked = False

    @property
    def _spec(self) -> _FmuSpec:
        spec = type(self)._fmu
        if spec is None:  # only reachable by calling FmuBehavior's methods unbound
            raise InvalidInputError("FmuBehavior needs an FMU: FmuBehavior(path, states=...)")
        return spec

    @property
    def path(self) -> Path:
        """The FMU file."""
        return self._spec.path

    @property
    def instantiated(self) -> bool:
        """Whether the FMU is instantiated now (it is on first use, until :meth:`close`)."""
        return self._instance is not None and self._instance.alive

    # the instance ---------------------------------------------------------------------------
    def _open(self) -> _Instance:
        if self._instance is None or not self._instance.alive:  # a copy may have closed it
            spec = self._spec
            start = {v.reference: float(self.p[v.name][0]) for v in spec.parameters
                     if self.p[v.name].size == 1}
            self._instance = _Instance(spec, start)
            self._checked = False
        return self._instance

    def close(self) -> None:
        """Terminate and free the FMU instance and delete its extracted files (a later call
        instantiates it again)."""
        if self._instance is not None:
            instance, self._instance = self._instance, None
            instance.close()

    def __enter__(self) -> FmuBehavior:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __copy__(self) -> FmuBehavior:
        # a shallow copy shares the instance (predictors copy a behavior to change its
        # parameters per sample, and run it in the same thread)
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __reduce__(self) -> tuple[Any, tuple[str, Mapping[str, Any], dict[str, Array]]]:
        spec = self._spec
        return _rebuild, (str(spec.path), spec.arguments, dict(self.p))

    def _failed(self, what: str, exc: BaseException) -> FmuError:
        # an FMU that returned error or fatal must not be called again: start afresh next time
        self.close()
        return FmuError(f"{self.behavior_name}: {what} failed: {exc}")

    # the maths ----------------------------------------------------------------------------------
    def _rows(self, x: Array) -> Array:
        array = np.asarray(x, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != len(self.states):
            raise InvalidInputError(f"The state of {self.behavior_name} must have shape (B, "
                                    f"{len(self.states)}), got {array.shape}")
        return array

    def _per_row(self, rows: int) -> tuple[list[int], Array]:
        """Parameters with a value per row: their references and values ``(rows, k)``."""
        refs, columns = [], []
        for v in self._spec.parameters:
            value = self.p[v.name]
            if value.size > 1:
                if value.size != rows:
                    raise InvalidInputError(
                        f"Parameter {v.name!r} of {self.behavior_name} has {value.size} values "
                        f"for {rows} rows")
                refs.append(v.reference)
                columns.append(value)
        return refs, (np.stack(columns, axis=1) if columns else np.zeros((rows, 0)))

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        """Each row stepped on the FMU in turn (see the module docs); a row whose state or
        inputs are not finite gives NaN without being run."""
        spec = self._spec
        x = self._rows(x)
        rows = x.shape[0]
        try:
            inputs = np.broadcast_to(np.asarray(u, dtype=np.float64), (rows, len(self.inputs)))
            steps = np.broadcast_to(np.asarray(dt, dtype=np.float64), (rows, 1))[:, 0]
        except ValueError:
            raise InvalidInputError(
                f"{self.behavior_name}: inputs of shape {np.shape(u)} and dt of shape "
                f"{np.shape(dt)} do not fit {rows} rows of {len(self.inputs)} inputs") from None
        if not np.all(np.isfinite(steps)) or np.any(steps < 0):
            raise InvalidInputError(f"dt must be finite and >= 0 seconds, got {dt!r}")
        param_refs, param_values = self._per_row(rows)
        state_refs = [v.reference for v in spec.states]
        refs = state_refs + [v.reference for v in spec.inputs] + param_refs
        table = np.concatenate([x, inputs, param_values], axis=1)
        runnable = np.all(np.isfinite(table), axis=1)
        out = np.full_like(x, np.nan)
        instance = self._open()
        slave = instance.slave
        for row, values in enumerate(table.tolist()):
            if not runnable[row]:
                continue
            try:
                slave.setReal(refs, values)
                if not self._checked:
                    self._check_states(slave.getReal(state_refs), x[row])
                if steps[row] > 0:
                    instance.step(float(steps[row]))
                out[row] = slave.getReal(state_refs)
            except instance.errors as exc:
                raise self._failed(f"the step of row {row} (state {x[row].tolist()}, inputs "
                                   f"{inputs[row].tolist()})", exc) from exc
        return out

    def _check_states(self, read: list[float], wanted: Array) -> None:
        if not np.allclose(read, wanted, rtol=1e-12, atol=1e-300):
            names = ", ".join(self.states)
            raise FmuError(
                f"{self.behavior_name}: the FMU does not take new values of its state variables "
                f"({names}) between steps: set {wanted.tolist()}, read back {read}. "
                "FmuBehavior needs an FMU that does (see holotwin.behaviors.fmu)")
        self._checked = True

    def output(self, x: Array) -> Array:
        """The outputs: those that are states from ``x``, the others read from the FMU after
        setting the states (see the module docs); NaN for a row whose state is not finite."""
        spec = self._spec
        x = self._rows(x)
        rows = x.shape[0]
        z = np.full((rows, len(spec.outputs)), np.nan)
        from_state = [(k, self.states.index(v.name)) for k, v in enumerate(spec.outputs)
                      if v.name in self.states]
        for k, column in from_state:
            z[:, k] = x[:, column]
        read = [k for k in range(len(spec.outputs)) if k not in dict(from_state)]
        if not read or not rows:
            return z
        read_refs = [spec.outputs[k].reference for k in read]
        state_refs = [v.reference for v in spec.states]
        param_refs, param_values = self._per_row(rows)
        refs = state_refs + param_refs
        table = np.concatenate([x, param_values], axis=1)
        runnable = np.all(np.isfinite(table), axis=1)
        instance = self._open()
        slave = instance.slave
        for row, values in enumerate(table.tolist()):
            if not runnable[row]:
                continue
            try:
                slave.setReal(refs, values)
                if spec.output_step is not None:
                    instance.step(spec.output_step)
                z[row, read] = slave.getReal(read_refs)
            except instance.errors as exc:
                raise self._failed(f"reading the outputs of row {row} (state "
                                   f"{x[row].tolist()})", exc) from exc
        return z

    def event_state(self, x: Array) -> Array:
        """Per event, the signed distance of its variable to the threshold divided by the
        threshold's magnitude (1 if it is 0): positive before, 0 or less once it happened."""
        spec = self._spec
        x = self._rows(x)
        result = np.ones((x.shape[0], len(spec.events)))
        z = self.output(x) if any(e.kind == "output" for e in spec.events) else None
        for k, event in enumerate(spec.events):
            value = x[:, event.column] if event.kind == "state" or z is None \
                else z[:, event.column]
            margin = value - event.threshold if event.direction == "below" \
                else event.threshold - value
            result[:, k] = margin / (abs(event.threshold) or 1.0)
        return result

    def threshold_met(self, x: Array) -> NDArray[np.bool_]:
        """Whether each event's variable is at or past its threshold (False where NaN)."""
        return self.event_state(x) <= 0.0

    def describe(self) -> dict[str, Any]:
        description = super().describe()
        description["fmu"] = str(self._spec.path)
        return description


def _default(value: ArrayLike, variable: _Variable) -> float:
    """The default shown for a parameter: the value given, or the FMU's own start value when
    a value per row was given."""
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1 and np.all(np.isfinite(array)):
        return float(array.reshape(-1)[0])
    return variable.start if variable.start is not None else math.nan


def _rebuild(path: str, arguments: Mapping[str, Any], values: Mapping[str, Array]
             ) -> FmuBehavior:
    """Unpickle an :class:`FmuBehavior`: open the FMU file again."""
    return FmuBehavior(path, parameters=values, **arguments)
