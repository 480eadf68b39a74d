"""The Impl score (seed 002: "Impl 15"): the bot is built to contract and behaves as its
fixture pack says, through the desk. It says nothing about live conditions (that is the
Runtime score).

Every item is checked mechanically, each with its evidence; a check that cannot run fails
(never passes); evidence that does not exist yet is PENDING.

1. **mypy --strict passes on the bot's module** (seed 002's "TypeScript compiles against the
   contracts package"): ``mypy --strict --follow-imports=silent`` (``python -m mypy`` in a
   child process, the repository's ``pyproject.toml``) on the bot's own module — the package
   ``src/polytraders/bots/<class>/<name>/`` or the file ``…/<name>.py`` — whose imports are
   followed for types but reported elsewhere. PENDING when mypy (a dev dependency) is not
   importable.
2. **Implements the Bot[I, O] protocol** (:class:`polytraders.contracts.bot.Bot`): every class
   attribute the protocol declares is present with the declared type (``Config`` a
   ``BotConfig`` subclass, ``mode_support`` a frozenset of ``Mode`` …); ``decide`` takes
   ``(input, view)`` and is annotated to return its class's output (Proposal, RiskDecision,
   RoutePlan); ``reset`` is callable; an instance's ``config`` is a ``Config``; and the
   contract verification :func:`~polytraders.contracts.bot.bot_problems` finds nothing.
3. **Config validates against the published BotConfig schema**: the JSON Schema
   ``polytraders schema <bot_id>`` prints (``Config.json_schema()``) validates the default
   config's JSON (``jsonschema``, Draft 2020-12), and the config lint
   :func:`~polytraders.contracts.config.config_problems` finds nothing. PENDING when
   ``jsonschema`` (a dependency) is not importable.
4. **Default config within every declared hard threshold**: each field's default (nested
   configs too) satisfies what the config declares: ``ge``/``gt``/``le``/``lt`` on numbers, a
   ``pattern`` on text, the choices of a ``Literal`` (none declared: vacuously within; item
   3's lint requires limits on every numeric field).
5–8. **The four fixture cases through the desk** (:func:`polytraders.readiness.packs.run_case`,
   ENFORCED), each passing, and: 6 — the bot emits a warning-severity code of the registry;
   7 — the safe fallback fires: either a stop (REJECT, HALT, REFUSE or IDLE) with a
   hard-severity code and nothing handed on towards the venue, or the de-risking fallback the
   bot's spec (section 16) documents, as the desk accepted it: a risk RESHAPE strictly smaller
   than the intent (``exposureguard``: "RESHAPE down to the largest size that fits"), a
   strategy proposing only reduce-only intents (``maker_tight``: "at a market's end … unwind
   by rule"); 8 — failure injection never fails open: risk REJECT/HALT (also recorded so in
   SHADOW and ADVISORY), strategy IDLE with nothing proposed, execution REFUSE with no order,
   each with a hard-severity code.
9. **Envelopes on every decision path**: each of the four cases recorded an envelope of the
   bot, and so did the error path (item 11's overreaching copy: an ERROR envelope).
10. **Every emitted reason code is registered**: every code of every envelope of every run
    above (the bot's and the desk's) is in the registry.
11. **Authority enforced**: the declared capabilities are ones the class may hold
    (:func:`~polytraders.contracts.authority.capability_problems`); no case run was quarantined
    or broke authority; and a copy of the bot whose ``decide`` returns an output beyond its
    class's authority (risk: a RESHAPE to twice the size; strategy: an intent in another bot's
    name; execution: an order twice the intent's size) is quarantined by the desk with
    ``SYS_AUTHORITY_VIOLATION`` and fails closed (the desk's own checks; nothing re-implemented).
12. **Every declared mode reachable at runtime**: the normal case run in each mode of
    ``mode_support`` through the harness passes :func:`~polytraders.readiness.packs.run_case`'s
    checks for that mode: the recorded envelope carries the mode, or — as the desk documents —
    there is none (STUB; a quarantined strategy), and nothing is applied outside ENFORCED.
13. **The fixture pack against the venue's simulator with the real venue adapter**, picked
    by the pack's tokens (:func:`~polytraders.readiness.exchange_packs.uses_instruments`): a
    pack of crypto instruments (``binance-usdm:BTCUSDT``) against the Binance USDⓈ-M exchange
    simulator with :class:`~polytraders.venues.ccxt.venue.CcxtVenue`
    (:mod:`polytraders.readiness.exchange_packs`), a pack of Polymarket markets against the
    CLOB v2 simulator with the Polymarket venue adapter
    (:mod:`polytraders.readiness.clob_packs`): all four cases pass. A case whose state the
    simulator cannot hold fails with the reason. PENDING without the ``live`` extra.
14. **Standard metrics emitted**: the normal case is run with a
    :class:`~polytraders.ops.metrics.DeskMetrics` receiving every envelope as it is recorded
    and its desk gauges refreshed at the case's clock — how the desk runners wire it (an
    envelope sink, then ``update_desk``); ``decisions_total``, ``decision_latency_ms``,
    ``heartbeat_age_ms``, ``errors_total``, ``config_version`` (labelled with the bot's config
    version) and ``mode`` (ENFORCED) must each have a sample labelled with the bot.
15. **CI is green** for the commit: :func:`polytraders.readiness.ci_evidence.ci_item`.

Runs are memoised in ``ctx.cache`` (one pack run per bot and evaluation). Item 13 starts the
simulator it needs unless one is open: wrap a whole evaluation in
``with polytraders.readiness.exchange_packs.optional_simulators(ctx):`` to share both.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import annotated_types
import msgspec

from polytraders.bots.registry import BOTS
from polytraders.contracts.authority import capability_problems
from polytraders.contracts.bot import Bot, bot_problems
from polytraders.contracts.config import BotConfig, FrozenConfig, config_problems
from polytraders.contracts.decisions import Proposal, RiskDecision, RoutePlan, Verdict
from polytraders.contracts.envelope import Decision, encode_envelope
from polytraders.contracts.ids import client_order_id
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.reasons import ReasonRegistry, Severity, load_registry
from polytraders.model.orders import OrderIntent, VenueOrder
from polytraders.ops.metrics import DeskMetrics
from polytraders.readiness.ci_evidence import ci_item
from polytraders.readiness.clob_packs import (
    ClobCaseRun,
    SimulatorUnavailableError,
    run_clob_pack,
)
from polytraders.readiness.context import ReadinessContext
from polytraders.readiness.evidence import (
    ChecklistItem,
    Evidence,
    EvidenceKind,
    ItemStatus,
    Score,
    ScoreName,
    file_evidence,
    result_evidence,
)
from polytraders.readiness.exchange_packs import (
    ExchangeCaseRun,
    run_exchange_pack,
    uses_instruments,
)
from polytraders.readiness.expected_logs import expected_warnings, mentions
from polytraders.readiness.packs import (
    CASES,
    FIXTURES_DIR,
    CaseRun,
    Pack,
    load_pack,
    pack_path,
    run_case,
)

TITLES: tuple[str, ...] = (
    "mypy --strict passes on the bot's module (seed 002: TypeScript compiles against the "
    "contracts package).",
    "Implements the Bot[I, O] protocol from polytraders.contracts.",
    "Config validates against the published BotConfig schema.",
    "Default config falls within every declared hard threshold.",
    "Fixture: normal-conditions input passes.",
    "Fixture: warning-conditions input emits the warning reason code.",
    "Fixture: hard-threshold input fires the safe fallback.",
    "Fixture: failure-injection input does not fail open.",
    "Emits ReportEnvelopes on every decision path.",
    "Every reason code emitted is in the registry.",
    "Authority enforced — can only do what the class allows.",
    "Every declared mode_support entry is reachable at runtime.",
    "Mock CLOB v2 adapter passes the bot's full fixture pack.",
    "Standard metrics (decisions_total, decision_latency_ms, heartbeat_age_ms, errors_total, "
    "config_version, mode) are emitted.",
)
"""Seed 002's Impl checklist, items 1–14 (item 15's title is ci_evidence's)."""

AUTHORITY_VIOLATION = "SYS_AUTHORITY_VIOLATION"
STANDARD_METRICS: dict[str, str] = {
    "decisions_total": "polytraders_bot_decisions_total",
    "decision_latency_ms": "polytraders_bot_decision_latency_ms_count",
    "heartbeat_age_ms": "polytraders_bot_heartbeat_age_ms",
    "errors_total": "polytraders_bot_errors_total",
    "config_version": "polytraders_bot_config_version",
    "mode": "polytraders_bot_mode",
}
"""Seed 002's standard metric → the sample :class:`DeskMetrics` exports for it."""
_OUTPUTS: dict[BotClass, type] = {
    BotClass.STRATEGY: Proposal,
    BotClass.RISK: RiskDecision,
    BotClass.EXECUTION: RoutePlan,
}
_STOPS = frozenset({Decision.REJECT, Decision.HALT, Decision.REFUSE, Decision.IDLE})


def impl_score(bot_id: str, ctx: ReadinessContext) -> Score:
    """The Impl score of library bot ``bot_id`` (module docstring), items 1..15.

    Raises:
        KeyError: ``bot_id`` is not a library bot.
    """
    cls = BOTS[bot_id]
    registry = load_registry()
    checks: list[Callable[[], ChecklistItem]] = [
        lambda: _mypy_item(cls, ctx),
        lambda: _protocol_item(cls, registry),
        lambda: _schema_item(cls),
        lambda: _limits_item(cls),
        lambda: _case_item(5, cls, ctx, registry),
        lambda: _case_item(6, cls, ctx, registry),
        lambda: _case_item(7, cls, ctx, registry),
        lambda: _case_item(8, cls, ctx, registry),
        lambda: _envelopes_item(cls, ctx),
        lambda: _registered_item(cls, ctx, registry),
        lambda: _authority_item(cls, ctx),
        lambda: _modes_item(cls, ctx),
        lambda: _clob_item(cls, ctx),
        lambda: _metrics_item(cls, ctx),
    ]
    items = [_guarded(number, check) for number, check in enumerate(checks, start=1)]
    items.append(msgspec.structs.replace(ci_item(ctx, 15), number=15))
    return Score(bot_id=bot_id, name=ScoreName.IMPL, items=tuple(items))


def _item(
    number: int, status: ItemStatus, detail: str, evidence: list[Evidence] | tuple[Evidence, ...]
) -> ChecklistItem:
    return ChecklistItem(
        number=number,
        title=TITLES[number - 1],
        status=status,
        detail=detail,
        evidence=tuple(evidence),
    )


def _guarded(number: int, check: Callable[[], ChecklistItem]) -> ChecklistItem:
    """Run one item's check; one that raises fails (a check that cannot run is no pass)."""
    try:
        return check()
    except Exception as exc:  # any failure of the check itself
        return _item(
            number,
            ItemStatus.FAIL,
            f"the check could not run: {type(exc).__name__}: {exc}",
            [],
        )


def _code_ref(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


# ---------------------------------------------------------------------------- item 1
def bot_module_paths(cls: Any, repo: Path) -> list[Path]:
    """The files of the bot's own module in ``repo``: its package
    ``src/polytraders/bots/<class>/<name>/`` (every ``.py`` under it) or the module file
    ``…/<name>.py`` (relative to ``repo``; empty when neither exists)."""
    parts = cls.__module__.split(".")[:4]  # polytraders.bots.<class>.<name>
    base = Path("src", *parts)
    if (repo / base).is_dir():
        return sorted(p.relative_to(repo) for p in (repo / base).rglob("*.py"))
    module = base.with_suffix(".py")
    return [module] if (repo / module).is_file() else []


MYPY_TIMEOUT_S = 600
"""How long the strict type check of one bot may take (a cold cache takes about a minute)."""


def _mypy_item(cls: Any, ctx: ReadinessContext) -> ChecklistItem:
    if importlib.util.find_spec("mypy") is None:
        return _item(1, ItemStatus.PENDING, "mypy (a dev dependency) is not installed", [])
    files = bot_module_paths(cls, ctx.repo)
    if not files:
        return _item(1, ItemStatus.FAIL, f"no module file for {cls.__module__} in the repo", [])
    args = [
        "--strict",
        "--follow-imports=silent",
        "--config-file",
        str(ctx.repo / "pyproject.toml"),
        "--cache-dir",
        str(ctx.repo / ".mypy_cache" / "readiness-strict"),
        *(str(ctx.repo / f) for f in files),
    ]
    # a separate process: mypy raises the interpreter's recursion limit and keeps state, which
    # must not leak into the caller (a desk, a test session)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=MYPY_TIMEOUT_S,
    )
    stdout, stderr, status = done.stdout, done.stderr, done.returncode
    shown = " ".join(["mypy --strict --follow-imports=silent", *(f.as_posix() for f in files)])
    output = (stdout + stderr).replace(str(ctx.repo) + "/", "")
    last = output.strip().splitlines()[-1] if output.strip() else f"exit {status}"
    evidence = [
        result_evidence(EvidenceKind.COMMAND, shown, {"exit": status, "output": output}, last),
        *(file_evidence(ctx.repo, f) for f in files),
    ]
    if status == 0:
        return _item(1, ItemStatus.PASS, f"{last} ({len(files)} files)", evidence)
    errors = [line for line in output.splitlines() if ": error:" in line]
    shown_errors = "; ".join(errors[:3]) or output.strip()[:300]
    return _item(1, ItemStatus.FAIL, f"{last}: {shown_errors}", evidence)


# ---------------------------------------------------------------------------- item 2
def protocol_problems(cls: Any) -> list[str]:
    """How ``cls`` departs from :class:`~polytraders.contracts.bot.Bot`'s declarations
    (attribute presence and types, ``decide``/``reset``/``config``); empty when it conforms.
    :func:`~polytraders.contracts.bot.bot_problems` adds the contract rules."""
    problems: list[str] = []
    hints = typing.get_type_hints(Bot)
    for name, hint in hints.items():
        if typing.get_origin(hint) is not ClassVar:
            continue
        (declared,) = typing.get_args(hint)
        if not hasattr(cls, name):
            problems.append(f"no class attribute {name}")
            continue
        value = getattr(cls, name)
        if not _has_type(value, declared):
            problems.append(f"{name} = {value!r} is not a {declared}")
    decide = getattr(cls, "decide", None)
    if not callable(decide):
        return [*problems, "decide is not callable"]
    params = list(inspect.signature(decide).parameters.values())[1:]  # after self
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2:
        problems.append(f"decide takes {len(positional)} positional inputs, not (input, view)")
    bot_class = getattr(cls, "bot_class", None)
    wanted = _OUTPUTS.get(bot_class) if isinstance(bot_class, BotClass) else None
    returns = typing.get_type_hints(decide).get("return")
    if wanted is not None and returns is not wanted:
        problems.append(f"decide returns {returns}, not {wanted.__name__}")
    if not callable(getattr(cls, "reset", None)):
        problems.append("reset is not callable")
    config_cls = getattr(cls, "Config", None)
    if isinstance(config_cls, type) and issubclass(config_cls, BotConfig):
        config = cls().config
        if not isinstance(config, config_cls):
            problems.append(f"an instance's config is a {type(config).__name__}")
    return problems


def _has_type(value: Any, declared: Any) -> bool:
    origin = typing.get_origin(declared)
    if origin is type:
        (base,) = typing.get_args(declared)
        return isinstance(value, type) and issubclass(value, base)
    if origin is frozenset:
        (element,) = typing.get_args(declared)
        return isinstance(value, frozenset) and all(isinstance(v, element) for v in value)
    return isinstance(value, declared)


def _protocol_item(cls: Any, registry: ReasonRegistry) -> ChecklistItem:
    shape = protocol_problems(cls)
    contract = bot_problems(cls, registry)
    problems = [*shape, *contract]
    evidence = [
        result_evidence(
            EvidenceKind.CODE,
            _code_ref(cls),
            {"protocol_problems": shape, "bot_problems": contract},
            "conforms" if not problems else f"{len(problems)} problems",
        )
    ]
    if problems:
        return _item(2, ItemStatus.FAIL, "; ".join(problems[:5]), evidence)
    return _item(
        2,
        ItemStatus.PASS,
        f"every Bot attribute present and typed; decide(input, view) -> "
        f"{_OUTPUTS[cls.bot_class].__name__}; bot_problems empty",
        evidence,
    )


# ---------------------------------------------------------------------------- item 3
def _schema_item(cls: Any) -> ChecklistItem:
    config_cls = cls.Config
    lint = config_problems(config_cls)
    schema = config_cls.json_schema()
    document = config_cls().model_dump(mode="json")
    evidence = [
        result_evidence(
            EvidenceKind.CODE,
            f"{_code_ref(config_cls)}.json_schema",
            schema,
            f"{len(schema.get('properties', {}))} properties",
        ),
        result_evidence(
            EvidenceKind.CODE,
            f"{_code_ref(config_cls)}() defaults",
            {"defaults": document, "config_problems": lint},
            "lint clean" if not lint else f"{len(lint)} lint problems",
        ),
    ]
    if lint:
        return _item(3, ItemStatus.FAIL, "config lint: " + "; ".join(lint[:5]), evidence)
    try:
        import jsonschema
    except ImportError:
        return _item(
            3,
            ItemStatus.PENDING,
            "config lint clean, but no JSON Schema validator is installed (jsonschema): the "
            "published schema could not be applied to the default config",
            evidence,
        )
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(document)
    )
    evidence.append(
        result_evidence(
            EvidenceKind.COMMAND,
            f"jsonschema Draft 2020-12: polytraders schema {cls.bot_id} on the defaults",
            errors,
            "valid" if not errors else f"{len(errors)} errors",
        )
    )
    if errors:
        return _item(3, ItemStatus.FAIL, "; ".join(errors[:5]), evidence)
    return _item(
        3,
        ItemStatus.PASS,
        f"the default config validates against its published schema "
        f"({len(schema.get('properties', {}))} properties); lint clean",
        evidence,
    )


# ---------------------------------------------------------------------------- item 4
def limit_violations(config: FrozenConfig, prefix: str = "") -> tuple[list[str], int]:
    """The fields of ``config`` (nested configs too) whose value lies outside a declared hard
    limit, and how many limits were checked. Limits are what the config declares
    (:mod:`polytraders.contracts.config`): ``ge``/``gt``/``le``/``lt`` on numbers, a
    ``pattern`` on text (searched, as pydantic does), the choices of a ``Literal``."""
    violations: list[str] = []
    checked = 0
    for name, info in type(config).model_fields.items():
        value = getattr(config, name)
        if isinstance(value, FrozenConfig):
            nested, count = limit_violations(value, f"{prefix}{name}.")
            violations += nested
            checked += count
            continue
        if typing.get_origin(info.annotation) is typing.Literal:
            checked += 1
            choices = typing.get_args(info.annotation)
            if value not in choices:
                violations.append(f"{prefix}{name} = {value!r} is not one of {choices}")
        for meta in info.metadata:
            pattern = getattr(meta, "pattern", None)
            if isinstance(pattern, str):
                checked += 1
                if not isinstance(value, str) or re.search(pattern, value) is None:
                    violations.append(f"{prefix}{name} = {value!r} does not match {pattern}")
                continue
            rule = _LIMIT_RULES.get(type(meta))
            if rule is None:
                continue
            checked += 1
            bound = getattr(meta, rule[0])
            if not rule[1](value, bound):
                violations.append(f"{prefix}{name} = {value!r} breaks {rule[0]} {bound!r}")
    return violations, checked


_LIMIT_RULES: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    annotated_types.Ge: ("ge", lambda v, b: v >= b),
    annotated_types.Gt: ("gt", lambda v, b: v > b),
    annotated_types.Le: ("le", lambda v, b: v <= b),
    annotated_types.Lt: ("lt", lambda v, b: v < b),
}


def _limits_item(cls: Any) -> ChecklistItem:
    config = cls.Config()
    violations, checked = limit_violations(config)
    evidence = [
        result_evidence(
            EvidenceKind.CODE,
            f"{_code_ref(cls.Config)}() against its Field limits",
            {"checked": checked, "violations": violations},
            f"{checked} limits, {len(violations)} broken",
        )
    ]
    if violations:
        return _item(4, ItemStatus.FAIL, "; ".join(violations[:5]), evidence)
    if not checked:  # vacuously within; item 3's lint requires limits on numeric fields
        return _item(4, ItemStatus.PASS, "the config declares no hard threshold", evidence)
    return _item(4, ItemStatus.PASS, f"every default inside its {checked} limits", evidence)


# ---------------------------------------------------------------------------- items 5-8
@dataclass(frozen=True)
class _PackRuns:
    """One bot's four cases run once (ENFORCED), memoised per evaluation."""

    runs: dict[str, CaseRun]
    packs: dict[str, Pack]
    missing: dict[str, str]
    """case → why it could not be loaded (missing file, malformed JSON)."""


def _pack_runs(cls: Any, ctx: ReadinessContext) -> _PackRuns:
    key = ("readiness.impl_score", "cases", cls.bot_id)
    cached = ctx.cache.get(key)
    if isinstance(cached, _PackRuns):
        return cached
    runs: dict[str, CaseRun] = {}
    packs: dict[str, Pack] = {}
    missing: dict[str, str] = {}
    for case in CASES:
        path = pack_path(cls.bot_id, case, ctx.repo)
        try:
            packs[case] = load_pack(path)
        except (OSError, ValueError, KeyError) as exc:
            missing[case] = f"{type(exc).__name__}: {exc}"
            continue
        runs[case] = run_case(packs[case], Mode.ENFORCED)
    result = _PackRuns(runs, packs, missing)
    ctx.cache[key] = result
    return result


def _case_ref(bot_id: str, case: str) -> Path:
    return FIXTURES_DIR / bot_id / f"{case}.json"


def _run_evidence(run: CaseRun, ref: str) -> Evidence:
    digest_of = {
        "problems": list(run.problems),
        "reason_codes": list(run.reason_codes),
        "quarantined": run.quarantine_reason,
        "timeline": [encode_envelope(e).decode() for e in run.envelopes],
    }
    summary = "passed" if run.passed else f"{len(run.problems)} problems"
    return result_evidence(EvidenceKind.TEST, ref, digest_of, summary)


def _case_evidence(
    cls: Any, ctx: ReadinessContext, case: str, run: CaseRun | None
) -> list[Evidence]:
    evidence = [file_evidence(ctx.repo, _case_ref(cls.bot_id, case))]
    if run is not None:
        evidence.append(
            _run_evidence(run, f"readiness.packs.run_case {cls.bot_id}/{case} ENFORCED")
        )
    return evidence


def _severities(codes: tuple[str, ...], registry: ReasonRegistry) -> set[Severity]:
    return {registry[c].severity for c in codes if c in registry}


def _case_item(
    number: int, cls: Any, ctx: ReadinessContext, registry: ReasonRegistry
) -> ChecklistItem:
    case = CASES[number - 5]
    packs = _pack_runs(cls, ctx)
    run = packs.runs.get(case)
    evidence = _case_evidence(cls, ctx, case, run)
    if run is None:
        return _item(
            number, ItemStatus.FAIL, f"{case} case unusable: {packs.missing[case]}", evidence
        )
    if not run.passed:
        return _item(number, ItemStatus.FAIL, f"{case}: " + "; ".join(run.problems[:4]), evidence)
    mine = run.bot_envelopes
    decision = mine[0].decision if mine else None
    codes = run.reason_codes
    said = f"{decision.value if decision else 'no decision'} {list(codes)}"
    if number == 5:
        return _item(5, ItemStatus.PASS, f"normal passes through the desk: {said}", evidence)
    if number == 6:
        if Severity.WARNING in _severities(codes, registry):
            return _item(6, ItemStatus.PASS, f"warning-severity code emitted: {said}", evidence)
        return _item(6, ItemStatus.FAIL, f"no warning-severity code among {said}", evidence)
    if number == 7:
        ok, why = _safe_fallback(cls, run, registry)
        return _item(7, ItemStatus.PASS if ok else ItemStatus.FAIL, f"{said}: {why}", evidence)
    ok, why = _fails_closed(cls, run, packs.packs[case], registry)
    return _item(8, ItemStatus.PASS if ok else ItemStatus.FAIL, f"{said}: {why}", evidence)


def _nothing_forwarded(run: CaseRun) -> bool:
    return not run.forwarded and (run.plan is None or not run.plan.orders)


def _safe_fallback(cls: Any, run: CaseRun, registry: ReasonRegistry) -> tuple[bool, str]:
    """Item 7 (module docstring): a stop with a hard code, or the documented de-risking."""
    decision = run.bot_envelopes[0].decision
    hard = Severity.HARD in _severities(run.reason_codes, registry)
    if decision in _STOPS:
        if hard and _nothing_forwarded(run):
            return True, "stopped with a hard-severity code, nothing handed on to the venue"
        return False, "a stop needs a hard-severity code and nothing handed on to the venue"
    original = run.pack.input
    if (
        decision is Decision.RESHAPE
        and isinstance(original, OrderIntent)
        and len(run.forwarded) == 1
        and run.forwarded[0].size < original.size
    ):
        return True, (
            f"reshaped down ({original.size} → {run.forwarded[0].size} micro-shares), "
            "the desk's never-riskier check passed (spec section 16)"
        )
    if (
        cls.bot_class is BotClass.STRATEGY
        and run.forwarded
        and all(i.reduce_only for i in run.forwarded)
    ):
        return True, "only reduce-only intents (the documented unwind, spec section 16)"
    return False, f"{decision.value} is neither a stop with a hard code nor a de-risking fallback"


def _fails_closed(cls: Any, run: CaseRun, pack: Pack, registry: ReasonRegistry) -> tuple[bool, str]:
    """Item 8 (module docstring)."""
    decision = run.bot_envelopes[0].decision
    hard = Severity.HARD in _severities(run.reason_codes, registry)
    if cls.bot_class is BotClass.RISK:
        if Verdict(run.verdict) not in (Verdict.REJECT, Verdict.HALT) or run.forwarded:
            return False, f"the chain's verdict is {run.verdict}: it failed open"
        for mode in (Mode.SHADOW, Mode.ADVISORY):
            shadow = run_case(pack, mode)
            recorded = [e.decision for e in shadow.bot_envelopes]
            if recorded != [decision] or decision not in (Decision.REJECT, Decision.HALT):
                return False, f"in {mode} the bot recorded {recorded}"
        return True, "REJECT/HALT, also as recorded in SHADOW and ADVISORY"
    if decision not in _STOPS or not _nothing_forwarded(run):
        return False, f"{decision.value} with orders handed on: it failed open"
    if not hard:
        return False, "stood down without a hard-severity code"
    return True, "stood down with a hard-severity code, nothing handed on to the venue"


# ---------------------------------------------------------------------------- item 11 (and 9, 10)
def overreaching_bot(cls: Any, normal: Pack) -> Any:
    """A copy of ``cls`` (same class attributes and config) whose ``decide`` returns an output
    beyond its class's authority on ``normal``'s input (module docstring, item 11).

    Raises:
        ValueError: the normal case offers nothing to overreach with.
    """
    codes = sorted(cls.reason_codes)
    if cls.bot_class is BotClass.RISK:

        def decide(self: Any, intent: OrderIntent, view: Any, /) -> RiskDecision:
            bigger = msgspec.structs.replace(intent, size=intent.size * 2)
            return RiskDecision(
                verdict=Verdict.RESHAPE, reason_codes=tuple(codes[:1]), reshaped=bigger
            )

    elif cls.bot_class is BotClass.STRATEGY:
        intents = normal.expected.get("output", {}).get("intents", [])
        if not intents:
            raise ValueError("the normal case proposes no intent to impersonate with")
        own = msgspec.convert(intents[0], OrderIntent)
        impostor = msgspec.structs.replace(
            own, bot_id="strat.impostor", intent_id="strat.impostor/i0"
        )

        def decide(self: Any, event: Any, view: Any, /) -> Proposal:  # type: ignore[misc]
            return Proposal(intents=(impostor,), reason_codes=())

    else:

        def decide(self: Any, intent: OrderIntent, view: Any, /) -> RoutePlan:  # type: ignore[misc]
            order = VenueOrder(
                client_order_id=client_order_id(intent.intent_id, 0),
                intent_id=intent.intent_id,
                bot_id=intent.bot_id,
                token_id=intent.token_id,
                market_id=intent.market_id,
                side=intent.side,
                price=intent.price,
                size=intent.size * 2,
                time_in_force=intent.time_in_force,
                expire_at_ns=intent.expire_at_ns,
                post_only=intent.post_only,
            )
            return RoutePlan(orders=(order,), reason_codes=tuple(codes[:1]))

    wrapped = type(f"Overreaching{cls.__name__}", (cls,), {"decide": decide})
    return wrapped(cls.Config(**normal.config))


def _negative_run(cls: Any, ctx: ReadinessContext) -> CaseRun | str:
    """The overreaching copy run on the normal case (memoised); a string says why not."""
    key = ("readiness.impl_score", "overreach", cls.bot_id)
    cached = ctx.cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    packs = _pack_runs(cls, ctx)
    normal = packs.packs.get("normal")
    result: CaseRun | str
    if normal is None:
        result = f"normal case unusable: {packs.missing.get('normal')}"
    else:
        try:
            with expected_warnings(
                "polytraders.desk", mentions(cls.bot_id, "quarantined", "SYS_AUTHORITY_VIOLATION")
            ):
                result = run_case(normal, Mode.ENFORCED, bot=overreaching_bot(cls, normal))
        except ValueError as exc:
            result = str(exc)
    ctx.cache[key] = result
    return result


def _authority_item(cls: Any, ctx: ReadinessContext) -> ChecklistItem:
    declared = capability_problems(cls.bot_class, cls.capabilities)
    packs = _pack_runs(cls, ctx)
    broke = [
        f"{case}: quarantined ({run.quarantine_reason})"
        for case, run in packs.runs.items()
        if run.quarantined or AUTHORITY_VIOLATION in run.all_codes
    ]
    negative = _negative_run(cls, ctx)
    evidence = [
        result_evidence(
            EvidenceKind.CODE,
            f"{_code_ref(cls)}.capabilities",
            {"capabilities": sorted(cls.capabilities), "problems": declared},
            "allowed" if not declared else "; ".join(declared),
        )
    ]
    problems = [*declared, *broke, *(f"{c}: {w}" for c, w in packs.missing.items())]
    if isinstance(negative, str):
        problems.append(f"no overreaching copy could run: {negative}")
    else:
        evidence.append(
            _run_evidence(negative, f"readiness.impl_score overreaching {cls.bot_id}/normal")
        )
        held = negative.quarantine_reason == AUTHORITY_VIOLATION and _nothing_forwarded(negative)
        if not held:
            problems.append(
                "an output beyond the class's authority was not stopped by the desk "
                f"(quarantine: {negative.quarantine_reason or 'none'})"
            )
    if problems:
        return _item(11, ItemStatus.FAIL, "; ".join(problems[:5]), evidence)
    return _item(
        11,
        ItemStatus.PASS,
        f"capabilities {sorted(c.value for c in cls.capabilities) or 'none'} allowed for "
        f"{cls.bot_class}; no case broke authority; an overreaching copy was quarantined "
        f"({AUTHORITY_VIOLATION}) and failed closed",
        evidence,
    )


def _envelopes_item(cls: Any, ctx: ReadinessContext) -> ChecklistItem:
    packs = _pack_runs(cls, ctx)
    counts = {case: len(run.bot_envelopes) for case, run in packs.runs.items()}
    evidence = [
        _run_evidence(run, f"readiness.packs.run_case {cls.bot_id}/{case} ENFORCED")
        for case, run in packs.runs.items()
    ]
    problems = [f"{case}: unusable" for case in packs.missing]
    problems += [f"{case}: no envelope of the bot" for case, n in counts.items() if not n]
    negative = _negative_run(cls, ctx)
    if isinstance(negative, str):
        problems.append(f"error path not exercised: {negative}")
    else:
        errors = [e for e in negative.bot_envelopes if e.decision is Decision.ERROR]
        counts["error path"] = len(errors)
        if not errors:
            problems.append("error path: no ERROR envelope of the bot")
    if problems:
        return _item(9, ItemStatus.FAIL, "; ".join(problems), evidence)
    return _item(9, ItemStatus.PASS, f"envelopes of the bot per path: {counts}", evidence)


def _registered_item(cls: Any, ctx: ReadinessContext, registry: ReasonRegistry) -> ChecklistItem:
    packs = _pack_runs(cls, ctx)
    runs: list[CaseRun] = list(packs.runs.values())
    normal = packs.packs.get("normal")
    if normal is not None:
        runs += [run_case(normal, mode) for mode in sorted(cls.mode_support)]
    negative = _negative_run(cls, ctx)
    if isinstance(negative, CaseRun):
        runs.append(negative)
    emitted = sorted({c for run in runs for c in run.all_codes})
    unknown = [c for c in emitted if c not in registry]
    evidence = [
        result_evidence(
            EvidenceKind.TEST,
            f"codes of {len(runs)} runs of {cls.bot_id} against contracts/reasons.toml",
            {"emitted": emitted, "unregistered": unknown},
            f"{len(emitted)} codes, {len(unknown)} unregistered",
        ),
        file_evidence(ctx.repo, "src/polytraders/contracts/reasons.toml"),
    ]
    if packs.missing:
        return _item(10, ItemStatus.FAIL, f"cases unusable: {sorted(packs.missing)}", evidence)
    if unknown:
        return _item(10, ItemStatus.FAIL, f"unregistered codes: {unknown}", evidence)
    return _item(
        10, ItemStatus.PASS, f"all {len(emitted)} emitted codes registered: {emitted}", evidence
    )


# ---------------------------------------------------------------------------- item 12
def _modes_item(cls: Any, ctx: ReadinessContext) -> ChecklistItem:
    packs = _pack_runs(cls, ctx)
    normal = packs.packs.get("normal")
    if normal is None:
        return _item(12, ItemStatus.FAIL, f"normal case unusable: {packs.missing['normal']}", [])
    evidence: list[Evidence] = []
    seen: dict[str, str] = {}
    problems: list[str] = []
    for mode in sorted(cls.mode_support):
        run = run_case(normal, mode)
        evidence.append(_run_evidence(run, f"readiness.packs.run_case {cls.bot_id}/normal {mode}"))
        recorded = sorted({e.mode.value for e in run.bot_envelopes})
        seen[mode.value] = ",".join(recorded) or "none"
        problems += [f"{mode}: {p}" for p in run.problems]
    if problems:
        return _item(12, ItemStatus.FAIL, "; ".join(problems[:5]), evidence)
    return _item(
        12,
        ItemStatus.PASS,
        f"every declared mode ran as documented; envelope modes recorded: {seen}",
        evidence,
    )


# ---------------------------------------------------------------------------- item 13
def _clob_item(cls: Any, ctx: ReadinessContext) -> ChecklistItem:
    missing = _pack_runs(cls, ctx).missing
    if missing:  # no simulator for a pack that is not whole
        return _item(13, ItemStatus.FAIL, f"cases unusable: {missing}", [])
    exchange = uses_instruments(cls.bot_id, ctx.repo)
    runs: dict[str, ClobCaseRun] | dict[str, ExchangeCaseRun]
    try:
        runs = run_exchange_pack(cls.bot_id, ctx) if exchange else run_clob_pack(cls.bot_id, ctx)
    except SimulatorUnavailableError as exc:
        return _item(13, ItemStatus.PENDING, str(exc), [])
    evidence: list[Evidence] = []
    problems: list[str] = []
    for case, run in runs.items():
        evidence.append(_clob_evidence(cls.bot_id, case, run, exchange=exchange))
        problems += [f"{case}: {p}" for p in run.problems]
    if problems:
        return _item(13, ItemStatus.FAIL, "; ".join(problems[:4]), evidence)
    live = {case: len(run.live_orders) for case, run in runs.items()}
    where = (
        "the exchange simulator with CcxtVenue"
        if exchange
        else "the simulator with PolymarketVenue"
    )
    return _item(
        13,
        ItemStatus.PASS,
        f"4/4 cases pass against {where}; live orders per case {live}",
        evidence,
    )


def _clob_evidence(
    bot_id: str, case: str, run: ClobCaseRun | ExchangeCaseRun, *, exchange: bool
) -> Evidence:
    shown = {
        "problems": list(run.problems),
        "expected_orders": [list(k) for k in run.expected_orders],
        "posted": run.posted,
        "venue_orders": [
            {k: v for k, v in o.items() if k not in ("id", "created_at_s")}
            for o in run.venue_orders
        ],
    }
    summary = "passed" if run.passed else f"{len(run.problems)} problems"
    source = "exchange_packs" if exchange else "clob_packs"
    target = "sim-exchange" if exchange else "sim-clob"
    return result_evidence(
        EvidenceKind.TEST, f"readiness.{source} {bot_id}/{case} vs {target}", shown, summary
    )


# ---------------------------------------------------------------------------- item 14
def metric_samples(
    metrics: DeskMetrics, bot_id: str
) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Per standard metric (:data:`STANDARD_METRICS`), the exported samples labelled
    ``bot_id``: (labels, value)."""
    wanted = {sample: name for name, sample in STANDARD_METRICS.items()}
    found: dict[str, list[tuple[dict[str, str], float]]] = {n: [] for n in STANDARD_METRICS}
    for family in metrics.registry.collect():
        for sample in family.samples:
            name = wanted.get(sample.name)
            if name is not None and sample.labels.get("bot_id") == bot_id:
                found[name].append((dict(sample.labels), float(sample.value)))
    return found


def _metrics_item(cls: Any, ctx: ReadinessContext) -> ChecklistItem:
    packs = _pack_runs(cls, ctx)
    normal = packs.packs.get("normal")
    if normal is None:
        return _item(14, ItemStatus.FAIL, f"normal case unusable: {packs.missing['normal']}", [])
    metrics = DeskMetrics()
    run = run_case(normal, Mode.ENFORCED, sink=metrics)
    metrics.update_desk(now_ns=run.state.now_ns, trading_state=run.state.trading_state)
    found = metric_samples(metrics, cls.bot_id)
    version = cls(cls.Config(**normal.config)).config.config_version
    problems = [
        f"no {name} sample labelled {cls.bot_id}" for name, rows in found.items() if not rows
    ]
    if not any(
        labels.get("config_version") == version and value == 1
        for labels, value in found["config_version"]
    ):
        problems.append(f"config_version {version} is not the exported current version")
    if not any(
        labels.get("polytraders_bot_mode") == Mode.ENFORCED.value and value == 1
        for labels, value in found["mode"]
    ):
        problems.append("mode does not read ENFORCED")
    exposition = [
        line
        for line in metrics.exposition().decode().splitlines()
        if f'bot_id="{cls.bot_id}"' in line
    ]
    evidence = [
        result_evidence(
            EvidenceKind.TEST,
            f"DeskMetrics fed by readiness.packs.run_case {cls.bot_id}/normal",
            exposition,
            f"{len(exposition)} samples labelled {cls.bot_id}",
        )
    ]
    if problems:
        return _item(14, ItemStatus.FAIL, "; ".join(problems), evidence)
    return _item(
        14,
        ItemStatus.PASS,
        f"all six standard metrics exported for {cls.bot_id} "
        f"({len(exposition)} samples; config_version {version}, mode ENFORCED)",
        evidence,
    )
