"""``strat.maker_tight``: reference market maker for binary markets, built from separate units:
fair value (:mod:`.fair_value`), regime detector (:mod:`.regime`), spread engine
(:mod:`.spread`), order sizer (:mod:`.sizer`), fee manager (:mod:`.fees`) and quote manager
(:mod:`.quotes`), wired together by :class:`MakerTight` (:mod:`.bot`)."""

from polytraders.bots.strategy.maker_tight.bot import MakerTight
from polytraders.bots.strategy.maker_tight.config import SEARCH_SPACE, MakerTightConfig

__all__ = ["SEARCH_SPACE", "MakerTight", "MakerTightConfig"]
