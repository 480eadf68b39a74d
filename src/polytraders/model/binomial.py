"""Exact (Clopper–Pearson) confidence bounds of a binomial proportion, for the gates that
judge a rate from a count: a false-positive rate from reviewed decisions (seed 001, "≤ 5 %
incorrect" over 100 reviewed REJECT/RESHAPE decisions), an agreement rate from replayed ones.

A one-sided bound at confidence ``c`` for ``k`` successes in ``n`` trials (α = 1 − c):

- upper ``p_u``: the ``p`` with ``P(X ≤ k; n, p) = α`` (``1`` when ``k = n``);
- lower ``p_l``: the ``p`` with ``P(X ≥ k; n, p) = α`` (``0`` when ``k = 0``).

Equivalently ``p_u = Beta⁻¹(c; k + 1, n − k)`` and ``p_l = Beta⁻¹(α; k, n − k + 1)``
(``scipy.stats.beta.ppf``). SciPy is not a dependency of the project, so the bound is found
here by bisection on the binomial CDF, which falls strictly as ``p`` grows: 200 halvings of
[0, 1] reach the double's resolution. The CDF sums probability terms in log space
(``math.lgamma``, ``math.log1p``), over the shorter tail. Figures
(``../shared/research/governance.md`` §3, SciPy's ``beta.ppf``): 5 of 100 → 0.1023, 1 of 100
→ 0.0466, 0 of 100 → 0.0295.
"""

from __future__ import annotations

import math

_HALVINGS = 200


def binomial_cdf(k: int, n: int, p: float) -> float:
    """``P(X ≤ k)`` for ``X ~ Binomial(n, p)``.

    Raises:
        ValueError: ``n < 0`` or ``p`` outside [0, 1].
    """
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need n ≥ 0 and 0 ≤ p ≤ 1, got n={n}, p={p}")
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    if k > n // 2:  # sum the shorter tail: P(X ≤ k) = 1 − P(Y ≤ n − k − 1), Y ~ Bin(n, 1 − p)
        return max(0.0, 1.0 - binomial_cdf(n - k - 1, n, 1.0 - p))
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [
        log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _check(k: int, n: int, confidence: float) -> float:
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 ≤ k ≤ n and n ≥ 1, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return 1.0 - confidence


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided upper ``confidence`` bound of the proportion for ``k`` of ``n``.

    Raises:
        ValueError: ``n < 1``, ``k`` outside [0, n], ``confidence`` outside (0, 1).
    """
    alpha = _check(k, n, confidence)
    if k == n:
        return 1.0
    lo, hi = k / n, 1.0  # P(X ≤ k) at p = k/n exceeds α for any usual confidence
    for _ in range(_HALVINGS):
        mid = (lo + hi) / 2
        if binomial_cdf(k, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-16:
            break
    return hi


def clopper_pearson_lower(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided lower ``confidence`` bound of the proportion for ``k`` of ``n``.

    Raises:
        ValueError: ``n < 1``, ``k`` outside [0, n], ``confidence`` outside (0, 1).
    """
    alpha = _check(k, n, confidence)
    if k == 0:
        return 0.0
    # P(X ≥ k; p) = 1 − P(X ≤ k − 1; p) grows with p; find where it reaches α
    lo, hi = 0.0, k / n
    for _ in range(_HALVINGS):
        mid = (lo + hi) / 2
        if 1.0 - binomial_cdf(k - 1, n, mid) < alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-16:
            break
    return lo
