"""FmuBehavior against FMUs built here, offline, with pythonfmu: a body cooling towards ambient.

The FMU integrates Newton's cooling law ``C dT/dt = h (T_amb - T)`` with classic RK4 in
sub-steps of at most 1 s inside ``fmi2DoStep``; the same law is written below as a holotwin
:class:`ContinuousBehavior` (RK4, ``max_step`` 1 s) and has the closed form
``T(t) = T_amb + (T0 - T_amb) exp(-h t / C)``.

The test FMU refuses a step by returning False (FMI status discard), not by raising: with
pythonfmu 0.7.0, a Python exception inside ``do_step`` corrupts the interpreter once the FMU's
library is unloaded (a segmentation fault at the next garbage collection).
"""

from __future__ import annotations

import copy
import math
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

pytest.importorskip("fmpy", reason="FmuBehavior needs FMPy (pip install 'holotwin[fmi]')")
pytest.importorskip("pythonfmu", reason="the test FMUs are built with pythonfmu")

from holotwin.behaviors import Array, ContinuousBehavior, GaussianState, Parameter
from holotwin.behaviors.fmu import FmuBehavior, FmuError
from holotwin.errors import InvalidInputError
from holotwin.predict import MonteCarloPredictor

COOLING = '''
import math

from pythonfmu import Fmi2Causality, Fmi2Initial, Fmi2Slave, Fmi2Variability, Real


class HolotwinCooling(Fmi2Slave):
    """A body cooling towards ambient: C dT/dt = h (T_amb - T)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.T = 363.15
        self.T_amb = 293.15
        self.C = 500.0
        self.h = 2.0
        self.register_variable(Real("T", causality=Fmi2Causality.output,
                                    variability=Fmi2Variability.continuous,
                                    initial=Fmi2Initial.exact))
        self.register_variable(Real("T_amb", causality=Fmi2Causality.input,
                                    variability=Fmi2Variability.continuous))
        self.register_variable(Real("C", causality=Fmi2Causality.parameter,
                                    variability=Fmi2Variability.fixed))
        self.register_variable(Real("h", causality=Fmi2Causality.parameter,
                                    variability=Fmi2Variability.tunable))
        # heat stored above 0 degC, computed whenever it is read
        self.register_variable(Real("E", causality=Fmi2Causality.output,
                                    variability=Fmi2Variability.continuous,
                                    getter=lambda: self.C * (self.T - 273.15)))

    def do_step(self, current_time, step_size):
        if self.T <= 0.0:
            return False  # below absolute zero: refuse the step (fmi2DoStep returns discard)
        n = max(1, math.ceil(step_size - 1e-9))
        k = step_size / n
        T = self.T
        for _ in range(n):
            k1 = self.h * (self.T_amb - T) / self.C
            k2 = self.h * (self.T_amb - (T + 0.5 * k * k1)) / self.C
            k3 = self.h * (self.T_amb - (T + 0.5 * k * k2)) / self.C
            k4 = self.h * (self.T_amb - (T + k * k3)) / self.C
            T = T + k / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        self.T = T
        return True
'''

# the same FMU, except that it ignores values set to T (keeps its own)
STUBBORN = COOLING.replace("HolotwinCooling", "HolotwinStubborn").replace(
    'initial=Fmi2Initial.exact))',
    'initial=Fmi2Initial.exact, setter=lambda value: None))', 1)

T_AMB, C, H, T0 = 293.15, 500.0, 2.0, 363.15
THRESHOLD = 313.15  # K: the "cooled" event


def build_fmu(folder: Path, module: str, source: str) -> Path:
    """Build an FMU from ``source`` with the pythonfmu command line, in a child process (the
    builder imports the model and edits ``sys.path``, which should not leak into the tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{module}.py"
    script.write_text(source)
    subprocess.run([sys.executable, "-m", "pythonfmu", "build", "-f", str(script), "-d",
                    str(folder)], check=True, capture_output=True, text=True, cwd=folder)
    (fmu,) = folder.glob("*.fmu")
    return fmu


@pytest.fixture(scope="module")
def cooling_fmu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fmu(tmp_path_factory.mktemp("fmu"), "holotwin_test_cooling", COOLING)


@pytest.fixture
def body(cooling_fmu: Path) -> Iterator[FmuBehavior]:
    with FmuBehavior(cooling_fmu, states=["T"], inputs=["T_amb"], outputs=["T", "E"],
                     parameters={"C": C, "h": H},
                     events={"cooled": ("T", THRESHOLD, "below")}) as behavior:
        yield behavior


class Cooling(ContinuousBehavior):
    """The FMU's model written as a holotwin behavior."""

    states = ("T",)
    inputs = ("T_amb",)
    outputs = ("T", "E")
    events = ("cooled",)
    parameters: ClassVar[dict[str, Parameter]] = {
        "C": Parameter(C, "joulePerKelvin", "heat capacity"),
        "h": Parameter(H, "wattPerKelvin", "heat transfer coefficient"),
    }
    integrator = "rk4"
    max_step = 1.0

    def dx(self, x: Array, u: Array) -> Array:
        return self.p["h"][:, None] * (u - x) / self.p["C"][:, None]

    def output(self, x: Array) -> Array:
        return np.concatenate([x, self.p["C"][:, None] * (x - 273.15)], axis=1)

    def event_state(self, x: Array) -> Array:
        return (x - THRESHOLD) / THRESHOLD


def closed_form(t: Any, t0: Any, h: Any = H) -> Any:
    return T_AMB + (np.asarray(t0) - T_AMB) * np.exp(-np.asarray(h) * np.asarray(t) / C)


def test_names_units_and_initial_state_come_from_the_fmu(body: FmuBehavior) -> None:
    assert isinstance(body, FmuBehavior) and body.behavior_name == "HolotwinCooling"
    assert (body.states, body.inputs, body.outputs, body.events) == (
        ("T",), ("T_amb",), ("T", "E"), ("cooled",))
    assert body.initial_state(2).tolist() == [[T0], [T0]]  # the start value of T
    described = body.describe()
    assert described["parameters"]["h"]["value"] == H and described["fmu"] == str(
        body.path)
    assert not body.instantiated  # instantiated on first use


def test_simulation_matches_the_closed_form_and_the_same_model_in_holotwin(
        body: FmuBehavior) -> None:
    x0, u, dt, steps = np.array([[T0], [330.0], [T_AMB]]), np.array([[T_AMB]]), 10.0, 90
    fmu = body.simulate(x0, u, dt, steps)
    ours = Cooling().simulate(x0, u, dt, steps)
    times = np.arange(steps + 1)[:, None, None] * dt
    exact = closed_form(times, x0[None])
    assert fmu.shape == (steps + 1, 3, 1) and body.instantiated
    # RK4 with 1 s sub-steps on a 250 s time constant: measured max error 5.5e-11 K over 900 s
    assert np.max(np.abs(fmu - exact)) < 1e-8
    # the same arithmetic in the FMU (Python floats) and in holotwin (NumPy): measured 0.0
    assert np.max(np.abs(fmu - ours)) < 1e-10
    assert np.allclose(body.output(fmu[-1]), Cooling().output(ours[-1]), rtol=1e-12)


def test_rows_are_independent(body: FmuBehavior) -> None:
    x = np.array([[363.15], [300.0], [400.0], [293.15]])
    u = np.array([[293.15], [310.0], [250.0], [293.15]])
    together = body.next_state(x, u, 30.0)
    alone = np.concatenate([body.next_state(x[[k]], u[[k]], 30.0) for k in range(4)])
    backwards = body.next_state(x[::-1], u[::-1], 30.0)[::-1]
    assert np.array_equal(together, alone) and np.array_equal(together, backwards)
    expected = u + (x - u) * math.exp(-H * 30.0 / C)
    assert np.max(np.abs(together - expected)) < 1e-10
    # a step per row, and a row that cannot be run (NaN) leaves the others alone
    varied = body.next_state(x, u, np.array([[0.0], [10.0], [20.0], [30.0]]))
    assert varied[0, 0] == x[0, 0] and varied[3, 0] == together[3, 0]
    assert np.isclose(varied[2, 0], 250.0 + 150.0 * math.exp(-H * 20.0 / C), atol=1e-10)
    holed = body.next_state(np.array([[np.nan], [300.0]]), u[:2], 30.0)
    assert np.isnan(holed[0, 0]) and holed[1, 0] == together[1, 0]


def test_outputs_read_from_the_fmu(body: FmuBehavior) -> None:
    x = np.array([[373.15], [273.15], [293.15]])
    z = body.output(x)
    assert np.allclose(z, np.concatenate([x, C * (x - 273.15)], axis=1), rtol=1e-14, atol=0)


def test_a_value_per_row_for_a_tunable_parameter(cooling_fmu: Path) -> None:
    h = np.array([1.0, 2.0, 4.0])
    with FmuBehavior(cooling_fmu, states=["T"], inputs=["T_amb"], outputs=["E"],
                     parameters={"h": h}) as fleet:
        x = fleet.simulate(np.full((3, 1), T0), [T_AMB], 5.0, 20)[-1, :, 0]
        assert np.max(np.abs(x - closed_form(100.0, T0, h))) < 1e-8
        assert np.allclose(fleet.output(x[:, None])[:, 0], C * (x - 273.15))
        assert fleet.describe()["parameters"]["h"]["value"] == h.tolist()


def test_its_class_takes_parameter_values_like_any_behavior_class(body: FmuBehavior) -> None:
    faster = type(body)(h=4.0)  # what a what-if scenario does to change a parameter
    try:
        assert type(faster) is type(body) and faster.p["C"].tolist() == [C]
        x = faster.next_state(np.array([[T0]]), np.array([[T_AMB]]), 50.0)
        assert abs(x[0, 0] - closed_form(50.0, T0, 4.0)) < 1e-8
    finally:
        faster.close()
    with pytest.raises(InvalidInputError, match="no parameter 'tau'"):
        type(body)(tau=1.0)
    with pytest.raises(InvalidInputError, match="parameter values only"):
        type(body)(body.path, states=["T"])


def test_a_fixed_parameter_takes_one_value_for_every_row(body: FmuBehavior) -> None:
    """Twins that share a fixed parameter can be simulated in one batch (a what-if scenario
    gives each fork's parameters as one value per row)."""
    shared = type(body)(C=np.array([C, C, C]), h=np.array([1.0, 2.0, 4.0]))
    assert shared.p["C"].tolist() == [C] and shared.p["h"].tolist() == [1.0, 2.0, 4.0]
    x = shared.next_state(np.full((3, 1), T0), np.array([[T_AMB]]), 50.0)[:, 0]
    assert np.max(np.abs(x - closed_form(50.0, T0, np.array([1.0, 2.0, 4.0])))) < 1e-8
    shared.close()
    with pytest.raises(InvalidInputError, match=r"'C' of .* is a fixed parameter"):
        type(body)(C=np.array([C, 400.0]))


def test_copies_share_the_instance_and_pickles_open_the_file_again(
        body: FmuBehavior) -> None:
    x, u = np.array([[T0], [320.0]]), np.array([[T_AMB]])
    first = body.next_state(x, u, 60.0)
    shared = copy.copy(body)
    assert np.array_equal(shared.next_state(x, u, 60.0), first)
    shared.close()  # closes the shared instance: the original opens a new one
    assert not body.instantiated
    assert np.array_equal(body.next_state(x, u, 60.0), first)
    with pickle.loads(pickle.dumps(body)) as clone:
        assert type(clone) is not type(body) and clone.events == body.events
        assert np.array_equal(clone.next_state(x, u, 60.0), first)


def test_in_a_monte_carlo_prediction(body: FmuBehavior, cooling_fmu: Path) -> None:
    start = GaussianState(np.array([[T0]]), np.array([[[4.0]]]))  # 363.15 K +- 2 K
    load = lambda t, x: np.array([T_AMB])  # noqa: E731
    kwargs: dict[str, Any] = {"horizon": 900.0, "dt": 5.0}
    fmu = MonteCarloPredictor(40, rng=11).predict(body, start, load, **kwargs)
    ours = MonteCarloPredictor(40, rng=11).predict(Cooling(), start, load, **kwargs)
    cooled = fmu.time_of_event["cooled"]
    # sample by sample the same times as the same model in holotwin
    assert np.array_equal(cooled.samples, ours.time_of_event["cooled"].samples)
    assert cooled.reached.tolist() == [1.0] and fmu.extra["stopped_early"]
    # the closed-form time at the mean start is 313.2 s; steps of 5 s add 2.5 s on average,
    # and the mean of 40 draws (sd about 7 s) is within 4 s of that (measured: 314.9 s)
    exact = C / H * math.log((T0 - T_AMB) / (THRESHOLD - T_AMB))
    assert abs(float(cooled.mean[0]) - (exact + 2.5)) < 4.0
    assert np.allclose(fmu.output_mean, ours.output_mean, rtol=1e-10)
    # the same event watched on an output read from the FMU (the stored heat) gives the
    # same times
    with FmuBehavior(cooling_fmu, states=["T"], inputs=["T_amb"], outputs=["E"],
                     events={"cooled": ("E", C * (THRESHOLD - 273.15), "below")}) as by_heat:
        again = MonteCarloPredictor(40, rng=11).predict(by_heat, start, load, **kwargs)
    assert np.array_equal(again.time_of_event["cooled"].samples, cooled.samples)


def test_event_states(body: FmuBehavior, cooling_fmu: Path) -> None:
    x = np.array([[THRESHOLD + 31.315], [THRESHOLD], [300.0]])
    assert np.allclose(body.event_state(x)[:, 0], [0.1, 0.0, (300.0 - THRESHOLD) / THRESHOLD])
    assert body.threshold_met(x)[:, 0].tolist() == [False, True, True]
    with FmuBehavior(cooling_fmu, states=["T"], outputs=["E"],
                     events={"hot": ("E", 0.0, "above")}) as hot:
        assert hot.threshold_met(np.array([[272.0], [274.0]]))[:, 0].tolist() == [False, True]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"states": ["Tx"]}, "no Real variable 'Tx'"),
    ({"states": []}, "at least one state"),
    ({"states": "T"}, "must be a list of variable names"),
    ({"states": ["T", "T"]}, "name a variable twice"),
    ({"states": ["h"]}, "not a state"),
    ({"states": ["T"], "inputs": ["h"]}, "an input must have causality input"),
    ({"states": ["T"], "inputs": ["T"]}, "as a state and as an input"),
    ({"states": ["T"], "outputs": ["Q"]}, "no Real variable 'Q'"),
    ({"states": ["T"], "parameters": {"tau": 1.0}}, "no Real variable 'tau'"),
    ({"states": ["T"], "parameters": {"T_amb": 1.0}}, "not a fixed or tunable parameter"),
    ({"states": ["T"], "parameters": {"C": [400.0, 500.0]}}, "is a fixed parameter"),
    ({"states": ["T"], "parameters": {"h": math.inf}}, "must be a finite number"),
    ({"states": ["T"], "events": {"hot": ("Q", 1.0, "above")}}, "neither a state"),
    ({"states": ["T"], "events": {"hot": ("T", 1.0, "over")}}, "'below' or 'above'"),
    ({"states": ["T"], "events": {"hot": ("T", "warm", "above")}}, "finite number"),
    ({"states": ["T"], "events": {"hot": ("T", 1.0)}}, "must be \\(state or output"),
    ({"states": ["T"], "output_step": 0.0}, "output_step must be > 0"),
    ({"states": ["T"], "h": 3.0}, "as parameters="),
])
def test_bad_names_and_values(cooling_fmu: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        FmuBehavior(cooling_fmu, **kwargs)


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="There is no FMU file at"):
        FmuBehavior(tmp_path / "missing.fmu", states=["T"])
    with pytest.raises(InvalidInputError, match="There is no FMU file at"):
        FmuBehavior(tmp_path, states=["T"])  # a folder
    with pytest.raises(InvalidInputError, match="needs the path of an FMU"):
        FmuBehavior(states=["T"])
    text = tmp_path / "text.fmu"
    text.write_text("not a zip")
    with pytest.raises(InvalidInputError, match="is not a readable FMU"):
        FmuBehavior(text, states=["T"])
    empty = tmp_path / "empty.fmu"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "no model description")
    with pytest.raises(InvalidInputError, match="is not a readable FMU"):
        FmuBehavior(empty, states=["T"])


def test_bad_shapes(body: FmuBehavior) -> None:
    with pytest.raises(InvalidInputError, match=r"must have shape \(B, 1\)"):
        body.next_state(np.zeros((2, 2)), np.zeros((2, 1)), 1.0)
    with pytest.raises(InvalidInputError, match="do not fit 2 rows"):
        body.next_state(np.full((2, 1), T0), np.zeros((3, 1)), 1.0)
    with pytest.raises(InvalidInputError, match="dt must be finite and >= 0"):
        body.next_state(np.full((2, 1), T0), np.zeros((2, 1)), -1.0)


def test_a_failing_step_raises_and_the_next_call_starts_afresh(body: FmuBehavior) -> None:
    with pytest.raises(FmuError, match="the step of row 1"):
        body.next_state(np.array([[T0], [-5.0]]), np.array([[T_AMB]]), 1.0)
    assert not body.instantiated
    x = body.next_state(np.array([[T0]]), np.array([[T_AMB]]), 10.0)
    assert abs(x[0, 0] - closed_form(10.0, T0)) < 1e-10


def test_an_fmu_that_ignores_new_states_is_refused(tmp_path: Path) -> None:
    fmu = build_fmu(tmp_path, "holotwin_test_stubborn", STUBBORN)
    with FmuBehavior(fmu, states=["T"], inputs=["T_amb"]) as stubborn, \
            pytest.raises(FmuError, match="does not take new values of its state variables"):
        stubborn.next_state(np.array([[300.0]]), np.array([[T_AMB]]), 1.0)
