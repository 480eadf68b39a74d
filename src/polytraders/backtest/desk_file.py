"""The desk file: which bots run, in which order and mode, with which configs, on which venue
settings, with which seed (TOML; an annotated example is ``examples/desk.toml``).

```toml
seed = 7
[venue]                       # PaperVenueConfig (fill model)
order_latency_ms = 250
[desk]                        # DeskConfig (order manager, flushing)
[account]                     # public signing identity the bots see (never a key)
builder_code = "0x…"
[[strategies]]
id = "strat.maker_tight"
mode = "ENFORCED"
[strategies.config]           # the bot's own Config; unknown keys are refused
base_size_shares_micros = 10000000
[[risk]]                      # the risk chain, in this order
id = "risk.killswitch"
[[execution]]
id = "exec.smartrouter"
```

Everything is validated with pydantic; :meth:`DeskFile.problems` adds the cross-checks (known
bot ids, bot class matches its section, bot configs valid, exactly one ENFORCED execution bot)
and reports every problem with its path, so a bad file is refused with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import random
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polytraders.bots.registry import (
    BOTS,
    DEFAULT_EXECUTION,
    DEFAULT_RISK_ORDER,
    DEFAULT_STRATEGY,
)
from polytraders.contracts.bot import BOT_ID_PREFIX
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.desk import DeskConfig
from polytraders.desk.slots import BotSlot
from polytraders.venues.paper import PaperVenueConfig

PAPER_ADDRESS = "0x" + "0" * 39 + "1"
"""Public placeholder address of the paper identity (paper runs sign nothing)."""
DESK_BUILDER_CODE = "0xb000000000000000000000000000000000000000000000000000000000003f7a"
"""The builderCode on the operator's promotion-path page (configure the real one per desk)."""


class DeskFileError(ValueError):
    """A desk file that cannot be used; ``problems`` lists every problem with its path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: invalid desk file:\n  " + "\n  ".join(problems))


class BotEntry(BaseModel):
    """One bot of the desk."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str
    """Bot id from the library (``polytraders reasons`` lists owners; ``schema BOT_ID``
    prints a bot's config schema)."""
    mode: Mode = Mode.ENFORCED
    """STUB, SHADOW, ADVISORY or ENFORCED (QUARANTINE is entered, never configured)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The bot's own config values; unset fields take the bot's defaults."""
    budget_us: int = Field(default=5_000, ge=1, le=10_000_000)
    """Decision time budget (µs); a bot over budget is quarantined."""
    modelled_latency_us: int = Field(default=0, ge=0, le=10_000_000)
    """Decision latency recorded in envelopes under the simulated clock (µs)."""


class AccountFile(BaseModel):
    """The public signing identity bots see (``contracts.view.AccountIdentity``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    signer: str = Field(default=PAPER_ADDRESS, pattern=r"^0x[0-9a-fA-F]{40}$")
    """Address that signs orders."""
    funder: str = Field(default=PAPER_ADDRESS, pattern=r"^0x[0-9a-fA-F]{40}$")
    """Address that holds the funds."""
    signature_type: int = Field(default=0, ge=0, le=3)
    """0 EOA, 1 proxy, 2 Gnosis Safe, 3 deposit wallet."""
    builder_code: str = Field(default=DESK_BUILDER_CODE, pattern=r"^0x[0-9a-fA-F]{64}$")
    """bytes32 builderCode attributed to every order."""

    def identity(self) -> AccountIdentity:
        """As the contracts type."""
        return AccountIdentity(
            signer=self.signer,
            funder=self.funder,
            signature_type=self.signature_type,
            builder_code=self.builder_code,
        )


def _default_strategies() -> list[BotEntry]:
    return [BotEntry(id=DEFAULT_STRATEGY)]


def _default_risk() -> list[BotEntry]:
    return [BotEntry(id=bot_id) for bot_id in DEFAULT_RISK_ORDER]


def _default_execution() -> list[BotEntry]:
    return [BotEntry(id=DEFAULT_EXECUTION)]


class DeskFile(BaseModel):
    """A whole desk: bots, venue fill model, desk loop settings, account and seed."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: int = Field(default=7, ge=0, le=2**63 - 1)
    """Seed of every bot's random generator (bot i gets ``Random(seed * 1000 + i)``)."""
    strategies: list[BotEntry] = Field(default_factory=_default_strategies)
    """Strategy bots."""
    risk: list[BotEntry] = Field(default_factory=_default_risk)
    """The risk chain, in order."""
    execution: list[BotEntry] = Field(default_factory=_default_execution)
    """Execution bots (exactly one ENFORCED)."""
    venue: PaperVenueConfig = Field(default_factory=PaperVenueConfig)
    """Paper venue fill model (latency, queue model, fee table, starting cash)."""
    desk: DeskConfig = Field(default_factory=DeskConfig)
    """Desk loop settings (order manager, flushing)."""
    account: AccountFile = Field(default_factory=AccountFile)
    """Public signing identity."""

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> DeskFile:
        """Read and validate a TOML desk file.

        Raises:
            DeskFileError: unreadable TOML, schema errors, or cross-check problems (all listed).
        """
        source = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DeskFileError(source, [str(exc)]) from exc
        return cls.from_mapping(data, source)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "<desk>") -> DeskFile:
        """Validate a parsed desk file (see :meth:`load`)."""
        try:
            desk = cls.model_validate(data)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            ]
            raise DeskFileError(source, problems) from exc
        problems = desk.problems()
        if problems:
            raise DeskFileError(source, problems)
        return desk

    def problems(self) -> list[str]:
        """Cross-checks pydantic cannot express (empty when the desk is usable)."""
        problems: list[str] = []
        sections = (
            ("strategies", self.strategies, BotClass.STRATEGY),
            ("risk", self.risk, BotClass.RISK),
            ("execution", self.execution, BotClass.EXECUTION),
        )
        for name, entries, bot_class in sections:
            for i, entry in enumerate(entries):
                where = f"{name}[{i}] ({entry.id})"
                if entry.mode is Mode.QUARANTINE:
                    problems.append(f"{where}: QUARANTINE is entered by the desk, not configured")
                cls = BOTS.get(entry.id)
                if cls is None:
                    if not entry.id.startswith(BOT_ID_PREFIX[bot_class]):
                        problems.append(f"{where}: not a {bot_class} bot id")
                    elif name != "strategies":
                        problems.append(f"{where}: unknown bot; known: {', '.join(sorted(BOTS))}")
                    continue
                if cls.bot_class is not bot_class:
                    problems.append(f"{where}: is a {cls.bot_class} bot, not {bot_class}")
                if entry.mode not in cls.mode_support:
                    problems.append(f"{where}: mode {entry.mode} not supported")
                try:
                    cls.Config(**entry.config)
                except ValidationError as exc:
                    for err in exc.errors():
                        loc = ".".join(str(p) for p in err["loc"])
                        problems.append(f"{where}.config.{loc}: {err['msg']}")
        if sum(e.mode is Mode.ENFORCED for e in self.execution) != 1:
            problems.append("execution: exactly one bot must be ENFORCED")
        return problems

    # ------------------------------------------------------------------ identity
    def canonical_json(self) -> str:
        """The desk file with every default filled in (bot configs included), as canonical
        JSON: two files describing the same desk give the same text."""
        data = self.model_dump(mode="json")
        for section in ("strategies", "risk", "execution"):
            for entry in data[section]:
                cls = BOTS.get(entry["id"])
                if cls is not None:
                    entry["config"] = cls.Config(**entry["config"]).model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def config_version(self) -> str:
        """16 hex digits of SHA-256 over :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ building
    def build_slots(
        self, strategy_override: Any | None = None
    ) -> tuple[list[BotSlot], list[BotSlot], list[BotSlot]]:
        """Instantiate every bot with its config and seeded generator, wrapped in desk slots.

        ``strategy_override`` (a strategy bot class, e.g. a user's own) replaces the
        ``strategies`` section with that one bot, ENFORCED, default config.

        Returns:
            (strategy slots, risk slots, execution slots).
        """
        index = 0

        def make(cls: Any, entry: BotEntry) -> BotSlot:
            nonlocal index
            rng = random.Random(self.seed * 1000 + index)
            index += 1
            bot = cls(cls.Config(**entry.config), rng=rng)
            return BotSlot(
                bot,
                entry.mode,
                budget_ns=entry.budget_us * 1_000,
                modelled_latency_ns=entry.modelled_latency_us * 1_000,
            )

        if strategy_override is not None:
            strategies = [make(strategy_override, BotEntry(id=strategy_override.bot_id))]
        else:
            strategies = [make(BOTS[e.id], e) for e in self.strategies if e.mode is not Mode.STUB]
        risk = [make(BOTS[e.id], e) for e in self.risk if e.mode is not Mode.STUB]
        execution = [make(BOTS[e.id], e) for e in self.execution if e.mode is not Mode.STUB]
        return strategies, risk, execution
