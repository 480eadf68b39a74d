"""Offline signing: identical to the official client's builder, recoverable, exact amounts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2
from py_clob_client_v2.order_utils.model.side import Side as ClientSide
from py_clob_client_v2.signer import Signer

from polytraders.model.orders import Side
from polytraders.venues.polymarket.signing import (
    CTF_EXCHANGE_V2,
    NEG_RISK_CTF_EXCHANGE_V2,
    OrderSigner,
    order_amounts,
    recover_signer,
    salt_for,
)

KEY = "0x" + "4c" * 32
SIGNER = OrderSigner(KEY)
CLIENT_SIGNER = Signer(KEY, 137)


def test_amounts_follow_the_documented_example() -> None:
    # POLYMARKET.md: BUY 10 @ 0.45 → makerAmount 4_500_000, takerAmount 10_000_000.
    assert order_amounts(Side.BUY, 450_000, 10_000_000) == (4_500_000, 10_000_000)
    assert order_amounts(Side.SELL, 450_000, 10_000_000) == (10_000_000, 4_500_000)


@pytest.mark.parametrize(
    ("price", "size"), [(0, 10_000_000), (1_000_000, 10_000_000), (450_000, 10_001)]
)
def test_amounts_refuse_bad_inputs(price: int, size: int) -> None:
    with pytest.raises(ValueError, match=r"must be|multiple"):
        order_amounts(Side.BUY, price, size)


@settings(max_examples=40, deadline=None)
@given(
    ticks=st.integers(1, 99),
    lots=st.integers(500, 100_000),
    buy=st.booleans(),
    neg_risk=st.booleans(),
    salt=st.integers(0, 2**53 - 1),
    ts_ms=st.integers(1_700_000_000_000, 1_900_000_000_000),
)
def test_signature_equals_the_official_builder(
    ticks: int, lots: int, buy: bool, neg_risk: bool, salt: int, ts_ms: int
) -> None:
    price, size = ticks * 10_000, lots * 10_000
    side = Side.BUY if buy else Side.SELL
    ours = SIGNER.sign(
        token_id="71321045679252212594626385532706912750332728571942532289631379312455583992563",
        side=side,
        price=price,
        size=size,
        neg_risk=neg_risk,
        salt=salt,
        timestamp_ms=ts_ms,
        builder_code="0x" + "ab" * 32,
    )
    maker_amount, taker_amount = order_amounts(side, price, size)
    builder = ExchangeOrderBuilderV2(
        NEG_RISK_CTF_EXCHANGE_V2 if neg_risk else CTF_EXCHANGE_V2,
        137,
        CLIENT_SIGNER,
        generate_salt=lambda: str(salt),
    )
    theirs = builder.build_signed_order(
        OrderDataV2(
            maker=SIGNER.address,
            tokenId=str(ours.token_id),
            makerAmount=str(maker_amount),
            takerAmount=str(taker_amount),
            side=ClientSide.BUY if buy else ClientSide.SELL,
            timestamp=str(ts_ms),
            builder="0x" + "ab" * 32,
        )
    )
    assert ours.signature == theirs.signature
    assert ours.order_hash == builder.build_order_hash(builder.build_order_typed_data(theirs))
    assert recover_signer(bytes.fromhex(ours.order_hash[2:]), ours.signature) == SIGNER.address


def test_exchange_choice_changes_the_order_hash() -> None:
    common = {
        "token_id": "1",
        "side": Side.BUY,
        "price": 500_000,
        "size": 5_000_000,
        "salt": 7,
        "timestamp_ms": 1,
    }
    assert SIGNER.sign(neg_risk=True, **common).order_hash != (
        SIGNER.sign(neg_risk=False, **common).order_hash
    )


def test_salt_is_deterministic_and_json_safe() -> None:
    assert salt_for("run-1:42") == salt_for("run-1:42") != salt_for("run-1:43")
    assert 0 <= salt_for("x") < 2**53


def test_repr_never_shows_the_key() -> None:
    assert "4c4c" not in repr(SIGNER)
