"""Execution bots: turn approved intents into venue orders (never larger, never another side
or token except the economically identical complement).

:data:`EXECUTION_BOTS` maps each execution bot's id to its class.
"""

from polytraders.bots.execution.smartrouter import SmartRouter

EXECUTION_BOTS: dict[str, type[SmartRouter]] = {SmartRouter.bot_id: SmartRouter}
"""Every execution bot class by bot id."""

__all__ = ["EXECUTION_BOTS", "SmartRouter"]
