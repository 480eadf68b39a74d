"""The incident log on SQLite and PostgreSQL: opening and closing append rows (never update),
ids are deterministic, every write is audited, and the refusals say why in one line."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from polytraders.bots.registry import BOTS
from polytraders.store import EventStore, StoreWriteError, schema
from polytraders.store.errors import EvidenceInputError, EvidenceStateError
from polytraders.store.incidents import (
    ErrorOrigin,
    Severity,
    close_incident,
    get_incident,
    incident_id_for,
    list_incidents,
    open_incident,
)
from tests.store import factories as f

BOT = "risk.stalebookguard"


def _open(store: EventStore, **kwargs: object) -> str:
    values: dict[str, object] = {
        "bot_id": BOT,
        "severity": "P1",
        "title": "stale books not rejected",
        "operator": "ana",
        "known_bots": BOTS,
        "ts_ns": f.T0_NS,
    }
    values.update(kwargs)
    return open_incident(store, **values).incident_id  # type: ignore[arg-type]


def test_open_then_close_appends_two_rows_and_two_audit_entries(
    store: EventStore, store_url: str
) -> None:
    opened = open_incident(
        store,
        bot_id=BOT,
        severity="P1",
        title="stale books not rejected",
        detail="book 40 s old approved",
        operator="ana",
        known_bots=BOTS,
        origin="bot",
        ts_ns=f.T0_NS,
    )
    expected_id = incident_id_for(
        {
            "bot_id": BOT,
            "severity": "P1",
            "title": "stale books not rejected",
            "detail": "book 40 s old approved",
            "drill": False,
            "error_origin": "bot",
            "actor": "ana",
            "ts_ns": f.T0_NS,
        }
    )
    assert opened.incident_id == expected_id
    assert expected_id.startswith("inc-") and len(expected_id) == 20
    assert (opened.state, opened.closed_ns, opened.runbook_exercised) == ("open", None, False)
    closed = close_incident(
        store,
        opened.incident_id,
        operator="bob",
        resolution="threshold fixed, runbook step 3",
        runbook_exercised=True,
        ts_ns=f.T0_NS + 60,
    )
    assert (closed.state, closed.closed_by, closed.closed_ns) == ("closed", "bob", f.T0_NS + 60)
    with EventStore.open(store_url, create=False) as reader:
        listed = list_incidents(reader)
        assert listed == [closed]
        assert get_incident(reader, opened.incident_id) == closed
        i = schema.incidents.c
        rows = reader.select(
            sa.select(i.event, i.actor, i.detail, i.runbook_exercised, i.severity).order_by(
                i.row_id
            )
        )
        assert [tuple(r) for r in rows] == [
            ("opened", "ana", "book 40 s old approved", False, "P1"),
            ("closed", "bob", "threshold fixed, runbook step 3", True, "P1"),
        ]
        audit = [(e.actor, e.action) for e in reader.audit_log()]
        assert audit == [("ana", "GOV_INCIDENT_OPENED"), ("bob", "GOV_INCIDENT_CLOSED")]
        assert f'"incident_id":"{opened.incident_id}"' in reader.audit_log()[1].detail


def test_listing_filters_by_bot_and_keeps_open_ones_open(store: EventStore) -> None:
    first = _open(store)
    second = _open(store, bot_id="desk", severity="P0", origin="venue", ts_ns=f.T0_NS + 1)
    third = _open(store, bot_id="exec.smartrouter", severity="P2", drill=True, ts_ns=f.T0_NS + 2)
    close_incident(store, third, operator="ana", resolution="drill done", runbook_exercised=True)
    everything = list_incidents(store)
    assert [i.incident_id for i in everything] == [first, second, third]
    assert [i.state for i in everything] == ["open", "open", "closed"]
    desk = list_incidents(store, bot_id="desk")
    assert [(i.incident_id, i.severity, i.error_origin) for i in desk] == [
        (second, Severity.P0, ErrorOrigin.VENUE)
    ]
    drill = list_incidents(store, bot_id="exec.smartrouter")[0]
    assert (drill.drill, drill.runbook_exercised, drill.resolution) == (True, True, "drill done")
    assert list_incidents(store, bot_id="risk.killswitch") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bot_id": "risk.nosuchguard"}, "unknown bot 'risk.nosuchguard'"),
        ({"severity": "P3"}, "severity must be P0, P1 or P2, got 'P3'"),
        ({"origin": "user"}, "origin must be bot, venue or desk, got 'user'"),
        ({"title": "  "}, "an incident needs a non-empty title"),
        ({"operator": ""}, "an incident needs a non-empty operator"),
    ],
)
def test_bad_openings_are_refused_and_nothing_is_written(
    store: EventStore, change: dict[str, object], message: str
) -> None:
    with pytest.raises(EvidenceInputError, match=message):
        _open(store, **change)
    assert list_incidents(store) == []
    assert store.audit_log() == []


def test_closing_an_unknown_or_closed_incident_is_refused(store: EventStore) -> None:
    with pytest.raises(EvidenceInputError, match="no incident 'inc-0000000000000000'"):
        close_incident(store, "inc-0000000000000000", operator="ana", resolution="x")
    incident = _open(store)
    close_incident(store, incident, operator="ana", resolution="fixed")
    with pytest.raises(EvidenceStateError, match=f"incident {incident} is already closed"):
        close_incident(store, incident, operator="bob", resolution="again")
    with pytest.raises(EvidenceInputError, match="non-empty resolution"):
        close_incident(store, incident, operator="bob", resolution=" ")
    assert len(store.select(sa.select(schema.incidents))) == 2


def test_the_same_opening_twice_is_one_incident(store: EventStore) -> None:
    _open(store)
    with pytest.raises(StoreWriteError):
        _open(store)  # same fields, same ns: the same id, refused by the table's key
    assert len(list_incidents(store)) == 1


def test_two_operators_closing_at_once_close_it_once(store_url: str) -> None:
    with EventStore.open(store_url) as setup:
        incident = _open(setup)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def close(who: str) -> None:
        with EventStore.open(store_url, create=False) as mine:
            barrier.wait()
            try:
                close_incident(mine, incident, operator=who, resolution=f"by {who}")
                outcomes.append("closed")
            except (EvidenceStateError, StoreWriteError):
                outcomes.append("refused")

    threads = [threading.Thread(target=close, args=(who,)) for who in ("ana", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["closed", "refused"]
    with EventStore.open(store_url, create=False) as reader:
        i = schema.incidents.c
        closing = reader.select(sa.select(i.actor).where(i.event == "closed"))
        assert len(closing) == 1
        assert list_incidents(reader)[0].closed_by == closing[0].actor
