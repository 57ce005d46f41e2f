"""holotwin: live digital twins of physical assets.

The Python API::

    import holotwin
    twins = holotwin.open("sqlite:///plant.db")      # or holotwin.open() for data/holotwin.db
    twins.add_models([...])
    twins.put_twin("pump-1", {"$metadata": {"$model": "dtmi:example:Pump;1"}, "speed": 1450.0})
"""

from __future__ import annotations

__version__ = "0.1.0"

from holotwin.clock import Clock, ManualClock, SystemClock
from holotwin.errors import HolotwinError
from holotwin.models import ModelRegistry, define_interface, load_documents
from holotwin.service import TwinService
from holotwin.store import Store, open_store

__all__ = [
    "Clock",
    "HolotwinError",
    "ManualClock",
    "ModelRegistry",
    "Store",
    "SystemClock",
    "TwinService",
    "__version__",
    "define_interface",
    "load_documents",
    "open",
    "open_store",
]


def open(url: str = "sqlite://holotwin-data/holotwin.db", clock: Clock | None = None, *,
         executor: str = "inline", fmu_dir: str | None = None) -> TwinService:
    """Open a holotwin instance on a store URL (see :func:`holotwin.store.open_store`);
    ``executor`` names where scenario work runs (``"inline"``, ``"local"``, ``"local:N"``,
    ``"ray"``..., see :func:`holotwin.compute.open_executor`; a script that uses processes
    needs the ``if __name__ == "__main__":`` guard), ``fmu_dir`` the folder behavior bindings
    take FMU files from."""
    from pathlib import Path

    from holotwin.compute import open_executor

    runner = open_executor(executor)
    try:
        return TwinService(open_store(url), clock, executor=runner,
                           fmu_dir=None if fmu_dir is None else Path(fmu_dir))
    except BaseException:
        runner.close()
        raise
