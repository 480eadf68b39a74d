"""A store for the Desk status and Shadow mode tests: a paper desk RUNNING in the test's
process (the real desk over a seeded synthetic feed, recording into a run started as a paper
session starts one, checkpointing as a live session does, fed events in parts by the test),
a recorded shadow comparison (the stale-book guard loosened on three markets of the shipped
sample), and the console users of :data:`tests.console.support.USERS`."""

from __future__ import annotations

from dataclasses import dataclass

from polytraders.backtest.shadow_compare import record
from polytraders.console.auth import hash_password
from polytraders.desk.checkpoints import CheckpointWriter
from polytraders.desk.desk import Desk
from polytraders.model.events import AnyEvent
from polytraders.store import EventStore, RunRef
from polytraders.store.console_users import add_user
from tests.backtest.shadow_data import loosened, subset
from tests.console.support import CHEAP_HASHER, PASSWORD, T0_NS, USERS
from tests.store import desk_sessions as ds

PAPER_RUN = "paper-console-desk"


@dataclass
class RunningDesk:
    """A paper desk mid-run: feed it with :meth:`feed`; it polls operators' rows every
    second of desk time, as a live session does."""

    desk: Desk
    ref: RunRef
    events: list[AnyEvent]
    fed: int = 0

    def feed(self, count: int) -> None:
        """Process the next ``count`` events (the store gets what the desk records)."""
        for event in self.events[self.fed : self.fed + count]:
            self.desk.process(event)
        self.fed = min(self.fed + count, len(self.events))


def add_users(store: EventStore) -> None:
    """The test users, each with :data:`PASSWORD`."""
    for name, role in USERS.items():
        add_user(
            store,
            name=name,
            role=role,
            password_hash=hash_password(PASSWORD, CHEAP_HASHER),
            actor="test",
            ts_ns=T0_NS,
        )


def start_paper_desk(store: EventStore, data: str = ds.synthetic(5)) -> RunningDesk:
    """Start :data:`PAPER_RUN` as a paper session does and attach its checkpoints; no event
    processed yet."""
    desk, ref, events = ds.start_session(store, ds.desk(), data, PAPER_RUN)
    desk.persist_checkpoints(CheckpointWriter(store, PAPER_RUN))
    return RunningDesk(desk=desk, ref=ref, events=events)


def record_shadow_comparison(store: EventStore) -> str:
    """Record the loosened stale-book guard's comparison; return its id."""
    comparison = loosened(str(subset()))
    record(comparison, store, actor="ana", ts_ns=T0_NS)
    return str(comparison.comparison_id)
