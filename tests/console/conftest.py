"""Fixtures of the console tests: one SQLite store holding real recorded runs of every kind
the console tells apart, console users, and a test client on the real app with a clock the
test moves.

The store (built once per session, read by every test; tests that change users use their own
names) holds:

- a backtest of the real Polymarket sample (:data:`tests.conftest.POLYMARKET_SAMPLE`, 64,720
  envelopes) through :func:`polytraders.backtest.engine.run_desk`;
- a backtest of a seeded synthetic feed (source ``synthetic``);
- a paper session, a live-venue session against Polymarket's URL and one against a loopback
  CLOB (the simulator), each recorded by :func:`tests.store.desk_sessions.record_session`
  exactly as the live commands start their runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from polytraders.backtest.desk_file import DeskFile
from polytraders.backtest.engine import run_desk
from polytraders.console.app import create_app
from polytraders.console.auth import PasswordCheck, hash_password
from polytraders.node.config import LiveNodeConfig
from polytraders.store import EventStore
from polytraders.store.console_users import add_user
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from tests.conftest import POLYMARKET_SAMPLE, REPO
from tests.console.governed_store import Governed, build
from tests.console.support import (
    CHEAP_HASHER,
    ORIGIN,
    PASSWORD,
    T0_NS,
    USERS,
    Clock,
    Recorded,
    settings,
)
from tests.store import desk_sessions as ds


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """The shared store (module docstring)."""
    url = str(tmp_path_factory.mktemp("console") / "desk.sqlite")
    backtest = run_desk(
        data=POLYMARKET_SAMPLE, desk_file=DeskFile(), store_url=url, fill_bounds=False
    )
    synthetic = run_desk(data=ds.synthetic(4), desk_file=ds.desk(), store_url=url)
    desk = ds.desk()
    with EventStore.open(url) as store:
        paper = ds.record_session(store, desk, ds.synthetic(0))
        live = ds.record_session(
            store, desk, ds.synthetic(1), config=LiveNodeConfig(desk=desk).canonical()
        )
        loopback = PolymarketVenueConfig(clob_url="http://127.0.0.1:8711")
        simulated = ds.record_session(
            store,
            desk,
            ds.synthetic(2),
            config=LiveNodeConfig(desk=desk, venue=loopback).canonical(),
        )
        for name, role in USERS.items():
            add_user(
                store,
                name=name,
                role=role,
                password_hash=hash_password(PASSWORD, CHEAP_HASHER),
                actor="test",
                ts_ns=T0_NS,
            )
    return Recorded(
        url=url,
        refs={
            "backtest": f"{backtest.result.run_id}@1",
            "synthetic": f"{synthetic.result.run_id}@1",
            "paper": str(paper),
            "live": str(live),
            "simulated": str(simulated),
        },
    )


@pytest.fixture
def store(recorded: Recorded) -> Iterator[EventStore]:
    """The shared store, open for one test."""
    with EventStore.open(recorded.url, create=False) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(store: EventStore, clock: Clock) -> Iterator[TestClient]:
    """A client of the real app over the shared store (no session yet)."""
    app = create_app(store, settings(), clock_ns=clock, password_check=PasswordCheck(CHEAP_HASHER))
    with TestClient(app, base_url=ORIGIN) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Governed:
    """The promotion-path store (:mod:`tests.console.governed_store`)."""
    return build(tmp_path_factory.mktemp("governed"))


@pytest.fixture
def governed_client(governed: Governed, clock: Clock) -> Iterator[TestClient]:
    """A client of the real app over the promotion-path store (no session yet)."""
    with (
        EventStore.open(governed.url, create=False) as opened,
        TestClient(
            create_app(
                opened, settings(), clock_ns=clock, password_check=PasswordCheck(CHEAP_HASHER)
            ),
            base_url=ORIGIN,
        ) as test_client,
    ):
        yield test_client


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """Where a browser test keeps its screenshots as test artefacts:
    ``runs/ci/screenshots/<test name>/`` beside the CI's JUnit report (``runs/`` is not
    committed); removed first (the test creates it), so it holds this run's pictures only."""
    folder = REPO / "runs" / "ci" / "screenshots" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder
