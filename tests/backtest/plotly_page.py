"""Read a report page the way a browser would: its plotly figures and its tagged table rows."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any


def figure(page: str, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(traces, layout) of the plotly figure drawn into ``<div id="figure-{name}">``."""
    call = re.search(r'Plotly\.newPlot\(\s*"figure-' + re.escape(name) + r'",\s*', page)
    assert call is not None, f"no figure {name!r} in the page"
    decoder = json.JSONDecoder()
    traces, end = decoder.raw_decode(page, call.end())
    layout_start = re.compile(r",\s*").match(page, end)
    assert layout_start is not None
    layout, _ = decoder.raw_decode(page, layout_start.end())
    return traces, layout


class _Rows(HTMLParser):
    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.rows: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "tr" and found.get("class") == self.css_class:
            self.rows.append({k[5:]: v for k, v in found.items() if k.startswith("data-")})


def tagged_rows(page: str, css_class: str) -> list[dict[str, str]]:
    """The ``data-*`` attributes (without the prefix) of every ``<tr class=css_class>``."""
    parser = _Rows(css_class)
    parser.feed(page)
    return parser.rows
