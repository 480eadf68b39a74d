"""Venue adapters: paper (simulated matching), polymarket (CLOB v2), ccxt (crypto)."""
