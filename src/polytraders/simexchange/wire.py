"""The JSON shapes of Binance USDⓈ-M REST answers, from the simulator's exact state.

Field names and string/number types follow Binance's USDⓈ-M REST reference (and the response
examples in ccxt 4.5.90's ``binance.py``): prices at ``pricePrecision`` decimals, quantities at
``quantityPrecision``, USDT amounts at 8 decimals (exact: micro-units padded), ids and times
as JSON integers.
"""

from __future__ import annotations

from typing import Any

from polytraders.model.money import MICROS, fixed_micros, from_micros
from polytraders.model.orders import Side
from polytraders.model.perp import initial_margin, notional
from polytraders.simexchange.engine import (
    AlgoOrder,
    FuturesExchange,
    Income,
    UserTrade,
)
from polytraders.simexchange.matching import SimOrder


def usdt(value: int) -> str:
    """Micro-USDT as Binance's 8-decimal text (``"12.34000000"``)."""
    return fixed_micros(value, 6) + "00"


def _side(side: Side) -> str:
    return "BUY" if side is Side.BUY else "SELL"


def exchange_info(ex: FuturesExchange, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/exchangeInfo``: every replayed symbol of ``ex``'s account
    (:attr:`~polytraders.simexchange.engine.FuturesExchange.peers`) with its filters."""
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [_symbol_info(market) for market in ex.peers],
    }


def _symbol_info(ex: FuturesExchange) -> dict[str, Any]:
    """One ``exchangeInfo`` symbol: the recording's grid, the settings' filters."""
    inst = ex.instrument
    settings = ex.settings
    return {
        "symbol": ex.symbol,
        "pair": ex.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": ex.symbol.removesuffix("USDT"),
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": settings.price_decimals,
        "quantityPrecision": settings.qty_decimals,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": ex.price_text(inst.price_increment),
                "maxPrice": "4529764",
                "tickSize": fixed_micros(inst.price_increment, 2),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": ex.qty_text(inst.min_size),
                "maxQty": ex.qty_text(settings.max_qty_micros),
                "stepSize": ex.qty_text(inst.size_increment),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": ex.qty_text(inst.min_size),
                "maxQty": ex.qty_text(settings.max_qty_micros),
                "stepSize": ex.qty_text(inst.size_increment),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {
                "filterType": "MIN_NOTIONAL",
                "notional": fixed_micros(settings.min_notional_micros, 0),
            },
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def depth(ex: FuturesExchange, limit: int, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/depth``: the top ``limit`` levels, best first, with ``lastUpdateId``."""
    return {
        "lastUpdateId": ex.last_update_id,
        "E": ex.last_event_ms or now_ms,
        "T": ex.last_event_ms or now_ms,
        "bids": [[ex.price_text(p), ex.qty_text(q)] for p, q in ex.book.bids(limit)],
        "asks": [[ex.price_text(p), ex.qty_text(q)] for p, q in ex.book.asks(limit)],
    }


def order(ex: FuturesExchange, o: SimOrder) -> dict[str, Any]:
    """An order as ``POST``/``DELETE``/``GET /fapi/v1/order`` and ``openOrders`` answer it."""
    average = o.cum_quote * MICROS // o.executed_qty if o.executed_qty else 0
    return {
        "orderId": o.order_id,
        "symbol": ex.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": ex.price_text(o.price),
        "avgPrice": fixed_micros(average, 6) if average else "0.00",
        "origQty": ex.qty_text(o.orig_qty),
        "executedQty": ex.qty_text(o.executed_qty),
        "cumQty": ex.qty_text(o.executed_qty),
        "cumQuote": usdt(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.order_type,
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": _side(o.side),
        "positionSide": "BOTH",
        "stopPrice": "0.00",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": o.order_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time_ms,
        "updateTime": o.update_ms,
    }


def algo_order(ex: FuturesExchange, a: AlgoOrder) -> dict[str, Any]:
    """A conditional order as ``POST``/``GET /fapi/v1/algoOrder`` and ``openAlgoOrders``
    answer it (the New Algo Order and Query Algo Order references; ccxt 4.5.90 quotes the same
    shape): ``quantity`` ``"0.000"`` for a close-position order; ``actualOrderId`` and
    ``actualPrice`` (the MARKET order it became, its average price) empty/zero until
    triggered."""
    actual = ex.orders.get(a.actual_order_id)
    average = (
        actual.cum_quote * MICROS // actual.executed_qty if actual and actual.executed_qty else 0
    )
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type,
        "symbol": ex.symbol,
        "side": _side(a.side),
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": ex.qty_text(a.quantity),
        "algoStatus": a.status,
        "actualOrderId": str(a.actual_order_id) if a.actual_order_id else "",
        "actualPrice": ex.price_text(average),
        "triggerPrice": ex.price_text(a.trigger_price),
        "price": ex.price_text(0),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": False,
        "reduceOnly": a.reduce_only,
        "createTime": a.create_ms,
        "updateTime": a.update_ms,
        "triggerTime": a.trigger_ms,
        "goodTillDate": 0,
    }


def user_trade(ex: FuturesExchange, t: UserTrade) -> dict[str, Any]:
    """One ``GET /fapi/v1/userTrades`` entry."""
    return {
        "symbol": ex.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "side": _side(t.side),
        "price": ex.price_text(t.price),
        "qty": ex.qty_text(t.qty),
        "realizedPnl": usdt(t.realized_pnl),
        "quoteQty": usdt(t.quote_qty),
        "commission": usdt(t.commission),
        "commissionAsset": "USDT",
        "time": t.time_ms,
        "positionSide": "BOTH",
        "buyer": t.side is Side.BUY,
        "maker": t.maker,
    }


def _margins(ex: FuturesExchange) -> tuple[int, int, int]:
    """(position initial margin, open-order initial margin, position notional at mark)."""
    position_notional = notional(ex.position, ex.mark_price())
    open_notional = sum(
        o.remaining * o.price // MICROS for o in ex.open_orders() if not o.reduce_only
    )
    return (
        initial_margin(position_notional, ex.leverage),
        initial_margin(open_notional, ex.leverage),
        position_notional,
    )


def position_risk(ex: FuturesExchange, now_ms: int) -> list[dict[str, Any]]:
    """``GET /fapi/v3/positionRisk``: the symbol's one-way position (listed only when open,
    as v3 does), with its maintenance margin and liquidation price ("0" when none)."""
    amount = ex.position.size
    if not amount:
        return []
    position_im, order_im, position_notional = _margins(ex)
    liquidation = ex.liquidation_price()
    return [
        {
            "symbol": ex.symbol,
            "positionSide": "BOTH",
            "positionAmt": fixed_micros(amount, ex.settings.qty_decimals),
            "entryPrice": fixed_micros(ex.position.avg_entry_price_micros(), 6),
            "breakEvenPrice": "0.0",
            "markPrice": usdt(ex.mark_price()),
            "unRealizedProfit": usdt(ex.unrealized_pnl()),
            "liquidationPrice": usdt(liquidation) if liquidation else "0",
            "isolatedMargin": "0",
            "notional": usdt(position_notional if amount > 0 else -position_notional),
            "marginAsset": "USDT",
            "isolatedWallet": "0",
            "initialMargin": usdt(position_im + order_im),
            "maintMargin": usdt(ex.maintenance_margin()),
            "positionInitialMargin": usdt(position_im),
            "openOrderInitialMargin": usdt(order_im),
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": now_ms,
        }
    ]


def leverage_brackets(ex: FuturesExchange) -> list[dict[str, Any]]:
    """``GET /fapi/v1/leverageBracket``: the account's bracket table as Binance serves it (JSON
    numbers: a ratio in ppm is its decimal in micro-units; the shortest float text of a
    6-decimal number reads back as that decimal)."""
    return [
        {
            "symbol": ex.symbol,
            "brackets": [
                {
                    "bracket": number,
                    "initialLeverage": b.max_leverage,
                    "notionalCap": b.cap_micros // MICROS,
                    "notionalFloor": b.floor_micros // MICROS,
                    "maintMarginRatio": float(from_micros(b.maint_ratio_ppm)),
                    "cum": float(from_micros(b.maint_amount_micros)),
                }
                for number, b in enumerate(ex.account.brackets, start=1)
            ],
        }
    ]


def income(ex: FuturesExchange, row: Income) -> dict[str, Any]:
    """One ``GET /fapi/v1/income`` entry."""
    return {
        "symbol": ex.symbol,
        "incomeType": row.income_type,
        "income": usdt(row.amount),
        "asset": "USDT",
        "info": row.income_type,
        "time": row.time_ms,
        "tranId": row.tran_id,
        "tradeId": "",
    }


def account(ex: FuturesExchange, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v3/account`` (``/fapi/v2/account`` has the same balance fields): the cross
    account ``ex`` belongs to (one USDT asset; margins, unrealized PnL and maintenance summed
    over its markets, :attr:`~polytraders.simexchange.engine.FuturesExchange.peers`; every
    open position listed)."""
    markets = ex.peers
    margins = [_margins(m) for m in markets]
    position_im = sum(m[0] for m in margins)
    order_im = sum(m[1] for m in margins)
    upnl = sum(m.unrealized_pnl() for m in markets)
    maintenance = usdt(sum(m.maintenance_margin() for m in markets))
    margin_balance = ex.wallet + upnl
    available = margin_balance - position_im - order_im
    asset = {
        "asset": "USDT",
        "walletBalance": usdt(ex.wallet),
        "unrealizedProfit": usdt(upnl),
        "marginBalance": usdt(margin_balance),
        "maintMargin": maintenance,
        "initialMargin": usdt(position_im + order_im),
        "positionInitialMargin": usdt(position_im),
        "openOrderInitialMargin": usdt(order_im),
        "crossWalletBalance": usdt(ex.wallet),
        "crossUnPnl": usdt(upnl),
        "availableBalance": usdt(available),
        "maxWithdrawAmount": usdt(max(available, 0)),
        "updateTime": now_ms,
    }
    return {
        "totalInitialMargin": asset["initialMargin"],
        "totalMaintMargin": maintenance,
        "totalWalletBalance": asset["walletBalance"],
        "totalUnrealizedProfit": asset["unrealizedProfit"],
        "totalMarginBalance": asset["marginBalance"],
        "totalPositionInitialMargin": asset["positionInitialMargin"],
        "totalOpenOrderInitialMargin": asset["openOrderInitialMargin"],
        "totalCrossWalletBalance": asset["crossWalletBalance"],
        "totalCrossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
        "assets": [asset],
        "positions": [
            {
                "symbol": p["symbol"],
                "positionSide": "BOTH",
                "positionAmt": p["positionAmt"],
                "unrealizedProfit": p["unRealizedProfit"],
                "isolatedMargin": "0",
                "notional": p["notional"],
                "isolatedWallet": "0",
                "initialMargin": p["initialMargin"],
                "maintMargin": p["maintMargin"],
                "updateTime": now_ms,
            }
            for m in markets
            for p in position_risk(m, now_ms)
        ],
    }


def premium_index(ex: FuturesExchange, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/premiumIndex``: mark = index = the book's mid, the configured funding
    rate, next funding at the next funding time of the exchange's schedule (00:00, 08:00,
    16:00 UTC of the recording, shifted by the session's time offset:
    :meth:`~polytraders.simexchange.engine.FuturesExchange.next_funding_ms`)."""
    mark = ex.mark_price()
    return {
        "symbol": ex.symbol,
        "markPrice": usdt(mark),
        "indexPrice": usdt(mark),
        "estimatedSettlePrice": usdt(mark),
        "lastFundingRate": fixed_micros(ex.funding_rate_ppm, 6) + "00",
        "interestRate": "0.00010000",
        "nextFundingTime": ex.next_funding_ms(now_ms),
        "time": now_ms,
    }
