"""The goals judged from a benchmark run (bench/goals.py): a figure meets, misses or was not
measured; never "met" without a figure; ratios only against peers measured in the run."""

from __future__ import annotations

from typing import Any

from bench.goals import GOALS, judge


def test_every_goal_is_judged_from_its_figure() -> None:
    results = {
        "pipeline": {
            "level_updates_per_s": 1_200_000.0,
            "ratio_vs_nautilus_mm": 9.5,
            "event_to_order_p99_us": 200.0,
            "nautilus_mm_level_updates_per_s": 120_000.0,
        },
        "guards": {"chain_p99_us": 50.5},
        "scale": {"1x_peak_rss_mib": 226.0, "throughput_20x_vs_1x": 0.79, "rss_20x_vs_1x": 1.2},
    }
    verdicts = judge(results)
    assert verdicts["pipeline_level_updates_per_s"]["status"] == "met"
    assert verdicts["pipeline_ratio_vs_nautilus_mm"]["status"] == "not met"
    assert verdicts["event_to_order_p99_us"]["status"] == "met"  # at most: equal meets
    assert verdicts["guard_chain_p99_us"]["status"] == "not met"
    assert verdicts["guard_chain_p99_us"]["value"] == 50.5
    assert verdicts["default_run_peak_rss_mib"]["status"] == "met"
    assert verdicts["scale_throughput_20x_vs_1x"]["status"] == "not met"
    assert verdicts["scale_rss_20x_vs_1x"]["status"] == "met"
    assert verdicts["peer_ratios"] == {"ratio_vs_nautilus_mm": 10.0}


def test_a_goal_without_its_figure_is_not_measured_never_met() -> None:
    verdicts = judge({"pipeline": {"level_updates_per_s": "n/a"}, "guards": {}})
    for goal, *_ in GOALS:
        assert verdicts[goal]["status"] == "not measured"
        assert "value" not in verdicts[goal]
    assert verdicts["peer_ratios"] == {}


def test_peer_ratios_use_the_peers_benchmark_when_the_pipeline_ran_none() -> None:
    results = {
        "pipeline": {"level_updates_per_s": 100_000.0},
        "peers": {"hft_pm_touch_quoter_rows_per_s": 2_000_000.0, "nautilus_error": "exit 1"},
    }
    assert judge(results)["peer_ratios"] == {"ratio_vs_hftbacktest_pm_touch_quoter": 0.05}


def test_the_live_session_is_flat_only_by_a_valid_verdict() -> None:
    def verdict(**figures: Any) -> dict[str, Any]:
        judged: dict[str, Any] = judge({"live_rss": figures})["live_session_rss_flat"]
        return judged

    criterion = "slope < 10 MiB/h and growth < 5 MiB over the second half"
    flat = {"flat": True, "flat_criterion": criterion, "rss_slope_second_half_mib_per_hour": 3.2}
    assert verdict(**flat, verdict_valid=True)["status"] == "met"
    assert verdict(**flat, verdict_valid=True)["criterion"] == criterion
    assert verdict(**{**flat, "flat": False}, verdict_valid=True)["status"] == "not met"
    # a session whose strategy was quarantined did not trade: its flat RSS proves nothing
    assert verdict(**flat, verdict_valid=False)["status"] == "not measured"
    assert judge({})["live_session_rss_flat"]["status"] == "not measured"
