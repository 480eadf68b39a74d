"""The real recorded data shipped with Polytraders (``data/samples/``), found from the
installation rather than the working folder.

A wheel carries the samples as ``polytraders/samples_data`` (``pyproject.toml``,
``force-include``); an editable install or a clone reads the repository's ``data/samples``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parents[1] / "samples_data"
_REPOSITORY = Path(__file__).resolve().parents[3] / "data" / "samples"

POLYMARKET_SAMPLE = "polymarket/resolvedkit_btc15m"
"""The default data of ``polytraders run`` and ``sim-clob``: 12 "Bitcoin Up or Down"
15-minute markets (Resolved Markets, CC BY 4.0)."""


def samples_dir() -> Path:
    """The folder holding the shipped samples.

    Raises:
        FileNotFoundError: neither the packaged copy nor the repository's folder exists.
    """
    for folder in (_PACKAGED, _REPOSITORY):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        f"the shipped sample data is missing (looked in {_PACKAGED} and {_REPOSITORY})"
    )


def sample_path(name: str = POLYMARKET_SAMPLE) -> Path:
    """Path of a shipped sample, e.g. ``polymarket/resolvedkit_btc15m`` or
    ``binance/usdm_btcusdt_20240808.gz``.

    Raises:
        FileNotFoundError: no such sample.
    """
    path = samples_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"no shipped sample {name!r} in {samples_dir()}")
    return path
