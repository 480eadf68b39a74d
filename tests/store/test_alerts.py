"""Alertmanager webhook payloads into the store on SQLite and PostgreSQL: RFC 3339 times to ns
exactly, repeats skipped, malformed payloads refused whole, and how long a P0 fired for a bot
inside a window."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from polytraders.store import EventStore, schema
from polytraders.store.alerts import (
    AlertState,
    alerted_bots,
    firing_intervals,
    firing_ns,
    ingest_webhook,
    list_firings,
    rfc3339_ns,
)
from polytraders.store.errors import EvidenceInputError
from polytraders.store.incidents import Severity

S = 1_000_000_000
T0 = "2026-12-06T10:00:00Z"
T0_NS = 1_796_551_200 * S


def _alert(
    status: str, starts: str, ends: str = "0001-01-01T00:00:00Z", **labels: str
) -> dict[str, Any]:
    fingerprint = labels.pop("fp", "a1b2c3d4e5f60718")
    base = {"alertname": "BotQuarantined", "severity": "P0", "bot_id": "risk.killswitch"}
    base.update(labels)
    return {
        "status": status,
        "labels": base,
        "annotations": {"summary": "a bot was quarantined"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def _payload(*alerts: dict[str, Any]) -> bytes:
    """An Alertmanager webhook body (version 4) around ``alerts``."""
    return json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="BotQuarantined"}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "polytraders",
            "groupLabels": {"alertname": "BotQuarantined"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": list(alerts),
        }
    ).encode()


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-12-06T10:00:00Z", T0_NS),
        ("2026-12-06T10:00:00.123456789Z", T0_NS + 123_456_789),
        ("2026-12-06T10:00:00.5Z", T0_NS + 500_000_000),
        ("2026-12-06T12:30:00.000000001+02:30", T0_NS + 1),
        ("2018-08-28T08:39:13.637186683-06:00", 1_535_467_153_637_186_683),
        ("2016-12-31T23:59:60Z", 1_483_228_800 * S),  # a leap second is the next second
        ("0001-01-01T00:00:00Z", 0),  # Alertmanager's "no end given"
    ],
)
def test_rfc3339_times_become_exact_nanoseconds(text: str, ns: int) -> None:
    assert rfc3339_ns(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-06 10:00",
        "2026-12-06T10:00:00",  # no offset
        "2026-12-06T10:00:00.1234567891Z",  # 10 fraction digits
        "2026-02-30T10:00:00Z",
        "1969-12-31T23:59:59Z",
        "2300-01-01T00:00:00Z",
    ],
)
def test_non_rfc3339_or_out_of_range_times_are_refused(text: str) -> None:
    with pytest.raises(EvidenceInputError):
        rfc3339_ns(text)


def test_firing_then_resolved_is_one_instance_with_its_interval(
    store: EventStore, store_url: str
) -> None:
    first = ingest_webhook(store, _payload(_alert("firing", T0)), ts_ns=T0_NS + 5 * S)
    assert [(f.state, f.starts_ns, f.ends_ns) for f in first.recorded] == [
        (AlertState.FIRING, T0_NS, 0)
    ]
    repeat = ingest_webhook(store, _payload(_alert("firing", T0)), ts_ns=T0_NS + 65 * S)
    assert (repeat.recorded, repeat.duplicates) == ((), 1)
    resolved = ingest_webhook(
        store,
        _payload(_alert("resolved", T0, "2026-12-06T10:20:00.25Z")),
        ts_ns=T0_NS + 1_300 * S,
    )
    assert len(resolved.recorded) == 1
    with EventStore.open(store_url, create=False) as reader:
        firings = list_firings(reader, bot_id="risk.killswitch")
        assert [(f.state.value, f.received_ns) for f in firings] == [
            ("firing", T0_NS + 5 * S),
            ("resolved", T0_NS + 1_300 * S),
        ]
        assert firings[0].labels["alertname"] == "BotQuarantined"
        assert firings[0].source == "alertmanager"
        intervals = firing_intervals(reader, "risk.killswitch", severity="P0")
        assert [(i.starts_ns, i.ends_ns) for i in intervals] == [
            (T0_NS, T0_NS + 1_200 * S + 250_000_000)
        ]
        # inside [T0 + 10 min, T0 + 1 h): 10 min 0.25 s of P0
        window = (T0_NS + 600 * S, T0_NS + 3_600 * S)
        assert firing_ns(
            reader, "risk.killswitch", severity="P0", start_ns=window[0], end_ns=window[1]
        ) == (600 * S + 250_000_000)
        assert (
            firing_ns(
                reader, "risk.killswitch", severity="P1", start_ns=window[0], end_ns=window[1]
            )
            == 0
        )
        assert (
            firing_ns(
                reader, "risk.stalebookguard", severity="P0", start_ns=window[0], end_ns=window[1]
            )
            == 0
        )
        actions = [(e.actor, e.action) for e in reader.audit_log()]
        assert actions == [("alertmanager", "GOV_ALERT_RECORDED")] * 3
        assert '"duplicates":1' in reader.audit_log()[1].detail


def test_an_unresolved_p0_fires_to_the_end_of_the_window_and_overlaps_count_once(
    store: EventStore,
) -> None:
    payload = _payload(
        _alert("firing", T0, fp="0000000000000001"),
        _alert(
            "firing", "2026-12-06T10:30:00Z", alertname="ErrorBudgetBurn", fp="0000000000000002"
        ),
        _alert("firing", "2026-12-06T09:00:00Z", severity="P2", fp="0000000000000003"),
        _alert("firing", T0, bot="risk.stalebookguard", fp="0000000000000004"),
    )
    ingest_webhook(store, payload, ts_ns=T0_NS)
    ingest_webhook(
        store,
        _payload(
            _alert(
                "resolved",
                "2026-12-06T10:30:00Z",
                "2026-12-06T11:00:00Z",
                alertname="ErrorBudgetBurn",
                fp="0000000000000002",
            )
        ),
        ts_ns=T0_NS + 3_600 * S,
    )
    day = (T0_NS - 3_600 * S, T0_NS + 7_200 * S)  # 09:00 .. 12:00
    # 10:00 .. 12:00 by the unresolved one; the 10:30–11:00 one overlaps it
    assert (
        firing_ns(store, "risk.killswitch", severity="P0", start_ns=day[0], end_ns=day[1])
        == 7_200 * S
    )
    assert (
        firing_ns(store, "risk.killswitch", severity="P2", start_ns=day[0], end_ns=day[1])
        == 10_800 * S
    )
    # ``bot`` wins over ``bot_id``
    assert (
        firing_ns(store, "risk.stalebookguard", severity="P0", start_ns=day[0], end_ns=day[1])
        == 7_200 * S
    )
    assert alerted_bots(store) == ["risk.killswitch", "risk.stalebookguard"]
    open_ones = [i for i in firing_intervals(store, "risk.killswitch") if i.ends_ns is None]
    assert [(i.alertname, i.severity) for i in open_ones] == [
        ("BotQuarantined", Severity.P2),
        ("BotQuarantined", Severity.P0),
    ]


def test_an_alert_without_a_bot_label_is_the_desks(store: EventStore) -> None:
    alert = _alert("firing", T0, alertname="FeedStale")
    del alert["labels"]["bot_id"]
    ingest_webhook(store, _payload(alert), source="am-eu", ts_ns=T0_NS)
    (firing,) = list_firings(store)
    assert (firing.bot_id, firing.source) == ("desk", "am-eu")
    assert store.audit_log()[0].actor == "am-eu"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not an Alertmanager webhook payload"),
        (b'{"receiver": "x"}', "not an Alertmanager webhook payload"),
        (_payload(_alert("pending", T0)), "alert 0: status must be firing or resolved"),
        (
            _payload(_alert("firing", T0, severity="critical")),
            r"severity label must be P0, P1 or P2, got 'critical'",
        ),
        (_payload(_alert("firing", T0, alertname="")), "alert 0: no alertname label"),
        (_payload(_alert("firing", T0, fp="")), r"alert 0 \(BotQuarantined\): no fingerprint"),
        (_payload(_alert("firing", "yesterday")), "not an RFC 3339 time: 'yesterday'"),
        (_payload(_alert("resolved", T0, "2026-12-06T09:00:00Z")), "endsAt is before startsAt"),
    ],
)
def test_a_malformed_payload_is_refused_whole(
    store: EventStore, payload: bytes, message: str
) -> None:
    good = _alert("firing", T0, fp="ffffffffffffffff")
    body = json.loads(payload) if payload.startswith(b"{") else None
    if body is not None and "alerts" in body:
        body["alerts"].append(good)  # the good alert is not recorded either
        payload = json.dumps(body).encode()
    with pytest.raises(EvidenceInputError, match=message):
        ingest_webhook(store, payload, ts_ns=T0_NS)
    assert store.select(sa.select(schema.alert_firings)) == []
    assert store.audit_log() == []
