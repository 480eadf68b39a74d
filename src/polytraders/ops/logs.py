"""Structured logs (structlog): one configuration for every command that runs a desk.

:func:`configure_logging` routes the standard library's records (the modules'
``logging.getLogger(__name__)`` calls) and structlog's own loggers through the same processors
(structlog's ``ProcessorFormatter``) to one handler on stderr:

- ``json``: one JSON object per line (live sessions: machine-collected), keys ``timestamp``
  (ISO 8601 UTC), ``level``, ``logger``, ``event`` (the message), ``run_id``, and
  ``correlation_id`` where one is bound (structlog's context variables: the desk binds the
  intent it is deciding and routing), ``exception`` with a traceback;
- ``console``: the same fields as one readable line each (a terminal).

**No secret is ever written**: a value under a secret-named key (``private_key``, ``secret``,
``passphrase``, ``password``, ``api_key``, ``token``…) is replaced by ``***``, and so is every
occurrence of a value registered as secret (:func:`register_secrets`: the Polymarket
credentials read at start-up) anywhere in a line, tracebacks included.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]
MASK = "***"
SECRET_ENV_NAMES = (
    "POLYMARKET_PRIVATE_KEY",
    "POLYMARKET_API_KEY",
    "POLYMARKET_API_SECRET",
    "POLYMARKET_API_PASSPHRASE",
    "POLYTRADERS_SIGNER_KEY",
    "POLYTRADERS_CONSOLE_SECRET",
)
"""Environment variables whose values are registered as secrets by :func:`configure_logging`
(the venue's credentials, a governance signer's key, the console's session secret)."""

_SECRET_KEY = re.compile(
    r"private[_-]?key|secret|passphrase|password|passwd|api[_-]?key|apikey|token|"
    r"authorization|mnemonic|credential",
    re.IGNORECASE,
)
_NOT_SECRET_KEYS = frozenset({"token_id", "token_ids", "tokens"})
"""Market-data keys that contain ``token`` but name outcome tokens, not credentials."""
_MIN_SECRET_CHARS = 6
_QUIET_LIBRARIES = ("httpx", "httpcore", "websockets", "uvicorn", "asyncio", "urllib3")


class SecretMasker:
    """The processor that masks secrets by key name and by registered value."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, values: Iterable[str]) -> None:
        """Mask these values wherever they appear from now on (values shorter than 6
        characters are ignored: they would mask ordinary words)."""
        self._values.update(v for v in values if len(v) >= _MIN_SECRET_CHARS)
        if self._values:
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def text(self, value: str) -> str:
        """``value`` with every registered secret replaced by ``***``."""
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def value(self, value: Any) -> Any:
        """A copy of a logged value with secrets masked (strings, mappings, lists, tuples)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: MASK if _secret_key(k) else self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event_dict.items()):
            event_dict[key] = MASK if _secret_key(key) else self.value(value)
        return event_dict

    def rendered(self, logger: Any, method_name: str, line: Any) -> Any:
        """The last processor: the rendered line with registered secrets masked (a safety
        net after the renderer, which may have formatted a traceback)."""
        return self.text(line) if isinstance(line, str) else line


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and key not in _NOT_SECRET_KEYS and bool(_SECRET_KEY.search(key))


MASKER = SecretMasker()
"""The process's masker: every configured handler uses it."""

_run_id = ""


def register_secrets(values: Iterable[str]) -> None:
    """Register secret values (credentials read at start-up) with :data:`MASKER`."""
    MASKER.register(values)


def set_run_id(run_id: str) -> None:
    """The run id every line carries from now on (a backtest learns its id after reading its
    data)."""
    global _run_id  # noqa: PLW0603 (one process, one current run)
    _run_id = run_id


def _add_run_id(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict.setdefault("run_id", _run_id)
    return event_dict


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is when a record is emitted (a test
    runner swaps it; a handler holding the old stream would write to a closed file)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(
    *,
    run_id: str,
    fmt: LogFormat,
    secrets: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    level: int = logging.INFO,
) -> None:
    """Route every log record of the process through the structlog processors to stderr.

    Args:
        run_id: added to every line as ``run_id``.
        fmt: ``json`` (one JSON object per line) or ``console`` (readable lines).
        secrets: values to mask wherever they appear (credentials read from a file).
        environ: where :data:`SECRET_ENV_NAMES` are read and registered as secrets (default
            ``os.environ``).
        level: the level of the ``polytraders`` loggers (other libraries log warnings and
            above).

    Calling it again (a second session in one process) replaces the handler and the run id.
    """
    set_run_id(run_id)
    env = os.environ if environ is None else environ
    register_secrets([*secrets, *(env.get(name, "").strip() for name in SECRET_ENV_NAMES)])
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_run_id,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            MASKER,
            renderer,
            MASKER.rendered,
        ],
    )
    handler = _Stderr()
    handler.setFormatter(formatter)
    handler.set_name("polytraders-structlog")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "polytraders-structlog"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("polytraders").setLevel(level)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
