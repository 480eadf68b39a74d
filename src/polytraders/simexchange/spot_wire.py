"""The JSON shapes of Binance spot REST answers, from the spot simulator's exact state.

Field names and types follow Binance's spot REST reference (General endpoints, Market data,
Trading and Account endpoints, developers.binance.com/docs/binance-spot-api-docs/rest-api):
every price, quantity, balance and commission as decimal text with 8 decimals, ids and times
as JSON integers, ``orderListId`` -1 (no order lists).
"""

from __future__ import annotations

from typing import Any

from polytraders.model.orders import Side
from polytraders.simexchange.matching import SimOrder
from polytraders.simexchange.spot import E8, SpotExchange, SpotTrade


def e8_text(value: int) -> str:
    """10⁻⁸ units as Binance's 8-decimal text (``"0.00100000"``)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), E8)
    return f"{sign}{whole}.{frac:08d}"


def _side(side: Side) -> str:
    return "BUY" if side is Side.BUY else "SELL"


def exchange_info(ex: SpotExchange, now_ms: int) -> dict[str, Any]:
    """``GET /api/v3/exchangeInfo``: the one replayed symbol with its filters."""
    inst = ex.instrument
    settings = ex.settings
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": [
            {
                "symbol": ex.symbol,
                "status": "TRADING",
                "baseAsset": ex.base_asset,
                "baseAssetPrecision": 8,
                "quoteAsset": ex.quote_asset,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": False,
                "ocoAllowed": False,
                "otoAllowed": False,
                "quoteOrderQtyMarketAllowed": False,
                "allowTrailingStop": False,
                "cancelReplaceAllowed": False,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": ex.price_text(inst.price_increment),
                        "maxPrice": "1000000.00000000",
                        "tickSize": ex.price_text(inst.price_increment),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": ex.qty_text(inst.min_size),
                        "maxQty": ex.qty_text(settings.max_qty_micros),
                        "stepSize": ex.qty_text(inst.size_increment),
                    },
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": ex.price_text(settings.min_notional_micros),
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    },
                    {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            }
        ],
    }


def depth(ex: SpotExchange, limit: int) -> dict[str, Any]:
    """``GET /api/v3/depth``: the top ``limit`` levels, best first, with ``lastUpdateId``."""
    return {
        "lastUpdateId": ex.last_update_id,
        "bids": [[ex.price_text(p), ex.qty_text(q)] for p, q in ex.book.bids(limit)],
        "asks": [[ex.price_text(p), ex.qty_text(q)] for p, q in ex.book.asks(limit)],
    }


def _cost_e8(ex: SpotExchange, o: SimOrder) -> int:
    return sum(t.quote_qty_e8 for t in ex.trades if t.order_id == o.order_id)


def _time_in_force(o: SimOrder) -> str:
    """GTC for LIMIT_MAKER and MARKET, as Binance lists them."""
    return o.time_in_force if o.order_type == "LIMIT" else "GTC"


def _core(ex: SpotExchange, o: SimOrder) -> dict[str, Any]:
    return {
        "symbol": ex.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": ex.price_text(o.price),
        "origQty": ex.qty_text(o.orig_qty),
        "executedQty": ex.qty_text(o.executed_qty),
        "origQuoteOrderQty": e8_text(0),
        "cummulativeQuoteQty": e8_text(_cost_e8(ex, o)),
        "status": o.status,
        "timeInForce": _time_in_force(o),
        "type": o.order_type,
        "side": _side(o.side),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def new_order(ex: SpotExchange, o: SimOrder, response_type: str) -> dict[str, Any]:
    """``POST /api/v3/order``'s answer: ``ACK`` (ids and time), ``RESULT`` (the order) or
    ``FULL`` (the order and its fills, each with its commission)."""
    ack = {
        "symbol": ex.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "transactTime": o.time_ms,
    }
    if response_type == "ACK":
        return ack
    answer = {**ack, **_core(ex, o), "workingTime": o.time_ms}
    if response_type == "FULL":
        answer["fills"] = [
            {
                "price": ex.price_text(t.price),
                "qty": ex.qty_text(t.qty),
                "commission": e8_text(t.commission_e8),
                "commissionAsset": t.commission_asset,
                "tradeId": t.trade_id,
            }
            for t in ex.trades
            if t.order_id == o.order_id
        ]
    return answer


def order(ex: SpotExchange, o: SimOrder) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` and ``openOrders`` answer it."""
    return {
        **_core(ex, o),
        "stopPrice": e8_text(0),
        "icebergQty": e8_text(0),
        "time": o.time_ms,
        "updateTime": o.update_ms,
        "isWorking": True,
        "workingTime": o.time_ms,
    }


def canceled(ex: SpotExchange, o: SimOrder, cancel_client_id: str, now_ms: int) -> dict[str, Any]:
    """A cancelled order as ``DELETE /api/v3/order`` and ``/api/v3/openOrders`` answer it:
    ``origClientOrderId`` is the order's client id, ``clientOrderId`` the cancel's."""
    return {
        **_core(ex, o),
        "origClientOrderId": o.client_order_id,
        "clientOrderId": cancel_client_id,
        "transactTime": now_ms,
    }


def my_trade(ex: SpotExchange, t: SpotTrade) -> dict[str, Any]:
    """One ``GET /api/v3/myTrades`` entry."""
    return {
        "symbol": ex.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "orderListId": -1,
        "price": ex.price_text(t.price),
        "qty": ex.qty_text(t.qty),
        "quoteQty": e8_text(t.quote_qty_e8),
        "commission": e8_text(t.commission_e8),
        "commissionAsset": t.commission_asset,
        "time": t.time_ms,
        "isBuyer": t.side is Side.BUY,
        "isMaker": t.maker,
        "isBestMatch": True,
    }


def account(ex: SpotExchange, now_ms: int) -> dict[str, Any]:
    """``GET /api/v3/account``: commission rates and every asset's ``free`` and ``locked``."""
    maker, taker = ex.settings.maker_fee_bps, ex.settings.taker_fee_bps
    return {
        "makerCommission": maker,
        "takerCommission": taker,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": e8_text(maker * E8 // 10_000),
            "taker": e8_text(taker * E8 // 10_000),
            "buyer": e8_text(0),
            "seller": e8_text(0),
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": [
            {"asset": asset, "free": e8_text(ex.free(asset)), "locked": e8_text(ex.locked(asset))}
            for asset in sorted(ex.totals)
        ],
        "permissions": ["SPOT"],
        "uid": 1,
    }
