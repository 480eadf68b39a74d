"""URLs are resolved or refused clearly, passwords never show, and bad input fails closed."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from polytraders.contracts import ids
from polytraders.model.position import Position
from polytraders.store import Backend, EventStore, StoreError, StoreUrlError, StoreWriteError
from polytraders.store.url import masked, resolve
from tests.store import factories as f

SECRET = "hunter2-s3cret"


def test_a_plain_path_and_sqlite_urls_mean_a_sqlite_file(tmp_path: Path) -> None:
    target = tmp_path / "a.sqlite"
    for given in (str(target), f"sqlite:///{target}", f"sqlite+pysqlite:///{target}"):
        backend, url = resolve(given)
        assert backend is Backend.SQLITE
        assert url.database == str(target)


def test_postgres_urls_use_psycopg_3() -> None:
    for given in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        backend, url = resolve(given)
        assert (backend, url.drivername) == (Backend.POSTGRESQL, "postgresql+psycopg")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "empty event-store URL"),
        (f"mysql://root:{SECRET}@db/x", "unsupported event-store URL scheme 'mysql'"),
        (f"postgresql+psycopg2://u:{SECRET}@h/db", "only through psycopg 3"),
        ("redis://127.0.0.1:6379/0", "unsupported event-store URL scheme 'redis'"),
        ("sqlite://", "in-memory SQLite is refused"),
        ("sqlite:///:memory:", "in-memory SQLite is refused"),
    ],
)
def test_unknown_or_unsafe_urls_are_refused_with_a_clear_message(given: str, message: str) -> None:
    with pytest.raises(StoreUrlError, match=message) as caught:
        EventStore.open(given)
    assert SECRET not in str(caught.value)


def test_a_malformed_url_is_refused_without_its_password() -> None:
    with pytest.raises(StoreUrlError, match="malformed") as caught:
        resolve(f"postgresql://user:{SECRET}@host:notaport/db")
    assert SECRET not in str(caught.value)
    assert "user:***@" in str(caught.value)


def test_passwords_are_masked_in_repr_and_connection_errors() -> None:
    url = f"postgresql+psycopg://trader:{SECRET}@127.0.0.1:1/evidence"
    assert SECRET not in masked(resolve(url)[1])
    with pytest.raises(StoreError, match="cannot open the event store") as caught:
        EventStore.open(url)
    error: BaseException | None = caught.value
    while error is not None:  # the message and every chained cause
        assert SECRET not in str(error)
        error = error.__cause__
    assert "trader:***@127.0.0.1:1/evidence" in str(caught.value)


def test_a_password_in_the_query_string_is_masked_too() -> None:
    url = f"postgresql+psycopg://trader@127.0.0.1:1/evidence?password={SECRET}&sslmode=disable"
    assert SECRET not in masked(resolve(url)[1])
    with pytest.raises(StoreError) as caught:
        EventStore.open(url)
    error: BaseException | None = caught.value
    while error is not None:
        assert SECRET not in str(error)
        error = error.__cause__
    assert "password=***" in str(caught.value)


def test_repr_masks_the_password(pg_schema_url: str) -> None:
    # the test server trusts local connections, so a password is accepted and ignored
    url = sa.make_url(pg_schema_url).set(password=SECRET).render_as_string(hide_password=False)
    with EventStore.open(url) as store:
        assert SECRET not in repr(store)
        assert SECRET not in store.url
        assert "***" in repr(store)


def test_nul_characters_are_refused_on_every_backend(store: EventStore) -> None:
    run = ids.run_id("nul", 1)
    f.start(store, run)
    bad = f.envelope(run, 0, bot_id="risk.\x00a")
    with pytest.raises(StoreWriteError, match="'bot_id' contains a NUL character"):
        store.record(bad)
    fine = f.envelope(run, 0, reason_codes=("CODE\x00",))  # inside JSON: escaped, storable
    store.record(fine)
    assert store.envelopes(run) == [fine]


def test_non_integer_money_is_refused(store: EventStore) -> None:
    run = ids.run_id("float", 1)
    f.start(store, run)
    good = f.fill(run, 0)
    as_float = msgspec.structs.replace(good, price=0.45)
    with pytest.raises(StoreWriteError, match=r"Expected `int`, got `float` - at `\$.price`"):
        store.append_fill(run, as_float)
    with pytest.raises(StoreWriteError, match="cannot be stored"):
        store.append_fill(run, msgspec.structs.replace(good, side="LONG"))
    position = Position(f.TOKEN)
    position.fees = 0.5  # type: ignore[assignment]
    with pytest.raises(StoreWriteError, match="fees must be an int"):
        store.append_position(run, position, ts_ns=1)
    wrong = msgspec.structs.replace(f.envelope(run, 0), latency_ns=1.5)
    with pytest.raises(StoreWriteError, match="cannot be stored"):
        store.record(wrong)
    with pytest.raises(StoreWriteError, match="may not contain '@'"):
        store.start_run(
            run_id="run@2",
            started_ns=0,
            seed=1,
            desk_config={},
            desk_config_version="v",
            data_source="d",
            synthetic=True,
        )
    with pytest.raises(StoreWriteError, match="seed must be in"):
        store.start_run(
            run_id="run-x",
            started_ns=0,
            seed=2**64,
            desk_config={},
            desk_config_version="v",
            data_source="d",
            synthetic=True,
        )
    with pytest.raises(StoreWriteError, match="not valid JSON"):
        store.start_run(
            run_id="run-y",
            started_ns=0,
            seed=1,
            desk_config="{not json",
            desk_config_version="v",
            data_source="d",
            synthetic=True,
        )
    assert store.envelopes(run) == []
    assert store.fills(run) == []
    assert [r.run_id for r in store.runs()] == [run]


def test_an_integer_beyond_64_bits_is_refused_before_it_reaches_a_batch(
    store: EventStore,
) -> None:
    run = ids.run_id("overflow", 1)
    f.start(store, run)
    base = f.envelope(run, 0)
    with pytest.raises(StoreWriteError, match="64-bit"):
        store.record(msgspec.structs.replace(base, latency_ns=2**64))
    huge = f.order(run, 0)
    huge.size = 2**63
    with pytest.raises(StoreWriteError, match="size=9223372036854775808 does not fit"):
        store.append_order(run, huge)
    assert store.pending == 0
    store.record(base)
    assert store.envelopes(run) == [base]
