"""Polytraders: a governed trading desk for Polymarket CLOB v2 and crypto venues."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("polytraders")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
