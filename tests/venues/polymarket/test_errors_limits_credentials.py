"""Error mapping to registered codes, token buckets and credential loading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polytraders.contracts.reasons import load_registry
from polytraders.venues.polymarket.credentials import Credentials, CredentialsError
from polytraders.venues.polymarket.errors import (
    REASON_CODES,
    ErrorKind,
    backoff_ms,
    classify,
)
from polytraders.venues.polymarket.ratelimit import RateLimiter, TokenBucket
from polytraders.venues.retry_after import parse_retry_after_ms


def test_every_kind_has_a_registered_code() -> None:
    registry = load_registry()
    assert set(REASON_CODES) == set(ErrorKind)
    for code in REASON_CODES.values():
        assert code in registry


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (425, "Too Early", ErrorKind.ENGINE_RESTART),
        (503, "Exchange is in post-only mode (post_only_mode)", ErrorKind.POST_ONLY_MODE),
        (503, "Trading is currently cancel-only", ErrorKind.CANCEL_ONLY),
        (503, "Service Unavailable", ErrorKind.UNAVAILABLE),
        (429, "Too Many Requests", ErrorKind.RATE_LIMITED),
        (400, "Size (1) lower than the minimum: 5", ErrorKind.SIZE_BELOW_MIN),
        (400, "not enough balance / allowance", ErrorKind.BALANCE_ALLOWANCE),
        (400, "invalid post-only order: order crosses book", ErrorKind.POST_ONLY_CROSS),
        (400, "invalid expiration", ErrorKind.INVALID_EXPIRATION),
        (400, "breaks minimum tick size rule", ErrorKind.INVALID_TICK),
        (400, "the market is not ready", ErrorKind.MARKET_NOT_ACCEPTING),
        (401, "Unauthorized", ErrorKind.AUTH),
        (0, "ConnectError", ErrorKind.UNAVAILABLE),
        (400, "something new", ErrorKind.REJECTED),
    ],
)
def test_classify(status: int, message: str, kind: ErrorKind) -> None:
    assert classify(status, message).kind is kind


def test_429_carries_retry_after() -> None:
    error = classify(429, "slow down", "2.5")
    assert error.retry_after_ms == 2_500
    assert error.reason_code == "SYS_POLY_VENUE_RATE_LIMITED"
    assert parse_retry_after_ms(None) == 1_000
    assert parse_retry_after_ms("soon", default_ms=700) == 700


def test_engine_restart_backoff_doubles_to_30_s() -> None:
    assert [backoff_ms(n) for n in range(1, 7)] == [1_500, 3_000, 6_000, 12_000, 24_000, 30_000]


def test_token_bucket_refills_exactly() -> None:
    bucket = TokenBucket(capacity=2, window_ns=1_000)
    assert bucket.try_take(0) and bucket.try_take(0)
    assert not bucket.try_take(0)
    assert not bucket.try_take(499)  # half a window refills one token only at 500
    assert bucket.try_take(500)
    bucket.block_until(10_000)
    assert not bucket.try_take(9_999)
    assert bucket.try_take(10_000)


def test_rate_limiter_uses_a_fraction_of_the_published_budget() -> None:
    limiter = RateLimiter(fraction=0.01)  # cancel-all 250 / 10 s → 2
    assert limiter.try_take("DELETE /cancel-all", 0)
    assert limiter.try_take("DELETE /cancel-all", 0)
    assert not limiter.try_take("DELETE /cancel-all", 0)
    assert limiter.try_take("GET /unknown", 0)


ENV = {
    "POLYMARKET_PRIVATE_KEY": "0x" + "11" * 32,
    "POLYMARKET_API_KEY": "key",
    "POLYMARKET_API_SECRET": "c2VjcmV0",
    "POLYMARKET_API_PASSPHRASE": "pass",
}


def test_credentials_from_env_hide_secrets() -> None:
    creds = Credentials.from_env(ENV)
    assert creds.api_key == "key"
    text = repr(creds)
    assert "1111" not in text and "c2VjcmV0" not in text and "pass'" not in text


def test_credentials_missing_names_fail_without_echoing_values() -> None:
    with pytest.raises(CredentialsError, match="POLYMARKET_API_SECRET") as info:
        Credentials.from_env({**ENV, "POLYMARKET_API_SECRET": ""})
    assert "1111" not in str(info.value)


def test_credentials_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "creds.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in ENV.items()) + "# comment\n")
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        Credentials.from_file(path)
    os.chmod(path, 0o600)
    assert Credentials.from_file(path).api_passphrase == "pass"
