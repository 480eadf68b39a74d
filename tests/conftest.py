"""Shared test fixtures: real data locations and real services.

Services: tests that need PostgreSQL or Redis use the ``postgres_url`` / ``redis_url``
fixtures. When the service is not reachable the test is skipped with a clear message, unless
``POLYTRADERS_REQUIRE_SERVICES=1`` (CI), in which case it fails.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
POLYMARKET_SAMPLE = SAMPLES / "polymarket" / "resolvedkit_btc15m"
BINANCE_SAMPLES = SAMPLES / "binance"

POSTGRES_URL = os.environ.get(
    "POLYTRADERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("POLYTRADERS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def services_required() -> bool:
    """True when a missing service must fail the run (CI sets POLYTRADERS_REQUIRE_SERVICES=1)."""
    return os.environ.get("POLYTRADERS_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if services_required():
        pytest.fail(f"{message} and POLYTRADERS_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{message}; start it or see README (set POLYTRADERS_REQUIRE_SERVICES=1 to fail)")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the machine's real PostgreSQL (database ``test``)."""
    _require("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the machine's real Redis."""
    _require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def polymarket_sample() -> Path:
    """The shipped real Polymarket L2 sample (markets.parquet + books.parquet)."""
    return POLYMARKET_SAMPLE


@pytest.fixture(scope="session")
def binance_samples() -> Path:
    """The shipped real Binance depth recordings (*.gz)."""
    return BINANCE_SAMPLES
