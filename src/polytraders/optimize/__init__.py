"""The optimizer (DESIGN.md "Layers": an engine beside ``desk/`` and ``backtest/``): Optuna over
one bot's ``SEARCH_SPACE``, each trial a real backtest of the composed desk
(:func:`polytraders.backtest.engine.run_desk`), scored by a pluggable score, on the in-sample
part of the data; the best parameters are re-run out of sample. ``docs/optimize.md`` is the
user guide.

Modules: :mod:`~polytraders.optimize.scores` (score functions), :mod:`~polytraders.optimize.split`
(in-sample / out-of-sample data), :mod:`~polytraders.optimize.space` (SearchSpace → Optuna),
:mod:`~polytraders.optimize.samplers` (seeded per trial), :mod:`~polytraders.optimize.tuned_desk`
(the trial's desk, ``best.toml``), :mod:`~polytraders.optimize.trial` (one trial's backtest),
:mod:`~polytraders.optimize.workers` (where trials run), :mod:`~polytraders.optimize.storage`
(Optuna's storage, heartbeats), :mod:`~polytraders.optimize.study` (identity, trial slots, the
reproducible loop), :mod:`~polytraders.optimize.optimizer` (the whole run),
:mod:`~polytraders.optimize.outputs` and :mod:`~polytraders.optimize.report`
(``best.toml``, ``summary.json``, ``trials.csv``, ``report.html``),
:mod:`~polytraders.optimize.references`
(the committed reference runs and recorded timelines).
"""
