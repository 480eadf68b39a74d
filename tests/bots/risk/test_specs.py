"""The risk guards' specs: 27 numbered, non-empty sections; section 21 holds the envelopes the
bot really produces on its fixture cases (re-run here through the desk)."""

from __future__ import annotations

import pytest

from polytraders.contracts.envelope import decode_envelope, encode_envelope
from polytraders.readiness.packs import RISK_BOTS, load_pack, pack_path, run_pack
from polytraders.readiness.spec import SECTION_TITLES, parse_sections
from tests.bots.risk.make_specs import DOCS, WIRE_CASES


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_spec_has_27_non_empty_sections(bot_id: str) -> None:
    sections = parse_sections((DOCS / f"{bot_id}.md").read_text(encoding="utf-8"))
    assert [(n, t) for n, t, _ in sections] == list(enumerate(SECTION_TITLES, start=1))
    for number, title, body in sections:
        assert body, f"{bot_id}: section {number} {title} is empty"


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_wire_examples_are_real_envelopes(bot_id: str) -> None:
    sections = parse_sections((DOCS / f"{bot_id}.md").read_text(encoding="utf-8"))
    body = sections[20].body
    shown = [line for line in body.splitlines() if line.startswith("{")]
    expected = []
    for case in WIRE_CASES:
        run, _ = run_pack(load_pack(pack_path(bot_id, case)))
        expected += [encode_envelope(e) for e in run.envelopes if e.bot_id == bot_id]
    assert [encode_envelope(decode_envelope(line)) for line in shown] == expected
