"""Regenerate the crypto guards' fixture packs from the real Binance USDⓈ-M sample.

Run: ``.venv/bin/python -m tests.bots.risk.make_crypto_fixtures`` (rewrites
``tests/fixtures/bots/risk.{leverageguard,marginguard,fundingguard,netexposureguard}/*.json``).

Market data is real: the first depth snapshot of ``data/samples/binance/usdm_btcusdt_20240808.gz``
(BTCUSDT perpetual, 2024-08-08, hftbacktest sample, MIT) and of ``usdm_ethusdt_20240808.gz``,
their best 10 levels a side, read through the desk's own :class:`BinanceDepthSource`. What a case
sets by hand (positions, cash, funding rates, open orders, the intent) is stated in its
``source.edits``. Expected outcomes are written here by hand from the bot's rules (arithmetic
in comments); they are never produced by running the bot.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from polytraders.feeds.binance import BinanceDepthSource
from polytraders.model.events import BookSnapshot
from polytraders.model.market import Instrument
from tests.bots.risk.make_fixtures import REPO, expected, write

SAMPLES = {"BTC": "data/samples/binance/usdm_btcusdt_20240808.gz",
           "ETH": "data/samples/binance/usdm_ethusdt_20240808.gz"}  # fmt: skip
GUARDS = ("risk.leverageguard", "risk.marginguard", "risk.fundingguard", "risk.netexposureguard")
"""The crypto guards whose packs this module writes."""
USDT = 1_000_000
BTC_LOT = 1_000  # 0.001 BTC
EOA = "0x1111111111111111111111111111111111111111"


@cache
def snapshot(coin: str) -> tuple[Instrument, BookSnapshot]:
    """The sample's instrument and its first depth snapshot."""
    source = BinanceDepthSource(REPO / SAMPLES[coin], book_only=True)
    for event in source.events():
        if isinstance(event, BookSnapshot):
            return source.instruments[0], event
    raise LookupError(f"no snapshot in {SAMPLES[coin]}")


def _book(coin: str) -> dict[str, Any]:
    _, snap = snapshot(coin)
    return {
        "bids": [list(level) for level in snap.bids[:10]],
        "asks": [list(level) for level in snap.asks[:10]],
        "last_update_ns": snap.ts_event_ns,
    }


def mid(coin: str) -> int:
    _, snap = snapshot(coin)
    return (snap.bids[0][0] + snap.asks[0][0]) // 2


def token(coin: str) -> str:
    return snapshot(coin)[0].token_id


def base_state(equity: int, positions: dict[str, int], coins: tuple[str, ...] = ("BTC",),
               entries: dict[str, int] | None = None,
               **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A desk at the BTC snapshot's time holding ``positions`` (token → micro-base size, cost
    basis at the mid, or at ``entries``' price for a token it names: micro-USDT per unit), its
    cash set so equity (cash + positions at mid) is ``equity`` (the cost basis does not move
    the desk's equity, only the split between the exchange's wallet and unrealized PnL)."""
    _, snap = snapshot("BTC")
    now_ns = snap.ts_event_ns
    value = 0
    held: dict[str, list[int]] = {}
    for coin in coins:
        size = positions.get(token(coin), 0)
        if size:
            notional = mid(coin) * size // 1_000_000
            entry = (entries or {}).get(token(coin))
            held[token(coin)] = [size, notional if entry is None else entry * size // 1_000_000]
            value += notional
    state: dict[str, Any] = {
        "now_ns": now_ns,
        "instruments": [msgspec.to_builtins(snapshot(c)[0]) for c in coins],
        "books": {token(c): _book(c) for c in coins},
        "cash": equity - value,
        "account": {"signer": EOA, "funder": EOA, "signature_type": 0, "builder_code": ""},
        "last_feed_event_ns": now_ns,
        "positions": held,
    }
    state.update(extra)
    source = {
        "dataset": SAMPLES["BTC"],
        "instruments": [token(c) for c in coins],
        "book_snapshots_ns": {token(c): snapshot(c)[1].ts_event_ns for c in coins},
        "edits": [],
    }
    return state, source


def order(case: str, side: str, size: int, coin: str = "BTC", bot: str = "strat.ema_cross",
          **kw: Any) -> dict[str, Any]:  # fmt: skip
    """A GTC limit intent at the best price of its side (bid for a BUY, ask for a SELL)."""
    _, snap = snapshot(coin)
    data: dict[str, Any] = {
        "intent_id": f"fixture/{case}",
        "bot_id": bot,
        "action": "PLACE",
        "token_id": token(coin),
        "side": side,
        "price": snap.bids[0][0] if side == "BUY" else snap.asks[0][0],
        "size": size,
        "time_in_force": "GTC",
        "post_only": True,
        "ts_created_ns": snap.ts_event_ns,
    }
    data.update(kw)
    return data


def leverageguard() -> None:
    bot = "risk.leverageguard"
    btc = token("BTC")
    # mid 61,800.25: 0.1 BTC = 6,180.025 USDT on 10,000 equity: 0.62×; +0.01 BTC → 0.68× < 2.4×.
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT})
    source["edits"] = ["long 0.1 BTC; cash set so equity is 10,000 USDT"]
    write(bot, "normal", "Leverage 0.62× before and 0.68× after a 0.01 BTC buy (cap 3×): approved.",
          state, source, order(f"{bot}/n", "BUY", 10 * BTC_LOT),
          expected("APPROVE", [], "", "APPROVE"))  # fmt: skip
    # short 0.4 BTC = 24,720.1 USDT → 2.47×; 0.01 BTC more (618.003) → 2.53× ≥ 80 % of 3×.
    state, source = base_state(10_000 * USDT, {btc: -400 * BTC_LOT})
    source["edits"] = ["short 0.4 BTC; cash set so equity is 10,000 USDT"]
    write(bot, "warning", "Leverage 2.53× after the sale, above 80 % of the 3× cap: approved "
          "with a warning.", state, source, order(f"{bot}/w", "SELL", 10 * BTC_LOT),
          expected("APPROVE", ["RISK_LEVERAGE_WARN"], "", "APPROVE"))  # fmt: skip
    # short 0.45 BTC = 27,810.1125 USDT; room = 30,000 − 27,810.1125 = 2,189.8875 USDT at
    # 61,800.3 → 0.035434 BTC → 0.035 BTC on the 0.001 lot.
    state, source = base_state(10_000 * USDT, {btc: -450 * BTC_LOT})
    source["edits"] = ["short 0.45 BTC; cash set so equity is 10,000 USDT"]
    write(bot, "hard", "A 0.1 BTC sale would take leverage to 3.4× (cap 3×): cut to 0.035 BTC, "
          "the largest lot that fits.", state, source, order(f"{bot}/h", "SELL", 100 * BTC_LOT),
          expected("APPROVE", ["RISK_LEVERAGE_RESHAPED"], "", "RESHAPE",
                   reshaped={"size": 35 * BTC_LOT}))  # fmt: skip
    # Insolvent as an exchange holds it: short 0.1 BTC entered at 50,000 (cost basis −5,000
    # USDT) with the book at 61,800.25: unrealized −1,180.025 USDT; cash 6,080.025 USDT
    # (equity −100 = 6,080.025 − 6,180.025), so the exchange's wallet is 6,080.025 − 5,000 =
    # +1,080.025 USDT and its margin balance 1,080.025 − 1,180.025 = −100 USDT.
    state, source = base_state(-100 * USDT, {btc: -100 * BTC_LOT},
                               entries={btc: 50_000 * USDT})  # fmt: skip
    source["edits"] = ["short 0.1 BTC entered at 50,000 USDT; cash set so equity is −100 USDT "
                       "(insolvent: the unrealized loss of 1,180.025 USDT exceeds the wallet "
                       "of 1,080.025 USDT, before liquidation)"]  # fmt: skip
    write(bot, "failure", "Equity is negative (a short's unrealized loss exceeds the wallet): "
          "leverage cannot be measured, a sale adding to the short is refused.", state, source,
          order(f"{bot}/f", "SELL", 10 * BTC_LOT),
          expected("REJECT", ["RISK_LEVERAGE_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def marginguard() -> None:
    bot = "risk.marginguard"
    btc = token("BTC")
    # 0.1 BTC: maintenance 0.4 % × 6,180.025 = 24.7201 USDT on 10,000: 0.25 %.
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT})
    source["edits"] = ["long 0.1 BTC; cash set so equity is 10,000 USDT"]
    write(bot, "normal", "Margin ratio 0.25 %, 0.27 % after a 0.01 BTC buy: approved.",
          state, source, order(f"{bot}/n", "BUY", 10 * BTC_LOT),
          expected("APPROVE", [], "", "APPROVE"))  # fmt: skip
    # short 0.45 BTC: maintenance 0.4 % × 27,810.1125 = 111.2405 USDT on 200: 55.6 % ≥ 50 %.
    state, source = base_state(200 * USDT, {btc: -450 * BTC_LOT})
    source["edits"] = ["short 0.45 BTC; cash set so equity is 200 USDT"]
    write(bot, "warning", "Margin ratio 55.6 % (soft level 50 %): a 0.05 BTC buy-back passes "
          "and the desk enters REDUCING.", state, source, order(f"{bot}/w", "BUY", 50 * BTC_LOT),
          expected("APPROVE", ["RISK_MARGIN_WARN"], "", "APPROVE",
                   trading_state="REDUCING"))  # fmt: skip
    # 111.2405 / 130 = 85.6 % ≥ 80 %.
    state, source = base_state(130 * USDT, {btc: -450 * BTC_LOT})
    source["edits"] = ["short 0.45 BTC; cash set so equity is 130 USDT"]
    write(bot, "hard", "Margin ratio 85.6 % (hard level 80 %): HALT.",
          state, source, order(f"{bot}/h", "SELL", 10 * BTC_LOT),
          expected("HALT", ["RISK_MARGIN_HALT"], bot, "HALT",
                   trading_state="HALTED"))  # fmt: skip
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT, token("ETH"): 1_000_000},
                               coins=("BTC", "ETH"))  # fmt: skip
    source["edits"] = ["long 0.1 BTC and 1 ETH (a perpetual with no bracket table); cash set so "
                       "equity is 10,000 USDT"]  # fmt: skip
    write(bot, "failure", "A held ETHUSDT perpetual has no margin bracket table: the ratio "
          "cannot be measured, refused.", state, source, order(f"{bot}/f", "BUY", 10 * BTC_LOT),
          expected("REJECT", ["RISK_MARGIN_INPUT_INVALID"], bot, "REJECT"))  # fmt: skip


def fundingguard() -> None:
    bot = "risk.fundingguard"
    btc = token("BTC")
    # 0.01 % per 8 h × 3 funding times = 0.03 % ≤ 50 % of a 20 bps edge (0.1 %).
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT},
                               funding_rates_ppb={btc: 100_000})  # fmt: skip
    source["edits"] = ["long 0.1 BTC; equity 10,000 USDT; funding rate 0.01 % (longs pay)"]
    write(bot, "normal", "Funding 0.01 % per 8 h: a buy pays 0.03 % over 24 h, within half the "
          "20 bps edge: approved.", state, source, order(f"{bot}/n", "BUY", 10 * BTC_LOT),
          expected("APPROVE", [], "", "APPROVE"))  # fmt: skip
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT},
                               funding_rates_ppb={btc: 1_000_000})  # fmt: skip
    source["edits"] = ["long 0.1 BTC; equity 10,000 USDT; funding rate 0.1 % (longs pay)"]
    write(bot, "warning", "Funding 0.1 % ≥ 0.075 % with the long paying: a 0.05 BTC sale "
          "passes and the desk enters REDUCING.", state, source,
          order(f"{bot}/w", "SELL", 50 * BTC_LOT),
          expected("APPROVE", ["RISK_FUNDING_REDUCING"], "", "APPROVE",
                   trading_state="REDUCING"))  # fmt: skip
    write(bot, "hard", "Funding 0.1 % ≥ 0.075 % with the long paying: a buy adding to the "
          "paying side is refused and the desk enters REDUCING.", state, source,
          order(f"{bot}/h", "BUY", 10 * BTC_LOT),
          expected("REJECT", ["RISK_FUNDING_PAYING_BLOCKED"], bot, "REJECT",
                   trading_state="REDUCING"))  # fmt: skip
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT})
    source["edits"] = ["long 0.1 BTC; equity 10,000 USDT; no funding rate received"]
    write(bot, "failure", "No funding rate known for the perpetual: refused (fail closed).",
          state, source, order(f"{bot}/f", "BUY", 10 * BTC_LOT),
          expected("REJECT", ["RISK_FUNDING_MISSING"], bot, "REJECT"))  # fmt: skip


def _resting(intent_id: str, bot: str, side: str, price: int, size: int) -> dict[str, Any]:
    return {"client_order_id": f"{intent_id}/o0", "intent_id": intent_id, "bot_id": bot,
            "token_id": token("BTC"), "side": side, "price": price, "size": size,
            "post_only": True, "status": "ACCEPTED", "exchange": "binance-usdm"}  # fmt: skip


def netexposureguard() -> None:
    bot = "risk.netexposureguard"
    btc = token("BTC")
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT})
    source["edits"] = ["long 0.1 BTC; equity 10,000 USDT"]
    write(bot, "normal", "Net 6,180 USDT long, 6,798 after a 0.01 BTC buy (cap 20,000): "
          "approved.", state, source, order(f"{bot}/n", "BUY", 10 * BTC_LOT),
          expected("APPROVE", [], "", "APPROVE"))  # fmt: skip
    resting = _resting("strat.mean_reversion/1", "strat.mean_reversion", "BUY",
                       61_700_000_000, 50 * BTC_LOT)  # fmt: skip
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT}, open_orders=[resting])
    source["edits"] = ["long 0.1 BTC; equity 10,000 USDT; strat.mean_reversion works a 0.05 BTC "
                       "buy at 61,700"]  # fmt: skip
    write(bot, "warning", "strat.mean_reversion already works a buy when strat.ema_cross buys: "
          "two strategies push long together, flagged (net 9,883 USDT, within the cap).",
          state, source, order(f"{bot}/w", "BUY", 10 * BTC_LOT),
          expected("APPROVE", ["RISK_NETEXPOSURE_SAME_DIRECTION"], "", "APPROVE"))  # fmt: skip
    # 0.3 BTC = 18,540.075; room 1,459.925 USDT at 61,800.2 → 0.023623 BTC → 0.023 BTC.
    state, source = base_state(20_000 * USDT, {btc: 300 * BTC_LOT})
    source["edits"] = ["long 0.3 BTC; equity 20,000 USDT"]
    write(bot, "hard", "A 0.05 BTC buy would take the net long to 21,630 USDT (cap 20,000): cut "
          "to 0.023 BTC.", state, source, order(f"{bot}/h", "BUY", 50 * BTC_LOT),
          expected("APPROVE", ["RISK_NETEXPOSURE_RESHAPED"], "", "RESHAPE",
                   reshaped={"size": 23 * BTC_LOT}))  # fmt: skip
    state, source = base_state(10_000 * USDT, {btc: 100 * BTC_LOT})
    source["edits"] = ["an intent on binance-usdm:NOPEUSDT, an instrument the desk does not know "
                       "(the desk's known-token check is off for this case)"]  # fmt: skip
    write(bot, "failure", "The intent's instrument is unknown: refused.", state, source,
          order(f"{bot}/f", "BUY", 10 * BTC_LOT, token_id="binance-usdm:NOPEUSDT"),
          expected("REJECT", ["RISK_NETEXPOSURE_INPUT_INVALID"], bot, "REJECT"),
          harness={"require_known_tokens": False})  # fmt: skip


def main() -> None:
    for make in (leverageguard, marginguard, fundingguard, netexposureguard):
        make()


if __name__ == "__main__":
    main()
