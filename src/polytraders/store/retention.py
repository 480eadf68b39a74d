"""The retention policy of an event store: which recorded runs a scheduled prune may delete,
and how many store backups to keep.

A policy is a TOML file (``examples/retention.toml``)::

    [runs]
    keep_days = 30   # runs started within the last 30 days are kept
    keep_last = 10   # and, whatever their age, the 10 attempts started last (0: none)

    [backups]
    keep = 7         # polytraders store backup keeps the newest 7 backup files

Always kept, whatever the policy says: every attempt of a run an accepted release manifest
references (the caller passes those run ids: :func:`polytraders.store.releases.referenced_run_ids`),
RUNNING attempts whose lease is alive (:func:`~polytraders.store.prune.select_for_prune`), and
the audit log and governance tables, which no prune ever touches (append-only; a prune deletes
only the run-scoped tables).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Sequence
from pathlib import Path

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polytraders.store.prune import PrunePlan, select_for_prune
from polytraders.store.records import RunRecord


class RetentionPolicyError(ValueError):
    """A policy file is unreadable or invalid (one line naming the file and field)."""


class RunRetention(BaseModel):
    """``[runs]``: how long recorded runs are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep_days: float = Field(ge=1, le=36_500)
    """Runs started within this many days (wall clock) are kept."""
    keep_last: int = Field(default=0, ge=0, le=1_000_000)
    """The attempts started last that are kept whatever their age."""


class BackupRetention(BaseModel):
    """``[backups]``: how many backup files ``polytraders store backup`` keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep: int = Field(default=7, ge=1, le=10_000)
    """The newest backup files kept in the backup folder; older ones are removed."""


class RetentionPolicy(BaseModel):
    """A retention policy file: ``[runs]`` (required) and ``[backups]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runs: RunRetention
    backups: BackupRetention = BackupRetention()

    @classmethod
    def load(cls, path: Path) -> RetentionPolicy:
        """Read and validate a policy file.

        Raises:
            RetentionPolicyError: unreadable, not TOML, or a field missing, unknown or out of
                its limits.
        """
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RetentionPolicyError(f"{path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RetentionPolicyError(f"{path}: not TOML: {exc}") from None
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise RetentionPolicyError(f"{path}: {where}: {first['msg']}") from None


class RetentionPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What a policy prunes: ``plan`` (the attempts to delete and the live ones protected) and
    ``released`` (attempts the policy would have taken but a release manifest references)."""

    plan: PrunePlan
    released: tuple[RunRecord, ...]


def plan_retention(
    records: Sequence[RunRecord],
    policy: RetentionPolicy,
    *,
    now_wall_ns: int,
    referenced_run_ids: Collection[str],
) -> RetentionPlan:
    """The attempts ``policy`` lets a prune delete: started more than ``keep_days`` before
    ``now_wall_ns`` and not among the ``keep_last`` started last, minus every attempt of a run
    in ``referenced_run_ids`` and live RUNNING attempts."""
    base = select_for_prune(
        records,
        now_wall_ns=now_wall_ns,
        keep_last=policy.runs.keep_last,
        older_than_days=policy.runs.keep_days,
    )
    released = tuple(r for r in base.selected if r.run_id in referenced_run_ids)
    selected = tuple(r for r in base.selected if r.run_id not in referenced_run_ids)
    return RetentionPlan(
        plan=PrunePlan(selected=selected, protected=base.protected), released=released
    )
