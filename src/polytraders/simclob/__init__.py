"""A local Polymarket CLOB v2 simulator: the real REST and websocket wire format on loopback."""
