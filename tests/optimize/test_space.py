"""SearchSpace → Optuna: every sampler suggests valid configs of every tunable library bot;
per-trial seeds; stepped floats snapped; spaces the optimizer cannot search are refused."""

from __future__ import annotations

import optuna
import pytest

from polytraders.bots.registry import BOTS
from polytraders.bots.strategy.maker_tight import SEARCH_SPACE, MakerTightConfig
from polytraders.contracts.search_space import FloatParam, SearchSpace
from polytraders.optimize.samplers import SAMPLERS, SamplerError, make_sampler, sampler_seed
from polytraders.optimize.space import snapped, space_problems, suggest

TUNABLE = sorted(bot_id for bot_id, cls in BOTS.items() if len(cls.SEARCH_SPACE))


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("bot_id", TUNABLE)
def test_every_sampler_suggests_valid_configs(sampler: str, bot_id: str) -> None:
    space = BOTS[bot_id].SEARCH_SPACE
    assert space_problems(bot_id, space) == []
    study = optuna.create_study(direction="maximize")
    for number in range(3):
        study.sampler = make_sampler(sampler, sampler_seed(7, number))
        trial = study.ask()
        params = snapped(space, suggest(trial, space))
        assert set(params) == set(space.names())
        config = space.build(params)  # raises on a value outside the hard limits
        assert isinstance(config, BOTS[bot_id].Config)
        study.tell(trial, float(number))


def test_the_same_seed_and_number_suggest_the_same_parameters() -> None:
    def first(seed: int, number: int) -> dict[str, object]:
        study = optuna.create_study(sampler=make_sampler("tpe", sampler_seed(seed, number)))
        return suggest(study.ask(), SEARCH_SPACE)

    assert first(7, 3) == first(7, 3)
    assert first(7, 3) != first(7, 4)
    assert sampler_seed(7, 3) != sampler_seed(8, 3)
    assert 0 <= sampler_seed(2**63 - 1, 10**6) < 2**32


def test_stepped_floats_are_snapped_to_their_step() -> None:
    params = {"regime_exit_ratio": 0.9000000000000001, "volatile_atr_ticks": 2.7552851500326}
    assert snapped(SEARCH_SPACE, params) == {
        "regime_exit_ratio": 0.9,
        "volatile_atr_ticks": 2.7552851500326,  # a log-scale float has no step: unchanged
    }


def test_spaces_the_optimizer_cannot_search() -> None:
    assert "empty search space" in space_problems("b", SearchSpace(MakerTightConfig))[0]
    both = SearchSpace(
        MakerTightConfig, FloatParam(name="vol_widen_ratio", low=0.5, high=3.0, step=0.5, log=True)
    )
    assert any("both step and log" in p for p in space_problems("b", both))
    outside = SearchSpace(MakerTightConfig, FloatParam(name="vol_widen_ratio", low=0.0, high=99.0))
    assert any("outside the config's hard limits" in p for p in space_problems("b", outside))
    assert space_problems("b", object()) == ["b: SEARCH_SPACE is not a SearchSpace"]


def test_an_unknown_sampler_is_refused() -> None:
    with pytest.raises(SamplerError, match="--sampler grid: unknown"):
        make_sampler("grid", 1)
