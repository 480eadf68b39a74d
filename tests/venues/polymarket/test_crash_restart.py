"""Crash-only restart through the CLI: a live desk against the local CLOB v2 simulator is killed
with SIGKILL, restarted with the same run id, and an operator trips and resets its kill switch
with ``polytraders kill-switch`` while it is down.

Each phase is a ``polytraders run --venue polymarket --live`` process on the same store and
run id (the simulator is paper money on loopback); every wait polls the simulator, the store
or the process output against a deadline, and the simulator's replay is stepped by the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from polytraders.commands.live import DESK_BUILDER
from polytraders.desk.checkpoints import DESK_KIND, CheckpointChange, load_checkpoint
from polytraders.simclob.server import SimClobServer, SimSettings, account_for_key
from polytraders.store import EventStore
from polytraders.store.allowance_checks import ACTION as CHECKED
from polytraders.store.allowance_checks import allowance_checks
from tests.governed import govern
from tests.venues.polymarket.conftest import throwaway_key

RUN = "run-crash-restart"
DEADLINE_S = 60.0


class _Desk:
    """One ``polytraders run --venue polymarket --live`` process, its output in a file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "polytraders", *args],
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cancels, nothing flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE_S)
        self._handle.close()

    def stop(self) -> int:
        """SIGTERM: the graceful shutdown (cancel all, flush); returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=DEADLINE_S)
        self._handle.close()
        return code


def _until(condition: Callable[[], bool], what: str, desk: _Desk, tick: Callable[[], None]):
    """Call ``tick`` (step the simulator) until ``condition`` holds, or fail at the deadline
    with the desk's output."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if desk.process.poll() is not None:
            pytest.fail(
                f"the desk exited ({desk.process.returncode}) waiting for {what}:\n"
                + desk.output()[-3_000:]
            )
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DEADLINE_S} s:\n" + desk.output()[-3_000:])
        tick()
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_restart_keeps_the_kill_switch_books_the_missed_fill_once_and_resets(
    tmp_path: Path,
) -> None:
    key = throwaway_key()
    account = account_for_key(key, builder_code=DESK_BUILDER)
    credentials = tmp_path / "credentials.env"
    credentials.write_text(
        f"POLYMARKET_PRIVATE_KEY={key}\nPOLYMARKET_API_KEY={account.api_key}\n"
        f"POLYMARKET_API_SECRET={account.api_secret}\n"
        f"POLYMARKET_API_PASSPHRASE={account.api_passphrase}\n"
        f"POLYMARKET_BUILDER_CODE={DESK_BUILDER}\n"
    )
    credentials.chmod(0o600)
    store_path = tmp_path / "desk.sqlite"
    settings = SimSettings(limit_markets=1, restamp=True, heartbeat_timeout_ms=60_000)
    with SimClobServer(settings, account) as sim:
        market_id = next(iter(sim.exchange.tokens.values())).market_id
        gov_dir = tmp_path / "governance"
        govern(str(store_path), gov_dir)  # every bot released to Limited live
        args = [
            "run",
            "--venue",
            "polymarket",
            "--live",
            "--i-understand-this-trades-real-money",
            "--markets",
            market_id,
            "--clob-url",
            sim.url,
            "--ws-url",
            sim.ws_url + "/ws/market",
            "--user-ws-url",
            sim.ws_url + "/ws/user",
            "--credentials-file",
            str(credentials),
            "--store",
            str(store_path),
            "--gov-dir",
            str(gov_dir),
            "--run-id",
            RUN,
            "--out",
            str(tmp_path / "out"),
        ]

        def step() -> None:
            sim.step(2)

        def live_ids() -> set[str]:
            orders = list(sim.exchange.orders.values())  # one atomic copy under the GIL
            return {o.order_id.lower() for o in orders if o.status == "LIVE"}

        def checkpointed_open() -> set[str]:
            with EventStore.open(store_path, create=False) as reader:
                restored = load_checkpoint(reader, RUN)
            return {o.venue_order_id.lower() for o in restored.open_orders} if restored else set()

        # 1. the desk quotes; its resting orders are in its checkpoint; SIGKILL
        first = _Desk(args, tmp_path / "desk-1.log")
        _until(
            lambda: bool(live_ids()) and live_ids() <= checkpointed_open(),
            "resting order in the checkpoint",
            first,
            step,
        )
        first.kill()
        resting = live_ids()
        assert resting

        # 2. while it is down the market trades through a resting quote, and an operator
        #    trips the kill switch
        trades_before = len(sim.exchange.trades)
        for _ in range(2_000):  # one recorded snapshot at a time: stop at the first trade
            sim.step(1)
            if len(sim.exchange.trades) > trades_before:
                break
        missed = [t.trade_id for t in sim.exchange.trades[trades_before:]]
        assert missed, "no resting quote traded while the desk was down"
        trip = _cli(
            "kill-switch",
            "trip",
            "--store",
            str(store_path),
            "--run",
            RUN,
            "--operator",
            "alice",
            "--reason",
            "desk crashed; check the venue",
        )
        assert trip.returncode == 0, trip.stderr
        orders_before = len(sim.exchange.orders)
        left_resting = live_ids()

        # 3. restart: still tripped; what it left resting is reconciled and withdrawn; the
        #    missed fill booked; it decides on new books but sends nothing; SIGKILL again
        second = _Desk(args, tmp_path / "desk-2.log")
        _until(  # the replay stands still until the restart has reconciled
            lambda: "kill switch TRIPPED" in second.output(),
            "restart with the kill switch tripped",
            second,
            lambda: None,
        )
        assert left_resting  # found at the venue, then withdrawn (by the venue worker)
        _until(lambda: live_ids() == set(), "the tripped switch's cancel-all", second, lambda: None)
        reconciled = second.output().split("reconciled: ", 1)[1].split(",")
        assert reconciled[0] == f"{len(left_resting)} open"  # registered, matched by hash
        assert int(reconciled[1].split()[0]) >= len(missed)  # and any the crash did not store
        for _ in range(5):
            step()
        second.kill()  # SIGKILL with the kill switch tripped

        # 4. restart again: still tripped; it reads books and sends nothing; stopped with
        #    SIGTERM, its summary says so
        subscriptions = sim.sim_state()["ws_subscriptions_total"]
        third = _Desk(args, tmp_path / "desk-3.log")
        _until(
            lambda: sim.sim_state()["ws_subscriptions_total"] > subscriptions,
            "the restarted desk subscribed",
            third,
            lambda: None,
        )
        assert "kill switch TRIPPED" in third.output()
        assert "reconciled: 0 open, 0 missed fills" in third.output()
        steps = iter(range(20))
        _until(lambda: next(steps, None) is None, "20 replayed snapshots", third, step)
        assert third.stop() == 143  # SIGTERM: interrupted, as a backtest
        summary = re.search(
            r"(\d+) market events, \d+ events, (\d+) orders, \d+ fills, state (\w+)",
            third.output(),
        )
        assert summary is not None, third.output()
        assert int(summary[1]) > 0 and summary.group(2, 3) == ("0", "HALTED"), summary[0]
        assert len(sim.exchange.orders) == orders_before  # nothing sent while tripped

        # 5. a graceful stop ended attempt 1; a new start is attempt 2, which carries its
        #    checkpoint: still tripped until an operator resets the running attempt
        fourth = _Desk(args, tmp_path / "desk-4.log")
        _until(lambda: "kill switch TRIPPED" in fourth.output(), "a tripped start", fourth, step)
        reset = _cli(
            "kill-switch",
            "reset",
            "--store",
            str(store_path),
            "--run",
            RUN,
            "--operator",
            "bob",
            "--reason",
            "venue checked, positions reconciled",
        )
        assert reset.returncode == 0, reset.stderr
        assert "trading state ACTIVE" in reset.stdout
        _until(lambda: bool(live_ids()), "a new resting order after the reset", fourth, step)
        assert fourth.stop() == 143

        state = sim.sim_state()
    assert state["stats"].get("duplicates_rejected", 0) == 0
    with EventStore.open(store_path, create=False) as store:
        fills = store.fills(f"{RUN}@1")
        fill_ids = [f.fill_id for f in fills]
        assert len(fill_ids) == len(set(fill_ids))  # each fill booked once
        for trade_id in missed:
            assert sum(i.startswith(f"{trade_id}:") for i in fill_ids) == 1
        orders = [*store.orders(f"{RUN}@1"), *store.orders(f"{RUN}@2")]
        hashes = {o.client_order_id: o.venue_order_id for o in orders if o.venue_order_id}
        assert len(set(hashes.values())) == len(hashes)  # one order per client id, never two
        entries = [e for e in store.audit_log() if e.run_id == RUN]
        assert [(e.actor, e.action, e.attempt) for e in entries if e.action != CHECKED] == [
            ("alice", "GOV_KILL_SWITCH_TRIPPED", 1),
            ("bob", "GOV_KILL_SWITCH_RESET", 2),
        ]
        # every start (three of attempt 1, one of attempt 2) checked the wallet allowance
        checks = allowance_checks(store)
        assert [(c.run_id, c.attempt, c.check.verified) for c in checks] == [
            (RUN, 1, True),
            (RUN, 1, True),
            (RUN, 1, True),
            (RUN, 2, True),
        ]
        assert [(r.attempt, r.status.value) for r in store.runs()] == [
            (1, "INTERRUPTED"),
            (2, "INTERRUPTED"),
        ]


def _desk_rows(store_path: Path) -> list[tuple[int, CheckpointChange]]:
    decode = msgspec.json.Decoder(CheckpointChange).decode
    with EventStore.open(store_path, create=False) as reader:
        return [
            (row.sequence, decode(row.body_json))
            for row in reader.checkpoints(RUN)
            if row.kind == DESK_KIND
        ]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polytraders", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
