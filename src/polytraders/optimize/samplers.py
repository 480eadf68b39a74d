"""Optuna samplers by name, seeded per trial.

Trial ``k`` of a study with seed ``s`` is suggested by a fresh sampler seeded with
:func:`sampler_seed` ``(s, k)``, so its parameters depend only on the seed, its number and
the trials the study had finished when it was suggested (samplers keep no other state between
trials: CMA-ES and NSGA-II keep theirs in the study's storage).

- ``tpe``: :class:`optuna.samplers.TPESampler` (its defaults: 10 random start-up trials);
- ``random``: :class:`optuna.samplers.RandomSampler`;
- ``cmaes``: :class:`optuna.samplers.CmaEsSampler` (numeric parameters; categorical ones are
  sampled at random; needs the ``cmaes`` package);
- ``nsgaii``: :class:`optuna.samplers.NSGAIISampler` (a genetic algorithm).
"""

from __future__ import annotations

import hashlib

import optuna

SAMPLERS = ("tpe", "random", "cmaes", "nsgaii")
"""The sampler names ``--sampler`` accepts."""


class SamplerError(ValueError):
    """An unknown sampler, or one whose package is missing (one line)."""


def sampler_seed(seed: int, number: int) -> int:
    """The seed of trial ``number``'s sampler: the first 4 bytes of SHA-256 over
    ``"{seed}:{number}"``, big-endian (0 ≤ value < 2**32, what numpy accepts)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{number}".encode()).digest()[:4], "big")


def check_sampler(name: str) -> None:
    """Refuse an unknown sampler or one that cannot be built here.

    Raises:
        SamplerError: one line naming the sampler and what is wrong.
    """
    if name not in SAMPLERS:
        raise SamplerError(f"--sampler {name}: unknown; one of {', '.join(SAMPLERS)}")
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError as exc:
            raise SamplerError(
                "--sampler cmaes needs the cmaes package (pip install 'polytraders[optimize]')"
            ) from exc


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """A fresh sampler ``name`` seeded with ``seed`` (see :func:`check_sampler`)."""
    check_sampler(name)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "nsgaii":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)
