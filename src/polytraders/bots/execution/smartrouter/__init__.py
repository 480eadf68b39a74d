"""``exec.smartrouter``: CTF Exchange V2 routing wrapper (tick and size rounding, minimums,
exchange choice, builderCode, post-only makers, GTD margin, batches, complement routing)."""

from polytraders.bots.execution.smartrouter.bot import SmartRouter
from polytraders.bots.execution.smartrouter.config import SEARCH_SPACE, SmartRouterConfig

__all__ = ["SEARCH_SPACE", "SmartRouter", "SmartRouterConfig"]
