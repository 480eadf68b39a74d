"""Backtest result figures, hand-computed and as a money-conservation property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polytraders.backtest.result import EnvelopeTally, compute_result, max_drawdown, sharpe_ratio
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.money import MICROS, notional_micros
from polytraders.model.orders import Side

YES = OutcomeToken(token_id="yes", market_id="m", outcome="Up", complement_token_id="no")
NO = OutcomeToken(token_id="no", market_id="m", outcome="Down", complement_token_id="yes")
RESOLVED = Market(market_id="m", slug="btc", tokens=(YES, NO), payouts={"yes": MICROS, "no": 0})
OPEN = Market(market_id="m", slug="btc", tokens=(YES, NO))


def fill(i: int, token: str, side: Side, price: int, size: int, fee: int, maker: bool) -> Fill:
    return Fill(
        fill_id=f"f{i}",
        client_order_id=f"o{i}",
        token_id=token,
        side=side,
        price=price,
        size=size,
        fee=fee,
        liquidity=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
        ts_event_ns=i,
    )


def result_for(market: Market, fills: list[Fill], marks: dict[str, int] | None = None):
    return compute_result(
        run_id="r",
        seed=1,
        config_version="c",
        synthetic=False,
        markets=[market],
        fills=fills,
        equity_curve=[(0, 100 * MICROS), (1, 103 * MICROS), (2, 99 * MICROS), (3, 104 * MICROS)],
        tally=EnvelopeTally(),
        envelopes_sha256="x",
        events=10,
        orders=3,
        venue_rejections={"SYS_VENUE_BELOW_MIN_SIZE": 2},
        final_marks=marks or {},
        wall_s=2.0,
    )


def test_hand_computed_run_with_settlement() -> None:
    fills = [
        fill(0, "yes", Side.BUY, 450_000, 10 * MICROS, 173_250, maker=False),
        fill(1, "yes", Side.SELL, 500_000, 4 * MICROS, 0, maker=True),
        fill(2, "no", Side.BUY, 500_000, 2 * MICROS, 0, maker=True),
    ]
    doc = result_for(RESOLVED, fills).as_json()
    assert doc["volume_usd"] == "7.5"  # 4.5 + 2.0 + 1.0
    assert doc["invested_usd"] == "5.5"
    assert doc["fees_usd"] == "0.17325"
    assert doc["realized_pnl_usd"] == "0.2"  # 4 × (0.50 − 0.45)
    assert doc["settlement_usd"] == "6"  # 6 YES × 1; 2 NO × 0
    assert doc["settled_pnl_usd"] == "2.3"  # (6 − 2.7) + (0 − 1.0)
    # cash view: −4.5 + 2.0 − 1.0 + 6 − 0.17325
    assert doc["pnl_usd"] == "2.32675"
    assert (doc["fills"], doc["maker_fills"], doc["taker_fills"]) == (3, 2, 1)
    assert doc["max_drawdown_usd"] == "4"
    assert doc["rejections"] == {"SYS_VENUE_BELOW_MIN_SIZE": 2}
    assert doc["events_per_s"] == 5.0
    assert doc["per_market"][0]["final_positions"] == {"no": "2", "yes": "6"}


def test_open_positions_are_marked_and_need_a_mark() -> None:
    fills = [fill(0, "yes", Side.BUY, 450_000, 10 * MICROS, 0, maker=True)]
    doc = result_for(OPEN, fills, {"yes": 480_000}).as_json()
    assert doc["unrealized_pnl_usd"] == "0.3"
    assert doc["pnl_usd"] == "0.3"
    try:
        result_for(OPEN, fills)
    except ValueError as exc:
        assert "no final mark" in str(exc)
    else:
        raise AssertionError("an open position without a mark was accepted")


def test_drawdown_and_sharpe() -> None:
    assert max_drawdown([]) == 0
    assert max_drawdown([(0, 5), (1, 9), (2, 3), (3, 8), (4, 1)]) == 8
    minute = 60 * 1_000_000_000
    rising = [(i * minute, 100 + i) for i in range(10)]
    assert sharpe_ratio(rising) == 0.0  # constant changes: zero variance
    noisy = [(i * minute, v) for i, v in enumerate([100, 102, 101, 104, 103, 106])]
    assert sharpe_ratio(noisy) > 0


trades = st.lists(
    st.tuples(
        st.sampled_from(["yes", "no"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 99).map(lambda c: c * 10_000),
        st.integers(1, 500).map(lambda s: s * 10_000),
        st.integers(0, 20_000).map(lambda f: f * 10),
    ),
    max_size=30,
)


@given(trades, st.booleans())
def test_pnl_equals_cash_flow(seq: list, yes_wins: bool) -> None:
    fills = [
        fill(i, t, side, p, s, f, maker=i % 2 == 0) for i, (t, side, p, s, f) in enumerate(seq)
    ]
    payouts = {"yes": MICROS if yes_wins else 0, "no": 0 if yes_wins else MICROS}
    market = Market(market_id="m", tokens=(YES, NO), payouts=payouts)
    result = result_for(market, fills)
    cash = 0
    held = {"yes": 0, "no": 0}
    for t, side, p, s, f in seq:
        cash += notional_micros(p, s) * (-1 if side is Side.BUY else 1) - f
        held[t] += s if side is Side.BUY else -s
    cash += sum(notional_micros(payouts[t], size) for t, size in held.items())
    assert result.money.pnl == cash
    assert result.money.fills == result.money.maker_fills + result.money.taker_fills
    assert result.per_market[0].final_positions == {
        t: v for t, v in held.items() if any(x[0] == t for x in seq)
    }


def test_report_is_self_contained_html(tmp_path) -> None:
    from polytraders.backtest.report import write_report

    fills = [
        fill(0, "yes", Side.BUY, 450_000, 10 * MICROS, 0, maker=True),
        fill(5, "yes", Side.SELL, 480_000, 10 * MICROS, 0, maker=True),
    ]
    result = result_for(RESOLVED, fills)
    path = tmp_path / "report.html"
    write_report(
        path,
        result=result,
        equity_curve=[(0, 100 * MICROS), (5, 100_300_000)],
        fills=fills,
        token_labels={"yes": "btc Up", "no": "btc Down"},
        chosen_token="yes",
        top_of_book=[(0, 440_000, 460_000), (5, 470_000, None)],
        config={"seed": 1},
    )
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("plotly.js v") <= 2  # the library is embedded once
    for title in (
        "Equity",
        "PnL per market",
        "Inventory",
        "Fills on the book: btc Up",
        "Reason codes",
    ):
        assert title in page
    assert "https://cdn" not in page.split("<body>")[0]
    assert result.as_json()["pnl_usd"] in page
