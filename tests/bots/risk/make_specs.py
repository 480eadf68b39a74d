"""Write the risk guards' specs ``docs/bots/<bot_id>.md`` (27 numbered sections each).

Run: ``.venv/bin/python -m tests.bots.risk.make_specs "<benchmark figures>"`` (the figures of
the last ``bench guards`` run, quoted in section 18).

The prose of each spec is written here by hand, per bot. The parts that must match the code —
class and capabilities, parameters (types, defaults, limits), defaults and config version,
search space, modes, reason codes and their user messages, the runtime budget, the fixture
list — are read from the bot classes and the registry in the forms the Docs score reads back
(:mod:`polytraders.readiness.docs_score`), and section 21 holds the JSON envelopes that running
the bot's fixture cases through the desk's risk chain produces (the ``test_specs`` module
re-runs them and fails when a spec is out of date).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polytraders.contracts.envelope import encode_envelope
from polytraders.contracts.reasons import load_registry
from polytraders.readiness.packs import CASES, RISK_BOTS, load_pack, pack_path, run_pack
from polytraders.readiness.spec import SECTION_TITLES, budget_table, type_name

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "bots"

WIRE_CASES = ("warning", "hard")
"""Fixture cases whose envelopes section 21 shows."""

OWNER = (
    "Risk engineering (the risk-guard library, `src/polytraders/bots/risk/`). Changes to "
    "thresholds in production configs need the risk reviewer's sign-off (promotion gate "
    '"Reviewer sign-off").'
)

COMMON_MODES = (
    "All five modes are declared: STUB (declared, not run), SHADOW (runs on the live inputs, "
    "decision recorded and compared, never applied), ADVISORY (recorded and surfaced, not "
    "applied), ENFORCED (applied) and QUARANTINE. Quarantine is entered by the desk when the bot "
    "raises, overruns its 5 ms budget, returns an undeclared code or breaks its authority; a "
    "quarantined risk bot fails closed: the desk rejects every intent with "
    "`SYS_BOT_QUARANTINED` without calling it."
)

COMMON_METRICS = (
    "The desk's standard per-bot metrics (`src/polytraders/ops`): `decisions_total` by decision "
    "and reason code, `decision_latency_ms`, `heartbeat_age_ms`, `errors_total`, "
    "`config_version`, `mode`. The reason-code label is the bot-specific signal: its rate per "
    "code is what operators watch."
)

BACKTEST = (
    "One desk backtest, not checked in: `polytraders backtest --data "
    "data/samples/polymarket/resolvedkit_btc15m --desk examples/desk.toml --out <dir>` at commit "
    "`5b0be3f` (2026-11-21): strat.maker_tight, the seven guards ENFORCED in the desk file's "
    "order, exec.smartrouter, the paper venue with its optimistic L2 fill inference; 12 real "
    "markets, 25,664 events, run `run-62507463cc4d813e`, 68,264 envelopes (SHA-256 "
    "`3beb5451c84a…`). The strategy proposed 4,414 new orders; 4,118 reached the venue. "
    "This guard: {figures} It shows the guard running on real data inside the whole desk, "
    "nothing about live PnL. On file for the Backtest checklist, in `runs/optimizer/{bot_id}/` "
    '(committed; `docs/optimize.md`, "Reference runs on file"): `timeline.json`, the recorded '
    "envelope timeline of the default desk on this guard's synthetic fixture `{fixture}` "
    "(`FIXTURES` in `src/polytraders/optimize/references.py`), kept as the SHA-256 of the whole "
    "timeline and of this guard's own envelopes with its decision and reason-code counts, which "
    "`tests/optimize/test_references.py` re-runs and compares{reference} Backtests never predict "
    "live results."
)

REFERENCE_RUN = (
    "; and `reference.json`, the optimizer reference run over `SEARCH_SPACE`: the summary of a "
    "{trials}-trial Optuna study (TPE, seed 7, batch 8, the default desk) tuned for the `{score}` "
    "score on the shipped sample, 75 % of its markets in sample, with the winning parameters, the "
    "score, the data digest, the in-sample and out-of-sample figures beside the untuned desk's "
    "and Optuna's version (read them in the file; they change whenever the runs are "
    "regenerated). `polytraders reference-runs` regenerates both (`--timelines`: the timelines "
    "only); `polytraders reference-runs --check` re-runs every timeline and exits 1 on a "
    "difference. Backtest score 4/4: the fixture exists and is loaded by that test, the timeline "
    "is checked in and reproduces, `SEARCH_SPACE` is declared (section 11), a reference run is on "
    "file."
)
"""The reference-run part of section 23 for a guard with a non-empty search space."""

NO_REFERENCE_RUN = (
    ". `polytraders reference-runs` regenerates it (`--timelines`: the timelines only); "
    "`polytraders reference-runs --check` re-runs every timeline and exits 1 on a difference. "
    "There is no `reference.json`, and there cannot be one while `SEARCH_SPACE` is empty (section "
    "11): with no parameter to tune there is no study to run, so `polytraders reference-runs` runs "
    "none for this guard and `polytraders optimize --bot {bot_id}` refuses the bot (exit 2, "
    '"empty search space"). Backtest checklist: the fixture exists and is loaded by that test, '
    "the timeline is checked in and reproduces, `SEARCH_SPACE` is declared (empty on purpose); "
    "the fourth item, an optimizer reference run on file, is absent by construction, and the "
    "checklist does not say whether a bot with nothing to tune meets it, so no Backtest score is "
    "given here."
)
"""The reference-run part of section 23 for a guard with an empty search space."""

BACKTEST_FIGURES = {
    "risk.killswitch": "4,414 decisions, all APPROVE with no warning (the day's loss, errors, "
    "feed and heartbeat ages stayed below 60 % of every halt level; the paper venue has no "
    "heartbeat).",
    "risk.compliancegate": "4,414 decisions, all APPROVE (the strategy carries the account's "
    "builderCode; EOA self-signing; no lists configured).",
    "risk.markethaltguard": "4,414 APPROVE, 390 of them with `RISK_MARKETHALT_NEAR_END_WARN` "
    "(the strategy stops quoting 60 s before the end, inside this guard's 180 s warning band).",
    "risk.stalebookguard": "4,414 decisions: 261 REJECT (237 `RISK_STALEBOOK_TOO_OLD` in real "
    "quiet periods and gaps of the recording; 24 `RISK_STALEBOOK_NO_BOOK` at a market's first "
    "event, quotes built before the second token's first book had arrived), 306 APPROVE with "
    "`RISK_STALEBOOK_AGE_WARN`, the rest plain APPROVE.",
    "risk.marketqualityguard": "4,153 decisions: 35 REJECT (31 `RISK_QUALITY_DEPTH_THIN`, 4 "
    "`RISK_QUALITY_ONE_SIDED`), 212 APPROVE with `RISK_QUALITY_WARN`, the rest plain APPROVE.",
    "risk.exposureguard": "4,118 decisions, all APPROVE (the strategy's 100-share position "
    "limit keeps every market far below the 500 pUSD cap).",
    "risk.drawdownguard": "4,118 decisions, all APPROVE (the run's largest drawdown, 27.48 "
    "pUSD on 1,000 pUSD, stayed below the 5 % reducing level).",
}

PROMOTION = (
    "Computed from evidence, never written here: `polytraders readiness {bot_id}` prints the "
    "four scores (Docs, Impl, Runtime, Backtest) item by item with their evidence and the "
    "seed-000 stage its gates reach; `polytraders gates check {bot_id} --to shadow` evaluates "
    "the next gates; `polytraders gates history {bot_id}` shows its recorded lifecycle state "
    "and every promotion attempt (`docs/readiness.md`). This bot has never run against live "
    "money."
)

CHANGE_LOG = "- 0.1.0 — first version: rules, config, codes, fixture pack and this spec."

CHANGE_LOGS = {
    "risk.killswitch": "- 0.2.0 — monitor step (`monitor_interval_ms`, off by default): the "
    "hard checks run on the desk's timer with no intent; halt right declared as the "
    "capabilities HALT and KILL_SWITCH.\n" + CHANGE_LOG,
    "risk.drawdownguard": "- 0.2.0 — monitor step (`monitor_interval_ms`, 1 s by default): "
    "REDUCE (`RISK_DRAWDOWN_REDUCING`) or HALT with no intent; rights declared as the "
    "capabilities REDUCE and HALT.\n" + CHANGE_LOG,
}
"""Change logs of the guards past their first version (the others use :data:`CHANGE_LOG`)."""

LATENCY = (
    "Declared runtime budget (`RUNTIME_BUDGET` of the bot class, what the Runtime score and the "
    "promotion gates measure recorded envelopes against; p95 and p99 decision latency in µs, "
    "errors per million decisions, the calibrated reject band in bps of decisions):\n\n"
    "{budget}\n\n"
    "The desk's own per-decision budget stays 5 ms (exceeding it quarantines the bot). Benchmark "
    "target: the seven guards together ≤ 50 µs p99 per intent on one core; measured by "
    "`.venv/bin/python -m bench guards` on desk states built from the real sample (figures in "
    "the benchmark output; {figure})."
)

BOTS: dict[str, dict[str, str]] = {
    "risk.killswitch": {
        "purpose": "The desk's hard stop. It HALTs trading — the desk cancels every open order "
        "and sends nothing new until an operator resets the kill switch — when the day's loss, "
        "an error streak, or the loss of the market feed or of the venue heartbeat says the "
        "desk can no longer trade safely. Once tripped, it meets every new intent with HALT.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {HALT, KILL_SWITCH}` "
        "(the only guard whose "
        "HALT trips the kill switch; the desk checks the declared capability, not the bot's "
        "id). Verdicts: APPROVE (with warning codes), REJECT (corrupt inputs only), HALT with "
        "`set_state = HALTED`; its monitor step finds HALT or nothing. A HALT from this bot "
        "trips the desk's kill switch (`DeskState.trip_kill_switch`); only an operator resets "
        "it. It never reshapes and never asks for REDUCING.",
        "inputs": "The intent (only its action is read: cancels pass); the monitor step has no "
        "intent. From the `DeskView`: `kill_switch_tripped`, `equity`, `day_start_equity`, "
        "`consecutive_errors`, `last_feed_event_ns`, `last_venue_heartbeat_ns`, `now_ns`.",
        "outputs": "A `RiskDecision`: APPROVE (no code, or `RISK_KILLSWITCH_DAILY_LOSS_WARN` / "
        "`RISK_KILLSWITCH_HEALTH_WARN`); REJECT with `RISK_KILLSWITCH_INPUT_INVALID`; HALT with "
        "every tripped hard code and `set_state = HALTED`. One envelope per decision. The "
        "monitor step returns a `MonitorDecision` HALT with every tripped hard code, or None: "
        "the desk records a HALT finding as one envelope (decision HALT, output the finding, "
        "no correlation id) when it differs from the previous finding or would change the "
        'desk, and never records "all is well".',
        "logic": "1. CANCEL → APPROVE.\n2. Kill switch already tripped → HALT "
        "`RISK_KILLSWITCH_ENGAGED` (in the desk the gate refuses such intents first with "
        "`SYS_KILL_SWITCH_TRIPPED`; the bot's rule is the second line of defence).\n3. Corrupt "
        "input → REJECT `RISK_KILLSWITCH_INPUT_INVALID`: start-of-day equity ≤ 0, negative error "
        "count, no market-data event yet (time 0), a feed or heartbeat time after `now_ns`.\n"
        "4. Hard checks, all evaluated, every one that holds is reported: loss = day_start − "
        "equity, HALT if `loss × 10 000 ≥ daily_loss_halt_bps × day_start`; HALT if "
        "`consecutive_errors ≥ max_consecutive_errors_count`; HALT if `now − last_feed ≥ "
        "feed_loss_halt_ms`; HALT if the heartbeat is older than `heartbeat_loss_halt_ms` (time "
        "0 counts as lost only when `venue_heartbeat_required`).\n5. Warnings at "
        "`warn_level_pct` of each halt level: daily loss → `RISK_KILLSWITCH_DAILY_LOSS_WARN`; "
        "errors, feed age or heartbeat age → `RISK_KILLSWITCH_HEALTH_WARN`.\n6. Otherwise "
        "APPROVE. Integer arithmetic only.\n\nMonitor step (every `monitor_interval_ms` of "
        "desk time when > 0; 0, off, by default): rules 3–4 without an intent. Corrupt input "
        "(including no market data yet) → None (no halt on a reading that may be wrong; "
        "intents are still REJECTed); any hard check → HALT with its codes, so a feed silence, "
        "a lapsed heartbeat, an error streak or the day's loss trips the kill switch while no "
        "intent flows; otherwise None (warnings are left to intent decisions). Off by default "
        "because the feed check measures market-data silence: the shipped sample has 16 "
        "silences of 30–78 s inside its markets, so with the 30 s default the monitor would "
        "halt a quiet desk; enable it with a `feed_loss_halt_ms` fitted to the markets traded.",
        "hard": "Defaults: daily loss 5 % of start-of-day equity (500 bps); 5 consecutive "
        "errors; 30 s without a market-data event (Polymarket's websocket is treated as dead "
        "after 30 s without a PONG); 10 s without an accepted heartbeat (Polymarket cancels all "
        "orders after 10 s).",
        "warning": "`warn_level_pct` = 60 % of every halt level by default: a 3 % daily loss, "
        "3 errors in a row, 18 s of feed silence, 6 s of heartbeat silence.",
        "failure": "- Equity figures missing or corrupt → REJECT, never HALT: a bad reading "
        "must not stop the desk for good, and must not approve either.\n- Paper venue without "
        "heartbeats → heartbeat check skipped unless `venue_heartbeat_required` (set it in "
        "live configs).\n- The bot raises → the desk quarantines it and rejects every intent "
        "(fail closed); so does a monitor step that raises, overruns the budget or returns an "
        "undeclared code.\n- Clock skew: a feed time after `now_ns` is treated as corrupt.\n- "
        "Feed never delivers a first event: the monitor cannot measure its silence (time 0 is "
        "no reading); no strategy quotes without books, but orders restored at start-up rest "
        "unwatched by this check.",
        "fallback": "HALT: the desk trips the kill switch, cancels all open orders and stays "
        "halted until an operator resets it. For corrupt inputs: REJECT the intent.",
        "deps": "Contracts (`BotBase`, `RiskDecision`, `DeskView`), the desk's accounting for "
        "equity and day-start equity (`DeskState`, `Ledger`), the feed's receive times and the "
        "venue adapter's heartbeat times.",
        "alerts": "Page on any HALT (`RISK_KILLSWITCH_DAILY_LOSS`, `_ERROR_STREAK`, "
        "`_FEED_LOST`, `_HEARTBEAT_LOST`). Ticket on `RISK_KILLSWITCH_INPUT_INVALID` "
        "(accounting or clock defect). Warn-level notification on repeated "
        "`RISK_KILLSWITCH_HEALTH_WARN` / `_DAILY_LOSS_WARN` within 5 minutes. A monitor HALT "
        "(an envelope with no correlation id) pages the same way.",
        "runbook": "1. Read the HALT envelope's reason codes (a monitor finding has no "
        "correlation id: no intent was involved). 2. Feed or heartbeat lost: check "
        "connectivity and the venue status page; confirm every order is cancelled on the venue "
        "(reconcile). 3. Daily loss: stop, review the day's fills and PnL with the risk "
        "reviewer before any reset. 4. Error streak: read the quarantine and venue-rejection "
        "envelopes. 5. Reset the kill switch only after the cause is fixed; the desk stays "
        "HALTED until an operator sets ACTIVE.",
        "rollback": "Set the bot's mode to SHADOW (its decisions are recorded, not applied) or "
        "restore the previous config version; the desk's own gate keeps blocking intents while "
        "the kill switch is tripped. Never remove the bot from an enforced chain without "
        "another halt-capable guard in place.",
    },
    "risk.compliancegate": {
        "purpose": "Make sure every order the desk sends is attributed to our builderCode, "
        "signed by a key authorised for the wallet that pays, and only in markets and by "
        "strategies that are allowed.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`: no halt authority. "
        "Verdicts: APPROVE (possibly with the "
        "watch-list warning) or REJECT. It never reshapes and never changes the trading state.",
        "inputs": "The intent (`builder_code`, `bot_id`, `token_id`, `market_id`, action). From "
        "the `DeskView`: `account` (signer, funder, signature type), the token and its market "
        "(`token`, `market`: id and category).",
        "outputs": "A `RiskDecision`: APPROVE, APPROVE with `RISK_COMPLIANCE_WATCHLIST`, or "
        "REJECT with one code.",
        "logic": "1. CANCEL → APPROVE.\n2. Unknown token or market, a market that does not "
        "list the token, or a signer/funder that is not a 0x + 40-hex address → REJECT "
        "`RISK_COMPLIANCE_INPUT_INVALID`.\n3. The intent's builderCode (bytes32, compared "
        "case-insensitively) differs from `builder_code` → REJECT `RISK_COMPLIANCE_BUILDER_CODE`.\n"
        "4. Signer authority: allowed when a `signer_grants` entry matches (funder, signer, "
        "signature type), or when `allow_eoa_self_signing` and the signature type is 0 with "
        "signer = funder; else REJECT `RISK_COMPLIANCE_SIGNER_NOT_AUTHORIZED`.\n5. Market lists: "
        "a denied market or category, or one missing from a non-empty allow list → REJECT "
        "`RISK_COMPLIANCE_MARKET_DENIED` (deny beats allow).\n6. Bot permission: a bot listed in "
        "`bot_permissions` may trade only its markets and categories; an unlisted bot only when "
        "`unlisted_bots_allowed` → else REJECT `RISK_COMPLIANCE_BOT_NOT_PERMITTED`.\n7. Market or "
        "category on the watch list → APPROVE with `RISK_COMPLIANCE_WATCHLIST`; else APPROVE.",
        "hard": "Rules, not numbers: a missing or foreign builderCode, an unauthorised signer, "
        "a denied market or category and an unpermitted bot each reject.",
        "warning": "A market or category on `watchlist` passes with `RISK_COMPLIANCE_WATCHLIST`.",
        "failure": "- Account identity malformed or missing → REJECT.\n- Unknown market → "
        "REJECT.\n- Strategies that leave the builderCode for the router to attach are "
        "rejected: this gate requires it on the intent (issue 5); strategies must set it.\n- "
        "Misconfigured lists are caught at load: bytes32 and address patterns are validated.",
        "fallback": "REJECT the intent.",
        "deps": "Contracts and model only; the account identity comes from the desk's "
        "configuration (public addresses, never keys).",
        "alerts": "Page on any `RISK_COMPLIANCE_SIGNER_NOT_AUTHORIZED` or "
        "`RISK_COMPLIANCE_BUILDER_CODE` in ENFORCED mode (configuration or key mix-up). Ticket "
        "on `RISK_COMPLIANCE_MARKET_DENIED` / `_BOT_NOT_PERMITTED` bursts. Daily review of "
        "`RISK_COMPLIANCE_WATCHLIST` approvals.",
        "runbook": "1. Builder code: compare the configured value with the desk account's "
        "builderCode and the strategy's intent. 2. Signer: check the wallet's signature type and "
        "the grant list; never add a grant without the compliance owner. 3. Market denied: "
        "confirm the lists are intended; changes go through config review.",
        "rollback": "Restore the previous config version (lists and grants are config). For a "
        "code defect: SHADOW mode while a fixed version is prepared; the venue still checks "
        "signatures.",
    },
    "risk.markethaltguard": {
        "purpose": "Stop orders the venue would refuse or that would land in a market that is "
        "not trading normally: venue restarts, cancel-only and closed-only periods, halted, "
        "closed or resolved markets, the final seconds of a market, and the moments right after "
        "a tick-size change. In the venue's post-only window it turns resting orders into "
        "post-only orders instead of losing them.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`: no halt authority. "
        "Verdicts: APPROVE (possibly with the "
        "near-end warning), RESHAPE (to post-only: never riskier — same size, price and time in "
        "force, post-only added) and REJECT.",
        "inputs": "The intent (action, token, market, time in force, post-only, reduce-only). "
        "From the `DeskView`: `venue_state`, the market (`state`, `end_ns`), "
        "`last_tick_change_ns(token)`, the token's book (`last_update_ns`), `now_ns`.",
        "outputs": "A `RiskDecision`; a RESHAPE carries the intent with `post_only = True`.",
        "logic": "1. CANCEL → APPROVE. Unknown token/market or a mismatching `market_id` → "
        "REJECT `RISK_MARKETHALT_INPUT_INVALID`.\n2. Venue RESTARTING or CANCEL_ONLY, or "
        "CLOSED_ONLY and not reduce-only → REJECT `RISK_MARKETHALT_VENUE_HALT`.\n3. Market "
        "HALTED → REJECT `RISK_MARKETHALT_MARKET_HALTED`; CLOSED or RESOLVED → REJECT "
        "`RISK_MARKETHALT_MARKET_CLOSED`.\n4. Tick change at t > 0: REJECT "
        "`RISK_MARKETHALT_TICK_CHANGE` while `now − t < tick_change_settle_ms` or no book update "
        "newer than t has arrived.\n5. Not reduce-only and the market has an end: REJECT "
        "`RISK_MARKETHALT_NEAR_END` when `end − now ≤ end_buffer_s`; warn "
        "`RISK_MARKETHALT_NEAR_END_WARN` within `end_buffer_s + end_warn_extra_s`.\n6. Venue "
        "POST_ONLY and the intent not post-only: a taker (FOK/FAK) or any intent under the "
        "reject policy → REJECT `RISK_MARKETHALT_POST_ONLY_WINDOW`; a resting order → RESHAPE "
        "to post-only with `RISK_MARKETHALT_POST_ONLY_RESHAPED`.\n7. Otherwise APPROVE.",
        "hard": "Defaults: new exposure refused in the last 60 s of a market; at least 2 s and a "
        "fresh book after a tick-size change; every venue halt state.",
        "warning": "Within 180 s of the end (60 s buffer + 120 s) the intent passes with "
        "`RISK_MARKETHALT_NEAR_END_WARN`.",
        "failure": "- Unknown market or token → REJECT.\n- A market without an end time "
        "(`end_ns` 0) skips the end check (documented; Polymarket markets carry an end).\n- "
        "Tick change without a later book → rejected until the feed delivers one.\n- Venue "
        "state lag: the guard trusts `venue_state` as the venue adapter reports it; the venue "
        "refuses anything the guard misses.",
        "fallback": "REJECT; in the post-only window, RESHAPE to post-only.",
        "deps": "Contracts and model; the desk's `DeskState` (market status, tick changes from "
        "`TickSizeChange` events, venue state from the venue adapter).",
        "alerts": "Notify on `RISK_MARKETHALT_VENUE_HALT` lasting > 2 minutes (restart took "
        "longer than usual). Ticket on repeated `RISK_MARKETHALT_INPUT_INVALID` (metadata "
        "gap). `NEAR_END` rejections are normal operations: dashboard only.",
        "runbook": "1. Venue halt: check the venue's status; nothing to do unless it lasts. "
        "2. Tick change: confirm the feed delivered a new book; if not, resubscribe the token. "
        "3. Near end: expected; strategies should stop quoting earlier.",
        "rollback": "Restore the previous config; or SHADOW mode (the venue itself still "
        "refuses orders into halted markets).",
    },
    "risk.stalebookguard": {
        "purpose": "Refuse orders priced from out-of-date prices: a book older than 15 s, a "
        "token the feed marked stale after a gap, or no book at all. Warns when a book is "
        "getting old.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`: no halt authority. "
        "Verdicts: APPROVE (possibly with the age "
        "warning) and REJECT.",
        "inputs": "The intent (token, action). From the `DeskView`: `token` (for the "
        "complement), `book(token)` and the complement's book (`last_update_ns`), "
        "`is_stale(token)`, `now_ns`.",
        "outputs": "A `RiskDecision`: APPROVE, APPROVE with `RISK_STALEBOOK_AGE_WARN`, or REJECT "
        "with one code.",
        "logic": "1. CANCEL → APPROVE. Unknown token → REJECT `RISK_STALEBOOK_INPUT_INVALID`.\n"
        "2. For the token, then (with `check_complement_book`) its complement: no book or "
        "`last_update_ns` 0 → `RISK_STALEBOOK_NO_BOOK`; marked stale → "
        "`RISK_STALEBOOK_FEED_STALE`; book time more than `future_tolerance_ms` after `now_ns` "
        "→ `RISK_STALEBOOK_INPUT_INVALID`; age > `max_book_age_ms` → `RISK_STALEBOOK_TOO_OLD`; "
        "age > `warn_book_age_ms` → warning.\n3. Any rejection code rejects; else a warning on "
        "either book approves with `RISK_STALEBOOK_AGE_WARN`; else APPROVE.",
        "hard": "Book age > 15 s (default `max_book_age_ms`), a stale-flagged token, no book.",
        "warning": "Book age > 5 s (`warn_book_age_ms`). A warning level at or above the hard "
        "level never warns.",
        "failure": "- Book missing or cleared after a gap → REJECT.\n- Clock skew (book from "
        "the future) → REJECT.\n- Quiet markets: Polymarket sends no message when nothing "
        "changes, so a calm book can age past 15 s; the guard then rejects until the next "
        "update (the recorded sample shows 6–14 s quiet periods and one 78 s gap).",
        "fallback": "REJECT the intent.",
        "deps": "Contracts and model; the desk state's books and stale flags (set by the feed "
        "on gaps, cleared by a fresh snapshot).",
        "alerts": "Notify when `RISK_STALEBOOK_TOO_OLD` or `_FEED_STALE` exceeds 5 % of "
        "decisions over 5 minutes (feed trouble). Ticket on `RISK_STALEBOOK_INPUT_INVALID` "
        "(clock).",
        "runbook": "1. Check the feed connection and the last event time per token. 2. Force a "
        "snapshot (resubscribe). 3. Clock skew: check NTP on the host.",
        "rollback": "Restore the previous config (e.g. a longer `max_book_age_ms` for quiet "
        "markets, with the risk reviewer); or SHADOW mode.",
    },
    "risk.marketqualityguard": {
        "purpose": "Keep the desk out of books that are not worth trading: placeholder books "
        "(only the 0.01 / 0.99 resting quotes), crossed books, one-sided books, spreads wider "
        "than a limit and too little size near the top. Warns in a band below the limits.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`: no halt authority. "
        "Verdicts: APPROVE (possibly with a warning) "
        "and REJECT.",
        "inputs": "The intent (token, action). From the `DeskView`: the token (tick size) and "
        "its book (best bid and ask, `depth_within`).",
        "outputs": "A `RiskDecision`: APPROVE, APPROVE with `RISK_QUALITY_WARN`, or REJECT with "
        "one code.",
        "logic": "1. CANCEL → APPROVE. Unknown token, no book or a non-positive tick → REJECT "
        "`RISK_QUALITY_INPUT_INVALID`.\n2. Best bid ≤ `placeholder_bid_max_micros` (or none) "
        "and best ask ≥ `placeholder_ask_min_micros` (or none) → REJECT "
        "`RISK_QUALITY_PLACEHOLDER_BOOK` (also an empty book).\n3. One side empty → REJECT "
        "`RISK_QUALITY_ONE_SIDED`.\n4. Best bid ≥ best ask → REJECT `RISK_QUALITY_CROSSED_BOOK`."
        "\n5. Spread in ticks (partial ticks round up) > `max_spread_ticks` → REJECT "
        "`RISK_QUALITY_SPREAD_WIDE`.\n6. min(bid depth, ask depth) within `depth_window_ticks` "
        "of each best price < `min_depth_micros` → REJECT `RISK_QUALITY_DEPTH_THIN`.\n7. Spread "
        "> `warn_spread_ticks` or depth < `warn_depth_micros` → APPROVE with "
        "`RISK_QUALITY_WARN`; else APPROVE.",
        "hard": "Defaults: spread > 10 ticks; less than 50 shares within 3 ticks on the thinner "
        "side; crossed, one-sided, placeholder or empty books.",
        "warning": "Spread > 4 ticks or less than 200 shares within 3 ticks.",
        "failure": "- No book or unknown token → REJECT.\n- Crossed and locked books happen in "
        "real recordings (12 crossed and 10 locked of the sample's 23,750 two-sided snapshots); "
        "they are refused rather than traded into.\n- Reduce-only intents are not exempt: "
        "exits into a broken book are refused too (documented trade-off).",
        "fallback": "REJECT the intent.",
        "deps": "Contracts and model (`BookView.depth_within`).",
        "alerts": "Dashboard the reject rate per market; notify when one market rejects > 50 % "
        "over 10 minutes (consider removing it). No pages.",
        "runbook": "1. Look at the book in the envelope's market. 2. A market persistently "
        "placeholder or thin: take it off the strategy's list. 3. Crossed books over several "
        "seconds: feed problem; check the stale guard and the feed.",
        "rollback": "Restore the previous config; or SHADOW mode.",
    },
    "risk.exposureguard": {
        "purpose": "Cap how much money the desk can lose when markets resolve: per market, per "
        "neg-risk event and in total, counting YES and NO held together as offsetting, and "
        "every open order as if it fills exactly when that hurts. Orders that would break a cap "
        "are cut down to what fits, or refused when nothing fits.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`: no halt authority. "
        "Verdicts: APPROVE (possibly with a "
        "warning), RESHAPE (smaller size, or smaller notional for a BUY sized by notional: "
        "never riskier) and REJECT.",
        "inputs": "The intent (side, price, size or notional, action, reduce-only, target of a "
        "REPLACE). From the `DeskView`: every market, every position (size, cost basis), every "
        "open order.",
        "outputs": "A `RiskDecision`; a RESHAPE carries the intent with the fitted size.",
        "logic": "Worst-case loss at resolution is computed by `polytraders.model.exposure` "
        "(shared with the desk's accounting and the REDUCING gate):\n- market: per outcome, "
        "cost basis of the open shares minus what the winning shares pay, plus each open order's "
        "loss in that outcome if positive; worst = max(0, both outcomes);\n- neg-risk event: the "
        'worst scenario among "member k wins" and "none wins";\n- total: Σ events + Σ '
        "standalone markets.\nRules: 1. CANCEL or reduce-only → APPROVE. Unknown "
        "token/market, a position or order in an unknown token, a price outside (0, 1), no "
        "amount → REJECT `RISK_EXPOSURE_INPUT_INVALID`.\n2. For each level (market, event when "
        "the market has one, total), the largest amount that keeps its worst case within "
        "max(cap, current worst) is solved exactly (`max_amount_within`); an order that does not "
        "raise a level's worst case always fits it.\n3. All fit → APPROVE, with "
        "`RISK_EXPOSURE_WARN` when a level ends ≥ `warn_level_pct` of its cap.\n4. Otherwise, "
        "with `reshape_to_fit`: round the smallest fit down to `size_step_micros` (or keep it in "
        "micro-pUSD for notional orders); at least the token's minimum order size (or "
        "`min_notional_micros`) → RESHAPE `RISK_EXPOSURE_RESHAPED`; else REJECT with the binding "
        "level's code (`_MARKET_CAP`, `_EVENT_CAP`, `_TOTAL_CAP`). A REPLACE is judged without "
        "the order it replaces.",
        "hard": "Defaults: 500 pUSD per market, 1,000 pUSD per neg-risk event, 2,000 pUSD in "
        "total (worst-case loss at resolution).",
        "warning": "80 % of a cap (`warn_level_pct`): 400 pUSD per market by default.",
        "failure": "- A position or order in a token the desk has no market for → REJECT "
        "(the total cannot be known).\n- A malformed market (not two tokens) leaves its tokens "
        "unknown → REJECT.\n- Loss is measured against the open cost basis: realised PnL of "
        "past trades is not counted as a cushion.",
        "fallback": "RESHAPE down to the largest size that fits; REJECT when nothing at or "
        "above the minimum order size fits.",
        "deps": "Contracts and `polytraders.model.exposure` (pure, property-tested against "
        "brute-force enumeration of fills and scenarios).",
        "alerts": "Notify on `RISK_EXPOSURE_TOTAL_CAP` (desk-wide limit reached). Dashboard "
        "`RISK_EXPOSURE_RESHAPED` and `_WARN` rates. Ticket on `RISK_EXPOSURE_INPUT_INVALID` "
        "(metadata missing for a held token: reconcile).",
        "runbook": "1. Read the binding level from the code. 2. Market/event cap: expected under "
        "inventory build-up; the strategy should skew. 3. Total cap: review open positions "
        "with the risk reviewer before raising it. 4. INPUT_INVALID: load the missing market's "
        "metadata (a held token must always have its market).",
        "rollback": "Restore the previous config (caps are config); never raise caps without "
        "the risk reviewer. SHADOW mode for a code defect, with the kill switch's daily loss "
        "limit still enforced.",
    },
    "risk.drawdownguard": {
        "purpose": "Break the fall of the portfolio: when equity has dropped far enough from "
        "its peak the desk only reduces positions; when it drops further the desk halts.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {REDUCE, HALT}` "
        "(checked by the desk; its "
        "HALT does not trip the kill switch). Verdicts: APPROVE, REJECT, HALT; `set_state = "
        "REDUCING` at the warning level (only while the desk is ACTIVE: a HALTED desk is never "
        "loosened), HALTED with HALT; its monitor step finds REDUCE, HALT or nothing.",
        "inputs": "The intent (side, size, reduce-only); the monitor step has no intent. From "
        "the `DeskView`: `peak_equity`, `equity`, `trading_state`, `position(token)`.",
        "outputs": "A `RiskDecision`: APPROVE; APPROVE with `RISK_DRAWDOWN_WARN` and a "
        "REDUCING request; REJECT with `RISK_DRAWDOWN_INCREASE_BLOCKED` and a REDUCING request; "
        "REJECT `RISK_DRAWDOWN_INPUT_INVALID`; HALT `RISK_DRAWDOWN_HALT`. The monitor step "
        "returns a `MonitorDecision` (REDUCE `RISK_DRAWDOWN_REDUCING` or HALT "
        "`RISK_DRAWDOWN_HALT`) or None: the desk records a finding as one envelope (decision "
        "REDUCE or HALT, output the finding, no correlation id) when it differs from the "
        'previous finding or would change the desk, and never records "all is well".',
        "logic": "1. CANCEL → APPROVE. Peak equity ≤ 0 → REJECT `RISK_DRAWDOWN_INPUT_INVALID`.\n"
        "2. drawdown = (peak − equity) / peak; HALT with `set_state = HALTED` when "
        "`(peak − equity) × 10 000 ≥ halt_drawdown_bps × peak`.\n3. At `reducing_level_pct` of "
        "the halt level: ask for REDUCING (if ACTIVE); an intent that reduces a position "
        "(reduce-only, a SELL of at most the shares held, a BUY of at most a short) passes with "
        "`RISK_DRAWDOWN_WARN`; any other is REJECTed with `RISK_DRAWDOWN_INCREASE_BLOCKED`.\n"
        "4. Otherwise APPROVE. Integer arithmetic only.\n\nMonitor step (every "
        "`monitor_interval_ms` of desk time, 1 s by default): the same levels without an "
        "intent, so a drawdown reached while no intent flows (books moving against held "
        "positions) still acts. Peak ≤ 0 → None; at the halt level → HALT "
        "`RISK_DRAWDOWN_HALT`; at the reducing level → REDUCE `RISK_DRAWDOWN_REDUCING` (the "
        "desk enters REDUCING only from ACTIVE); otherwise None.",
        "hard": "Drawdown ≥ 10 % of peak equity (1,000 bps) → HALT.",
        "warning": "Drawdown ≥ 5 % (50 % of the halt level) → REDUCING.",
        "failure": "- Peak equity missing or ≤ 0 → REJECT.\n- Equity is marked to mid: a "
        "sudden mid move (thin book) can trip the breaker; the stale and quality guards limit "
        "trading on such books but marks still move.\n- The desk returns to ACTIVE only by an "
        "operator: recovery above the level does not lift REDUCING by itself.\n- A monitor "
        "step that raises, overruns the budget or returns an undeclared code quarantines the "
        "bot, which then rejects every intent (fail closed).",
        "fallback": "HALT at the hard level; REDUCING (only position-reducing intents) at the "
        "warning level; REJECT on corrupt inputs.",
        "deps": "Contracts and model; the desk's accounting (`Ledger` peak equity, mark to mid).",
        "alerts": "Page on `RISK_DRAWDOWN_HALT`. Notify on the first `RISK_DRAWDOWN_WARN` / "
        "`_INCREASE_BLOCKED` / `_REDUCING` of a day (desk entered REDUCING). Ticket on "
        "`_INPUT_INVALID`.",
        "runbook": "1. REDUCING: review positions and marks; let strategies unwind. 2. HALT: "
        "confirm open orders are cancelled; review PnL with the risk reviewer; an operator "
        "sets the trading state back to ACTIVE only after the review.",
        "rollback": "Restore the previous config; or SHADOW mode with the kill switch still "
        "enforced (its daily loss limit bounds the same risk).",
    },
}


CRYPTO_BACKTEST = (
    "No backtest of a desk holding this guard is on file yet (2026-12-07): the crypto desk "
    "(issue 21) has no desk file with the crypto guards and no optimizer reference run for "
    "them, so `runs/optimizer/{bot_id}/` is absent and the Backtest checklist items "
    '"timeline on file" and "reference run on file" fail for this guard. The evidence today is '
    "the fixture pack (section 22), cut from the real Binance USDⓈ-M sample "
    "`data/samples/binance/usdm_btcusdt_20240808.gz`, and the rule and property tests in "
    "`tests/bots/risk/test_crypto_guards.py`. Backtests never predict live results."
)
"""Section 23 of a crypto guard (no reference run or timeline yet)."""

CRYPTO_BOTS: dict[str, dict[str, str]] = {
    "risk.leverageguard": {
        "purpose": "Cap the account's effective leverage on crypto instruments: the gross "
        "notional of every instrument held or worked over the equity that backs it (cross "
        "margin). An order that would break the cap is cut to what fits or refused; an order "
        "that only reduces a position always passes.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`: it never changes "
        "the trading state. Verdicts: APPROVE (possibly with a warning), RESHAPE (smaller size, "
        "or smaller notional for a BUY sized by notional: never riskier) and REJECT.",
        "inputs": "The intent (token, side, price, size or notional, action, reduce-only, "
        "REPLACE target). From the `DeskView`: `instrument(token)`, `token(token)`, "
        "`instrument_notional` of every instrument held, `open_orders()`, `positions()`, "
        "`equity`.",
        "outputs": "A `RiskDecision`: APPROVE; APPROVE with `RISK_LEVERAGE_WARN`; RESHAPE "
        "`RISK_LEVERAGE_RESHAPED` carrying the fitted intent; REJECT `RISK_LEVERAGE_CAP` or "
        "`RISK_LEVERAGE_INPUT_INVALID`.",
        "logic": "An instrument's gross = max(|long|, |short|) where long = position notional "
        "at mark + open BUYs' remaining notional at their limit, short = position notional − "
        "open SELLs' (each open order filling adversely; `bots/risk/crypto.py`). Effective "
        "leverage = Σ gross / equity.\n1. CANCEL or reduce-only → APPROVE. A market token "
        "(Polymarket shares are paid in full: no leverage) → APPROVE. Unknown token → REJECT "
        "`RISK_LEVERAGE_INPUT_INVALID`.\n2. The order does not raise its instrument's gross "
        "→ APPROVE (reducing intents always pass).\n3. Equity ≤ 0 → REJECT "
        "`RISK_LEVERAGE_INPUT_INVALID`.\n4. B = ⌊max_leverage_ppm × equity / 10⁶⌋ − Σ gross of "
        "the other instruments; the largest notional keeping this instrument's gross within "
        "max(B, gross now) is B' − long (BUY) or B' + short (SELL), exact because the gross is "
        "convex in the added amount. It fits → APPROVE, with `RISK_LEVERAGE_WARN` when leverage "
        "after it ≥ `warn_level_pct` of the cap.\n5. Otherwise, with `reshape_to_fit`, the size "
        "is cut to the largest lot multiple that fits (at least the instrument's minimum size) "
        "→ RESHAPE `RISK_LEVERAGE_RESHAPED`; else REJECT `RISK_LEVERAGE_CAP`. A REPLACE is "
        "judged without the orders it replaces. Integer arithmetic only.",
        "hard": "Effective leverage above 3× (`max_leverage_ppm` 3,000,000) after the order.",
        "warning": "Leverage after the order at or above 80 % of the cap (2.4× by default).",
        "failure": "- Unknown token, or equity ≤ 0 for an order that adds exposure → REJECT "
        "(fail closed).\n- Open orders are valued at their limit price, positions at mark (the "
        "desk's `instrument_notional`: mid, else last mark, else cost basis).\n- Spot and "
        "perpetuals count alike; the desk's own 1× collateral check still applies to spot "
        "buys.\n- Fees are not in the leverage.",
        "fallback": "RESHAPE down to the largest lot that fits; REJECT when nothing at or above "
        "the minimum size fits.",
        "deps": "Contracts and model (`model/money.notional_micros`); the shared crypto "
        "helpers `bots/risk/crypto.py`.",
        "alerts": "Notify on `RISK_LEVERAGE_CAP`; dashboard `_RESHAPED` and `_WARN` rates; "
        "ticket on `_INPUT_INVALID` (equity ≤ 0 is an incident: page through the kill "
        "switch's daily loss).",
        "runbook": "1. Read equity and the instruments' notionals in the envelope's inputs. "
        "2. Frequent reshapes: strategies size beyond the cap; lower their sizes. 3. Raise the "
        "cap only with the risk reviewer.",
        "rollback": "Restore the previous config; or SHADOW mode with the margin guard "
        "enforced (it bounds the same risk at the venue's maintenance level).",
    },
    "risk.marginguard": {
        "purpose": "Keep the cross-margin perpetual account away from liquidation: when "
        "maintenance margin takes a large share of the margin balance the desk only reduces "
        "(soft pause); further up it halts (hard stop).",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {REDUCE, HALT}` "
        "(checked by the desk; its HALT does not trip the kill switch). Verdicts: APPROVE, "
        "REJECT, HALT; `set_state = REDUCING` at the soft level (only while ACTIVE), HALTED "
        "with HALT; its monitor step finds REDUCE, HALT or nothing.",
        "inputs": "The intent (token, side, price, size, reduce-only); the monitor step has "
        "none. From the `DeskView`: `instrument`, `instrument_notional` of every perpetual "
        "held, `position`, `equity`, `trading_state`. Brackets: "
        "`polytraders.model.perp.MARGIN_BRACKETS` (BTCUSDT's published table).",
        "outputs": "A `RiskDecision`: APPROVE; APPROVE `RISK_MARGIN_WARN` with a REDUCING "
        "request; REJECT `RISK_MARGIN_INCREASE_BLOCKED` with a REDUCING request; REJECT "
        "`RISK_MARGIN_PROJECTED` or `RISK_MARGIN_INPUT_INVALID`; HALT `RISK_MARGIN_HALT`. The "
        "monitor step: REDUCE `RISK_MARGIN_REDUCING` / `RISK_MARGIN_INPUT_INVALID`, HALT "
        "`RISK_MARGIN_HALT` or None.",
        "logic": "Margin ratio = Σ maintenance margin of the held perpetuals (each "
        "`perp.maintenance_margin(|notional at mark|, brackets)`, Binance's notional × "
        "maintMarginRatio − cum) / margin balance (`view.equity`: wallet + unrealized PnL in "
        "the desk's accounting); compared exactly with `perp.margin_ratio_at_least`.\n"
        "1. CANCEL → APPROVE. Unknown token, or a held perpetual with no bracket table → "
        "REJECT `RISK_MARGIN_INPUT_INVALID`.\n2. Ratio ≥ `halt_ratio_ppm` (or a position "
        "above the last bracket) → HALT.\n3. Ratio ≥ `reducing_ratio_ppm` → REDUCING request; "
        "an order that reduces its instrument position, or one on a market token (the desk's "
        "REDUCING gate judges it after the state change), → APPROVE `RISK_MARGIN_WARN`; any "
        "other → REJECT `RISK_MARGIN_INCREASE_BLOCKED`.\n4. A non-reducing order on a "
        "perpetual: the ratio with it filled at its limit price reaching the soft level → "
        "REJECT `RISK_MARGIN_PROJECTED`.\n5. Otherwise APPROVE.\n\nMonitor step (every "
        "`monitor_interval_ms`, 1 s by default): HALT at the hard level, REDUCE at the soft "
        "level, REDUCE `RISK_MARGIN_INPUT_INVALID` for a held perpetual with no brackets, else "
        "None.",
        "hard": "Margin ratio ≥ 80 % (`halt_ratio_ppm` 800,000; the venue liquidates at "
        "100 %) → HALT.",
        "warning": "Margin ratio ≥ 50 % (`reducing_ratio_ppm` 500,000) → REDUCING.",
        "failure": "- A held perpetual without a bracket table (only BTCUSDT has one today) → "
        "REJECT, and the monitor asks for REDUCING (fail closed).\n- Equity ≤ 0 with a "
        "maintenance margin due → HALT.\n- The margin balance is the desk's equity, which "
        "includes market-token positions at mid (one collateral pool assumed).\n- The desk "
        "returns to ACTIVE only by an operator.",
        "fallback": "HALT at the hard level; REDUCING at the soft level; REJECT on inputs it "
        "cannot measure.",
        "deps": "Contracts and `polytraders.model.perp` (brackets, maintenance margin, exact "
        "ratio comparison; property-tested in `tests/model/test_perp.py`).",
        "alerts": "Page on `RISK_MARGIN_HALT`. Notify on the first `RISK_MARGIN_REDUCING` / "
        "`_WARN` / `_INCREASE_BLOCKED` of a day. Ticket on `_INPUT_INVALID` (add the "
        "instrument's bracket table from `GET /fapi/v1/leverageBracket`).",
        "runbook": "1. REDUCING: check marks and positions; let strategies unwind or add "
        "margin. 2. HALT: confirm orders are cancelled, review with the risk reviewer; an "
        "operator resumes.",
        "rollback": "Restore the previous config; or SHADOW mode with the leverage guard "
        "and kill switch enforced.",
    },
    "risk.fundingguard": {
        "purpose": "Stop paying ruinous funding on perpetuals: above a funding-rate threshold "
        "the side that pays may only reduce (and a held paying position puts the desk in "
        "REDUCING); below it, an order whose expected funding cost would eat too much of its "
        "edge is refused. No funding data for a perpetual means no new risk there.",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {REDUCE}` (it never "
        "halts). Verdicts: APPROVE, REJECT; `set_state = REDUCING` when the position pays "
        "above the threshold (only while ACTIVE); its monitor step finds REDUCE or nothing.",
        "inputs": "The intent (token, side, size, reduce-only). From the `DeskView`: "
        "`instrument`, `token`, `funding_rate_ppb(token)` (the last `FundingRate` event), "
        "`position`, `positions()`, `open_orders()`, `trading_state`.",
        "outputs": "A `RiskDecision`: APPROVE; APPROVE `RISK_FUNDING_REDUCING` with a "
        "REDUCING request; REJECT `RISK_FUNDING_PAYING_BLOCKED` (with a REDUCING request when "
        "the position pays), `RISK_FUNDING_COST_OVER_EDGE`, `RISK_FUNDING_MISSING` or "
        "`RISK_FUNDING_INPUT_INVALID`. The monitor step: REDUCE `RISK_FUNDING_REDUCING` / "
        "`RISK_FUNDING_MISSING` or None.",
        "logic": "Rate in ppb as Binance prints `lastFundingRate` (0.0001 → 100,000); "
        "positive: longs pay, negative: shorts pay (`perp.funding_payment`).\n1. CANCEL → "
        "APPROVE; spot instrument or market token (no funding) → APPROVE; unknown token → "
        "REJECT `RISK_FUNDING_INPUT_INVALID`.\n2. No rate → REJECT `RISK_FUNDING_MISSING`.\n"
        "3. An order that reduces the position → APPROVE (with `RISK_FUNDING_REDUCING` and a "
        "REDUCING request when |rate| ≥ `reducing_rate_ppb` and the position pays).\n4. An "
        "order on the receiving side → APPROVE.\n5. A paying order with |rate| ≥ "
        "`reducing_rate_ppb` → REJECT `RISK_FUNDING_PAYING_BLOCKED`.\n6. Funding cost in the "
        "edge: the intent carries no edge field, so the edge is `assumed_edge_bps`; with n = "
        "⌈`holding_period_ms` / 8 h⌉ funding times, |rate| × n × 100 > `assumed_edge_bps` × "
        "10⁵ × `max_funding_share_pct` → REJECT `RISK_FUNDING_COST_OVER_EDGE`.\n7. Otherwise "
        "APPROVE.\n\nMonitor step (every `monitor_interval_ms`): for each perpetual held, "
        "sorted by token: no rate → REDUCE `RISK_FUNDING_MISSING`; position paying with |rate| "
        "≥ the threshold → REDUCE `RISK_FUNDING_REDUCING`; else None.",
        "hard": "|funding rate| ≥ 0.075 % per 8 h (`reducing_rate_ppb` 750,000) on the paying "
        "side; a paying order whose 24 h funding exceeds half a 20 bps edge (|rate| > "
        "333,333 ppb by default).",
        "warning": "A reducing order while the position pays above the threshold: approved "
        "with `RISK_FUNDING_REDUCING`, the desk enters REDUCING.",
        "failure": "- No `FundingRate` event yet for a perpetual → REJECT, and the monitor "
        "asks for REDUCING when one is held (fail closed).\n- The rate's age is not checked: a "
        "feed that stops sending rates leaves the last one in force.\n- The edge is an "
        "assumption (config), not the strategy's own estimate.\n- No feed of the repository "
        "emits `FundingRate` events yet (the ccxt venue reads the rate; wiring it into a feed "
        "is open).",
        "fallback": "REJECT paying orders; REDUCING while a paying position is held above the "
        "threshold.",
        "deps": "Contracts, `polytraders.model.perp` (funding interval, sign convention), the "
        "`FundingRate` event and `DeskView.funding_rate_ppb`.",
        "alerts": "Notify on `RISK_FUNDING_REDUCING` and `_PAYING_BLOCKED`; page on "
        "`RISK_FUNDING_MISSING` lasting over a funding interval; dashboard "
        "`_COST_OVER_EDGE`.",
        "runbook": "1. Check the rate at the venue (`premiumIndex`). 2. REDUCING: unwind the "
        "paying side or wait for the rate to fall; an operator resumes. 3. MISSING: check the "
        "funding feed.",
        "rollback": "Restore the previous config; or SHADOW mode (funding is a slow cost; the "
        "drawdown guard bounds its effect).",
    },
    "risk.netexposureguard": {
        "purpose": "Cap what all strategies together hold and work in one instrument, and flag "
        "when two or more strategies push the same direction at once (they compound each "
        "other's risk without knowing it).",
        "authority": "Class RISK (`bot_class = risk`), `capabilities = {}`. Verdicts: APPROVE "
        "(possibly flagged or warned), RESHAPE (smaller: never riskier) and REJECT.",
        "inputs": "The intent (token, side, price, size or notional, bot id, REPLACE target). "
        "From the `DeskView`: `instrument`, `token`, `instrument_notional(token)`, "
        "`open_orders(token)` (each with its strategy's `bot_id`).",
        "outputs": "A `RiskDecision`: APPROVE (codes `RISK_NETEXPOSURE_SAME_DIRECTION` and/or "
        "`RISK_NETEXPOSURE_WARN` when they apply); RESHAPE `RISK_NETEXPOSURE_RESHAPED`; REJECT "
        "`RISK_NETEXPOSURE_CAP` or `RISK_NETEXPOSURE_INPUT_INVALID`. The flag rides along on "
        "a RESHAPE or REJECT too.",
        "logic": "Worst-case net notional of the instrument = max(|long|, |short|) over every "
        "strategy's open orders of one side filling, the position at mark (`bots/risk/"
        "crypto.py`).\n1. CANCEL or reduce-only → APPROVE; market token → APPROVE "
        "(`risk.exposureguard` caps those); unknown token → REJECT "
        "`RISK_NETEXPOSURE_INPUT_INVALID`.\n2. The order does not raise the worst case → "
        "APPROVE.\n3. An open order of another strategy on the same side → "
        "`RISK_NETEXPOSURE_SAME_DIRECTION` on the decision.\n4. Fits within "
        "max(`max_net_notional_micros`, now) → APPROVE (with `RISK_NETEXPOSURE_WARN` at "
        "`warn_level_pct` of the cap).\n5. Else with `reshape_to_fit` the largest lot that "
        "fits → RESHAPE `RISK_NETEXPOSURE_RESHAPED`; else REJECT `RISK_NETEXPOSURE_CAP`.",
        "hard": "Worst-case net notional above 20,000 USDT (`max_net_notional_micros`) in one "
        "instrument.",
        "warning": "80 % of the cap (16,000 USDT); any same-direction overlap of strategies.",
        "failure": "- Unknown instrument → REJECT.\n- Holdings are one position per "
        "instrument: which strategy holds what cannot be told, so same-direction flagging "
        "sees working orders only.\n- Spot and perpetual of one coin are separate "
        "instruments (not netted).",
        "fallback": "RESHAPE to what fits; REJECT when nothing at or above the minimum size fits.",
        "deps": "Contracts and the shared crypto helpers `bots/risk/crypto.py`.",
        "alerts": "Dashboard `RISK_NETEXPOSURE_SAME_DIRECTION` per strategy pair; notify on "
        "`_CAP`.",
        "runbook": "1. SAME_DIRECTION often: the strategies' signals correlate; review their "
        "budgets (MetaAllocator). 2. CAP: review the combined position with the risk "
        "reviewer.",
        "rollback": "Restore the previous config; or SHADOW mode with the leverage guard enforced.",
    },
}
"""Spec prose of the crypto guards (issue 21 item 3)."""

BOTS.update(CRYPTO_BOTS)


def _field_rows(cls: Any) -> list[str]:
    config_cls = cls.Config
    limits = config_cls.hard_limits()
    rows = ["| field | type | default | hard limits | meaning |", "|---|---|---|---|---|"]
    for name, info in config_cls.model_fields.items():
        low, high = limits.get(name, (None, None))
        bounds = f"[{low}, {high}]" if low is not None or high is not None else "—"
        default = json.dumps(config_cls().model_dump(mode="json")[name])
        description = (info.description or "").replace("\n", " ").replace("|", "\\|")
        kind = type_name(info.annotation)
        rows.append(f"| `{name}` | `{kind}` | `{default}` | {bounds} | {description} |")
    return rows


def _untuned(cls: Any) -> str:
    fixed = [name for name in cls.Config.model_fields if name not in cls.SEARCH_SPACE.names()]
    if not fixed:
        return ""
    return (
        "\n\nDeliberately not in the space (policy, venue facts, safety switches or modelling "
        "assumptions: set by operators, never by an optimizer): "
        + ", ".join(f"`{name}`" for name in fixed)
        + "."
    )


def _envelopes(bot_id: str) -> list[str]:
    lines = []
    for case in WIRE_CASES:
        run, _ = run_pack(load_pack(pack_path(bot_id, case)))
        for envelope in run.envelopes:
            if envelope.bot_id == bot_id:
                lines.append(encode_envelope(envelope).decode().rstrip("\n"))
    return lines


def render(bot_id: str, bench_figure: str = "") -> str:
    """The spec of one bot as Markdown."""
    # here, not at the top: importing the optimizer needs Optuna, and test_specs imports this module
    from polytraders.optimize.references import FIXTURES, REFERENCES

    cls = RISK_BOTS[bot_id]
    text = BOTS[bot_id]
    registry = load_registry()
    defaults = json.dumps(cls.Config().model_dump(mode="json"), indent=2)
    codes = sorted(cls.reason_codes)
    crypto = bot_id in CRYPTO_BOTS
    body: dict[str, str] = {
        "Purpose": text["purpose"],
        "Class and authority": text["authority"],
        "Owner": OWNER,
        "Inputs": text["inputs"],
        "Outputs": text["outputs"],
        "Decision logic": text["logic"],
        "Parameters": f"`{cls.__module__}.{cls.Config.__name__}` (pydantic, frozen, "
        "extra keys refused):\n\n" + "\n".join(_field_rows(cls)),
        "Defaults": f"Config version `{cls.Config().config_version}`:\n\n```json\n{defaults}\n```",
        "Hard thresholds": text["hard"] + "\n\nConfig hard limits (a value outside is refused "
        "with a pydantic validation error naming the field) are in the table of section 7.",
        "Warning thresholds": text["warning"],
        "Search space": "`SEARCH_SPACE` (read by the optimizer; nothing else declares "
        "tunables):\n\n```json\n"
        + json.dumps(cls.SEARCH_SPACE.to_dict(), indent=2)
        + "\n```"
        + _untuned(cls),
        "Modes": COMMON_MODES
        + " Declared: `mode_support` = "
        + ", ".join(sorted(m.value for m in cls.mode_support))
        + ".",
        "Reason codes": "| code | severity | summary |\n|---|---|---|\n"
        + "\n".join(
            f"| `{c}` | {registry[c].severity.value} | {registry[c].summary} |" for c in codes
        ),
        "User messages": "\n".join(f"- `{c}`: {registry[c].user_message}" for c in codes),
        "Failure modes": text["failure"],
        "Safe fallback": text["fallback"],
        "Dependencies": text["deps"],
        "Latency budget": LATENCY.format(
            budget=budget_table(cls.RUNTIME_BUDGET), figure=bench_figure or "see the latest run"
        ),
        "Metrics": COMMON_METRICS,
        "Alerts": text["alerts"],
        "Wire examples": "Envelopes recorded by the desk's risk chain (`run_risk`) on the "
        f"fixture cases {', '.join(WIRE_CASES)} (one JSON line each, as written to the "
        "timeline):\n\n```json\n" + "\n".join(_envelopes(bot_id)) + "\n```",
        "Fixtures": f"`tests/fixtures/bots/{bot_id}/`, run through the desk by "
        "`tests/bots/risk/test_fixture_packs.py`; "
        + (
            "market data from the real Binance USDⓈ-M sample "
            "`data/samples/binance/usdm_btcusdt_20240808.gz` (regenerate with "
            "`python -m tests.bots.risk.make_crypto_fixtures`). Further rules are covered by "
            "`tests/bots/risk/test_crypto_guards.py`.\n\n"
            if crypto
            else "market data from the real Polymarket sample "
            "`data/samples/polymarket/resolvedkit_btc15m` (regenerate with "
            "`python -m tests.bots.risk.make_fixtures`). Further rules are covered by "
            "`tests/bots/risk/test_guards.py`.\n\n"
        )
        + "\n".join(
            f"- **{case}**: {load_pack(pack_path(bot_id, case)).description} Expected: "
            f"{load_pack(pack_path(bot_id, case)).expected['verdict']} "
            f"{load_pack(pack_path(bot_id, case)).expected['reason_codes']}."
            for case in CASES
        ),
        "Backtest evidence": CRYPTO_BACKTEST.format(bot_id=bot_id)
        if crypto
        else BACKTEST.format(
            figures=BACKTEST_FIGURES[bot_id],
            bot_id=bot_id,
            fixture=FIXTURES[bot_id],
            reference=(
                REFERENCE_RUN.format(
                    trials=REFERENCES[bot_id].trials, score=REFERENCES[bot_id].score
                )
                if bot_id in REFERENCES
                else NO_REFERENCE_RUN.format(bot_id=bot_id)
            ),
        ),
        "Runbook": text["runbook"],
        "Rollback plan": text["rollback"],
        "Promotion status": PROMOTION.format(bot_id=bot_id),
        "Change log": CHANGE_LOGS.get(bot_id, CHANGE_LOG),
    }
    out = [f"# {bot_id}", "", f"Version {cls.version}. Source: `src/polytraders/bots/risk/"
           f"{bot_id.split('.')[1]}.py`.", ""]  # fmt: skip
    for number, title in enumerate(SECTION_TITLES, start=1):
        out += [f"## {number}. {title}", "", body[title].strip(), ""]
    return "\n".join(out)


def main(bench_figure: str = "", bot_ids: tuple[str, ...] = ()) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for bot_id in bot_ids or tuple(RISK_BOTS):
        (DOCS / f"{bot_id}.md").write_text(render(bot_id, bench_figure), encoding="utf-8")


if __name__ == "__main__":
    import sys

    main(" ".join(sys.argv[1:]))
