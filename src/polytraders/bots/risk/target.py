"""Resolve what an intent trades: its outcome token and market, read from the desk view.

Shared by the risk guards so every guard applies the same fail-closed rule: an intent whose
token is unknown, whose market is unknown, or whose ``market_id`` disagrees with the token's
market cannot be checked, and the calling guard rejects it with its own input code.
"""

from __future__ import annotations

from typing import NamedTuple

from polytraders.contracts.view import DeskView
from polytraders.model.market import Market, OutcomeToken
from polytraders.model.orders import OrderIntent


class Target(NamedTuple):
    """The token an intent trades and the market it belongs to."""

    token: OutcomeToken
    market: Market


def resolve_target(intent: OrderIntent, view: DeskView) -> Target | None:
    """The intent's token and market, or None when either is unknown or they disagree.

    Disagreement: the intent names a ``market_id`` other than the token's, or the market does
    not list the token.
    """
    token = view.token(intent.token_id)
    if token is None or (intent.market_id and intent.market_id != token.market_id):
        return None
    market = view.market(token.market_id)
    if market is None:
        return None
    token_id = token.token_id
    for listed in market.tokens:
        if listed.token_id == token_id:
            return Target(token, market)
    return None
