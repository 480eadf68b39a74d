"""Execution bots: turn approved intents into venue orders (never larger, never another side
or token except the economically identical complement)."""
