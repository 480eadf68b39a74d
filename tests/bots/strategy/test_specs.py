"""The specs docs/bots/strat.maker_tight.md and exec.smartrouter.md: 27 numbered, non-empty
sections with the issue's titles, every registered code of the bot listed, and section 21
holding the envelopes the desk records today for the fixture cases (wire examples cannot go
stale)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.strategy.ema_cross import EmaCross
from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.bots.strategy.mean_reversion import MeanReversion
from polytraders.contracts.envelope import decode_envelope
from polytraders.readiness.spec import SECTION_TITLES, parse_sections
from tests.bots.strategy.spec_envelopes import (
    codes_table,
    defaults_json,
    envelope_lines,
    messages_table,
    params_table,
    space_table,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "bots"


@pytest.mark.parametrize("bot", [MakerTight, SmartRouter, EmaCross, MeanReversion])
def test_spec_has_27_non_empty_sections_and_every_code(bot: type) -> None:
    text = (DOCS / f"{bot.bot_id}.md").read_text()
    found = parse_sections(text)
    assert [(n, t) for n, t, _ in found] == list(enumerate(SECTION_TITLES, start=1))
    assert all(len(body.strip()) > 40 for _, _, body in found)
    codes = {t: b for _, t, b in found}["Reason codes"]
    assert all(f"`{code}`" in codes for code in bot.reason_codes)


@pytest.mark.parametrize("bot", [MakerTight, SmartRouter, EmaCross, MeanReversion])
def test_wire_examples_are_todays_envelopes(bot: type) -> None:
    text = (DOCS / f"{bot.bot_id}.md").read_text()
    body = {t: b for _, t, b in parse_sections(text)}["Wire examples"]
    documented = re.search(r"```json\n(.*?)\n```", body, flags=re.DOTALL)
    assert documented is not None
    lines = documented.group(1).splitlines()
    assert lines == envelope_lines(bot.bot_id)
    assert all(decode_envelope(line).bot_id == bot.bot_id for line in lines)


@pytest.mark.parametrize("bot", [MakerTight, SmartRouter, EmaCross, MeanReversion])
def test_generated_tables_match_the_code(bot: type) -> None:
    found = {t: b for _, t, b in parse_sections((DOCS / f"{bot.bot_id}.md").read_text())}
    assert params_table(bot.Config) in found["Parameters"]
    assert defaults_json(bot.Config) in found["Defaults"]
    assert space_table(bot) in found["Search space"]
    assert codes_table(bot) in found["Reason codes"]
    assert messages_table(bot) in found["User messages"]
