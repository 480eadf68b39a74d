"""``GET /balance-allowance`` with allowances: the wire struct reads the balance and every
spender's allowance as exact integers (up to 2²⁵⁶ − 1, never through a float) and refuses
anything else; the venue's ``collateral_allowance`` and ``allowance_check`` read them from the
simulator, which answers like the real venue and takes the ``set_allowance`` control."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from polytraders.model.allowance import MAX_UINT256
from polytraders.simclob.server import SimClobServer
from polytraders.venues.polymarket.signing import (
    CTF_EXCHANGE_V2,
    NEG_RISK_ADAPTER,
    NEG_RISK_CTF_EXCHANGE_V2,
)
from polytraders.venues.polymarket.venue import PolymarketVenue
from polytraders.venues.polymarket.wire import BalanceAllowance, MalformedAnswerError, fetch

APPROVED = {CTF_EXCHANGE_V2: MAX_UINT256, NEG_RISK_CTF_EXCHANGE_V2: MAX_UINT256,
            NEG_RISK_ADAPTER: MAX_UINT256}  # fmt: skip


def _decode(raw: Any) -> BalanceAllowance:
    return fetch("GET /balance-allowance", BalanceAllowance, lambda: raw)


def test_the_answer_is_read_exactly() -> None:
    answer = _decode(
        {
            "balance": "1000000000",
            "allowances": {
                CTF_EXCHANGE_V2.lower(): str(MAX_UINT256),
                NEG_RISK_CTF_EXCHANGE_V2: "123456789",
                NEG_RISK_ADAPTER: 0,
            },
        }
    )
    assert answer.balance_micros == 1_000_000_000
    assert answer.allowances_micros == {
        CTF_EXCHANGE_V2: MAX_UINT256,  # keyed by the checksum address whatever the case sent
        NEG_RISK_CTF_EXCHANGE_V2: 123_456_789,
        NEG_RISK_ADAPTER: 0,
    }
    # Polymarket's client test sends a JSON number balance; allowances may be absent
    assert _decode({"balance": 0}).allowances_micros == {}


@pytest.mark.parametrize(
    ("allowances", "named"),
    [
        ({CTF_EXCHANGE_V2: "1.5"}, "not a non-negative integer"),
        ({CTF_EXCHANGE_V2: 1.5}, "got `float`"),
        ({CTF_EXCHANGE_V2: "-1"}, "not a non-negative integer"),
        ({CTF_EXCHANGE_V2: "1e6"}, "not a non-negative integer"),
        ({CTF_EXCHANGE_V2: str(MAX_UINT256 + 1)}, "beyond uint256"),
        ({CTF_EXCHANGE_V2: "9" * 79}, "not a non-negative integer"),
        ({"0x1234": "1"}, "not a 0x-hex address"),
        ({"exchange": "1"}, "not a 0x-hex address"),
    ],
)
def test_a_bad_allowance_is_a_malformed_answer(allowances: dict[str, Any], named: str) -> None:
    with pytest.raises(MalformedAnswerError, match="SYS_POLY_MALFORMED_ANSWER") as raised:
        _decode({"balance": "1", "allowances": allowances})
    assert named in str(raised.value)


def test_the_venue_reads_the_simulators_allowances(
    sim: SimClobServer, venue: PolymarketVenue
) -> None:
    raw = venue.client.get_balance_allowance()
    assert raw["allowances"] == {spender: str(MAX_UINT256) for spender in APPROVED}
    collateral = venue.collateral_allowance()
    assert collateral.allowances_micros == APPROVED
    assert collateral.balance_micros == sim.sim_state()["collateral"]
    assert venue.balances() == {"pUSD": collateral.balance_micros}
    check = venue.allowance_check(neg_risk=False)
    assert check.verified and check.spenders == (CTF_EXCHANGE_V2,)
    assert (check.account, check.signer) == (venue.signer.funder, venue.signer.address)
    assert venue.allowance_check(neg_risk=True).spenders == tuple(APPROVED)
    try:
        sim.control("set_allowance", spender=NEG_RISK_ADAPTER.lower(), amount=7)
        assert venue.collateral_allowance().allowances_micros[NEG_RISK_ADAPTER] == 7
        assert venue.allowance_check(neg_risk=False).verified  # the adapter is not needed
        short = venue.allowance_check(neg_risk=True)
        assert not short.verified and short.short == [NEG_RISK_ADAPTER]
        assert short.allowance_micros[NEG_RISK_ADAPTER] == 7
        # what a store records of it decodes back to the same check
        assert msgspec.json.decode(msgspec.json.encode(short), type=type(short)) == short
    finally:
        sim.control("set_allowance", spender=NEG_RISK_ADAPTER, amount=MAX_UINT256)
