"""The rliable aggregates against values computed by hand."""

from __future__ import annotations

import numpy as np

from alignbook.saferl.stats import iqm, performance_profile


def test_iqm_is_the_mean_of_the_middle_half_and_its_interval_contains_it():
    # 8 runs on one task: the middle half of 0..7 is 2, 3, 4, 5 -> IQM 3.5; an outlier at the top does not move it.
    scores = {"a": np.array([0, 1, 2, 3, 4, 5, 6, 700.0])[:, None], "b": np.arange(8.0)[:, None] + 10}
    result = iqm(scores, reps=200)
    assert result["a"][0] == 3.5 and result["b"][0] == 13.5
    for value, low, high in result.values():
        assert low <= value <= high


def test_performance_profile_counts_runs_above_each_threshold():
    scores = {"a": np.array([[0.1, 0.5], [0.9, 0.3]])}  # 4 runs x tasks
    profile = performance_profile(scores, np.array([0.0, 0.2, 0.4, 1.0]))
    np.testing.assert_allclose(profile["a"], [1.0, 0.75, 0.5, 0.0])
