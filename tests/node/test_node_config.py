"""LiveNodeConfig: the desk file, the Polymarket venue and reconciliation in one frozen, linted
config, loaded from TOML with one-line errors naming the field, versioned like every config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from polytraders.backtest.desk_file import DeskFile
from polytraders.cli import app
from polytraders.contracts.config import UNIT_SUFFIXES, FrozenConfig, config_problems
from polytraders.node.config import LiveNodeConfig, NodeConfigError
from polytraders.node.venue_worker import VenueWorkerConfig
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.reconciliation import OrphanPolicy, ReconciliationConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PARTS: tuple[type[FrozenConfig], ...] = (
    LiveNodeConfig,
    PolymarketVenueConfig,
    ReconciliationConfig,
    VenueWorkerConfig,
    PaperVenueConfig,
)


@pytest.mark.parametrize("config_cls", PARTS, ids=lambda c: c.__name__)
def test_the_bot_config_lint_passes_over_the_node_and_its_parts(
    config_cls: type[FrozenConfig],
) -> None:
    assert config_problems(config_cls) == []
    default = config_cls()
    for name, info in config_cls.model_fields.items():
        assert info.description, f"{name} has no docstring"
        if info.annotation in (int, float):
            assert name.endswith(UNIT_SUFFIXES), name
            low, high = config_cls.hard_limits()[name]
            assert low is not None and high is not None
            assert low <= getattr(default, name) <= high, name


def test_the_lint_reaches_into_a_nested_config() -> None:
    class Loose(FrozenConfig):
        retries: int = 3
        """Retries."""

    class Outer(FrozenConfig):
        inner: Loose = Loose()
        """The nested part."""

    problems = config_problems(Outer)
    assert any("Loose.retries: no unit suffix" in p for p in problems)
    assert any("Loose.retries: missing a hard limit" in p for p in problems)


def test_venue_limits_are_polymarkets() -> None:
    limits = PolymarketVenueConfig.hard_limits()
    assert limits["heartbeat_timeout_ms"][1] == 10_000  # the venue's dead-man window
    assert limits["heartbeat_interval_ms"][1] == 5_000  # two heartbeats per window at least
    schema = PolymarketVenueConfig.json_schema()["properties"]
    assert schema["chain_id"]["const"] == 137
    assert "10 s" in schema["heartbeat_timeout_ms"]["description"]


def test_the_example_node_file_is_the_default_node() -> None:
    node = LiveNodeConfig.load(EXAMPLES / "node.toml")
    assert node.venue == PolymarketVenueConfig()
    assert node.reconciliation == ReconciliationConfig()
    assert node.desk.config_version == DeskFile().config_version
    assert node.config_version == LiveNodeConfig().config_version


def _write(tmp_path: Path, text: str, name: str = "node.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[venue]\nheartbeat_timeout_ms = 20000\n", "venue.heartbeat_timeout_ms: Input should"),
        (
            "[venue]\nheartbeat_interval_ms = 5000\nheartbeat_timeout_ms = 8000\n",
            "heartbeat_interval_ms (5000) must be at most half of heartbeat_timeout_ms (8000)",
        ),
        ("[venue]\nrate_limit_ratio = 0.0\n", "venue.rate_limit_ratio: Input should be greater"),
        ('[venue]\nbuilder_code = "0x12"\n', "venue.builder_code: String should match"),
        ('[venue]\nclob_url = "ftp://example.com"\n', "venue.clob_url: String should match"),
        ("[venue]\nchain_id = 1\n", "venue.chain_id: Input should be 137"),
        ('[reconciliation]\norphan_policy = "keep"\n', "reconciliation.orphan_policy:"),
        ("[reconciliation]\ninterval_s = 1\n", "reconciliation.interval_s: Input should be"),
        (
            "[reconciliation]\nposition_drift_warn_micros = 20000\n",
            "position_drift_warn_micros (20000) must not exceed position_drift_critical_micros",
        ),
        ("heartbeat_ms = 1\n", "heartbeat_ms: Extra inputs are not permitted"),
        ('desk = "missing.toml"\n', "desk: "),
        ("[desk]\nseed = -1\n", "desk: [desk]: invalid desk file: seed: Input should be"),
        ('[[desk.risk]]\nid = "risk.nosuchguard"\n', "risk[0] (risk.nosuchguard): unknown bot"),
    ],
)
def test_bad_values_are_refused_on_one_line_naming_the_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(NodeConfigError) as caught:
        LiveNodeConfig.load(path)
    line = caught.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"{path}: invalid node config: ")
    assert expected in line


def test_unreadable_and_malformed_files_are_refused_with_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(NodeConfigError, match=r"node\.toml"):
        LiveNodeConfig.load(tmp_path / "node.toml")
    path = _write(tmp_path, "[venue\n")
    with pytest.raises(NodeConfigError) as caught:
        LiveNodeConfig.load(path)
    assert str(path) in caught.value.one_line()


def test_a_desk_path_resolves_against_the_node_files_folder(tmp_path: Path) -> None:
    (tmp_path / "desks").mkdir()
    desk_text = "seed = 11\n[[strategies]]\nid = 'strat.maker_tight'\nmode = 'SHADOW'\n"
    _write(tmp_path / "desks", desk_text, "desk.toml")
    node = LiveNodeConfig.load(_write(tmp_path, 'desk = "desks/desk.toml"\n'))
    desk = DeskFile.load(tmp_path / "desks" / "desk.toml")
    assert node.desk.seed == 11
    assert node.desk.config_version == desk.config_version
    assert node.config_version == LiveNodeConfig(desk=desk).config_version
    assert node.config_version != LiveNodeConfig().config_version


def _custom_node() -> LiveNodeConfig:
    return LiveNodeConfig.from_mapping(
        {
            "desk": {
                "seed": 3,
                "risk": [{"id": "risk.killswitch"}, {"id": "risk.stalebookguard"}],
                "strategies": [
                    {"id": "strat.maker_tight", "config": {"order_size_micros": 7_000_000}}
                ],
            },
            "venue": {
                "clob_url": "http://127.0.0.1:8765",
                "heartbeat_interval_ms": 2_000,
                "heartbeat_timeout_ms": 6_000,
                "request_timeout_s": 1.5,
                "rate_limit_ratio": 0.5,
                "builder_code": "0x" + "b1" * 32,
            },
            "reconciliation": {
                "orphan_policy": "adopt",
                "interval_s": 30,
                "position_drift_warn_micros": 5,
                "order_drift_critical_micros": 20_000,
            },
        }
    )


def _as_toml_mapping(node: LiveNodeConfig) -> dict[str, Any]:
    return {
        "desk": node.desk.model_dump(mode="json", exclude_none=True),
        "venue": node.venue.model_dump(mode="json"),
        "reconciliation": node.reconciliation.model_dump(mode="json"),
    }


def test_toml_round_trip_keeps_every_value_and_the_version(tmp_path: Path) -> None:
    node = _custom_node()
    path = tmp_path / "node.toml"
    path.write_bytes(tomli_w.dumps(_as_toml_mapping(node)).encode())
    loaded = LiveNodeConfig.load(path)
    assert loaded.venue == node.venue
    assert loaded.reconciliation == node.reconciliation
    assert loaded.reconciliation.orphan_policy is OrphanPolicy.ADOPT
    assert loaded.desk.canonical() == node.desk.canonical()
    assert loaded.canonical() == node.canonical()
    assert loaded.config_version == node.config_version


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_config_version_ignores_key_order(rng: Any) -> None:
    data = _as_toml_mapping(_custom_node())

    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    assert LiveNodeConfig.from_mapping(shuffled(data)).config_version == (
        _custom_node().config_version
    )


def test_config_version_is_equal_for_equal_configs_and_changes_with_any_value() -> None:
    assert LiveNodeConfig().config_version == LiveNodeConfig().config_version
    assert len(LiveNodeConfig().config_version) == 16
    base = LiveNodeConfig()
    variants = [
        LiveNodeConfig(venue=PolymarketVenueConfig(trades_poll_ms=999)),
        LiveNodeConfig(reconciliation=ReconciliationConfig(interval_s=61)),
        LiveNodeConfig(desk=DeskFile(seed=8)),
    ]
    versions = {v.config_version for v in variants}
    assert base.config_version not in versions and len(versions) == len(variants)


def test_node_config_is_frozen_and_refuses_unknown_keys() -> None:
    node = LiveNodeConfig()
    with pytest.raises(ValueError, match="frozen"):
        node.venue = PolymarketVenueConfig()  # type: ignore[misc]
    with pytest.raises(NodeConfigError, match=r"venue\.heartbeat_s: Extra inputs"):
        LiveNodeConfig.from_mapping({"venue": {"heartbeat_s": 5}})


def test_schema_node_prints_the_json_schema() -> None:
    result = CliRunner().invoke(app, ["schema", "node"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert set(schema["properties"]) == {"desk", "venue", "reconciliation", "worker"}
    assert {"type": "string"} in schema["properties"]["desk"]["anyOf"]
    venue = schema["$defs"]["PolymarketVenueConfig"]["properties"]
    assert venue["heartbeat_timeout_ms"]["maximum"] == 10_000
    assert schema["additionalProperties"] is False


def test_live_refuses_a_bad_orphan_policy_naming_the_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "live", "--live", "--i-understand-this-trades-real-money", "--markets", "0xabc",
            "--orphan-policy", "keep", "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--clob-url/--orphan-policy: invalid node config: reconciliation.orphan_policy" in (
        result.output
    )


def test_the_worker_close_must_outlast_two_requests() -> None:
    with pytest.raises(NodeConfigError, match=r"worker\.close_timeout_s"):
        LiveNodeConfig.from_mapping({"venue": {"request_timeout_s": 20.0}})
    node = LiveNodeConfig.from_mapping(
        {"venue": {"request_timeout_s": 20.0}, "worker": {"close_timeout_s": 40.0}}
    )
    assert node.worker.close_timeout_s == 40.0


def test_a_node_file_and_the_command_line_compose_one_node(tmp_path: Path) -> None:
    desk = tmp_path / "desk.toml"
    desk.write_text('[[strategies]]\nid = "strat.maker_tight"\n')
    (tmp_path / "node.toml").write_text(
        'desk = "desk.toml"\n'
        '[venue]\nclob_url = "http://127.0.0.1:1"\n'
        "[reconciliation]\ninterval_s = 7\n"
        "[worker]\nmax_pending_submits_count = 5\n"
    )
    from polytraders.commands.live import _live_node

    plain = _live_node(
        tmp_path / "node.toml", None, strategy=None, clob_url=None, orphan_policy=None
    )
    assert plain == LiveNodeConfig.load(tmp_path / "node.toml")
    assert (plain.reconciliation.interval_s, plain.worker.max_pending_submits_count) == (7, 5)
    overridden = _live_node(
        tmp_path / "node.toml",
        None,
        strategy="examples/strategies/touch_quoter.py:TouchQuoter",
        clob_url="http://127.0.0.1:2",
        orphan_policy="adopt",
    )
    # the command line wins where given; everything else is the file's
    assert overridden.venue.clob_url == "http://127.0.0.1:2"
    assert overridden.reconciliation.orphan_policy is OrphanPolicy.ADOPT
    assert overridden.reconciliation.interval_s == 7
    assert overridden.worker.max_pending_submits_count == 5
    assert [
        b.source.endswith("touch_quoter.py:TouchQuoter") for b in overridden.desk.strategies
    ] == [True]
    assert overridden.config_version != plain.config_version


@pytest.mark.parametrize(
    "option",
    [
        ["--node", "examples/node.toml"],
        ["--orphan-policy", "adopt"],
        ["--builder-code", "0x" + "00" * 32],
        ["--user-ws-url", "ws://127.0.0.1:1/ws/user"],
        ["--credentials-file", "creds.json"],
        ["--i-understand-this-trades-real-money"],
    ],
)
def test_live_only_options_are_refused_for_a_paper_desk(option: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["live", "--paper", "--markets", "0xabc", "--out", str(tmp_path / "o"), *option]
    )
    assert result.exit_code == 2, result.output
    assert f"{option[0]}: only with --live" in result.output


def test_live_refuses_a_bad_node_file_naming_it(tmp_path: Path) -> None:
    node = tmp_path / "node.toml"
    node.write_text("[worker]\nmax_pending_submits_count = 0\n")
    result = CliRunner().invoke(
        app,
        [
            "live", "--live", "--i-understand-this-trades-real-money", "--markets", "0xabc",
            "--node", str(node), "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{node}: invalid node config: worker.max_pending_submits_count" in result.output
