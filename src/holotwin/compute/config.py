"""Choose an executor by a string, as a setting or a command-line option spells it:
:func:`open_executor`.

=========================  ===============================================================
``"local"``                a :class:`~holotwin.compute.LocalExecutor` with one process per CPU
``"local:N"``              ``N`` local processes; ``"local:0"`` and ``"local:1"``: in this
                           process (no pool)
``"inline"``               in this process (the same as ``"local:1"``)
``"ray"``                  a :class:`~holotwin.compute.RayExecutor` on a local Ray instance it
                           starts, with every CPU
``"ray:N"``                a local Ray instance with ``N`` CPUs
``"ray:auto"``             the Ray cluster already running on this machine (or ``RAY_ADDRESS``)
``"ray://host:port"``      a remote Ray cluster, through the Ray client (port 10001 usually)
=========================  ===============================================================

>>> open_executor("local:1")
LocalExecutor(in process)
>>> open_executor("local:4").workers
4
>>> open_executor("dask")
Traceback (most recent call last):
...
holotwin.errors.InvalidInputError: Unknown executor 'dask'; use local, local:N, inline, ray, \
ray:N, ray:auto or ray://host:port
"""

from __future__ import annotations

from holotwin.compute.base import Executor
from holotwin.compute.local import LocalExecutor
from holotwin.compute.ray import RayExecutor
from holotwin.errors import InvalidInputError

__all__ = ["EXECUTOR_FORMS", "check_executor", "open_executor"]

#: the spellings :func:`open_executor` accepts
EXECUTOR_FORMS = ("local", "local:N", "inline", "ray", "ray:N", "ray:auto", "ray://host:port")


def _count(text: str, config: str) -> int:
    if not text.isdigit():
        raise InvalidInputError(f"Executor {config!r}: {text!r} is not a whole number of "
                                "workers")
    return int(text)


def check_executor(config: str) -> tuple[str, int | str | None]:
    """What ``config`` names, without starting anything: ``("local", workers or None)``,
    ``("ray", num_cpus or None)`` or ``("ray-cluster", address)``; :class:`InvalidInputError`
    for a bad spelling.

    >>> check_executor("ray:auto"), check_executor(" local:3 ")
    (('ray-cluster', 'auto'), ('local', 3))
    """
    if not isinstance(config, str):
        raise InvalidInputError(f"An executor is named by a string, got {config!r}")
    text = config.strip()
    kind, colon, rest = text.partition(":")
    if text == "inline":
        return "local", 1
    if kind == "local":
        return "local", None if not colon else _count(rest, config)
    if text.startswith("ray://"):
        if len(text) == len("ray://"):
            raise InvalidInputError(f"Executor {config!r} names no host")
        return "ray-cluster", text
    if kind == "ray":
        if not colon:
            return "ray", None
        if rest == "auto":
            return "ray-cluster", "auto"
        cpus = _count(rest, config)
        if cpus < 1:
            raise InvalidInputError(f"Executor {config!r}: a Ray instance needs at least 1 CPU")
        return "ray", cpus
    raise InvalidInputError(f"Unknown executor {config!r}; use {', '.join(EXECUTOR_FORMS[:-1])} "
                            f"or {EXECUTOR_FORMS[-1]}")


def open_executor(config: str) -> Executor:
    """The executor ``config`` names (see the module docs); close it when done."""
    kind, argument = check_executor(config)
    if kind == "local":
        return LocalExecutor(argument if isinstance(argument, int) else None)
    if kind == "ray-cluster":
        return RayExecutor(address=str(argument))
    return RayExecutor(num_cpus=argument if isinstance(argument, int) else None)
