"""CLI sub-command groups (entry-point layer). Each module defines a typer app or commands that
``polytraders.cli`` registers; modules here may import any lower layer."""
