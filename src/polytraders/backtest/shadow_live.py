"""Continuous shadow comparison of a live session: the candidate's risk chain shadows the
session's desk on every intent, and each window of the session is recorded as a comparison.

A live ``--shadow`` session (:func:`polytraders.commands.live.build_paper_session`) gives its
desk the chain of :class:`LiveShadowComparator` (a
:class:`~polytraders.desk.shadow_chain.ShadowChain` of the candidate desk's risk slots, timed in
thread CPU time like the desk's own bots) and the comparator's baseline tap as an envelope sink.
The session calls :meth:`LiveShadowComparator.maybe_record` after every step and
:meth:`LiveShadowComparator.close` when it ends: every ``window_s`` of desk time (and at the
end) the two taps are paired (:func:`~polytraders.backtest.shadow_decisions.compare_decisions`),
recorded as one comparison (:func:`~polytraders.store.shadow_comparisons.record_comparison`;
per bot, with every divergence's two envelopes) and emptied. Both chains decide on an intent
within the same step, so a window boundary between steps never splits an intent.

A window's comparison id is ``sc-`` + 16 hex digits of the SHA-256 of the canonical JSON of the
session's run id, the window's start and the candidate's config version; its data source is
the market channel's URL; its window the desk times of the first and last step it covers.
"""

from __future__ import annotations

from collections.abc import Sequence

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.shadow_compare import bot_rows
from polytraders.backtest.shadow_decisions import (
    POLYMARKET_SIZE_STEP_MICROS,
    DecisionTap,
    compare_decisions,
)
from polytraders.contracts.canonical import canonical_sha256
from polytraders.desk.shadow_chain import SHADOW_SUFFIX, ShadowChain
from polytraders.model.market import Market
from polytraders.store.event_store import EventStore
from polytraders.store.shadow_comparisons import ShadowComparisonRow, record_comparison

DEFAULT_WINDOW_S = 3_600
"""A live session records its comparison every hour of desk time (and when it ends): a crash
loses at most an hour of comparison, and 24 windows a day cover the gate's days."""


class LiveShadowComparator:
    """The candidate's chain beside a live desk, recorded window by window (module docstring).

    Args:
        candidate: the candidate desk file (its risk chain is used).
        run_id: the session's run id (the chain records as ``<run id>-shadow``).
        markets: the session's markets (token tick sizes for the reshape comparison).
        data_source: what the desk reads (the market channel's URL).
        store_url: where each window is recorded (None: compared, kept in :attr:`windows`,
            not recorded).
        actor: who the audit entries name.
        window_s: seconds of desk time per recorded window (≥ 1).
        measure_cpu: time each candidate call in thread CPU time (a live clock).

    Raises:
        ValueError: ``window_s`` below 1.
    """

    def __init__(
        self,
        *,
        candidate: DeskFile,
        run_id: str,
        markets: Sequence[Market],
        data_source: str,
        store_url: str | None,
        actor: str = "desk",
        window_s: int = DEFAULT_WINDOW_S,
        measure_cpu: bool = True,
    ) -> None:
        if window_s < 1:
            raise ValueError("window_s must be at least 1")
        self.baseline_tap = DecisionTap()
        self.candidate_tap = DecisionTap()
        self.chain = ShadowChain(
            candidate.build_slots()[1],
            run_id=run_id + SHADOW_SUFFIX,
            sink=self.candidate_tap,
            desk_config_version=candidate.desk.config_version,
            require_known_tokens=candidate.desk.require_known_tokens,
            measure_cpu=measure_cpu,
        )
        self.run_id = run_id
        self.candidate_config_version = candidate.config_version
        self.data_source = data_source
        self.store_url = store_url
        self.actor = actor
        self.window_ns = window_s * 1_000_000_000
        self._ticks = {t.token_id: t.tick_size for m in markets for t in m.tokens}
        self._start_ns: int | None = None
        self._last_ns = 0
        self.windows: list[list[ShadowComparisonRow]] = []
        """Every window compared so far (its rows; recorded when a store was given)."""

    def maybe_record(self, now_ns: int) -> list[ShadowComparisonRow] | None:
        """After a step at desk time ``now_ns``: when the window is due, compare and record it
        (returns its rows), else None.

        Raises:
            StoreError: the store could not be opened or refused the rows.
        """
        if self._start_ns is None:
            self._start_ns = now_ns
        self._last_ns = max(self._last_ns, now_ns)
        if now_ns - self._start_ns < self.window_ns:
            return None
        return self._record()

    def close(self, now_ns: int) -> list[ShadowComparisonRow] | None:
        """The session ends at ``now_ns``: compare and record the last window (None when no
        risk decision was made in it).

        Raises:
            StoreError: the store could not be opened or refused the rows.
        """
        if self._start_ns is None:
            return None
        self._last_ns = max(self._last_ns, now_ns)
        return self._record()

    def _record(self) -> list[ShadowComparisonRow] | None:
        start = self._start_ns if self._start_ns is not None else self._last_ns
        bots = compare_decisions(
            self.baseline_tap,
            self.candidate_tap,
            ticks=self._ticks,
            size_step=POLYMARKET_SIZE_STEP_MICROS,
        )
        self.baseline_tap.clear()
        self.candidate_tap.clear()
        self._start_ns = None
        if not bots:
            return None
        comparison_id = (
            "sc-"
            + canonical_sha256(
                {
                    "run_id": self.run_id,
                    "window_start_ns": start,
                    "candidate_config_version": self.candidate_config_version,
                }
            )[:16]
        )
        rows = bot_rows(
            comparison_id,
            bots,
            data_source=self.data_source,
            window_start_ns=start,
            window_end_ns=self._last_ns,
        )
        self.windows.append(rows)
        if self.store_url is not None:
            with EventStore.open(self.store_url) as store:
                record_comparison(store, rows, actor=self.actor)
        return rows
