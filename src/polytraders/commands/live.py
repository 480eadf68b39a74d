"""``polytraders sim-clob`` (the local CLOB v2 simulator) and ``polytraders record`` (the
Polymarket market channel to a line recording).

``record`` writes ``<receive ts ns> <raw frame>`` per line (:mod:`polytraders.feeds.lines`,
the market-data format; ``.gz`` names are gzip-compressed), frames exactly as received, so
``polytraders data inspect`` and the recorded-data sources replay them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from polytraders.feeds.live.market_channel import MarketChannelConfig

# Heavy imports (websockets, uvicorn, eth-keys: the ``live`` extra) happen inside the commands,
# so the rest of the CLI works without the extra installed.
POLYMARKET_MARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
DEFAULT_DATA = Path("data/samples/polymarket/resolvedkit_btc15m")


def sim_clob(
    *,
    port: Annotated[int, typer.Option("--port", help="Loopback port (0 picks a free one).")] = 8765,
    data: Annotated[Path, typer.Option("--data", help="Recorded books directory.")] = DEFAULT_DATA,
    limit_markets: Annotated[
        int, typer.Option("--limit-markets", help="Markets to serve (0 = all).")
    ] = 2,
    replay_interval_ms: Annotated[
        int,
        typer.Option(
            "--replay-interval-ms",
            help="Replay one recorded snapshot per interval (0: only POST /sim/step).",
        ),
    ] = 1_000,
    heartbeat_timeout_ms: Annotated[int, typer.Option("--heartbeat-timeout-ms")] = 10_000,
    builder_code: Annotated[
        str, typer.Option("--builder-code", help="Required bytes32 builder code.")
    ] = "",
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Credentials file; else the environment."),
    ] = None,
) -> None:
    """Serve the local Polymarket CLOB v2 simulator on 127.0.0.1 (REST + /ws/market + /ws/user).

    The served account is the signer key from POLYMARKET_PRIVATE_KEY (environment or
    --key-file); its simulator API credentials are derived from the key and printed, so the
    desk can point at the simulator with --clob-url/--ws-url exactly as at Polymarket.
    """
    from polytraders.simclob.server import LOOPBACK, SimSettings, account_for_key, serve_forever
    from polytraders.venues.polymarket.credentials import Credentials, CredentialsError

    values = dict(os.environ)
    if key_file is not None:
        try:
            values |= {"POLYMARKET_PRIVATE_KEY": Credentials.from_file(key_file).private_key}
        except CredentialsError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    key = values.get("POLYMARKET_PRIVATE_KEY", "")
    if not key:
        typer.echo("error: set POLYMARKET_PRIVATE_KEY or pass --key-file", err=True)
        raise typer.Exit(2)
    account = account_for_key(key, builder_code=builder_code)
    settings = SimSettings(
        data_path=data,
        limit_markets=limit_markets or None,
        heartbeat_timeout_ms=heartbeat_timeout_ms,
        replay_interval_ms=replay_interval_ms,
    )
    typer.echo(f"simulator on http://{LOOPBACK}:{port} (ws://{LOOPBACK}:{port}/ws/market)")
    typer.echo(f"account {account.address}")
    typer.echo(
        "simulator-only credentials: "
        f"POLYMARKET_API_KEY={account.api_key} POLYMARKET_API_SECRET={account.api_secret} "
        f"POLYMARKET_API_PASSPHRASE={account.api_passphrase}"
    )
    serve_forever(settings, account, port)


def record(
    *,
    out: Annotated[Path, typer.Option("--out", help="Output file (.gz for gzip).")],
    tokens: Annotated[str, typer.Option("--tokens", help="Comma-separated token ids.")],
    ws_url: Annotated[
        str, typer.Option("--ws-url", help="Market channel URL.")
    ] = POLYMARKET_MARKET_WS,
    duration_s: Annotated[
        float, typer.Option("--duration-s", help="Stop after this long (0: until Ctrl-C).")
    ] = 0,
    max_tokens_per_connection: Annotated[int, typer.Option("--max-tokens-per-connection")] = 200,
    ping_interval_ms: Annotated[int, typer.Option("--ping-interval-ms")] = 10_000,
    pong_timeout_ms: Annotated[int, typer.Option("--pong-timeout-ms")] = 30_000,
) -> None:
    """Record the Polymarket market channel to a line file (``<ts_recv_ns> <frame>``)."""
    from polytraders.feeds.live.connection import KeepaliveConfig
    from polytraders.feeds.live.market_channel import MarketChannelConfig

    token_ids = [t.strip() for t in tokens.split(",") if t.strip()]
    if not token_ids:
        typer.echo("error: --tokens is empty", err=True)
        raise typer.Exit(2)
    config = MarketChannelConfig(
        ws_url=ws_url,
        max_tokens_per_connection=max_tokens_per_connection,
        keepalive=KeepaliveConfig(
            ping_interval_ms=ping_interval_ms, pong_timeout_ms=pong_timeout_ms
        ),
    )
    written = asyncio.run(_record(out, token_ids, config, duration_s))
    typer.echo(f"wrote {written} frames to {out}")


async def _record(
    out: Path, token_ids: list[str], config: MarketChannelConfig, duration_s: float
) -> int:
    from polytraders.feeds.lines import format_line, open_writer
    from polytraders.feeds.live.market_channel import MarketChannel

    count = 0
    with open_writer(out) as handle:

        def on_frame(ts_recv_ns: int, text: str) -> None:
            nonlocal count
            handle.write(format_line(ts_recv_ns, text.encode()))
            count += 1

        channel = MarketChannel(token_ids, lambda _event: None, config, on_frame=on_frame)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, channel.stop)
        if duration_s > 0:
            loop.call_later(duration_s, channel.stop)
        await channel.run()
    return count
