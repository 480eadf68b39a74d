"""Live websocket feeds (Polymarket market and user channels)."""
