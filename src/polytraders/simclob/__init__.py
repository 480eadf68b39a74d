"""A local Polymarket CLOB v2 simulator speaking the real REST and websocket wire format on loopback."""
