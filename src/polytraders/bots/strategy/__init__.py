"""Strategy bots: propose place / cancel / replace intents from the desk view (the library's
index of every bot is :mod:`polytraders.bots.registry`)."""
