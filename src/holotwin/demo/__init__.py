"""The live demo: a small plant whose simulated machines feed holotwin while you watch.

``holotwin demo`` runs it; :func:`run_demo` is the same from Python. The pieces: the plant's DTDL
models and twins (:mod:`holotwin.demo.plant`), the machine simulation
(:mod:`holotwin.demo.devices`), the devices talking to the service (:mod:`holotwin.demo.fleet`)
and the terminal display (:mod:`holotwin.demo.display`).
"""

from holotwin.demo.devices import MachineParameters, MachineReading, SimulatedMachine
from holotwin.demo.fleet import DeviceFleet, MachineView, TickResult
from holotwin.demo.plant import PlantLayout, build_plant, demo_models
from holotwin.demo.runner import DemoOptions, DemoSummary, run_demo

__all__ = [
    "DemoOptions",
    "DemoSummary",
    "DeviceFleet",
    "MachineParameters",
    "MachineReading",
    "MachineView",
    "PlantLayout",
    "SimulatedMachine",
    "TickResult",
    "build_plant",
    "demo_models",
    "run_demo",
]
