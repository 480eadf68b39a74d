"""The desk: the deterministic event loop, risk chain, order manager and trading state."""
