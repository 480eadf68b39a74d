"""Backtests: the desk on a simulated clock over a feed with the paper venue; results; report."""
