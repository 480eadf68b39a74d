"""The risk guards' specs: 27 numbered, non-empty sections; section 21 holds the envelopes the
bot really produces on its fixture cases (re-run here through the desk)."""

from __future__ import annotations

import re

import pytest

from polytraders.contracts.envelope import decode_envelope, encode_envelope
from polytraders.readiness.packs import RISK_BOTS, load_pack, pack_path, run_pack
from tests.bots.risk.make_specs import DOCS, SECTIONS, WIRE_CASES

_HEADING = re.compile(r"^## (\d+)\. (.+)$", re.MULTILINE)


def _sections(text: str) -> list[tuple[int, str, str]]:
    matches = list(_HEADING.finditer(text))
    out = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out.append((int(match.group(1)), match.group(2), text[match.end() : end].strip()))
    return out


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_spec_has_27_non_empty_sections(bot_id: str) -> None:
    sections = _sections((DOCS / f"{bot_id}.md").read_text(encoding="utf-8"))
    assert [(n, t) for n, t, _ in sections] == list(enumerate(SECTIONS, start=1))
    for number, title, body in sections:
        assert body, f"{bot_id}: section {number} {title} is empty"


@pytest.mark.parametrize("bot_id", list(RISK_BOTS))
def test_wire_examples_are_real_envelopes(bot_id: str) -> None:
    sections = _sections((DOCS / f"{bot_id}.md").read_text(encoding="utf-8"))
    body = sections[20][2]
    shown = [line for line in body.splitlines() if line.startswith("{")]
    expected = []
    for case in WIRE_CASES:
        run, _ = run_pack(load_pack(pack_path(bot_id, case)))
        expected += [encode_envelope(e) for e in run.envelopes if e.bot_id == bot_id]
    assert [encode_envelope(decode_envelope(line)) for line in shown] == expected
