"""Self-contained HTML report of a run (plotly, with plotly.js embedded once).

Sections: summary table, equity curve, per-market PnL, inventory over time, our fills on top of
the best bid/ask of one chosen token, reason-code histogram, and the run's config. Prices and
money are converted to floats here only for plotting; the tables show exact decimal strings.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go

from polytraders.backtest.result import BacktestResult
from polytraders.model.fills import Fill, LiquiditySide
from polytraders.model.money import MICROS
from polytraders.model.orders import Side

TopOfBook = tuple[int, int | None, int | None]
"""(ts_ns, best bid, best ask) in micro-units; None for an empty side."""


def _ts(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _pusd(micros: int) -> float:
    return micros / MICROS


def _equity_figure(equity_curve: Sequence[tuple[int, int]]) -> go.Figure:
    figure = go.Figure(
        go.Scatter(
            x=[_ts(t) for t, _ in equity_curve],
            y=[_pusd(e) for _, e in equity_curve],
            mode="lines",
            name="equity",
        )
    )
    figure.update_layout(title="Equity (pUSD, marked to mid)", xaxis_title="time (UTC)")
    return figure


def _market_pnl_figure(result: BacktestResult) -> go.Figure:
    labels = [m.slug or m.market_id[:10] for m in result.per_market]
    figure = go.Figure(
        go.Bar(x=labels, y=[_pusd(m.money.pnl) for m in result.per_market], name="PnL")
    )
    figure.update_layout(title="PnL per market (pUSD, after fees)")
    return figure


def _inventory_figure(fills: Sequence[Fill], token_labels: Mapping[str, str]) -> go.Figure:
    figure = go.Figure()
    by_token: dict[str, list[tuple[int, int]]] = {}
    held: dict[str, int] = {}
    for fill in fills:
        held[fill.token_id] = held.get(fill.token_id, 0) + fill.size * fill.side.sign
        by_token.setdefault(fill.token_id, []).append((fill.ts_event_ns, held[fill.token_id]))
    for token, series in by_token.items():
        figure.add_trace(
            go.Scatter(
                x=[_ts(t) for t, _ in series],
                y=[_pusd(s) for _, s in series],
                mode="lines",
                line_shape="hv",
                name=token_labels.get(token, token[:12]),
            )
        )
    figure.update_layout(title="Inventory per token (shares)", xaxis_title="time (UTC)")
    return figure


def _fills_on_book_figure(
    token_label: str, top_of_book: Sequence[TopOfBook], fills: Sequence[Fill]
) -> go.Figure:
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[_ts(t) for t, _, _ in top_of_book],
            y=[_pusd(b) if b is not None else None for _, b, _ in top_of_book],
            mode="lines",
            line_shape="hv",
            name="best bid",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[_ts(t) for t, _, _ in top_of_book],
            y=[_pusd(a) if a is not None else None for _, _, a in top_of_book],
            mode="lines",
            line_shape="hv",
            name="best ask",
        )
    )
    for side, symbol in ((Side.BUY, "triangle-up"), (Side.SELL, "triangle-down")):
        chosen = [f for f in fills if f.side is side]
        figure.add_trace(
            go.Scatter(
                x=[_ts(f.ts_event_ns) for f in chosen],
                y=[_pusd(f.price) for f in chosen],
                mode="markers",
                marker={"symbol": symbol, "size": 9},
                name=f"our {side.value.lower()} fills",
                text=[
                    f"{f.liquidity.value} {_pusd(f.size):.2f} @ {_pusd(f.price):.4f}"
                    for f in chosen
                ],
            )
        )
    figure.update_layout(title=f"Fills on the book: {token_label}", xaxis_title="time (UTC)")
    return figure


def _reason_figure(reason_codes: Mapping[str, int]) -> go.Figure:
    ordered = sorted(reason_codes.items(), key=lambda kv: (-kv[1], kv[0]))
    figure = go.Figure(go.Bar(x=[c for c, _ in ordered], y=[n for _, n in ordered]))
    figure.update_layout(title="Reason codes (count)")
    return figure


def write_report(
    path: Path,
    *,
    result: BacktestResult,
    equity_curve: Sequence[tuple[int, int]],
    fills: Sequence[Fill],
    token_labels: Mapping[str, str],
    chosen_token: str | None,
    top_of_book: Sequence[TopOfBook],
    config: Mapping[str, object],
) -> None:
    """Write the report to ``path`` (one self-contained HTML file)."""
    document = result.as_json()
    summary_keys = (
        "run_id", "synthetic", "markets", "events", "orders", "fills", "maker_fills",
        "taker_fills", "volume_usd", "invested_usd", "fees_usd", "realized_pnl_usd",
        "settlement_usd", "settled_pnl_usd", "unrealized_pnl_usd", "pnl_usd",
        "max_drawdown_usd", "sharpe", "envelopes", "envelopes_sha256",
    )  # fmt: skip
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(document[k]))}</td></tr>"
        for k in summary_keys
    )
    figures = [
        _equity_figure(equity_curve),
        _market_pnl_figure(result),
        _inventory_figure(fills, token_labels),
    ]
    if chosen_token is not None:
        figures.append(
            _fills_on_book_figure(
                token_labels.get(chosen_token, chosen_token),
                top_of_book,
                [f for f in fills if f.token_id == chosen_token],
            )
        )
    figures.append(_reason_figure(result.reason_codes))
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), default_width="100%")
        for i, fig in enumerate(figures)
    ]
    banner = (
        "<p class='synthetic'>SYNTHETIC DATA: these results come from generated, not recorded, "
        "market data.</p>"
        if result.synthetic
        else "<p>Real recorded market data. Backtest results do not predict live results.</p>"
    )
    liquidity = {
        LiquiditySide.MAKER.value: result.money.maker_fills,
        LiquiditySide.TAKER.value: result.money.taker_fills,
    }
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Polytraders run {html.escape(result.run_id)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
.synthetic{{background:#fee;padding:8px;font-weight:bold}}pre{{background:#f6f6f6;padding:1em}}</style>
</head><body>
<h1>Polytraders run {html.escape(result.run_id)}</h1>
{banner}
<h2>Summary</h2><table>{rows}</table>
<p>Fills by liquidity: {html.escape(json.dumps(liquidity))}</p>
{"".join(parts)}
<h2>Configuration</h2><pre>{html.escape(json.dumps(config, indent=2, sort_keys=True))}</pre>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
