"""What each library bot's state and decisions depend on: one market at a time, or the whole
portfolio (``docs/runs.md``, "Runs split by market").

A bot of scope :attr:`Scope.MARKET` decides on an event or intent from that market's data and
our own state in that market (books, tokens, tick changes, market state and end time, our
positions and open orders there, the account's public identity) and keeps state per market
only, so it decides the same whether the desk trades one market or many. A bot of scope
:attr:`Scope.PORTFOLIO` reads or acts on something the markets share: the account's equity,
its peak or day-start value, exposure summed across markets, the desk-wide trading state or
kill switch. A desk whose bots are all of market scope can run each market as a sub-run of
its own (:mod:`polytraders.backtest.partition`).

The declarations live here rather than in each bot's module because a bot's code digest is
part of every run id it takes part in (:func:`~polytraders.backtest.bot_source.code_sha256`):
declaring it there would change the id and timeline of every recorded run. A user's bot has
no declaration: the desk cannot read its code, so it counts as coupling the markets.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from polytraders.bots.registry import BOTS


class Scope(StrEnum):
    """What a bot's state and decisions depend on."""

    MARKET = "market"
    PORTFOLIO = "portfolio"


class Declaration(NamedTuple):
    """A library bot's scope and, in a few words, what it reads that gives it that scope."""

    scope: Scope
    reads: str


DECLARATIONS: Final[MappingProxyType[str, Declaration]] = MappingProxyType(
    {
        "strat.maker_tight": Declaration(
            Scope.MARKET,
            "each market's two books, its own position and working orders there; its regime, "
            "quote and disagreement state is kept per market (only its intent counter is "
            "shared: ids, not decisions)",
        ),
        "risk.killswitch": Declaration(
            Scope.PORTFOLIO,
            "the day's loss of the account's equity, the desk's error streak, feed silence "
            "across every market, and it trips the desk-wide kill switch",
        ),
        "risk.compliancegate": Declaration(
            Scope.MARKET,
            "the order's builderCode, the account's signer and funder, and the order's market "
            "and category against its lists",
        ),
        "risk.markethaltguard": Declaration(
            Scope.MARKET,
            "the order's market state, tick changes and end time, and the venue's mode (an "
            "input, the same for every market)",
        ),
        "risk.stalebookguard": Declaration(
            Scope.MARKET, "the age and stale flag of the order's token's book and its complement's"
        ),
        "risk.marketqualityguard": Declaration(
            Scope.MARKET, "the spread and depth of the order's token's book"
        ),
        "risk.drawdownguard": Declaration(
            Scope.PORTFOLIO,
            "the account's equity against its peak, and it sets the desk-wide trading state "
            "(REDUCING, HALTED)",
        ),
        "risk.exposureguard": Declaration(
            Scope.PORTFOLIO,
            "worst-case loss summed over every position and open order: its event and total "
            "caps span markets",
        ),
        "risk.leverageguard": Declaration(
            Scope.PORTFOLIO,
            "the account's equity against the gross notional of every instrument held or "
            "worked: its cap spans instruments",
        ),
        "risk.marginguard": Declaration(
            Scope.PORTFOLIO,
            "the account's equity against the maintenance margin of every perpetual held, and "
            "it sets the desk-wide trading state (REDUCING, HALTED)",
        ),
        "risk.fundingguard": Declaration(
            Scope.PORTFOLIO,
            "each perpetual's funding rate and our position there; its monitor sweeps every "
            "perpetual held and sets the desk-wide trading state (REDUCING)",
        ),
        "risk.netexposureguard": Declaration(
            Scope.MARKET,
            "the order's instrument: our position at mark and every strategy's open orders "
            "there (its cap and same-direction flag are per instrument)",
        ),
        "strat.ema_cross": Declaration(
            Scope.MARKET,
            "each traded token's book, order rules, its market's state and end time, and its "
            "own position and working order there; bars, EMAs, regime and target are kept per "
            "token (only its intent counter is shared: ids, not decisions)",
        ),
        "strat.mean_reversion": Declaration(
            Scope.MARKET,
            "each traded token's book, order rules, its market's state and end time, and its "
            "own position and working order there; bars, bands, RSI, regime and target are "
            "kept per token (only its intent counter is shared: ids, not decisions)",
        ),
        "exec.smartrouter": Declaration(
            Scope.MARKET,
            "the intent's token and complement: their books, our position and our open orders "
            "of that intent or token",
        ),
        "exec.twap": Declaration(
            Scope.MARKET,
            "the intent's token: its book at each child's release, our position and our open "
            "orders of that token or intent",
        ),
    }
)
"""Every library bot's declaration, by bot id (a test keeps it complete)."""


def declaration(cls: Any) -> Declaration | None:
    """The library's declaration for ``cls``, or None when ``cls`` is not the library bot of
    its id (a user's bot: undeclared)."""
    bot_id = getattr(cls, "bot_id", "")
    if BOTS.get(bot_id) is not cls:
        return None
    return DECLARATIONS.get(bot_id)
