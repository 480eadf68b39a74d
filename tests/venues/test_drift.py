"""The one comparison of a venue snapshot with the desk's records (``venues.drift.compare``):
hand-computed order and position drifts, the levels exactly at the thresholds, unbooked fills
explaining differences, orphans and orders closed at the venue listed but not drift, and the
property that a snapshot built from the desk's own records never drifts."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from polytraders.model.fills import LiquiditySide
from polytraders.model.orders import OrderStatus, Side, VenueOrder
from polytraders.venues.drift import DeskRecords, Differences, compare, records_of
from polytraders.venues.reconciliation import DriftLevel, ReconciliationConfig
from polytraders.venues.reports import (
    FillReport,
    OrderStatusReport,
    PositionReport,
    VenueSnapshot,
)

SH = 1_000_000
T = 1_767_225_600_000_000_000
YES, NO = "tok-yes", "tok-no"
DEFAULT = ReconciliationConfig()


def order(cid: str, token: str, side: Side, size: int, filled: int = 0, **kw: object) -> VenueOrder:
    return VenueOrder(
        client_order_id=cid,
        intent_id=f"i-{cid}",
        token_id=token,
        side=side,
        price=450_000,
        size=size,
        filled_size=filled,
        venue_order_id=f"0x{cid}",
        status=kw.pop("status", OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def listed(o: VenueOrder, filled: int | None = None, cid: str | None = None) -> OrderStatusReport:
    """``o`` as the venue lists it open, with ``filled`` matched (default: as recorded)."""
    matched = o.filled_size if filled is None else filled
    return OrderStatusReport(
        client_order_id=o.client_order_id if cid is None else cid,
        venue_order_id=o.venue_order_id,
        token_id=o.token_id,
        side=o.side,
        price=o.price,
        size=o.size,
        filled_size=matched,
        status=OrderStatus.PARTIALLY_FILLED if matched else OrderStatus.ACCEPTED,
        ts_ns=T,
    )


def fill(fill_id: str, o: VenueOrder, size: int) -> FillReport:
    return FillReport(
        fill_id=fill_id,
        client_order_id=o.client_order_id,
        venue_order_id=o.venue_order_id,
        token_id=o.token_id,
        market_id="m",
        side=o.side,
        price=o.price,
        size=size,
        fee=0,
        liquidity=LiquiditySide.MAKER,
        ts_event_ns=T,
    )


def snap(
    orders: tuple[OrderStatusReport, ...] = (),
    fills: tuple[FillReport, ...] = (),
    positions: dict[str, int] | None = None,
) -> VenueSnapshot:
    return VenueSnapshot(
        venue="test",
        ts_ns=T,
        orders=orders,
        fills=fills,
        positions=tuple(PositionReport(token_id=t, size=s) for t, s in (positions or {}).items()),
    )


def test_agreeing_records_are_ok_with_nothing_listed() -> None:
    buy = order("c1", YES, Side.BUY, 10 * SH, filled=4 * SH)
    result = compare(
        snap((listed(buy),), (fill("t1:c1", buy, 4 * SH),), {YES: 4 * SH, NO: 0}),
        records_of([buy], ["t1:c1"], {YES: 4 * SH}),
        DEFAULT,
    )
    assert result.level is DriftLevel.OK and result.reason_codes == ()
    assert (result.order_drift_micros, result.position_drift_micros) == (0, 0)
    assert result.differences == Differences()
    assert result.ts_ns == T


def test_unbooked_fills_explain_what_the_venue_matched_and_holds() -> None:
    """The venue matched 3 shares of c1 and holds them; the records have not booked the fill
    yet: explained, no drift, the fill listed as unbooked."""
    buy = order("c1", YES, Side.BUY, 10 * SH)
    unbooked = fill("t1:c1", buy, 3 * SH)
    result = compare(
        snap((listed(buy, filled=3 * SH),), (unbooked,), {YES: 3 * SH}),
        records_of([buy], [], {}),
        DEFAULT,
    )
    assert result.level is DriftLevel.OK
    assert result.differences.unbooked_fills == (unbooked,)
    (position,) = result.differences.positions  # a difference, explained
    assert (position.desk_size, position.venue_size, position.unbooked_size) == (0, 3 * SH, 3 * SH)
    assert position.unexplained == 0


def test_hand_computed_drifts() -> None:
    """c1 (BUY 10): records 2 filled, 1 unbooked, venue matched 5 → |5 − 3| = 2 shares.
    c2 (SELL 10 of NO): records 0, venue matched 0.5 → 0.5 shares. Order drift 2.5 shares.
    YES: records 2, unbooked +1, venue 7 → unexplained +4. NO: records −1 (short), venue
    −1.25 → −0.25. Position drift = the worst token = 4 shares."""
    c1 = order("c1", YES, Side.BUY, 10 * SH, filled=2 * SH)
    c2 = order("c2", NO, Side.SELL, 10 * SH)
    result = compare(
        snap(
            (listed(c1, filled=5 * SH), listed(c2, filled=SH // 2)),
            (fill("t0:c1", c1, 2 * SH), fill("t1:c1", c1, SH)),
            {YES: 7 * SH, NO: -1_250_000},
        ),
        records_of([c1, c2], ["t0:c1"], {YES: 2 * SH, NO: -SH}),
        DEFAULT,
    )
    assert result.order_drift_micros == 2 * SH + SH // 2
    assert [(d.client_order_id, d.drift) for d in result.differences.orders] == [
        ("c1", 2 * SH),
        ("c2", SH // 2),
    ]
    assert [(p.token_id, p.unexplained) for p in result.differences.positions] == [
        (YES, 4 * SH),
        (NO, -250_000),
    ]
    assert result.position_drift_micros == 4 * SH
    assert result.level is DriftLevel.CRITICAL
    assert result.reason_codes == ("SYS_RECONCILE_DRIFT_CRITICAL",)


def test_levels_exactly_at_the_thresholds() -> None:
    config = ReconciliationConfig(
        order_drift_warn_micros=100,
        order_drift_critical_micros=1_000,
        position_drift_warn_micros=50,
        position_drift_critical_micros=500,
    )

    def level(order_drift: int, position_drift: int) -> DriftLevel:
        buy = order("c1", YES, Side.BUY, 10 * SH)
        return compare(
            snap((listed(buy, filled=order_drift),), (), {YES: position_drift}),
            records_of([buy], [], {YES: 0}),
            config,
        ).level

    assert level(99, 49) is DriftLevel.OK
    assert level(100, 0) is DriftLevel.WARNING
    assert level(0, 50) is DriftLevel.WARNING
    assert level(999, 499) is DriftLevel.WARNING
    assert level(1_000, 0) is DriftLevel.CRITICAL
    assert level(0, 500) is DriftLevel.CRITICAL
    # default: any unexplained holding of one 0.01-share step is critical, dust warns
    buy = order("c1", YES, Side.BUY, 10 * SH)
    for held, expected in ((1, DriftLevel.WARNING), (10_000, DriftLevel.CRITICAL)):
        got = compare(snap((), (), {YES: held}), records_of([buy], [], {}), DEFAULT)
        assert got.level is expected
        assert got.reason_codes == (expected.reason_code,)


def test_a_new_run_adopts_the_venues_holdings() -> None:
    """Records that claim nothing about holdings: differences listed, none unexplained."""
    result = compare(snap((), (), {YES: 9 * SH}), DeskRecords(), DEFAULT)
    assert result.level is DriftLevel.OK and result.position_drift_micros == 0
    (position,) = result.differences.positions
    assert (position.desk_size, position.venue_size, position.unexplained) == (0, 9 * SH, 0)


def test_a_holding_that_the_unbooked_fill_should_have_moved_is_unexplained() -> None:
    """Venue and records agree on the holding, yet the venue lists a fill the records lack:
    the fill did not reach the holding, so the difference is unexplained (−fill)."""
    buy = order("c1", YES, Side.BUY, 10 * SH)
    result = compare(
        snap((listed(buy, filled=SH),), (fill("t1:c1", buy, SH),), {YES: 2 * SH}),
        records_of([buy], [], {YES: 2 * SH}),
        DEFAULT,
    )
    (position,) = result.differences.positions
    assert position.unexplained == -SH and result.level is DriftLevel.CRITICAL


def test_orphans_and_orders_closed_at_the_venue_are_listed_not_drift() -> None:
    open_at_desk = order("c1", YES, Side.BUY, 10 * SH)
    filled_by_unbooked = order("c2", YES, Side.BUY, 5 * SH)
    pending = order("c3", YES, Side.BUY, 5 * SH, status=OrderStatus.PENDING_NEW)
    placed_since = order("c4", YES, Side.BUY, 5 * SH)
    stranger = order("zz", NO, Side.BUY, 5 * SH)
    result = compare(
        snap(
            (listed(stranger, cid=""), listed(placed_since)),
            (fill("t1:c2", filled_by_unbooked, 5 * SH),),
            {YES: 5 * SH},
        ),
        records_of([open_at_desk, filled_by_unbooked, pending], [], {}),
        DEFAULT,
    )
    assert result.level is DriftLevel.OK
    assert [r.venue_order_id for r in result.differences.unknown_orders] == ["0xzz"]
    assert result.differences.closed_at_venue == ("c1",)  # not c2 (filled), c3 (not acked)
    assert result.differences.orders == ()


def test_differences_are_json_for_the_store() -> None:
    buy = order("c1", YES, Side.BUY, 10 * SH)
    result = compare(
        snap((listed(buy, filled=SH),), (), {YES: SH}), records_of([buy], [], {}), DEFAULT
    )
    decoded = msgspec.json.decode(result.differences.to_json())
    assert decoded["orders"] == [
        {
            "client_order_id": "c1",
            "venue_order_id": "0xc1",
            "desk_filled_size": 0,
            "unbooked_size": 0,
            "venue_filled_size": SH,
        }
    ]
    assert decoded["positions"][0]["unexplained"] == SH


def test_records_are_copies() -> None:
    buy = order("c1", YES, Side.BUY, 10 * SH)
    records = records_of([buy], ["f"], {YES: 1})
    buy.filled_size = 5 * SH
    assert records.orders[0].filled_size == 0


_FILL_SIZES = st.lists(st.integers(1, 500).map(lambda n: n * 10_000), max_size=4)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([YES, NO]),
            st.sampled_from([Side.BUY, Side.SELL]),
            _FILL_SIZES,
            st.integers(0, 3),  # size beyond the fills, in shares: 0 = fully filled
            st.booleans(),  # fills booked by the desk (else on their way)
        ),
        max_size=6,
    ),
    st.dictionaries(st.sampled_from([YES, NO]), st.integers(-(10**9), 10**9)),
)
def test_a_snapshot_built_from_the_desks_own_records_never_drifts(
    specs: list[tuple[str, Side, list[int], int, bool]], start: dict[str, int]
) -> None:
    """Whatever the desk's orders, fills and starting holdings, the venue's view of the same
    facts (open orders listed with their matched size, every fill, holdings = start + fills),
    with any subset of the fills not yet booked by the desk, is OK with zero drift."""
    orders: list[VenueOrder] = []
    reports: list[OrderStatusReport] = []
    fills: list[FillReport] = []
    booked: list[str] = []
    desk_held = dict(start)
    venue_held = {YES: start.get(YES, 0), NO: start.get(NO, 0)}
    for n, (token, side, sizes, extra, is_booked) in enumerate(specs):
        matched = sum(sizes)
        o = order(f"c{n}", token, side, matched + extra * SH, filled=matched if is_booked else 0)
        if matched == o.size:
            o.status = OrderStatus.FILLED
        orders.append(o)
        if o.status.is_open:
            reports.append(listed(o, filled=matched))
        for k, size in enumerate(sizes):
            fills.append(fill(f"t{n}.{k}:c{n}", o, size))
            venue_held[token] += size * side.sign
            if is_booked:
                booked.append(fills[-1].fill_id)
                desk_held[token] = desk_held.get(token, 0) + size * side.sign
    result = compare(
        snap(tuple(reports), tuple(fills), venue_held),
        records_of(orders, booked, desk_held),
        DEFAULT,
    )
    assert (result.order_drift_micros, result.position_drift_micros) == (0, 0)
    assert result.level is DriftLevel.OK and result.reason_codes == ()
    assert result.differences.orders == ()
    assert all(p.unexplained == 0 for p in result.differences.positions)
    assert {f.fill_id for f in result.differences.unbooked_fills} == {
        f.fill_id for f in fills
    } - set(booked)
