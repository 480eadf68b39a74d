"""The performance goals of issue 20, judged from the figures of one ``python -m bench`` run.

Each goal names the benchmark and figure it reads, its target and whether the figure meets it;
a goal whose benchmark did not run (or whose peer is not installed) is reported as not measured,
never as met. Ratios against peers use the peer's figure measured in the same run (absolute
figures drift between machines; ratios much less).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Comparison = Literal["min", "max"]

GOALS: tuple[tuple[str, str, str, Comparison, float], ...] = (
    # (goal, benchmark, figure, "min" = at least / "max" = at most, target)
    ("pipeline_level_updates_per_s", "pipeline", "level_updates_per_s", "min", 1_000_000),
    ("pipeline_ratio_vs_nautilus_mm", "pipeline", "ratio_vs_nautilus_mm", "min", 10.0),
    ("event_to_order_p99_us", "pipeline", "event_to_order_p99_us", "max", 200.0),
    ("guard_chain_p99_us", "guards", "chain_p99_us", "max", 50.0),
    # the default run (1x of the scale benchmark: the shipped sample, in its own process)
    ("default_run_peak_rss_mib", "scale", "1x_peak_rss_mib", "max", 250.0),
    # cost grows linearly: throughput at 20x within 20 % of 1x; memory sub-linear (< 20x)
    ("scale_throughput_20x_vs_1x", "scale", "throughput_20x_vs_1x", "min", 0.8),
    ("scale_rss_20x_vs_1x", "scale", "rss_20x_vs_1x", "max", 20.0),
)
"""The goals with a single figure and a fixed target (issue 20, "Deliver" 1)."""


def _figure(results: Mapping[str, Mapping[str, Any]], bench: str, key: str) -> float | None:
    value = results.get(bench, {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def peer_ratios(results: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Our pipeline's level updates/s over each peer figure of the same run: NautilusTrader's
    market maker and data-only replay (``pipeline``'s own peer run, else ``peers``'), and
    hftbacktest's Polymarket touch quoter and no-op replay (``peers``). Empty without our
    figure; a peer not measured has no ratio."""
    ours = _figure(results, "pipeline", "level_updates_per_s")
    if ours is None:
        return {}
    ratios: dict[str, float] = {}
    for name, key in (
        ("nautilus_mm", "nautilus_mm_level_updates_per_s"),
        ("nautilus_data", "nautilus_data_level_updates_per_s"),
        ("hftbacktest_pm_touch_quoter", "hft_pm_touch_quoter_rows_per_s"),
        ("hftbacktest_pm_noop", "hft_pm_noop_end_rows_per_s"),
    ):
        peer = _figure(results, "pipeline", key) or _figure(results, "peers", key)
        if peer:
            ratios[f"ratio_vs_{name}"] = round(ours / peer, 4)
    return ratios


def judge(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{goal: {"figure", "target", "comparison", "status", "value"}}`` for every goal of
    :data:`GOALS` and the live session's flat RSS (:func:`live_rss_verdict`), plus
    ``peer_ratios``; ``status`` is ``met``, ``not met`` or ``not measured`` (no ``value``)."""
    verdicts: dict[str, Any] = {}
    for goal, bench, key, comparison, target in GOALS:
        value = _figure(results, bench, key)
        verdict: dict[str, Any] = {
            "figure": f"{bench}.{key}",
            "target": target,
            "comparison": "at least" if comparison == "min" else "at most",
        }
        if value is None:
            verdict["status"] = "not measured"
        else:
            verdict["value"] = value
            met = value >= target if comparison == "min" else value <= target
            verdict["status"] = "met" if met else "not met"
        verdicts[goal] = verdict
    verdicts["live_session_rss_flat"] = live_rss_verdict(results.get("live_rss", {}))
    verdicts["peer_ratios"] = peer_ratios(results)
    return verdicts


def live_rss_verdict(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The flat-RSS goal of a live paper session (``live_rss``'s ``flat`` under its own
    ``flat_criterion``): ``not measured`` when the benchmark did not run, and also when its
    verdict is not valid (a bot was quarantined or the desk stopped trading, so the session
    did not do what is measured)."""
    verdict: dict[str, Any] = {
        "figure": "live_rss.flat",
        "target": 1,
        "comparison": "at least",
        "criterion": figures.get("flat_criterion", "-"),
    }
    flat = figures.get("flat")
    if not isinstance(flat, bool) or figures.get("verdict_valid") is not True:
        verdict["status"] = "not measured"
        return verdict
    verdict["value"] = figures.get("rss_slope_second_half_mib_per_hour")
    verdict["status"] = "met" if flat else "not met"
    return verdict
