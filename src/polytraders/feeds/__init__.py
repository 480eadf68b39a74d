"""Market data feeds: recorded, synthetic and live sources yielding time-ordered events."""
