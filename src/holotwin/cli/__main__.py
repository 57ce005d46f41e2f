"""``python -m holotwin.cli``: the same as the ``holotwin`` command."""

from holotwin.cli.main import main

main()
