"""One canonical JSON and one ``config_version`` for every config in the project."""

from __future__ import annotations

import ast
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytraders.backtest.desk_file import DeskFile
from polytraders.bots.registry import BOTS
from polytraders.contracts.canonical import canonical_json, config_version
from polytraders.desk.desk import DeskConfig
from polytraders.node.config import LiveNodeConfig
from polytraders.venues.paper.config import PaperVenueConfig
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.reconciliation import ReconciliationConfig

SRC = Path(__file__).resolve().parents[2] / "src" / "polytraders"
SHARED = SRC / "contracts" / "canonical.py"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def test_canonical_json_is_exactly_as_documented() -> None:
    value = {"b": 1, "a": [1.0, 0.8, 1e-07, 2**70, True, None], "é": "naïve\n"}
    assert canonical_json(value) == (
        '{"a":[1.0,0.8,1e-07,1180591620717411303424,true,null],"b":1,"\\u00e9":"na\\u00efve\\n"}'
    )
    expected = hashlib.sha256(b'{"a":1,"b":[2,3]}').hexdigest()[:16]
    assert config_version({"b": [2, 3], "a": 1}) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        config_version({"x": bad})


@given(json_values)
def test_canonical_json_round_trips_exactly(value: Any) -> None:
    text = canonical_json(value)
    assert text.isascii()
    assert json.loads(text) == value
    assert canonical_json(json.loads(text)) == text


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_version_ignores_key_order(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert config_version(reordered) == config_version(value)
    assert len(config_version(value)) == 16


def _config_instances() -> list[Any]:
    return [
        *(cls.Config() for cls in BOTS.values()),
        PaperVenueConfig(),
        PaperVenueConfig(order_latency_ms=17, fee_rates_ppm={"crypto": 1}),
        DeskConfig(),
        DeskConfig(outcomes_kept_per_bot=5),
        PolymarketVenueConfig(),
        ReconciliationConfig(),
    ]


@pytest.mark.parametrize("config", _config_instances(), ids=lambda c: type(c).__name__)
def test_every_config_version_is_the_shared_function_of_its_values(config: Any) -> None:
    assert config.config_version == config_version(config.model_dump(mode="json"))


def test_desk_and_node_versions_are_the_shared_function_of_what_they_cover() -> None:
    desk = DeskFile()
    covered = desk.canonical()
    for section in ("strategies", "risk", "execution"):
        for entry in covered[section]:
            entry.pop("source")
    assert desk.config_version == config_version(covered)
    node = LiveNodeConfig()
    assert node.config_version == config_version(
        {
            "desk_config_version": desk.config_version,
            "venue": node.venue.model_dump(mode="json"),
            "reconciliation": node.reconciliation.model_dump(mode="json"),
            "worker": node.worker.model_dump(mode="json"),
        }
    )


def _builds_canonical_json(node: ast.AST) -> bool:
    """A call that produces canonical JSON text or the values a version is taken over."""
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        name = ast.unparse(call.func)
        keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
        if name.endswith("json.dumps") and keywords.get("sort_keys") == "True":
            return True
        if name.endswith("json.encode") and keywords.get("order") == "'sorted'":
            return True
        if name.endswith(("canonical_json", "model_dump", ".canonical")):
            return True
    return False


_HASH_CALLS = frozenset(
    {"hashlib.sha256", "hashlib.sha512", "hashlib.blake2b", "hashlib.md5", "hashlib.new", "sha256"}
)


def _hashes(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call) and ast.unparse(call.func) in _HASH_CALLS
        for call in ast.walk(node)
    )


def test_no_other_module_hashes_canonical_json() -> None:
    """The only function in src/ that both builds canonical JSON and hashes it is the shared
    one; every ``config_version`` defined anywhere calls the shared function."""
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            where = f"{path.relative_to(SRC)}:{func.lineno} {func.name}"
            if path != SHARED and _hashes(func) and _builds_canonical_json(func):
                offenders.append(f"{where}: hashes canonical JSON itself")
            if func.name == "config_version" and path != SHARED:
                calls = {ast.unparse(c.func) for c in ast.walk(func) if isinstance(c, ast.Call)}
                if not calls & {"config_version", "canonical.config_version"}:
                    offenders.append(f"{where}: does not call contracts.canonical.config_version")
    assert offenders == []


def test_the_check_above_would_catch_a_second_implementation() -> None:
    rogue = ast.parse(
        "def config_version(self):\n"
        "    text = json.dumps(self.model_dump(), sort_keys=True)\n"
        "    return hashlib.sha256(text.encode()).hexdigest()[:16]\n"
    )
    assert _hashes(rogue) and _builds_canonical_json(rogue)
