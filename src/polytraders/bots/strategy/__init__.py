"""Strategy bots: propose place / cancel / replace intents from the desk view.

:data:`STRATEGY_BOTS` maps each strategy's bot id to its class (for the CLI, the desk
configuration and the readiness checks).
"""

from polytraders.bots.strategy.maker_tight import MakerTight

STRATEGY_BOTS: dict[str, type[MakerTight]] = {MakerTight.bot_id: MakerTight}
"""Every strategy bot class by bot id."""

__all__ = ["STRATEGY_BOTS", "MakerTight"]
