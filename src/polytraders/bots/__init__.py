"""The bot library: risk guards, strategies and execution routers, written only against contracts/ and model/."""
