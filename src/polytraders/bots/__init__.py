"""The bot library: risk guards, strategies and execution routers.

Bots are written only against ``contracts/`` and ``model/``.
"""
