"""A loopback Binance USDⓈ-M futures simulator (REST + diff-depth websocket) over a recording."""
