"""Contracts: the pure types and rules every bot and engine is written against (no I/O)."""
