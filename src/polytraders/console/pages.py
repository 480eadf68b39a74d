"""The console's page registry: every HTML page the console serves, with what it is for and
when to use it (shown on the page itself; ``tests/console`` checks every page renders both).

A page is registered here before its route is written; the navigation bar lists the pages
marked ``nav`` that the signed-in user's role may open.
"""

from __future__ import annotations

import msgspec

from polytraders.store.console_users import ConsoleRole


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """One console page.

    Attributes:
        page_id: stable identifier (kebab case).
        title: the page's heading.
        path: its URL path (a FastAPI path template).
        purpose: "What this page is for", one or two sentences.
        when_to_use: "When to use it", one or two sentences.
        role: the least role that may open it (None: open to anyone, the sign-in page).
        nav: listed in the navigation bar and on the home page.
    """

    page_id: str
    title: str
    path: str
    purpose: str
    when_to_use: str
    role: ConsoleRole | None = ConsoleRole.VIEWER
    nav: bool = True


PAGES: tuple[Page, ...] = (
    Page(
        page_id="login",
        title="Sign in",
        path="/login",
        purpose="Sign in to the operator console with the name and password an administrator "
        "created for you (polytraders console user add).",
        when_to_use="Whenever the console asks for it: at your first visit, after signing out, "
        "after your session expired or after the console restarted without a configured "
        "session secret.",
        role=None,
        nav=False,
    ),
    Page(
        page_id="home",
        title="Console home",
        path="/",
        purpose="The list of the console's pages, each with what it is for, and which event "
        "store this console reads.",
        when_to_use="As the starting point: to find the page that answers your question.",
    ),
    Page(
        page_id="reason-codes",
        title="Reason codes",
        path="/reason-codes",
        purpose="Every registered reason code with its severity, owner, summary and the message "
        "an operator reads, and how often each one appeared in the most recent runs, counted "
        "per source (backtest, paper, shadow, live, simulator, synthetic) and never summed "
        "across them.",
        when_to_use="When a run, an alert or a report shows a code you want explained, or to "
        "see which codes the desk has been emitting lately and open the decisions that "
        "carry one.",
    ),
    Page(
        page_id="runs",
        title="Runs",
        path="/runs",
        purpose="Every recorded run attempt with its status and its source (backtest, paper, "
        "shadow, live, simulator or synthetic), newest first.",
        when_to_use="To find a run: one that failed or halted, the latest paper or live "
        "session, or the backtest behind a piece of evidence.",
    ),
    Page(
        page_id="run",
        title="Run",
        path="/runs/{ref}",
        purpose="One run attempt: its record, whether its recorded evidence is sound (the "
        "store's integrity check), its row counts, and its decisions page by page, filtered "
        "by bot, reason code or decision.",
        when_to_use="To read what the desk decided in a run and why, or to check that a run's "
        "evidence is complete before it is used for a promotion.",
        nav=False,
    ),
    Page(
        page_id="users",
        title="Users",
        path="/users",
        purpose="The console's users with their roles and who last changed each of them.",
        when_to_use="To check who can sign in and with which rights; users are added, changed "
        "and removed with polytraders console user add|passwd|remove.",
        role=ConsoleRole.ADMIN,
    ),
    Page(
        page_id="promotion-path",
        title="Promotion path",
        path="/promotion-path",
        purpose="Track each bot's progress from demo-wired to production-live: every gate of "
        "its four stages with the phase, value, threshold and evidence its latest recorded "
        "evaluation measured, which gates are open or blocked and what is needed next, the "
        "signatures of its release, and the recent promotion activity.",
        when_to_use="Before promoting a bot to shadow mode, or during the weekly bot-ops "
        "review; record a fresh evaluation first (polytraders gates check) when the one shown "
        "is old.",
    ),
    Page(
        page_id="readiness",
        title="Readiness board",
        path="/readiness",
        purpose="Every bot's Docs, Impl, Runtime and Backtest scores with each item that does "
        "not pass and its evidence, as last computed and recorded (polytraders readiness "
        "--record), with when and at which commit.",
        when_to_use="To see what is left before a bot is done (all four scores full), or which "
        "checklist item holds a gate of the promotion path back.",
    ),
    Page(
        page_id="shadow",
        title="Shadow mode",
        path="/shadow",
        purpose="How often each candidate bot decided as the current desk did in the recorded "
        "shadow comparisons (confusion table, agreement, Cohen's kappa, unsafe divergences), "
        "and every divergence with both envelopes and the reviewers' verdicts.",
        when_to_use="Before promoting a bot from Shadow to Limited live, to judge its "
        "divergences (a reviewer records correct or incorrect with a note), or to see why the "
        "shadow-agreement gate is pending or failed.",
    ),
    Page(
        page_id="desk-status",
        title="Desk status",
        path="/desk-status",
        purpose="A running or recent desk as it recorded itself in the store, refreshed live: "
        "trading state, kill switch, positions, open orders, realized PnL and equity, feed "
        "lag, venue and last reconciliation, bots with their mode and quarantine; an operator "
        "trips or resets the kill switch here.",
        when_to_use="While a paper, shadow or live desk runs, to watch it, and at once when it "
        "must stop trading: trip the kill switch (and reset it once the cause is cleared).",
    ),
)
"""Every page, in navigation order."""

_BY_ID = {page.page_id: page for page in PAGES}


def page(page_id: str) -> Page:
    """The registered page ``page_id``.

    Raises:
        KeyError: no such page.
    """
    return _BY_ID[page_id]
