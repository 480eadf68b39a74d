"""The operator console: a FastAPI application serving server-rendered pages and a JSON API
over the event store, behind sign-in with roles (``docs/console.md``).

The console is optional (``pip install 'polytraders[console]'``); nothing below ``console/``
imports it.
"""
