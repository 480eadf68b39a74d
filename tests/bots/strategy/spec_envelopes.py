"""Generated parts of the specs of docs/bots/strat.maker_tight.md, exec.smartrouter.md,
strat.ema_cross.md and strat.mean_reversion.md: the
envelopes of section 21 ("Wire examples"), recorded by the desk harness on fixture cases, and the
parameter, defaults, search-space, reason-code and user-message tables of sections 7, 8, 11, 13
and 14. The spec tests regenerate them and compare with the documents, so a spec cannot drift
from the code."""

from __future__ import annotations

import json
from typing import Any

from polytraders.bots.execution.smartrouter import SmartRouter
from polytraders.contracts.envelope import encode_envelope
from polytraders.contracts.modes import Mode
from polytraders.contracts.reasons import load_registry
from polytraders.desk.harness import run_execution, run_strategy
from polytraders.readiness.packs import (
    build_bot,
    build_state,
    event_from,
    intent_from,
    load_case,
)
from polytraders.readiness.spec import type_name

SPEC_CASES = {
    "strat.maker_tight": ("normal", "failure"),
    "exec.smartrouter": ("warning", "hard"),
    "strat.ema_cross": ("normal", "failure"),
    "strat.mean_reversion": ("normal", "failure"),
}


def envelope_lines(bot_id: str) -> list[str]:
    """One JSON line per spec case of ``bot_id``, exactly as the desk writes them."""
    lines = []
    for case in SPEC_CASES[bot_id]:
        data = load_case(bot_id, case)
        state = build_state(data["state"])
        run_id, cause = f"run-fixture-{bot_id}-{case}", f"fixture:{case}"
        if bot_id.startswith("strat."):
            event = event_from(data["input"])
            state.apply_event(event)
            envelopes = run_strategy(
                build_bot(bot_id, data["config"]),
                event,
                state,
                Mode.ENFORCED,
                run_id=run_id,
                causation_id=cause,
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


REG = load_registry()
SEV = {"info": 0, "warning": 1, "hard": 2}


def params_table(cfg: Any) -> str:
    """Section 7: every config field with type, default, hard limits and docstring."""
    lim = cfg.hard_limits()
    rows = ["| Parameter | Type | Default | Hard limits | Meaning |", "|---|---|---|---|---|"]
    for n, f in cfg.model_fields.items():
        lo, hi = lim.get(n, (None, None))
        ann = f.annotation
        if lo is not None:
            is_int = isinstance(lo, int) and not isinstance(lo, bool)
            limits = f"[{lo:_}, {hi:_}]" if is_int else f"[{lo}, {hi}]"
        elif "Literal" in str(ann):
            limits = "one of " + ", ".join(f"`{a}`" for a in ann.__args__)
        elif ann is bool:
            limits = "true / false"
        else:
            limits = f"pattern `{f.metadata[0].pattern}`" if f.metadata else "—"
        d = f.default
        d = f"{d:_}" if isinstance(d, int) and not isinstance(d, bool) else json.dumps(d)
        desc = " ".join(f.description.split()).replace("|", "\\|")
        limits = limits.replace("|", "\\|")
        rows.append(f"| `{n}` | `{type_name(ann)}` | `{d}` | {limits} | {desc} |")
    return "\n".join(rows)


def defaults_json(cfg: Any) -> str:
    """Section 8: the default config as JSON and its version."""
    body = json.dumps(cfg().model_dump(mode="json"), indent=1)
    return f"```json\n{body}\n```\n\n`config_version` of the defaults: `{cfg().config_version}`."


def space_table(bot: Any) -> str:
    """Section 11: the search space as JSON (what the optimizer reads), one parameter a line."""
    params = ",\n".join(f" {json.dumps(p)}" for p in bot.SEARCH_SPACE.to_dict())
    return f"```json\n[\n{params}\n]\n```"


def _codes(bot: Any) -> list[str]:
    return sorted(bot.reason_codes, key=lambda c: (SEV[REG[c].severity.value], c))


def codes_table(bot: Any) -> str:
    """Section 13: the bot's codes with severity and summary."""
    rows = ["| Code | Severity | Meaning |", "|---|---|---|"]
    rows += [f"| `{c}` | {REG[c].severity.value} | {REG[c].summary} |" for c in _codes(bot)]
    return "\n".join(rows)


def messages_table(bot: Any) -> str:
    """Section 14: the bot's codes with their user messages."""
    rows = ["| Code | What the operator sees |", "|---|---|"]
    rows += [f"| `{c}` | {REG[c].user_message} |" for c in _codes(bot)]
    return "\n".join(rows)


if __name__ == "__main__":
    for bot in SPEC_CASES:
        print(f"## {bot}")
        print("\n".join(envelope_lines(bot)))
