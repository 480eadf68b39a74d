"""The desk: the single-threaded deterministic event loop, risk chain, order manager and trading state."""
