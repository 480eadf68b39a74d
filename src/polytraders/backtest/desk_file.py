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
id = "strat.maker_tight"      # a library bot by id, or your own: source = "my_bot.py:MyBot"
mode = "ENFORCED"
[strategies.config]           # the bot's own Config; unknown keys are refused
order_size_micros = 10000000
[[risk]]                      # the risk chain, in this order
id = "risk.killswitch"
[[execution]]
id = "exec.smartrouter"
[[execution]]                 # optional: the kill switch's unwind bot ([desk] kill_switch_unwind)
id = "exec.twap"
role = "unwind"
```

Everything is validated with pydantic; :meth:`DeskFile.problems` adds the cross-checks (known
bot ids, user bots loadable and within the bot contract, bot class matches its section, bot ids
unique, configs valid, a risk chain unless ``allow_no_risk = true``, exactly one ENFORCED
routing execution bot, an unwind bot exactly when the ``[desk]`` unwind policy needs one) and
reports every problem with its path, so a bad file is refused with a clear message.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from polytraders.backtest.bot_source import BotSourceError, code_sha256, load_bot_class
from polytraders.bots.execution.twap import Twap
from polytraders.bots.registry import (
    BOTS,
    DEFAULT_EXECUTION,
    DEFAULT_RISK_ORDER,
    DEFAULT_STRATEGY,
)
from polytraders.contracts.bot import BOT_ID_PREFIX
from polytraders.contracts.canonical import canonical_json, config_version
from polytraders.contracts.config import (
    DEMOTION_NOT_CONFIGURABLE,
    ConfigFileError,
    demotion_keys,
)
from polytraders.contracts.modes import BotClass, Mode
from polytraders.contracts.view import AccountIdentity
from polytraders.desk.desk import DeskConfig
from polytraders.desk.slots import BotSlot
from polytraders.feeds.config import FeedConfig
from polytraders.venues.paper import PaperVenueConfig

PAPER_ADDRESS = "0x" + "0" * 39 + "1"
"""Public placeholder address of the paper identity (paper runs sign nothing)."""
DESK_BUILDER_CODE = "0xb000000000000000000000000000000000000000000000000000000000003f7a"
"""The builderCode on the operator's promotion-path page (configure the real one per desk)."""


_UNWIND_SCHEDULE_KEYS = ("unwind_duration_s", "unwind_slice_count")
"""The unwind bot's config keys (``exec.twap``) that take the ``[desk]`` setting of the same
name."""


class DeskFileError(ConfigFileError):
    """A desk file that cannot be used; ``problems`` lists every problem with its path."""

    kind = "desk file"


class BotEntry(BaseModel):
    """One bot of the desk: a library bot by ``id``, or a user's bot by ``source``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str | None = None
    """Bot id. Required for a library bot (``polytraders reasons`` lists owners; ``schema
    BOT_ID`` prints a bot's config schema); optional with ``source`` (it must then equal the
    class's ``bot_id``)."""
    source: str | None = None
    """A user's bot: ``path/to/file.py:Class`` (relative to the desk file's folder) or
    ``package.module:Class``. Omit for a library bot."""
    mode: Mode = Mode.ENFORCED
    """STUB, SHADOW, ADVISORY or ENFORCED (QUARANTINE is entered, never configured)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The bot's own config values; unset fields take the bot's defaults."""
    budget_us: int = Field(default=5_000, ge=1, le=10_000_000)
    """Decision time budget (µs); a bot over budget is quarantined."""
    modelled_latency_us: int = Field(default=0, ge=0, le=10_000_000)
    """Decision latency recorded in envelopes under the simulated clock (µs)."""
    role: Literal["route", "unwind"] = "route"
    """Execution entries only. ``"route"``: routes the strategies' approved intents (exactly
    one such entry is ENFORCED). ``"unwind"``: the desk's unwind bot (``exec.twap``, ENFORCED,
    at most one), used only for the kill switch's unwind policy (``[desk]
    kill_switch_unwind``) and the operator's ``unwind`` command; its unwind schedule is the
    ``[desk]`` one (``unwind_duration_s``, ``unwind_slice_count``). Left out of the canonical
    form while ``"route"``."""

    @model_serializer(mode="wrap")
    def _canonical(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.role == "route":
            data.pop("role", None)
        return data


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
    """Strategy bots (the list replaces the default ``strat.maker_tight``)."""
    risk: list[BotEntry] = Field(default_factory=_default_risk)
    """The risk chain, in order (the list replaces the seven default guards)."""
    allow_no_risk: bool = False
    """An empty ``risk`` list is refused unless this is true (the run is then bannered)."""
    execution: list[BotEntry] = Field(default_factory=_default_execution)
    """Execution bots (exactly one ENFORCED; the list replaces ``exec.smartrouter``)."""
    venue: PaperVenueConfig = Field(default_factory=PaperVenueConfig)
    """Paper venue fill model: entry, response and cancel latency, queue model (``pessimistic``,
    ``probabilistic`` with its function, ``l2_inference``), complementary-token fills, fee table,
    starting cash (``docs/paper_venue.md``)."""
    desk: DeskConfig = Field(default_factory=DeskConfig)
    """Desk loop settings (order manager, flushing, the kill switch's unwind policy)."""
    account: AccountFile = Field(default_factory=AccountFile)
    """Public signing identity."""
    feed: FeedConfig = Field(default_factory=FeedConfig)
    """Feed checks: the bad-input threshold over which a run fails."""

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _classes: dict[str, Any] = PrivateAttr(default_factory=dict)
    """User bot classes loaded so far, by ``source``."""

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> DeskFile:
        """Read and validate a TOML desk file; user bots' ``source`` paths resolve against
        the file's folder.

        Raises:
            DeskFileError: unreadable file, not UTF-8, bad TOML, schema errors, or cross-check
                problems (all listed).
        """
        source = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            # ValueError: TOMLDecodeError, UnicodeDecodeError, and int()'s digit limit
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise DeskFileError(source, [reason]) from exc
        return cls.from_mapping(data, source, base_dir=Path(path).resolve().parent)

    @classmethod
    def from_mapping(
        cls, data: dict[str, Any], source: str = "<desk>", *, base_dir: Path | None = None
    ) -> DeskFile:
        """Validate a parsed desk file (see :meth:`load`); ``base_dir`` resolves relative
        ``source`` paths (default: the working folder). A key naming demotion anywhere
        (``demotion = false``, ``[demotion]``, ``auto_demotion``) is refused by name:
        demotion is automatic and nothing configures it
        (:func:`~polytraders.contracts.config.demotion_keys`)."""
        refused = demotion_keys(data)
        if refused:
            raise DeskFileError(source, [f"{key}: {DEMOTION_NOT_CONFIGURABLE}" for key in refused])
        try:
            desk = cls.model_validate(data)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            ]
            raise DeskFileError(source, problems) from exc
        if base_dir is not None:
            desk._base_dir = base_dir
        problems = desk.problems()
        if problems:
            raise DeskFileError(source, problems)
        return desk

    def with_strategy(self, spec: str) -> DeskFile:
        """This desk with its strategies replaced by the user strategy ``spec``
        (``FILE.py:Class`` relative to the working folder, or ``module:Class``): what
        ``--strategy`` means. An entry of this desk for the same bot id keeps its mode and
        config; otherwise the strategy runs ENFORCED with its default config.

        Raises:
            DeskFileError: the strategy cannot be loaded or the desk is then invalid.
        """
        target, sep, name = spec.rpartition(":")
        if sep and target.endswith(".py"):
            spec = f"{Path(target).expanduser().resolve()}:{name}"
        try:
            cls = load_bot_class(spec, bot_class=BotClass.STRATEGY)
        except BotSourceError as exc:
            raise DeskFileError("--strategy", [str(exc)]) from exc
        entry = BotEntry(id=cls.bot_id, source=spec)
        for i, existing in enumerate(self.strategies):
            if self._entry_id(existing, i, "strategies") == cls.bot_id:
                entry = existing.model_copy(update={"id": cls.bot_id, "source": spec})
        data = self.model_dump(mode="json")
        data["strategies"] = [entry.model_dump(mode="json")]
        return DeskFile.from_mapping(data, "--strategy", base_dir=self._base_dir)

    @property
    def base_dir(self) -> Path:
        """The folder relative bot ``source`` paths resolve against."""
        return self._base_dir

    # ------------------------------------------------------------------ bot classes
    def bot_class(self, entry: BotEntry) -> Any:
        """The class of an entry: the library bot ``id`` or the user's ``source``.

        Raises:
            KeyError: unknown library bot id.
            BotSourceError: the source cannot be loaded or breaks the bot contract.
        """
        if entry.source is None:
            if entry.id is None:
                raise KeyError("a desk-file entry needs an id or a source")
            return BOTS[entry.id]
        cls = self._classes.get(entry.source)
        if cls is None:
            cls = load_bot_class(entry.source, base_dir=self._base_dir)
            self._classes[entry.source] = cls
        return cls

    def _entry_id(self, entry: BotEntry, index: int, section: str) -> str:
        if entry.source is None:
            return entry.id or f"{section}[{index}]"
        try:
            return str(self.bot_class(entry).bot_id)
        except (KeyError, BotSourceError):
            return entry.id or entry.source

    def problems(self) -> list[str]:
        """Cross-checks pydantic cannot express (empty when the desk is usable)."""
        problems: list[str] = []
        sections = (
            ("strategies", self.strategies, BotClass.STRATEGY),
            ("risk", self.risk, BotClass.RISK),
            ("execution", self.execution, BotClass.EXECUTION),
        )
        seen: dict[str, str] = {}
        for name, entries, bot_class in sections:
            for i, entry in enumerate(entries):
                where = f"{name}[{i}] ({entry.source or entry.id})"
                if entry.mode is Mode.QUARANTINE:
                    problems.append(f"{where}: QUARANTINE is entered by the desk, not configured")
                if entry.id is None and entry.source is None:
                    problems.append(f"{name}[{i}]: needs an id (library bot) or a source")
                    continue
                if entry.source is None and entry.id not in BOTS:
                    if not str(entry.id).startswith(BOT_ID_PREFIX[bot_class]):
                        problems.append(f"{where}: not a {bot_class} bot id")
                    else:
                        known = ", ".join(sorted(BOTS))
                        problems.append(
                            f"{where}: unknown bot; known: {known} (a bot of your own needs "
                            'source = "file.py:Class")'
                        )
                    continue
                try:
                    cls = self.bot_class(entry)
                except BotSourceError as exc:
                    problems.append(f"{where}.source: {exc}")
                    continue
                if entry.id is not None and entry.id != cls.bot_id:
                    problems.append(f"{where}.id: the class's bot_id is {cls.bot_id!r}")
                bot_id = str(cls.bot_id)
                if bot_id in seen:
                    problems.append(f"{where}: duplicate bot id {bot_id} (also {seen[bot_id]})")
                seen.setdefault(bot_id, f"{name}[{i}]")
                if cls.bot_class is not bot_class:
                    problems.append(f"{where}: is a {cls.bot_class} bot, not {bot_class}")
                if entry.mode not in cls.mode_support:
                    problems.append(f"{where}: mode {entry.mode} not supported")
                if entry.role == "unwind":
                    problems.extend(self._unwind_problems(where, entry, cls, name))
                try:
                    cls.Config(**self._config_of(entry))
                except ValidationError as exc:
                    for err in exc.errors():
                        loc = ".".join(str(p) for p in err["loc"])
                        problems.append(f"{where}.config.{loc}: {err['msg']}")
        if not self.risk and not self.allow_no_risk:
            problems.append(
                "risk: empty risk chain; set allow_no_risk = true to run without risk bots"
            )
        routers = [e for e in self.execution if e.role == "route"]
        if sum(e.mode is Mode.ENFORCED for e in routers) != 1:
            problems.append("execution: exactly one bot must be ENFORCED")
        unwinders = len(self.execution) - len(routers)
        if unwinders > 1:
            problems.append('execution: at most one bot may have role = "unwind"')
        if self.desk.kill_switch_unwind == "twap" and not unwinders:
            problems.append(
                'desk.kill_switch_unwind: "twap" needs an [[execution]] entry id = "exec.twap" '
                'with role = "unwind"'
            )
        return problems

    def _unwind_problems(self, where: str, entry: BotEntry, cls: Any, section: str) -> list[str]:
        """What is wrong with an entry of ``role = "unwind"``."""
        if section != "execution":
            return [f"{where}.role: only an execution bot can unwind"]
        problems: list[str] = []
        if not issubclass(cls, Twap):
            problems.append(f"{where}.role: the unwind bot must be exec.twap")
        if entry.mode is not Mode.ENFORCED:
            problems.append(f"{where}.mode: the unwind bot must be ENFORCED")
        desk = self.desk
        for key in _UNWIND_SCHEDULE_KEYS:
            if key in entry.config and entry.config[key] != getattr(desk, key):
                problems.append(
                    f"{where}.config.{key}: the unwind schedule is [desk] {key} "
                    f"({getattr(desk, key)}); set it there"
                )
        return problems

    def _config_of(self, entry: BotEntry) -> dict[str, Any]:
        """The config values an entry runs with: its own, and for the unwind bot the
        ``[desk]`` unwind schedule."""
        if entry.role != "unwind":
            return entry.config
        desk = self.desk
        return {**entry.config, **{key: getattr(desk, key) for key in _UNWIND_SCHEDULE_KEYS}}

    # ------------------------------------------------------------------ identity
    def canonical(self) -> dict[str, Any]:
        """The desk that runs, every default filled in: each bot entry with its resolved
        ``id``, its ``source`` as given (null for library bots), its full config and the
        ``code_sha256`` of its source files (:func:`~polytraders.backtest.bot_source.code_sha256`).
        This is what results, reports and the store record."""
        data = self.model_dump(mode="json")
        data["venue"] = self.venue.canonical()
        for section in ("strategies", "risk", "execution"):
            for entry, raw in zip(getattr(self, section), data[section], strict=True):
                cls = self.bot_class(entry)
                raw["id"] = cls.bot_id
                raw["config"] = cls.Config(**self._config_of(entry)).model_dump(mode="json")
                raw["code_sha256"] = code_sha256(cls)
        return data

    def canonical_json(self) -> str:
        """:meth:`canonical` as canonical JSON: two files describing the same desk give the
        same text."""
        return canonical_json(self.canonical())

    @property
    def config_version(self) -> str:
        """16 hex digits of SHA-256 over :meth:`canonical` without the ``source`` locations:
        the same bots (by id, code digest and config) give the same version wherever their
        files lie."""
        data = self.canonical()
        for section in ("strategies", "risk", "execution"):
            for raw in data[section]:
                raw.pop("source")
        return config_version(data)

    # ------------------------------------------------------------------ building
    def build_slots(self) -> tuple[list[BotSlot], list[BotSlot], list[BotSlot]]:
        """Instantiate every bot (STUB entries and the unwind bot excepted) with its config and
        seeded generator, wrapped in desk slots.

        Returns:
            (strategy slots, risk slots, routing execution slots).
        """
        index = 0

        def section(entries: list[BotEntry]) -> list[BotSlot]:
            nonlocal index
            slots: list[BotSlot] = []
            for entry in entries:
                if entry.mode is not Mode.STUB and entry.role == "route":
                    slots.append(self._slot(entry, index))
                    index += 1
            return slots

        return section(self.strategies), section(self.risk), section(self.execution)

    def build_unwind_slot(self) -> BotSlot | None:
        """The unwind bot's slot (the ``role = "unwind"`` execution entry, with the ``[desk]``
        unwind schedule; its generator seeded after every other bot's), or None."""
        built = sum(
            e.mode is not Mode.STUB and e.role == "route"
            for e in (*self.strategies, *self.risk, *self.execution)
        )
        for entry in self.execution:
            if entry.role == "unwind":
                return self._slot(entry, built)
        return None

    def _slot(self, entry: BotEntry, index: int) -> BotSlot:
        cls = self.bot_class(entry)
        rng = random.Random(self.seed * 1000 + index)
        bot = cls(cls.Config(**self._config_of(entry)), rng=rng)
        return BotSlot(
            bot,
            entry.mode,
            budget_ns=entry.budget_us * 1_000,
            modelled_latency_ns=entry.modelled_latency_us * 1_000,
        )
