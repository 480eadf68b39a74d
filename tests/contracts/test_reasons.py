"""Reason-code registry: lint, lock (no removal, no rewording), and the CLI check."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.contracts.reasons import (
    ReasonRegistry,
    load_lock,
    load_registry,
    registry_path,
    registry_problems,
    updated_lock,
)


def test_packaged_registry_is_clean_and_fully_locked() -> None:
    assert registry_problems(load_registry(), load_lock()) == []


def test_every_code_has_a_plain_user_message() -> None:
    for entry in load_registry().values():
        assert len(entry.user_message.split()) >= 5, entry.code
        assert entry.severity.value in ("info", "warning", "hard")


def _registry_text() -> str:
    return registry_path().read_text(encoding="utf-8")


def test_rewording_a_code_fails_the_check() -> None:
    text = _registry_text()
    reworded = re.sub(
        r'(\[SYS_TRADING_HALTED\][^\[]*?user_message = ")', r"\1Really: ", text, count=1
    )
    assert reworded != text
    problems = registry_problems(ReasonRegistry.from_toml(reworded), load_lock())
    assert any("SYS_TRADING_HALTED: reworded" in p for p in problems)


def test_removing_a_code_fails_the_check() -> None:
    text = _registry_text()
    removed = re.sub(r"\[SYS_SHUTDOWN\][^\[]*", "", text, count=1)
    problems = registry_problems(ReasonRegistry.from_toml(removed), load_lock())
    assert any("SYS_SHUTDOWN: removed" in p for p in problems)


def test_adding_a_code_needs_only_a_lock_update() -> None:
    added = _registry_text() + (
        '\n[SYS_TEST_ADDED]\nseverity = "info"\nowner = "desk"\nsummary = "s"\n'
        'user_message = "Something new happened here."\nsince = "0.2.0"\n'
    )
    registry = ReasonRegistry.from_toml(added)
    lock = load_lock()
    assert registry_problems(registry, lock) == [
        "SYS_TEST_ADDED: not in the lock (run `polytraders reasons --update-lock`)"
    ]
    new_lock = updated_lock(registry, lock)
    assert registry_problems(registry, new_lock) == []
    assert {k: v for k, v in new_lock.items() if k in lock} == lock


def test_lint_rules() -> None:
    bad = ReasonRegistry.from_toml(
        '[risk_lower]\nseverity = "hard"\nowner = "risk.x"\nsummary = "s"\n'
        'user_message = "Fine sentence here."\nsince = "0.1.0"\n'
        '[STRAT_OWNED_BY_RISK]\nseverity = "hard"\nowner = "risk.x"\nsummary = "s"\n'
        'user_message = "Fine sentence here."\nsince = "0.1.0"\n'
        '[SYS_NO_MESSAGE]\nseverity = "info"\nowner = "desk"\nsummary = "s"\n'
        'user_message = "SYS_NO_MESSAGE"\nsince = "soon"\n'
    )
    problems = registry_problems(bad, updated_lock(bad, {}))
    assert any("risk_lower: not UPPER_SNAKE" in p for p in problems)
    assert any("STRAT_OWNED_BY_RISK: owner risk.x needs prefix RISK_" in p for p in problems)
    assert any("SYS_NO_MESSAGE: user_message" in p for p in problems)
    assert any("SYS_NO_MESSAGE: since" in p for p in problems)


def test_bad_toml_is_a_clear_error() -> None:
    for text in ("[X\n", '[SYS_X]\nseverity = "loud"\n'):
        try:
            ReasonRegistry.from_toml(text)
        except ValueError as exc:
            assert "reason" in str(exc)
        else:
            raise AssertionError("accepted a malformed registry")


def test_cli_lists_checks_and_prints_json() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["reasons", "--check"])
    assert result.exit_code == 0 and "lock consistent" in result.output
    result = runner.invoke(app, ["reasons", "--json"])
    assert result.exit_code == 0 and '"SYS_BOT_QUARANTINED"' in result.output
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip()


def test_lock_file_is_committed_next_to_registry() -> None:
    assert Path(registry_path()).with_name("reasons.lock.json").is_file()
