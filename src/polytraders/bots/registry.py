"""The bot library's index: bot id → bot class, for desk files, schemas and reports.

The default desk (DESIGN.md, the operator's promotion-path page) runs ``strat.maker_tight``,
the seven risk guards in :data:`DEFAULT_RISK_ORDER`, and ``exec.smartrouter``; the signal
strategies ``strat.ema_cross`` and ``strat.mean_reversion`` and the crypto guards
(``risk.leverageguard``, ``risk.marginguard``, ``risk.fundingguard``, ``risk.netexposureguard``)
run when a desk file names them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from polytraders.bots.execution.smartrouter.bot import SmartRouter
from polytraders.bots.execution.twap.bot import Twap
from polytraders.bots.risk.compliancegate import ComplianceGate
from polytraders.bots.risk.drawdownguard import DrawdownGuard
from polytraders.bots.risk.exposureguard import ExposureGuard
from polytraders.bots.risk.fundingguard import FundingGuard
from polytraders.bots.risk.killswitch import KillSwitch
from polytraders.bots.risk.leverageguard import LeverageGuard
from polytraders.bots.risk.marginguard import MarginGuard
from polytraders.bots.risk.markethaltguard import MarketHaltGuard
from polytraders.bots.risk.marketqualityguard import MarketQualityGuard
from polytraders.bots.risk.netexposureguard import NetExposureGuard
from polytraders.bots.risk.stalebookguard import StaleBookGuard
from polytraders.bots.strategy.ema_cross.bot import EmaCross
from polytraders.bots.strategy.maker_tight.bot import MakerTight
from polytraders.bots.strategy.mean_reversion.bot import MeanReversion

BOTS: Final[MappingProxyType[str, Any]] = MappingProxyType(
    {
        cls.bot_id: cls
        for cls in (
            MakerTight,
            KillSwitch,
            ComplianceGate,
            MarketHaltGuard,
            StaleBookGuard,
            MarketQualityGuard,
            ExposureGuard,
            DrawdownGuard,
            LeverageGuard,
            MarginGuard,
            FundingGuard,
            NetExposureGuard,
            SmartRouter,
            EmaCross,
            MeanReversion,
            Twap,
        )
    }
)
"""Every bot of the library by id."""

DEFAULT_STRATEGY: Final = MakerTight.bot_id
DEFAULT_EXECUTION: Final = SmartRouter.bot_id
DEFAULT_RISK_ORDER: Final = (
    KillSwitch.bot_id,  # hard stop first: nothing passes a tripped desk
    ComplianceGate.bot_id,  # who may trade what, with which signer and builder code
    MarketHaltGuard.bot_id,  # is the market open at all
    StaleBookGuard.bot_id,  # is what we see current
    MarketQualityGuard.bot_id,  # is the book good enough to trade
    DrawdownGuard.bot_id,  # portfolio state (REDUCING / HALT)
    ExposureGuard.bot_id,  # last: reshapes the size that is left to fit the caps
)
"""The seven guards in the default desk's order: cheap, absolute vetoes first; the guard that
reshapes size last, so it sizes an intent every other guard has already accepted."""


def bot_class(bot_id: str) -> Any:
    """The class of a library bot.

    Raises:
        KeyError: no bot with that id (the message lists the known ids).
    """
    try:
        return BOTS[bot_id]
    except KeyError:
        raise KeyError(f"unknown bot {bot_id!r}; known bots: {', '.join(sorted(BOTS))}") from None
