"""Statistics over seeds and tasks with well-kept libraries rather than hand-written bootstrap code: the
interquartile mean (IQM, ``rliable.metrics.aggregate_iqm``; Agarwal et al. 2021) with a 95% bootstrap interval
from ``scipy.stats.bootstrap`` (resampling runs), and performance profiles.

Why not ``rliable.library``'s stratified bootstrap: it passes ``random_state`` to ``arch``'s bootstrap, which
arch 8 renamed (``seed``), and arch 7 does not import under pandas 3 -- no released pair works with this
environment. The metric itself is rliable's.

Scores are per algorithm an array of shape (runs, tasks) -- one row per seed, one column per task -- on a
common scale (normalise returns per task before aggregating across tasks).
"""

from __future__ import annotations

import numpy as np
from rliable import metrics
from scipy import stats


def _runs_by_tasks(scores) -> np.ndarray:
    array = np.asarray(scores, np.float64)
    return array.reshape(len(array), -1)


def iqm(scores: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """algorithm -> (IQM over all runs and tasks, lower, upper) of a 95% percentile-bootstrap interval that
    resamples runs (rows)."""
    out = {}
    for name, value in scores.items():
        array = _runs_by_tasks(value)
        point = float(metrics.aggregate_iqm(array))
        interval = stats.bootstrap((np.arange(len(array)),), lambda rows, a=array: metrics.aggregate_iqm(a[rows]),
                                   n_resamples=reps, method="percentile", vectorized=False,
                                   rng=np.random.default_rng(seed)).confidence_interval
        out[name] = (point, float(interval.low), float(interval.high))
    return out


def performance_profile(scores: dict[str, np.ndarray], thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """algorithm -> the fraction of runs (over seeds and tasks) whose score exceeds each threshold tau."""
    return {name: (_runs_by_tasks(value).ravel()[None, :] > np.asarray(thresholds)[:, None]).mean(1)
            for name, value in scores.items()}
