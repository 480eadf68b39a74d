"""Resident memory of a process, read from ``/proc/<pid>/status`` (Linux).

``peak_rss_mib`` reads ``VmHWM``, the high-water mark of the process's own address space,
and not ``getrusage(...).ru_maxrss``: Linux carries ``ru_maxrss`` across ``execve`` (its
maximum includes the parent's resident set at the fork or vfork that started the process), so
a child started by a benchmark process holding 480 MiB reported 485.7 MiB for a run that peaks
at about 225 MiB by itself; ``VmHWM`` starts afresh with the new program.
"""

from __future__ import annotations

from pathlib import Path

_KIB_PER_MIB = 1024


def _status_mib(field: str, pid: int | None) -> float:
    status = Path(f"/proc/{'self' if pid is None else pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / _KIB_PER_MIB
    raise ValueError(f"no {field} in /proc/{pid or 'self'}/status")


def rss_mib(pid: int | None = None) -> float:
    """Resident memory of process ``pid`` (None: this one) in MiB (``VmRSS``).

    Raises:
        OSError: no such process (or no ``/proc``).
        ValueError: the status has no ``VmRSS`` line (a zombie).
    """
    return _status_mib("VmRSS", pid)


def peak_rss_mib(pid: int | None = None) -> float:
    """Peak resident memory of process ``pid`` (None: this one) since it started its program,
    in MiB (``VmHWM``).

    Raises:
        OSError: no such process (or no ``/proc``).
        ValueError: the status has no ``VmHWM`` line (a zombie).
    """
    return _status_mib("VmHWM", pid)
