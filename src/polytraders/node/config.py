"""The live node's configuration (:class:`LiveNodeConfig`, TOML; ``polytraders schema node``
prints its JSON Schema; an annotated example is ``examples/node.toml``).

```toml
desk = "desk.toml"            # the desk file, relative to this file (or an inline [desk] table)
[venue]                       # PolymarketVenueConfig
clob_url = "https://clob.polymarket.com"
heartbeat_interval_ms = 5000
[reconciliation]              # ReconciliationConfig
orphan_policy = "cancel"
[worker]                      # VenueWorkerConfig
max_pending_submits_count = 64
```

Where it lives: a node composes a desk file (:mod:`polytraders.backtest.desk_file`, engine
layer) with adapter settings (:mod:`polytraders.venues`), so by DESIGN.md's layers it belongs at
the engine layer or above. It is not a backtest concern, so it opens the engine-layer package
``node/`` beside ``backtest/`` (the live node's own code belongs there too), importing
``backtest/`` for the desk file and ``venues/`` for the parts, never the other way round.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from polytraders.backtest.desk_file import AccountFile, DeskFile, DeskFileError
from polytraders.contracts.canonical import config_version
from polytraders.contracts.config import (
    DEMOTION_NOT_CONFIGURABLE,
    ConfigFileError,
    FrozenConfig,
    demotion_keys,
)
from polytraders.contracts.view import AccountIdentity
from polytraders.node.venue_worker import VenueWorkerConfig
from polytraders.venues.ccxt.config import MARKET_TYPES, CcxtVenueConfig, ProtectiveStopPolicy
from polytraders.venues.polymarket.config import PolymarketVenueConfig
from polytraders.venues.reconciliation import ReconciliationConfig


class NodeConfigError(ConfigFileError):
    """A node config that cannot be used; ``problems`` lists every problem with its path."""

    kind = "node config"


class _NodeBase(FrozenConfig):
    """What every live node has: the desk, the reconciliation and the worker settings, and
    how a node file is read (:meth:`load`, :meth:`from_mapping`)."""

    desk: DeskFile = Field(default_factory=DeskFile)
    """The desk that trades. In TOML: a path to a desk file (relative to the node file's
    folder), or the desk inline as a ``[desk]`` table; default: the default desk."""

    reconciliation: ReconciliationConfig = Field(default_factory=ReconciliationConfig)
    """Reconciliation with the venue (orphan policy, drift thresholds, interval)."""

    worker: VenueWorkerConfig = Field(default_factory=VenueWorkerConfig)
    """The venue worker that keeps the network off the decision loop (back-pressure limit,
    idle advance, graceful-close deadline)."""

    @field_validator("desk", mode="before", json_schema_input_type=str | DeskFile)
    @classmethod
    def _desk_file(cls, value: Any, info: ValidationInfo) -> Any:
        """A path loads the desk file; a table is validated as one (with its cross-checks)."""
        context = info.context if isinstance(info.context, dict) else {}
        base_dir: Path | None = context.get("base_dir")
        try:
            if isinstance(value, str):
                path = Path(value).expanduser()
                if base_dir is not None and not path.is_absolute():
                    path = base_dir / path
                return DeskFile.load(path)
            if isinstance(value, dict):
                return DeskFile.from_mapping(value, "[desk]", base_dir=base_dir)
        except DeskFileError as exc:
            raise PydanticCustomError(
                "desk_file", "{problem}", {"problem": exc.one_line()}
            ) from exc
        return value

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read and validate a TOML node file; a ``desk`` path resolves against the file's
        folder.

        Raises:
            NodeConfigError: unreadable file, not UTF-8, bad TOML (including an integer of
                over 4,300 digits and nesting too deep to parse), or invalid values (all
                listed, each with its path, e.g. ``venue.heartbeat_interval_ms``).
        """
        source = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            # ValueError: TOMLDecodeError, UnicodeDecodeError, and int()'s digit limit
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise NodeConfigError(source, [reason]) from exc
        return cls.from_mapping(data, source, base_dir=Path(path).resolve().parent)

    @classmethod
    def from_mapping(
        cls, data: dict[str, Any], source: str = "<node>", *, base_dir: Path | None = None
    ) -> Self:
        """Validate a parsed node file (see :meth:`load`); ``base_dir`` resolves a relative
        ``desk`` path and user bots' ``source`` paths of an inline desk (default: the working
        folder).

        A key naming demotion anywhere (``[demotion]``, ``auto_demotion = false``) is refused
        by name: demotion is automatic and nothing configures it
        (:func:`~polytraders.contracts.config.demotion_keys`).

        Raises:
            NodeConfigError: invalid values (all listed with their paths).
        """
        refused = demotion_keys(data)
        if refused:
            raise NodeConfigError(
                source, [f"{key}: {DEMOTION_NOT_CONFIGURABLE}" for key in refused]
            )
        try:
            return cls.model_validate(data, context={"base_dir": base_dir})
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                for err in exc.errors()
            ]
            raise NodeConfigError(source, problems) from exc


class LiveNodeConfig(_NodeBase):
    """A live trading node on Polymarket: the desk (bots, order, modes, configs, seed), the
    Polymarket venue settings, the reconciliation settings and the venue worker's, frozen and
    linted like bot configs.

    ``config_version`` (16 hex digits, :func:`~polytraders.contracts.canonical.config_version`)
    covers the desk's own ``config_version`` (bots by id, code digest and config, wherever
    their files lie) and every venue, reconciliation and worker value; a live session records
    it with its run, and :meth:`canonical` as the run's desk config.
    """

    venue: PolymarketVenueConfig = Field(default_factory=PolymarketVenueConfig)
    """Polymarket venue settings (endpoint, heartbeat, time-outs, rate limits, builder code)."""

    @model_validator(mode="after")
    def _close_outlasts_requests(self) -> Self:
        """A graceful close must wait for at least a cancel-all and the trade sync after it."""
        needed_s = 2 * self.venue.request_timeout_s
        if self.worker.close_timeout_s < needed_s:
            raise ValueError(
                f"worker.close_timeout_s ({self.worker.close_timeout_s}) must be at least two "
                f"venue.request_timeout_s ({needed_s})"
            )
        return self

    def with_account(self, account: AccountIdentity) -> LiveNodeConfig:
        """This node with its desk's ``[account]`` replaced by ``account``: how a live session
        makes the credentials' identity (signer and funder addresses, signature type, the
        builder code in effect) override the desk file's paper identity. Bots, order, modes
        and configs are untouched; :meth:`canonical` and ``config_version`` then describe the
        desk that trades.

        Raises:
            NodeConfigError: an address is not 0x and 40 hex digits, the signature type is
                not 0-3, or the builder code is not bytes32 (every problem listed).
        """
        try:
            identity = AccountFile(
                signer=account.signer,
                funder=account.funder,
                signature_type=account.signature_type,
                builder_code=account.builder_code,
            )
        except ValidationError as exc:
            problems = [
                f"desk.account.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()
            ]
            raise NodeConfigError("live account", problems) from exc
        desk = self.desk.model_copy(update={"account": identity})
        return self.model_copy(update={"desk": desk})

    # ------------------------------------------------------------------ identity
    def canonical(self) -> dict[str, Any]:
        """The node that runs, every default filled in: the desk as
        :meth:`DeskFile.canonical` (bots with resolved ids, full configs, code digests) and
        the venue, reconciliation and worker values. What a live run records as its desk
        config."""
        return {
            "desk": self.desk.canonical(),
            "venue": self.venue.canonical(),
            "reconciliation": self.reconciliation.canonical(),
            "worker": self.worker.canonical(),
        }

    @property
    def config_version(self) -> str:
        """16 hex digits of SHA-256 over the canonical JSON of the desk's ``config_version``
        and the venue, reconciliation and worker values (so, like the desk's, independent of
        where user bots' files lie)."""
        return config_version(
            {
                "desk_config_version": self.desk.config_version,
                "venue": self.venue.canonical(),
                "reconciliation": self.reconciliation.canonical(),
                "worker": self.worker.canonical(),
            }
        )


class CcxtNodeConfig(_NodeBase):
    """A live trading node on a crypto exchange through ccxt (``polytraders live --venue
    ccxt``): the desk, the ccxt venue settings (exchange, symbols, a loopback simulator's
    ``api_url``), the protective stop policy, the reconciliation and worker settings; frozen
    and linted like :class:`LiveNodeConfig`, read from TOML the same way (``[venue]`` is a
    :class:`~polytraders.venues.ccxt.config.CcxtVenueConfig`).

    ``config_version`` covers the desk's ``config_version`` and every venue, protective stop,
    funding poll, reconciliation and worker value (:meth:`canonical`).
    """

    venue: CcxtVenueConfig = Field(default_factory=CcxtVenueConfig)
    """ccxt venue settings (exchange, symbols, endpoint, time-outs, rate limits, polling)."""

    protective_stop: ProtectiveStopPolicy | None = None
    """The exchange-side stop kept for each open perpetual position
    (:mod:`polytraders.venues.ccxt.protective_stop`); in TOML ``[protective_stop]``. A
    perpetual venue always has one (the policy's defaults when the table is left out); a spot
    venue never (it holds no positions to protect)."""

    funding_poll_interval_ms: int = Field(default=60_000, ge=100, le=3_600_000)
    """How often the session asks the exchange for each perpetual's funding rate (ms; the
    desk starts with the rates read at start-up), handed to the desk as ``FundingRate`` events (what
    ``risk.fundingguard`` reads), and the venue for the account's funding payments (each booked
    once by the desk). Binance updates ``premiumIndex`` continuously and funds every 8 h; each
    poll costs one request per symbol for the rate (weight 1) and one for the payments
    (``income``, weight 30). Perpetual venues only: a spot venue refuses the setting."""

    @model_validator(mode="before")
    @classmethod
    def _perpetuals_are_protected(cls, data: Any) -> Any:
        """A perpetual venue without a ``[protective_stop]`` table gets the default policy."""
        if not isinstance(data, dict) or data.get("protective_stop") is not None:
            return data
        venue = data.get("venue")
        exchange_id = (
            venue.exchange_id
            if isinstance(venue, CcxtVenueConfig)
            else (venue or {}).get("exchange_id", "binanceusdm")
        )
        if MARKET_TYPES.get(exchange_id) == "perp":
            return {**data, "protective_stop": ProtectiveStopPolicy()}
        return data

    @model_validator(mode="after")
    def _close_outlasts_calls(self) -> Self:
        """A graceful close must wait for at least a cancel-all and the listing after it."""
        needed_s = 2 * self.venue.request_timeout_s
        if self.worker.close_timeout_s < needed_s:
            raise ValueError(
                f"worker.close_timeout_s ({self.worker.close_timeout_s}) must be at least two "
                f"venue.request_timeout_s ({needed_s})"
            )
        if self.protective_stop is not None and self.venue.market_type != "perp":
            raise ValueError("protective_stop: only for perpetual venues (binanceusdm)")
        if self.protective_stop is None and self.venue.market_type == "perp":
            raise ValueError("protective_stop: a perpetual venue needs one")
        if "funding_poll_interval_ms" in self.model_fields_set and self.venue.market_type != "perp":
            raise ValueError("funding_poll_interval_ms: only for perpetual venues (binanceusdm)")
        return self

    def canonical(self) -> dict[str, Any]:
        """The node that runs, every default filled in (as :meth:`LiveNodeConfig.canonical`,
        plus ``protective_stop`` and ``funding_poll_interval_ms``, both None on spot)."""
        return {
            "desk": self.desk.canonical(),
            "venue": self.venue.canonical(),
            "protective_stop": None
            if self.protective_stop is None
            else self.protective_stop.model_dump(mode="json"),
            "funding_poll_interval_ms": self.funding_poll_interval_ms
            if self.venue.market_type == "perp"
            else None,
            "reconciliation": self.reconciliation.canonical(),
            "worker": self.worker.canonical(),
        }

    @property
    def config_version(self) -> str:
        """16 hex digits of SHA-256 over the canonical JSON of the desk's ``config_version``
        and every other value of :meth:`canonical`."""
        values = self.canonical()
        values["desk"] = self.desk.config_version
        return config_version(values)
