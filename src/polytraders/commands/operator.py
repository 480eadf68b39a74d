"""Who acts: the operator every command records with the state changes it makes."""

from __future__ import annotations

import getpass


def operator_name(given: str | None = None) -> str:
    """``given`` (an ``--operator`` option), else the login name, else ``operator`` when the
    system knows none (e.g. a container's numeric user)."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
