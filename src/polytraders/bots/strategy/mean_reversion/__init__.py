"""``strat.mean_reversion``: Bollinger bands and Wilder RSI on bar closes, trading only in a
neutral (NORMAL) regime (:class:`MeanReversion`, :mod:`.bot`; shared machinery in
:mod:`..signal_trader`)."""

from polytraders.bots.strategy.mean_reversion.bot import MeanReversion
from polytraders.bots.strategy.mean_reversion.config import SEARCH_SPACE, MeanReversionConfig

__all__ = ["SEARCH_SPACE", "MeanReversion", "MeanReversionConfig"]
