"""``exec.twap``: time-weighted child orders over a duration (lot, minimum size and book depth
respected), and the "unwind by TWAP" intent of a position."""

from polytraders.bots.execution.twap.bot import Twap
from polytraders.bots.execution.twap.config import SEARCH_SPACE, TwapConfig
from polytraders.bots.execution.twap.schedule import twap_slices
from polytraders.model.orders import unwind_intent

__all__ = ["SEARCH_SPACE", "Twap", "TwapConfig", "twap_slices", "unwind_intent"]
