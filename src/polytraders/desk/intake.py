"""``IntentIntake``: a strategy's output is checked where it enters the desk, before any
envelope records it and before any shared bot (risk, execution) sees it.

Checks, in order; the first that fails quarantines the strategy and its whole proposal is
dropped (:class:`~polytraders.desk.strategies.StrategyRunner`):

1. **Shape** (``SYS_INVALID_OUTPUT``): a :class:`~polytraders.contracts.decisions.Proposal`
   whose ``intents`` is a tuple of :class:`~polytraders.model.orders.OrderIntent` and whose
   ``reason_codes`` is a tuple of codes the bot declared.
2. **Fields** (``SYS_INTENT_FIELD_INVALID``): every field of every intent has exactly its
   declared type and range, and the intent is well formed
   (:func:`~polytraders.model.orders.intent_field_problems`: enums are enum members, ints are
   ints and not bools, non-negative within int64, …).
3. **Authority** (``SYS_AUTHORITY_VIOLATION``): every intent is in the bot's own name and a
   CANCEL/REPLACE targets one of the bot's own intents
   (:func:`~polytraders.contracts.authority.proposal_problems`).
4. **Against the desk** (``SYS_INTENT_FIELD_INVALID``): the intent id has the form
   ``<bot_id>/…`` (as :func:`polytraders.contracts.ids.intent_id` makes it) and was not used
   before in the run; the token is known, as a market token or a crypto instrument (when the
   desk requires known tokens); for a market token, ``market_id`` is "" or the token's market
   and a PLACE/REPLACE price is at most 1 pUSD (``1_000_000``) — an outcome share never pays
   more; for an instrument, ``market_id`` is "" (an instrument has no market) and no price
   ceiling applies (its tick and lot are the venue's to check).

The failure names the intent, the field and what is wrong (a
:class:`~polytraders.contracts.envelope.BotFailure`). Intent ids accepted are remembered for the
whole run, exactly, in an :class:`~polytraders.contracts.id_set.IdSet` (ids numbered in sequence,
as the library's strategies make them, take a few ranges, not a string each).
"""

from __future__ import annotations

from collections.abc import Iterable

from polytraders.contracts.authority import proposal_problems
from polytraders.contracts.decisions import Proposal
from polytraders.contracts.envelope import BotFailure
from polytraders.contracts.id_set import IdSet
from polytraders.contracts.view import DeskView
from polytraders.model.money import ONE
from polytraders.model.orders import IntentAction, OrderIntent, intent_field_problems

SYS_INVALID_OUTPUT = "SYS_INVALID_OUTPUT"
SYS_AUTHORITY_VIOLATION = "SYS_AUTHORITY_VIOLATION"
SYS_INTENT_FIELD_INVALID = "SYS_INTENT_FIELD_INVALID"


class IntentIntake:
    """Checks strategy proposals (rules in the module docstring).

    Args:
        require_known_tokens: refuse intents for tokens the view has no metadata for.
    """

    def __init__(self, *, require_known_tokens: bool = True) -> None:
        self.require_known_tokens = require_known_tokens
        self._seen = IdSet()

    def remember(self, intent_ids: Iterable[str]) -> None:
        """Intent ids used before a restart: a proposal reusing one is refused."""
        self._seen.update(intent_ids)

    def check(
        self, bot_id: str, declared_codes: frozenset[str], output: object, view: DeskView
    ) -> BotFailure | None:
        """The first problem of strategy ``bot_id``'s ``output``, or None when it may enter
        (its intent ids are then remembered as used)."""
        if type(output) is not Proposal:
            return BotFailure(code=SYS_INVALID_OUTPUT, message=f"returned {type(output).__name__}")
        failure = _shape_problem(output, declared_codes)
        if failure is not None:
            return failure
        for index, intent in enumerate(output.intents):
            problems = intent_field_problems(intent)
            if problems:
                return BotFailure(
                    code=SYS_INTENT_FIELD_INVALID,
                    message=_about(index, intent, "; ".join(p.message for p in problems)),
                    field=problems[0].field,
                )
        authority = proposal_problems(bot_id, output)
        if authority:
            return BotFailure(code=SYS_AUTHORITY_VIOLATION, message="; ".join(authority))
        fresh: set[str] = set()
        for index, intent in enumerate(output.intents):
            problem = self._desk_problem(bot_id, intent, view, fresh)
            if problem is not None:
                field, message = problem
                return BotFailure(
                    code=SYS_INTENT_FIELD_INVALID,
                    message=_about(index, intent, message),
                    field=field,
                )
            fresh.add(intent.intent_id)
        self._seen.update(fresh)
        return None

    def _desk_problem(
        self, bot_id: str, intent: OrderIntent, view: DeskView, fresh: set[str]
    ) -> tuple[str, str] | None:
        intent_id = intent.intent_id
        if not intent_id.startswith(f"{bot_id}/"):
            return "intent_id", f"intent_id: must start with {bot_id + '/'!r}"
        if intent_id in self._seen or intent_id in fresh:
            return "intent_id", "intent_id: already used in this run"
        token = view.token(intent.token_id)
        if token is None and view.instrument(intent.token_id) is not None:
            if intent.market_id:
                return "market_id", f"market_id: {intent.market_id!r} on an instrument (none)"
            return None
        if token is None:
            if self.require_known_tokens:
                return "token_id", f"token_id: unknown token {intent.token_id!r}"
            return None
        if intent.market_id and intent.market_id != token.market_id:
            return (
                "market_id",
                f"market_id: {intent.market_id!r} is not the token's market {token.market_id!r}",
            )
        if intent.action is not IntentAction.CANCEL and intent.price > ONE:
            return "price", f"price: {intent.price} is above 1 pUSD ({ONE} micro-pUSD)"
        return None


def _shape_problem(proposal: Proposal, declared_codes: frozenset[str]) -> BotFailure | None:
    if type(proposal.intents) is not tuple or not all(
        type(intent) is OrderIntent for intent in proposal.intents
    ):
        return BotFailure(
            code=SYS_INVALID_OUTPUT, message="Proposal.intents must be a tuple of OrderIntent"
        )
    codes = proposal.reason_codes
    if type(codes) is not tuple or not all(type(code) is str for code in codes):
        return BotFailure(
            code=SYS_INVALID_OUTPUT, message="Proposal.reason_codes must be a tuple of str"
        )
    undeclared = set(codes) - declared_codes
    if undeclared:
        return BotFailure(
            code=SYS_INVALID_OUTPUT, message=f"undeclared reason codes {sorted(undeclared)}"
        )
    return None


def _about(index: int, intent: OrderIntent, message: str) -> str:
    shown = repr(intent.intent_id)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"intent #{index} ({shown}): {message}"
