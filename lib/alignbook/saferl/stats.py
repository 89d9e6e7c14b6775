"""Statistics over seeds and tasks with well-kept libraries rather than hand-written bootstrap code: rliable's
aggregates (``rliable.metrics``: interquartile mean, mean, median, optimality gap; Agarwal et al. 2021) with
rliable's interval method -- a 95% percentile interval from the *stratified* bootstrap, which resamples the
runs of each task independently -- carried out by ``scipy.stats.bootstrap``; and performance profiles (the
fraction of runs above each threshold) with the same intervals.

Why not ``rliable.library`` itself (checked in this environment: rliable 1.2.0, the latest release, pandas
3.1): it builds its bootstrap on ``arch``. arch 7.2 does not import under pandas 3 (a pandas decorator it uses
changed its signature), and arch 8.0 imports but rejects the ``random_state`` keyword rliable 1.2 passes it
("Only NumPy arrays ... are supported in keyword arguments. Input `random_state` ..."). No released pair
works, and pinning pandas below 3 would move the whole environment. scipy's bootstrap given one sample per
task (``paired=False``) resamples each task's runs on their own: the same stratified scheme, so the intervals
mean what rliable's mean. The aggregates are rliable's own functions.

Scores are per algorithm an array of shape (runs, tasks) -- one row per seed, one column per task -- on a
common scale (normalise returns per task before aggregating across tasks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

try:
    from rliable import metrics
except ImportError:  # an optional extra: no chapter needs it
    raise ImportError("alignbook.saferl.stats needs rliable, an optional extra: pip install 'alignbook[stats]'") from None

AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "iqm": metrics.aggregate_iqm, "mean": metrics.aggregate_mean, "median": metrics.aggregate_median,
    "optimality_gap": metrics.aggregate_optimality_gap,
}


def _runs_by_tasks(scores, name: str = "scores") -> np.ndarray:
    array = np.asarray(scores, np.float64)
    array = array.reshape(len(array), -1)
    if len(array) < 2 or not np.isfinite(array).all():
        raise ValueError(f"{name}: need at least two runs per task and finite scores, got shape {array.shape}")
    return array


def _stratified(array: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], reps: int, seed: int,
                level: float):
    """scipy's percentile bootstrap with each task's runs resampled on their own (rliable's stratified
    bootstrap); ``statistic`` sees a (runs, tasks) array."""
    columns = tuple(array.T)
    return stats.bootstrap(columns, lambda *cols: statistic(np.stack(cols, axis=1)), n_resamples=reps,
                           method="percentile", vectorized=False, paired=False, confidence_level=level,
                           rng=np.random.default_rng(seed))


def interval_estimates(scores: dict[str, np.ndarray], aggregate: str = "iqm", reps: int = 2000, seed: int = 0,
                       level: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """algorithm -> (aggregate over all runs and tasks, lower, upper): rliable's point estimate and interval
    (``rliable.library.get_interval_estimates``). ``aggregate``: one of ``AGGREGATES``."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}; valid: {', '.join(AGGREGATES)}")
    function = AGGREGATES[aggregate]
    out = {}
    for name, value in scores.items():
        array = _runs_by_tasks(value, name)
        interval = _stratified(array, function, reps, seed, level).confidence_interval
        out[name] = (float(function(array)), float(interval.low), float(interval.high))
    return out


def iqm(scores: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """algorithm -> (IQM over all runs and tasks, lower, upper) of a 95% stratified-bootstrap interval."""
    return interval_estimates(scores, "iqm", reps, seed)


def seed_interval(per_seed, reps: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean over seeds, lower, upper): one algorithm on one task, a percentile-bootstrap interval over seeds."""
    array = _runs_by_tasks(np.asarray(per_seed, np.float64).reshape(-1, 1), "per_seed")
    interval = _stratified(array, metrics.aggregate_mean, reps, seed, level).confidence_interval
    return float(array.mean()), float(interval.low), float(interval.high)


def _profile(array: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (array.ravel()[None, :] > thresholds[:, None]).mean(1)


def performance_profile(scores: dict[str, np.ndarray], thresholds: np.ndarray, reps: int = 0, seed: int = 0
                        ) -> dict[str, np.ndarray]:
    """algorithm -> the fraction of runs (over seeds and tasks) whose score exceeds each threshold tau
    (rliable's run-score distribution). With ``reps > 0``: an array (3, thresholds) of the profile and the
    lower and upper ends of its 95% stratified-bootstrap band (``rliable.library.create_performance_profile``)."""
    thresholds = np.asarray(thresholds, np.float64)
    out = {}
    for name, value in scores.items():
        array = _runs_by_tasks(value, name)
        profile = _profile(array, thresholds)
        if reps:
            band = _stratified(array, lambda a: _profile(a, thresholds), reps, seed, 0.95).confidence_interval
            profile = np.stack([profile, band.low, band.high])
        out[name] = profile
    return out
