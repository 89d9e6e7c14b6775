"""The rliable aggregates against values computed by hand, and the stratified bootstrap's intervals against
their known widths."""

from __future__ import annotations

import numpy as np
import pytest

from alignbook.saferl.stats import interval_estimates, iqm, performance_profile, seed_interval


def test_iqm_is_the_mean_of_the_middle_half_and_its_interval_contains_it():
    # 8 runs on one task: the middle half of 0..7 is 2, 3, 4, 5 -> IQM 3.5; an outlier at the top does not move it.
    scores = {"a": np.array([0, 1, 2, 3, 4, 5, 6, 700.0])[:, None], "b": np.arange(8.0)[:, None] + 10}
    result = iqm(scores, reps=200)
    assert result["a"][0] == 3.5 and result["b"][0] == 13.5
    for value, low, high in result.values():
        assert low <= value <= high
    assert iqm(scores, reps=200) == result  # the same seed, the same interval


def test_the_bootstrap_resamples_each_task_on_its_own():
    """Two tasks whose scores are equal run by run. Resampling whole runs (rows) keeps that correlation, and
    the mean's spread is sd / sqrt(n); resampling each task's runs on its own (rliable's stratified bootstrap)
    averages two independent halves: sd / sqrt(2 n), an interval 1 / sqrt(2) as wide."""
    runs = np.random.default_rng(1).normal(size=40)
    both = np.stack([runs, runs], axis=1)
    _, low, high = interval_estimates({"a": both}, "mean", reps=4000)["a"]
    _, low1, high1 = seed_interval(runs, reps=4000)  # one task: nothing to stratify
    assert (high - low) / (high1 - low1) == pytest.approx(1 / np.sqrt(2), abs=0.08)
    # and the one-task interval is the textbook one: mean +- 1.96 sd / sqrt(n)
    half = 1.96 * runs.std() / np.sqrt(len(runs))
    assert (high1 - low1) / 2 == pytest.approx(half, rel=0.12)
    assert low1 < runs.mean() < high1


def test_performance_profile_counts_runs_above_each_threshold():
    scores = {"a": np.array([[0.1, 0.5], [0.9, 0.3]])}  # 4 runs x tasks
    profile = performance_profile(scores, np.array([0.0, 0.2, 0.4, 1.0]))
    np.testing.assert_allclose(profile["a"], [1.0, 0.75, 0.5, 0.0])
    scores = {"b": np.random.default_rng(0).uniform(size=(10, 3))}
    point, low, high = performance_profile(scores, np.linspace(0, 1, 5), reps=500)["b"]
    assert np.all(low <= point) and np.all(point <= high) and point[0] == 1.0 and point[-1] == 0.0
    assert np.all(high - low < 0.5) and (high - low)[2] > 0


def test_bad_scores_are_refused_naming_the_algorithm():
    with pytest.raises(ValueError, match="ppo_lag: need at least two runs"):
        iqm({"ppo_lag": np.array([[1.0, 2.0]])})
    with pytest.raises(ValueError, match="unknown aggregate 'iqr'; valid: iqm, mean"):
        interval_estimates({"a": np.ones((3, 1))}, "iqr")
