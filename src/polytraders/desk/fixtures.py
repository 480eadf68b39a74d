"""Builders for fixture packs: a binary market in one call (use with
:meth:`polytraders.desk.state.DeskState.build`)."""

from __future__ import annotations

from polytraders.model.market import Market, MarketState, OutcomeToken


def binary_market(
    market_id: str = "m1",
    yes_token_id: str = "yes",
    no_token_id: str = "no",
    *,
    tick_size: int = 10_000,
    min_order_size: int = 5_000_000,
    category: str = "crypto",
    state: MarketState = MarketState.ACTIVE,
    end_ns: int = 0,
    neg_risk: bool = False,
) -> Market:
    """A binary market whose two tokens are each other's complement (outcomes "Yes"/"No").

    Args:
        market_id, yes_token_id, no_token_id: ids.
        tick_size: price tick (micro), 10_000 = 0.01.
        min_order_size: minimum resting size (micro-shares).
        category: selects the fee rate.
        state: market state.
        end_ns: end of trading (ns since epoch), 0 if unknown.
        neg_risk: neg-risk flag of both tokens.
    """
    tokens = (
        OutcomeToken(
            token_id=yes_token_id,
            market_id=market_id,
            outcome="Yes",
            complement_token_id=no_token_id,
            tick_size=tick_size,
            min_order_size=min_order_size,
            neg_risk=neg_risk,
        ),
        OutcomeToken(
            token_id=no_token_id,
            market_id=market_id,
            outcome="No",
            complement_token_id=yes_token_id,
            tick_size=tick_size,
            min_order_size=min_order_size,
            neg_risk=neg_risk,
        ),
    )
    return Market(
        market_id=market_id,
        slug=market_id,
        category=category,
        state=state,
        tokens=tokens,
        end_ns=end_ns,
    )
