"""Every loader refuses, never crashes (issue 12, item 5): the desk file through the CLI, the
node config file and the credentials file, on the issue's inputs and on fuzzed files."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.node.config import LiveNodeConfig, NodeConfigError
from tests.conftest import POLYMARKET_SAMPLE
from tests.fuzz.bounds import bounded, fuzz
from tests.fuzz.seeds import corpus_cases
from tests.fuzz.strategies import HOSTILE_BYTES, json_values
from tests.fuzz.targets import TARGETS

runner = CliRunner()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the fuzzed files are written (one file per target, overwritten per input)."""
    return tmp_path_factory.mktemp("loaders")


DESK_CASES = corpus_cases("desk_toml")
EXPECTED = {
    "non-utf8": "can't decode byte 0xff",
    "array-5000-deep": "nested too deeply",
    "integer-5000-digits": "4300 digits",
    "unknown-strategy-id": "strategies[0] (strat.nope): unknown bot",
}


@pytest.mark.parametrize("case", sorted(DESK_CASES))
def test_a_bad_desk_file_is_one_line_and_exit_2_through_the_cli(case: str, tmp_path: Path) -> None:
    desk = tmp_path / "desk.toml"
    desk.write_bytes(DESK_CASES[case])
    completed = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(POLYMARKET_SAMPLE),
            "--desk",
            str(desk),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert completed.exit_code == 2, completed.output
    lines = [line for line in completed.output.splitlines() if line.strip()]
    assert len(lines) == 1, completed.output
    assert lines[0].startswith(f"error: {desk}: invalid desk file:")
    assert EXPECTED[case] in lines[0]
    assert not (tmp_path / "out").exists()


NODE_CASES = corpus_cases("node_toml")


@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_a_bad_node_file_is_a_node_config_error(case: str, tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_bytes(NODE_CASES[case])
    with pytest.raises(NodeConfigError) as caught:
        LiveNodeConfig.load(path)
    assert caught.value.problems
    assert "\n" not in caught.value.one_line()
    assert caught.value.one_line().startswith(f"{path}: invalid node config: ")


def test_an_unknown_strategy_in_a_node_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_bytes(NODE_CASES["unknown-strategy-in-inline-desk"])
    with pytest.raises(NodeConfigError, match=r"strat\.nope"):
        LiveNodeConfig.load(path)


# ------------------------------------------------------------------------------ fuzzing
_TOML_KEYS = st.sampled_from(
    [
        "seed",
        "desk",
        "venue",
        "reconciliation",
        "strategies",
        "risk",
        "execution",
        "feed",
        "account",
        "id",
        "mode",
        "config",
        "source",
        "allow_no_risk",
        "clob_url",
        "heartbeat_interval_ms",
        "orphan_policy",
        "max_bad_input_pct",
        "order_latency_ms",
    ]
)
_toml_leaf = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "strat.maker_tight",
            "risk.killswitch",
            "exec.smartrouter",
            "ENFORCED",
            "SHADOW",
            "STUB",
            "cancel",
            "adopt",
            "nope",
        ]
    ),
)
_toml_documents = st.recursive(
    st.dictionaries(_TOML_KEYS, _toml_leaf, max_size=4),
    lambda children: st.dictionaries(
        _TOML_KEYS, st.one_of(_toml_leaf, children, st.lists(children, max_size=2)), max_size=4
    ),
    max_leaves=10,
)


@st.composite
def toml_files(draw: st.DrawFn) -> bytes:
    """Structure-aware TOML (desk and node keys with plausible and hostile values), raw
    bytes, or valid TOML with hostile bytes spliced in."""
    kind = draw(st.sampled_from(["structured", "bytes", "spliced"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = tomli_w.dumps(draw(_toml_documents)).encode()
    if kind == "spliced":
        at = draw(st.integers(min_value=0, max_value=len(text)))
        insert = draw(st.one_of(st.sampled_from(HOSTILE_BYTES), st.binary(max_size=8)))
        text = text[:at] + insert + text[at:]
    return text


@fuzz(150)
@given(toml_files())
def test_fuzzed_desk_files_are_refused_or_loaded(workdir: Path, data: bytes) -> None:
    target = TARGETS["desk_toml"]
    bounded(lambda: target.run(data, workdir), target.allowed)


@fuzz(150)
@given(toml_files())
def test_fuzzed_node_files_are_refused_or_loaded(workdir: Path, data: bytes) -> None:
    target = TARGETS["node_toml"]
    bounded(lambda: target.run(data, workdir), target.allowed)


_CREDENTIAL_NAMES = st.sampled_from(
    [
        "POLYMARKET_PRIVATE_KEY",
        "POLYMARKET_API_KEY",
        "POLYMARKET_API_SECRET",
        "POLYMARKET_API_PASSPHRASE",
        "POLYMARKET_SIGNATURE_TYPE",
        "POLYMARKET_BUILDER_CODE",
        "POLYMARKET_FUNDER",
        "#",
        "",
    ]
)


@st.composite
def credential_files(draw: st.DrawFn) -> bytes:
    """``NAME=value`` lines with secret-looking, hostile or random values, or raw bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        name = draw(_CREDENTIAL_NAMES)
        value = draw(
            st.one_of(
                st.text(max_size=70),
                st.just("0x" + "1f" * 32),
                st.sampled_from([v for v in (str(x) for x in (-1, 3, 10**30)) if v]),
            )
        )
        separator = draw(st.sampled_from(["=", " = ", "", "=="]))
        lines.append(f"{name}{separator}{value}".encode())
    data = b"\n".join(lines)
    if draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.sampled_from(HOSTILE_BYTES)) + data[at:]
    return data


@fuzz(200)
@given(credential_files())
def test_fuzzed_credentials_files_are_refused_without_echoing_secrets(
    workdir: Path, data: bytes
) -> None:
    target = TARGETS["credentials"]  # asserts no refusal quotes a value of the file
    bounded(lambda: target.run(data, workdir), target.allowed)


@fuzz(200)
@given(st.one_of(json_values().map(repr), st.text(max_size=80)))
def test_fuzzed_decimal_text_is_exact_or_refused(text: str) -> None:
    target = TARGETS["decimal"]
    bounded(lambda: target.run(text.encode("utf-8", "surrogatepass"), Path()), target.allowed)
