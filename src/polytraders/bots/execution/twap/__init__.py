"""``exec.twap``: time-weighted child orders over a duration (lot, minimum size and book depth
respected), and the "unwind by TWAP" intent of a position."""

from polytraders.bots.execution.twap.bot import Twap, unwind_intent
from polytraders.bots.execution.twap.config import SEARCH_SPACE, TwapConfig
from polytraders.bots.execution.twap.schedule import twap_slices

__all__ = ["SEARCH_SPACE", "Twap", "TwapConfig", "twap_slices", "unwind_intent"]
