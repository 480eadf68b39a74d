"""Envelopes for section 21 ("Wire examples") of the two specs, recorded by the desk harness on
fixture cases; the spec tests regenerate them and compare with the documents."""

from __future__ import annotations

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.bots.strategy.maker_tight import MakerTight
from polytraders.contracts.envelope import encode_envelope
from polytraders.contracts.modes import Mode
from polytraders.desk.harness import run_execution, run_strategy
from tests.bots.strategy.packs import build_state, event_from, intent_from, load_case

SPEC_CASES = {"strat.maker_tight": ("normal", "failure"), "exec.smartrouter": ("warning", "hard")}


def envelope_lines(bot_id: str) -> list[str]:
    """One JSON line per spec case of ``bot_id``, exactly as the desk writes them."""
    lines = []
    for case in SPEC_CASES[bot_id]:
        data = load_case(bot_id, case)
        state = build_state(data["state"])
        run_id, cause = f"run-fixture-{bot_id}-{case}", f"fixture:{case}"
        if bot_id == "strat.maker_tight":
            event = event_from(data["input"])
            state.apply_event(event)
            envelopes = run_strategy(
                MakerTight(), event, state, Mode.ENFORCED, run_id=run_id, causation_id=cause
            ).envelopes
        else:
            envelopes = run_execution(
                SmartRouter(),
                intent_from(data["input"]),
                state,
                Mode.ENFORCED,
                run_id=run_id,
                causation_id=cause,
            ).envelopes
        lines += [encode_envelope(e).decode().rstrip("\n") for e in envelopes]
    return lines


if __name__ == "__main__":
    for bot in SPEC_CASES:
        print(f"## {bot}")
        print("\n".join(envelope_lines(bot)))
