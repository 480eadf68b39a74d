"""Pair two risk chains' decisions on the same intents and measure their agreement, per bot.

A :class:`DecisionTap` is an envelope sink that keeps every risk-class envelope that is about
an intent (non-empty ``correlation_id``: the desk's own checks, bot ``desk``, and every risk
bot; monitor steps are about no intent and are skipped) with its exact JSON line.
:func:`compare_decisions` pairs a baseline tap with a candidate tap.

**Pairing ("the same intent through both chains").** An item is a (bot id, intent id) pair.
In a shadow comparison (:mod:`polytraders.backtest.shadow_compare`) the candidate's chain
decides on exactly the intents the baseline desk's chain decides on, so every intent is on
both sides. The pairing does not assume it: an intent id is only the same intent when the
input digest of its first risk envelope (the intent as proposed, before any reshape) is equal
on both sides, so the timelines of two independently running desks (whose strategies diverge
once one approves an order the other rejects, and may then reuse a sequence number for a
different intent) pair only what truly is the same intent.

**Bots compared**: the risk bots (and ``desk``) that decided at least once on each side; a bot
present on one side only is listed by name, not compared.

**One-sided items** (ABSENT on one side; never counted as agreement nor as disagreement) are
counted by reason:

- ``not_reached``: the other chain saw the same intent, but it never reached this bot there (an
  earlier bot or the desk check stopped it, or the bot runs after an enforced REJECT);
- ``not_proposed``: the other side never saw an intent with that id (only between two
  independently running desks: another strategy, or a diverged state);
- ``intent_differs``: the other side saw an intent with that id, but a different one (ditto).

**Labels**: the envelope's decision; ERROR and QUARANTINE (a failing bot, whose intent the desk
rejects: fail closed) count as REJECT with their codes.

**Agreement** of a two-sided item, each level implying the one before:

1. verdict: same label;
2. codes ("strict", ``../shared/research/governance.md`` §3): same verdict, same reason codes
   (in order) and the same requested trading state (``set_state``);
3. reshape: for two RESHAPEs, the reshaped intents are equal after rounding (:func:`reshape_key`:
   action, token, side, price on the token's tick grid rounded the never-more-aggressive way
   (BUY down, SELL up, as the router sends it), size and notional rounded down to the size
   step, time in force, post-only, reduce-only).

A two-sided item that fails any level is a **divergence**, listed with both envelopes' exact
JSON lines. It is **unsafe** when the candidate is more permissive: its verdict ranks lower in
APPROVE < RESHAPE < REJECT < HALT (the governance note's "candidate more permissive", live
REJECT/RESHAPE/HALT → candidate APPROVE, and also REJECT/HALT → RESHAPE and HALT → REJECT);
or, same verdict, it asks for a weaker trading state (none < REDUCING < HALTED); or, two
RESHAPEs, the candidate's keeps more size or notional, a more aggressive price, or drops
post-only or reduce-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import msgspec

from polytraders.contracts.decisions import RiskDecision
from polytraders.contracts.envelope import Decision, ReportEnvelope, encode_envelope
from polytraders.contracts.modes import BotClass
from polytraders.model.agreement import ABSENT, Confusion, decimal_text
from polytraders.model.events import TradingState
from polytraders.model.money import Rounding, round_to_step
from polytraders.model.orders import OrderIntent, Side

POLYMARKET_SIZE_STEP_MICROS = 10_000
"""Polymarket's order size precision: 2 decimals of a share (``../shared/POLYMARKET.md``
"Orders"; ``exec.smartrouter``'s ``size_step_micros`` default)."""

NOT_PROPOSED = "not_proposed"
INTENT_DIFFERS = "intent_differs"
NOT_REACHED = "not_reached"
ONE_SIDED_REASONS = (NOT_PROPOSED, INTENT_DIFFERS, NOT_REACHED)
"""Why an item is decided on one side only (module docstring)."""

_RANK = {"APPROVE": 0, "RESHAPE": 1, "REJECT": 2, "HALT": 3}
_STATE_RANK = {None: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_AS_REJECT = (Decision.ERROR, Decision.QUARANTINE)
_RISK = BotClass.RISK


class ReshapeKey(NamedTuple):
    """A reshaped intent as compared (see :func:`reshape_key`); prices and sizes micro-units."""

    action: str
    token_id: str
    side: str
    price: int
    size: int
    notional: int
    time_in_force: str
    post_only: bool
    reduce_only: bool


def reshape_key(intent: OrderIntent, tick: int, size_step: int) -> ReshapeKey:
    """``intent`` with its price on the ``tick`` grid (BUY down, SELL up) and its size and
    notional rounded down to ``size_step`` (micro-units).

    Raises:
        ValueError: ``tick`` or ``size_step`` not positive.
    """
    price_rounding = Rounding.DOWN if intent.side is Side.BUY else Rounding.UP
    return ReshapeKey(
        action=intent.action.value,
        token_id=intent.token_id,
        side=intent.side.value,
        price=round_to_step(intent.price, tick, price_rounding),
        size=round_to_step(intent.size, size_step, Rounding.DOWN),
        notional=round_to_step(intent.notional, size_step, Rounding.DOWN),
        time_in_force=intent.time_in_force.value,
        post_only=intent.post_only,
        reduce_only=intent.reduce_only,
    )


class DecisionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One side's decision on one item.

    Fields: ``bot_id``, ``correlation_id`` (the intent), ``label`` (APPROVE / REJECT / RESHAPE /
    HALT), ``decision`` (the envelope's own, e.g. ERROR), ``reason_codes``, ``set_state`` (the
    trading state asked for, or None), ``reshaped`` (the RESHAPE's intent, or None),
    ``envelope_id``, ``run_id``, ``mode``, ``ts_event_ns``, ``line`` (the envelope's exact JSON
    line, without its newline).
    """

    bot_id: str
    correlation_id: str
    label: str
    decision: str
    reason_codes: tuple[str, ...]
    set_state: TradingState | None
    reshaped: OrderIntent | None
    envelope_id: str
    run_id: str
    mode: str
    ts_event_ns: int
    line: str


class DecisionTap:
    """An envelope sink keeping each risk decision about an intent (module docstring).

    Attributes:
        records: (bot id, intent id) → the decision (a later envelope for the same pair, which
            the desk never writes, would replace an earlier one).
        first_digest: intent id → input digest of its first risk envelope (the proposed
            intent).
        bots: bot id → its config version in its first decision, in the order bots first
            decided (``desk``: the desk config's version).
    """

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], DecisionRecord] = {}
        self.first_digest: dict[str, str] = {}
        self.bots: dict[str, str] = {}

    def record(self, envelope: ReportEnvelope) -> None:
        """Keep ``envelope`` when it is a risk decision about an intent."""
        self.record_line(envelope, encode_envelope(envelope))

    def record_line(self, envelope: ReportEnvelope, line: bytes) -> None:
        """As :meth:`record`, with the envelope's JSON line computed upstream."""
        correlation = envelope.correlation_id
        if envelope.bot_class is not _RISK or not correlation:
            return
        self.first_digest.setdefault(correlation, envelope.input_digest)
        bot_id = envelope.bot_id
        self.bots.setdefault(bot_id, envelope.config_version)
        decision = envelope.decision
        output = envelope.output
        risk = output if isinstance(output, RiskDecision) else None
        self.records[(bot_id, correlation)] = DecisionRecord(
            bot_id=bot_id,
            correlation_id=correlation,
            label="REJECT" if decision in _AS_REJECT else decision.value,
            decision=decision.value,
            reason_codes=envelope.reason_codes,
            set_state=risk.set_state if risk is not None else None,
            reshaped=risk.reshaped if risk is not None else None,
            envelope_id=envelope.envelope_id,
            run_id=envelope.run_id,
            mode=envelope.mode.value,
            ts_event_ns=envelope.ts_event_ns,
            line=line.rstrip(b"\n").decode(),
        )

    def flush(self) -> None:
        """Nothing to persist."""

    def clear(self) -> None:
        """Forget every decision kept so far (a new comparison window starts)."""
        self.records.clear()
        self.first_digest.clear()
        self.bots.clear()


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    """A two-sided item whose decisions differ (module docstring).

    Fields: ``bot_id``, ``correlation_id``, ``ts_event_ns`` (the baseline's), ``kind``
    (``verdict``, ``codes`` or ``reshape``: the first level that differs), ``unsafe`` (the
    candidate is more permissive), ``baseline`` and ``candidate`` (the two decisions, each
    with its envelope's exact JSON line).
    """

    bot_id: str
    correlation_id: str
    ts_event_ns: int
    kind: str
    unsafe: bool
    baseline: DecisionRecord
    candidate: DecisionRecord


class OneSided(msgspec.Struct, frozen=True, kw_only=True):
    """An item decided on one side only: ``side`` (``baseline`` or ``candidate``: the side
    that decided), ``reason`` (:data:`ONE_SIDED_REASONS`) and that side's decision."""

    bot_id: str
    correlation_id: str
    side: str
    reason: str
    decision: DecisionRecord


class BotAgreement(msgspec.Struct, frozen=True, kw_only=True):
    """One bot's agreement between the two desks.

    Fields:
        bot_id: the bot (or ``desk``).
        baseline_config_version, candidate_config_version: its config version on each side.
        confusion: baseline × candidate labels, ABSENT included.
        agree_codes: two-sided items with the same verdict, codes and requested state.
        both_reshape / agree_reshape: items both RESHAPEd with the same verdict and codes, and
            those whose reshaped intents are equal after rounding.
        one_sided: ``baseline`` / ``candidate`` → reason → count.
        divergences: every divergence, in the baseline's order.
        one_sided_items: every one-sided item (baseline's first, in order).
    """

    bot_id: str
    baseline_config_version: str
    candidate_config_version: str
    confusion: Confusion
    agree_codes: int
    both_reshape: int
    agree_reshape: int
    one_sided: dict[str, dict[str, int]]
    divergences: tuple[Divergence, ...]
    one_sided_items: tuple[OneSided, ...]

    @property
    def compared(self) -> int:
        """Items decided on both sides."""
        return self.confusion.compared

    @property
    def agree_verdict(self) -> int:
        """Items with the same verdict on both sides."""
        return self.confusion.agreed

    @property
    def unsafe(self) -> int:
        """Divergences where the candidate is more permissive."""
        return sum(1 for d in self.divergences if d.unsafe)

    @property
    def kappa_text(self) -> str:
        """Cohen's κ as a decimal string (6 places), ``""`` when nothing was compared."""
        return decimal_text(self.confusion.kappa())


def _more_permissive(base: DecisionRecord, cand: DecisionRecord, ticks: Mapping[str, int]) -> bool:
    if _RANK[cand.label] != _RANK[base.label]:
        return _RANK[cand.label] < _RANK[base.label]
    if _STATE_RANK[cand.set_state] < _STATE_RANK[base.set_state]:
        return True
    b, c = base.reshaped, cand.reshaped
    if base.label != "RESHAPE" or b is None or c is None:
        return False
    if c.side is not b.side or c.token_id != b.token_id:
        return True  # not the same order any more: never assume it is safer
    tick = ticks.get(b.token_id, 1)
    bk, ck = reshape_key(b, tick, 1), reshape_key(c, tick, 1)
    aggressive = ck.price > bk.price if b.side is Side.BUY else ck.price < bk.price
    return (
        ck.size > bk.size
        or ck.notional > bk.notional
        or aggressive
        or (bk.post_only and not ck.post_only)
        or (bk.reduce_only and not ck.reduce_only)
    )


def _level(
    base: DecisionRecord, cand: DecisionRecord, ticks: Mapping[str, int], size_step: int
) -> str:
    """The first level at which the two decisions differ, or "" when they agree fully."""
    if base.label != cand.label:
        return "verdict"
    if base.reason_codes != cand.reason_codes or base.set_state != cand.set_state:
        return "codes"
    if base.label == "RESHAPE":
        if base.reshaped is None or cand.reshaped is None:
            return "" if base.reshaped is cand.reshaped else "reshape"
        tick = ticks.get(base.reshaped.token_id, 1)
        if reshape_key(base.reshaped, tick, size_step) != reshape_key(
            cand.reshaped, tick, size_step
        ):
            return "reshape"
    return ""


def _absence(correlation: str, here: DecisionTap, other: DecisionTap) -> str:
    digest = here.first_digest[correlation]
    other_digest = other.first_digest.get(correlation)
    if other_digest is None:
        return NOT_PROPOSED
    return NOT_REACHED if other_digest == digest else INTENT_DIFFERS


def compare_decisions(
    baseline: DecisionTap,
    candidate: DecisionTap,
    *,
    ticks: Mapping[str, int],
    size_step: int = POLYMARKET_SIZE_STEP_MICROS,
) -> list[BotAgreement]:
    """Per bot present on both sides (in the baseline's order), the agreement of the two
    desks' decisions (rules in the module docstring).

    Args:
        baseline, candidate: the taps of the two runs.
        ticks: token id → tick size (micro-pUSD); an unknown token compares prices exactly.
        size_step: size step for reshaped sizes and notionals (micro-units).

    Raises:
        ValueError: ``size_step`` not positive.
    """
    if size_step <= 0:
        raise ValueError("size_step must be positive")
    bots = [b for b in baseline.bots if b in candidate.bots]
    wanted = set(bots)
    per_bot: dict[str, _Counter] = {b: _Counter() for b in bots}
    for (bot_id, correlation), base in baseline.records.items():
        if bot_id not in wanted:
            continue
        counter = per_bot[bot_id]
        cand = candidate.records.get((bot_id, correlation))
        same_intent = baseline.first_digest[correlation] == candidate.first_digest.get(correlation)
        if cand is None or not same_intent:
            counter.one_side("baseline", _absence(correlation, baseline, candidate), base)
            continue
        counter.pair(base, cand, ticks, size_step)
    for (bot_id, correlation), cand in candidate.records.items():
        if bot_id not in wanted:
            continue
        base_match = baseline.records.get((bot_id, correlation))
        same_intent = candidate.first_digest[correlation] == baseline.first_digest.get(correlation)
        if base_match is None or not same_intent:
            reason = _absence(correlation, candidate, baseline)
            per_bot[bot_id].one_side("candidate", reason, cand)
    return [per_bot[b].result(b, baseline.bots[b], candidate.bots[b]) for b in bots]


class _Counter:
    """Accumulates one bot's items."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, int]] = {}
        self.agree_codes = 0
        self.both_reshape = 0
        self.agree_reshape = 0
        self.one_sided: dict[str, dict[str, int]] = {
            "baseline": dict.fromkeys(ONE_SIDED_REASONS, 0),
            "candidate": dict.fromkeys(ONE_SIDED_REASONS, 0),
        }
        self.divergences: list[Divergence] = []
        self.one_sided_items: list[OneSided] = []

    def _cell(self, base: str, cand: str) -> None:
        row = self.cells.setdefault(base, {})
        row[cand] = row.get(cand, 0) + 1

    def one_side(self, side: str, reason: str, record: DecisionRecord) -> None:
        if side == "baseline":
            self._cell(record.label, ABSENT)
        else:
            self._cell(ABSENT, record.label)
        self.one_sided[side][reason] += 1
        self.one_sided_items.append(
            OneSided(
                bot_id=record.bot_id,
                correlation_id=record.correlation_id,
                side=side,
                reason=reason,
                decision=record,
            )
        )

    def pair(
        self,
        base: DecisionRecord,
        cand: DecisionRecord,
        ticks: Mapping[str, int],
        size_step: int,
    ) -> None:
        self._cell(base.label, cand.label)
        level = _level(base, cand, ticks, size_step)
        if level not in ("verdict", "codes"):
            self.agree_codes += 1
            if base.label == "RESHAPE":
                self.both_reshape += 1
                self.agree_reshape += level == ""
        if level:
            self.divergences.append(
                Divergence(
                    bot_id=base.bot_id,
                    correlation_id=base.correlation_id,
                    ts_event_ns=base.ts_event_ns,
                    kind=level,
                    unsafe=_more_permissive(base, cand, ticks),
                    baseline=base,
                    candidate=cand,
                )
            )

    def result(self, bot_id: str, baseline_version: str, candidate_version: str) -> BotAgreement:
        return BotAgreement(
            bot_id=bot_id,
            baseline_config_version=baseline_version,
            candidate_config_version=candidate_version,
            confusion=Confusion.of(self.cells),
            agree_codes=self.agree_codes,
            both_reshape=self.both_reshape,
            agree_reshape=self.agree_reshape,
            one_sided=self.one_sided,
            divergences=tuple(self.divergences),
            one_sided_items=tuple(self.one_sided_items),
        )
