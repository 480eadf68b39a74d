"""``python -m polytraders`` runs the CLI."""

from polytraders.cli import main

main()
