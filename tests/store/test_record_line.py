"""The store as a line sink: an envelope recorded with the JSON line computed upstream is
stored exactly as if the store had encoded it, and a line that is not the envelope's is
refused (fail closed)."""

from __future__ import annotations

import io

import msgspec
import pytest

from polytraders.contracts.envelope import encode_envelope, timeline_sha256
from polytraders.desk.sinks import DigestingSink
from polytraders.store import EventStore
from polytraders.store.errors import StoreWriteError
from polytraders.store.records import ENVELOPE_COLUMNS, envelope_row
from tests.store.factories import envelope, start, timeline


def test_record_line_stores_the_same_rows_as_record(store_url: str) -> None:
    run_a, run_b = "run-line-a", "run-line-b"
    with EventStore.open(store_url, batch_size=7) as store:
        start(store, run_a)
        start(store, run_b)
        plain = timeline(run_a, 6)
        lined = timeline(run_b, 6)
        for item in plain:
            store.record(item)
        digesting = DigestingSink(store)  # hands its line to store.record_line
        for item in lined:
            digesting.record(item)
        assert store.envelopes(run_b) == lined
        exported = io.BytesIO()
        store.export_jsonl(run_b, exported)
        assert exported.getvalue() == b"".join(encode_envelope(e) for e in lined)
        assert digesting.hexdigest() == timeline_sha256(lined)
        assert store.check_integrity(run_b) == []


def test_record_line_refuses_a_line_of_another_envelope(store: EventStore) -> None:
    start(store, "run-x")
    first, second = envelope("run-x", 0), envelope("run-x", 1)
    with pytest.raises(StoreWriteError, match="line given is envelope"):
        store.record_line(first, encode_envelope(second))
    assert store.pending == 0


def test_record_line_refuses_an_unterminated_or_invalid_line(store: EventStore) -> None:
    start(store, "run-y")
    item = envelope("run-y", 0)
    with pytest.raises(StoreWriteError, match="newline"):
        store.record_line(item, msgspec.json.encode(item))
    bad = msgspec.structs.replace(item, latency_ns=1.5)  # type: ignore[arg-type]
    with pytest.raises(StoreWriteError, match="cannot be stored"):
        store.record_line(bad, encode_envelope(bad))
    assert store.pending == 0


def test_record_line_refuses_an_unstarted_run(store: EventStore) -> None:
    item = envelope("never-started", 0)
    with pytest.raises(StoreWriteError):
        store.record_line(item, encode_envelope(item))


def test_reason_code_columns_equal_their_own_encoding_however_often_repeated() -> None:
    column = ENVELOPE_COLUMNS.index("reason_codes_json")
    for codes in [(), ("RISK_A",), ("RISK_A", "RISK_B"), ("RISK_A",), ("RISK_B", "RISK_A")]:
        for _ in range(2):  # a repeated tuple gives the same text
            item = envelope("run-c", 0, reason_codes=codes)
            row = envelope_row(item, msgspec.json.encode(item), 1)
            assert row[column] == msgspec.json.encode(codes).decode()
