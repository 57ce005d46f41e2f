"""``python -m holotwin`` runs the command line."""

from holotwin.cli.main import main

main()
