"""``strat.ema_cross``: directional EMA crossover on bar closes, entering only in a trending
regime (:class:`EmaCross`, :mod:`.bot`; shared machinery in :mod:`..signal_trader`)."""

from polytraders.bots.strategy.ema_cross.bot import EmaCross
from polytraders.bots.strategy.ema_cross.config import SEARCH_SPACE, EmaCrossConfig

__all__ = ["SEARCH_SPACE", "EmaCross", "EmaCrossConfig"]
