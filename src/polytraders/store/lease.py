"""Run leases: who is writing a run, and whether that writer is still alive.

Every attempt of a run is owned by one process while it runs. The owner is recorded as its
host name, pid and process start (``<boot id>:<start time in clock ticks>`` from Linux
``/proc``; a reused pid has another start, a reboot another boot id; empty where ``/proc`` is
not available). The owner renews its lease by appending a heartbeat row (wall-clock time and
lease length) at most every ``heartbeat_interval_s``; the lease lapses ``lease_s`` after the
latest heartbeat.

A run still RUNNING is **ABANDONED** when its lease has lapsed, or when its owner ran on this
host and that process is gone (no such pid, a zombie, or a pid now used by a process with
another start). ABANDONED is a verdict computed when reading (it depends on the clock and on
this host's processes), never a recorded status.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from polytraders.store.records import Lease, Owner, RunStatus

NS_PER_S = 1_000_000_000
DEFAULT_LEASE_S = 60
"""Seconds a lease lasts after its latest heartbeat."""
DEFAULT_HEARTBEAT_INTERVAL_S = 10
"""Seconds between two heartbeats of a running attempt (at most one per interval)."""

_PROC = "/proc"


def this_process() -> Owner:
    """The calling process as a lease owner."""
    pid = os.getpid()
    return Owner(host=socket.gethostname(), pid=pid, process_start=process_start(pid) or "")


def process_start(pid: int) -> str | None:
    """``<boot id>:<start ticks>`` of process ``pid``; ``""`` when ``/proc`` does not say
    (not Linux); None when ``/proc`` shows no such live process (absent or a zombie)."""
    try:
        with open(f"{_PROC}/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot_id = handle.read().strip()
    except OSError:
        return ""
    try:
        with open(f"{_PROC}/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], fields[19]
    if state in ("Z", "X"):
        return None
    return f"{boot_id}:{start_ticks}"


def owner_gone(owner: Owner, host: str) -> bool:
    """True when ``owner`` ran on ``host`` (this host) and that process no longer exists.
    False when it is alive or ran on another host (only its lease can tell then)."""
    if owner.host != host:
        return False
    start = process_start(owner.pid)
    if start is None:
        return True
    if start and owner.process_start:
        return start != owner.process_start
    try:  # no /proc: fall back on whether the pid exists at all
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def abandoned_reason(status: RunStatus, lease: Lease | None, now_wall_ns: int, host: str) -> str:
    """Why a run is ABANDONED, or ``""`` when it is not: it must be RUNNING and either its
    lease lapsed before ``now_wall_ns`` or its owner ran on ``host`` and is gone."""
    if status is not RunStatus.RUNNING:
        return ""
    if lease is None:
        return "it has no lease (no heartbeat was ever recorded)"
    if now_wall_ns > lease.expires_wall_ns:
        late_s = (now_wall_ns - lease.expires_wall_ns) // NS_PER_S
        return (
            f"its lease lapsed {late_s} s ago (last heartbeat {utc_text(lease.renewed_wall_ns)}, "
            f"lease {lease.lease_s} s, owner {lease.owner})"
        )
    if owner_gone(lease.owner, host):
        return f"its owner process ({lease.owner}) is gone"
    return ""


def utc_text(ts_ns: int) -> str:
    """``ts_ns`` (ns since the epoch) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
