"""Domain model: exact money, markets, books, orders, fills, positions and events (no I/O)."""
