"""The ccxt venue: crypto exchanges (Binance USDⓈ-M perpetuals, Binance spot) through ccxt."""
