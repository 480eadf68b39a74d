"""A strategy that proposes one well-formed quote, optionally with fields corrupted (a test
double for the desk's intake)."""

from __future__ import annotations

from typing import Any

import msgspec

from polytraders.contracts.decisions import Proposal
from polytraders.contracts.view import DeskView
from polytraders.model.events import AnyEvent, BookDelta, BookSnapshot
from polytraders.model.orders import OrderIntent, Side
from tests.desk.doubles import QuoteBot


class OneQuote(QuoteBot):
    """On the first book event of a token whose book and complement book both have two sides,
    proposes one post-only GTC BUY of
    10 shares at the best bid (``<bot_id>/1``), with ``corrupt`` replacing fields as is; again
    on the next such events while ``times`` lasts (the same id: a reuse)."""

    bot_id = "strat.onequote"

    def __init__(self, corrupt: dict[str, Any] | None = None, *, times: int = 1) -> None:
        super().__init__("", "")
        self.corrupt = corrupt or {}
        self.times = times
        self.proposed: OrderIntent | None = None

    def decide(self, event: AnyEvent, view: DeskView, /) -> Proposal:
        if self.times <= 0 or not isinstance(event, BookSnapshot | BookDelta):
            return Proposal()
        token = view.token(event.token_id)
        if token is None:
            return Proposal()
        books = [view.book(token.token_id), view.book(token.complement_token_id)]
        if any(b is None or b.best_bid() is None or b.best_ask() is None for b in books):
            return Proposal()
        bid = books[0].best_bid()  # type: ignore[union-attr]
        assert bid is not None
        intent = OrderIntent(
            intent_id=f"{self.bot_id}/1",
            bot_id=self.bot_id,
            token_id=token.token_id,
            market_id=token.market_id,
            side=Side.BUY,
            price=bid,
            size=10_000_000,
            post_only=True,
            builder_code=view.account.builder_code,
            ts_created_ns=view.now_ns,
        )
        self.proposed = msgspec.structs.replace(intent, **self.corrupt)
        self.times -= 1
        return Proposal(intents=(self.proposed,))
