"""Run tasks on Ray, on this machine or on a cluster: :class:`RayExecutor`.

Ray (``pip install 'holotwin[ray]'``) is imported when a :class:`RayExecutor` is made, never
when this module is imported. ``address``:

- ``None``: start a local Ray instance in this process (``num_cpus`` CPUs, default all), without
  its dashboard; :meth:`RayExecutor.close` shuts it down;
- ``"auto"``: connect to the Ray cluster already running on this machine (``ray start``), or
  the one ``RAY_ADDRESS`` names;
- ``"ray://host:10001"``: connect to a remote cluster through the Ray client.

If this process is connected to Ray already (a notebook that called ``ray.init``), the executor
uses that connection and leaves it open on :meth:`RayExecutor.close`: it shuts down only what
it started. Each item becomes one Ray task (``fn`` and the items are pickled with Ray's
cloudpickle, so a lambda works; the workers must be able to import the modules ``fn`` uses:
holotwin must be installed on a cluster's nodes, and ``runtime_env`` can ship code to them).
Results come back in the items' order; ``progress`` is called as tasks finish
(``ray.wait``). Task output is not copied to this process's console (``log_to_driver``
off).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from holotwin.compute.base import ComputeError, Executor, Progress, task_failed
from holotwin.errors import InvalidInputError

__all__ = ["RayExecutor"]

T = TypeVar("T")
R = TypeVar("R")


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ComputeError("The Ray executor needs Ray: pip install 'holotwin[ray]'") from exc
    return ray


class RayExecutor(Executor):
    """Runs each item as a Ray task; see the module docs. ``address``: None (start a local
    instance), ``"auto"`` or ``"ray://host:port"``; ``num_cpus``: CPUs of a local instance;
    ``runtime_env``: passed to ``ray.init`` (code and packages for the workers)."""

    kind = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, *,
                 runtime_env: Mapping[str, Any] | None = None) -> None:
        if address is not None and (not isinstance(address, str) or not (
                address == "auto" or address.startswith("ray://"))):
            raise InvalidInputError(f"address must be None (a local Ray instance), 'auto' or "
                                    f"'ray://host:port', got {address!r}")
        if num_cpus is not None and (isinstance(num_cpus, bool) or not isinstance(num_cpus, int)
                                     or num_cpus < 1):
            raise InvalidInputError(f"num_cpus must be a whole number >= 1, got {num_cpus!r}")
        if num_cpus is not None and address is not None:
            raise InvalidInputError("num_cpus sizes a local Ray instance; a cluster at "
                                    f"{address!r} has its own")
        ray = _ray()
        self.address = address
        self._ray: Any = ray
        self._started = not ray.is_initialized()
        if self._started:
            options: dict[str, Any] = {"address": address, "ignore_reinit_error": True,
                                       "include_dashboard": False, "log_to_driver": False}
            if num_cpus is not None:
                options["num_cpus"] = num_cpus
            if runtime_env is not None:
                options["runtime_env"] = dict(runtime_env)
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                raise ComputeError(f"Cannot start or reach Ray ({address or 'local'}): "
                                   f"{exc}") from exc
        self._closed = False

    @property
    def workers(self) -> int:
        """The CPUs of the Ray cluster (0 once closed)."""
        if self._closed:
            return 0
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    @property
    def started(self) -> bool:
        """Whether this executor started (and will shut down) the Ray connection."""
        return self._started

    def __repr__(self) -> str:
        return f"RayExecutor({self.address or 'local'}, started={self._started})"

    def map(self, fn: Callable[[T], R], items: Iterable[T], *,
            progress: Progress | None = None) -> list[R]:
        if self._closed:
            raise ComputeError("This Ray executor is closed")
        ray = self._ray
        work = list(items)
        if not work:
            if progress is not None:
                progress(1.0)
            return []
        # any callable (a function, a callable object such as a scenario evaluation), sent
        # to the object store once and called by one generic task
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        shared = ray.put(fn)
        refs = [remote.remote(shared, item) for item in work]
        position = {ref: index for index, ref in enumerate(refs)}
        results: list[Any] = [None] * len(work)
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    index = position[ref]
                    try:
                        results[index] = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = getattr(exc, "cause", None)
                        raise task_failed(index, len(work), cause if isinstance(
                            cause, BaseException) else exc) from exc
                    except ray.exceptions.RayError as exc:  # a worker died, an object was lost
                        raise ComputeError(f"Ray could not run task {index} of {len(work)}: "
                                           f"{exc}", index=index) from exc
                    if progress is not None:
                        progress((len(work) - len(pending)) / len(work))
        finally:
            for ref in pending:  # after a failure: the tasks still queued or running
                ray.cancel(ref)
        return results

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._started and self._ray.is_initialized():
                self._ray.shutdown()


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task behind :meth:`RayExecutor.map` (Ray passes ``fn`` from the object
    store)."""
    return fn(item)
