"""Polytraders: a governed trading desk for Polymarket CLOB v2 and crypto venues.

Importing the package makes the system allocator pyarrow's default memory pool (unless
``ARROW_DEFAULT_MEMORY_POOL`` is set already): pyarrow's own default, mimalloc, keeps what it
freed in per-thread segments, which cost the main job 20-70 MiB of resident memory (the Parquet
feed reads one market at a time, :mod:`polytraders.feeds.parquet`). pyarrow reads the variable
when it is first imported, after this package in every ``polytraders`` command.
"""

import os
from importlib.metadata import PackageNotFoundError, version

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

try:
    __version__ = version("polytraders")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
