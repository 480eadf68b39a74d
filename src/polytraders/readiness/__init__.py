"""Readiness: the four scores of the definition of done (Docs 27, Impl 15, Runtime 8,
Backtest 4) and the promotion gates, computed from evidence, never self-declared
(DESIGN.md "Evidence and governance"; seeds 000–003)."""
