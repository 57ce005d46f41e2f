"""The ``holotwin`` command line: ``serve``, ``demo``, ``models``, ``twins`` and ``keys``.

Each command group lives in its own module; :mod:`holotwin.cli.main` wires them together and turns
holotwin errors into ``Error: <message>`` with exit code 1. (Nothing is imported here, so that
``python -m holotwin.cli.main`` runs cleanly.)
"""

__all__: list[str] = []
