"""The chapter's pictures of the suite: a robot's close-up shows the robot, where the tour shows a speck."""

from __future__ import annotations

import numpy as np

from alignbook.envs import figures


def _robot_share(frame: np.ndarray) -> float:
    """Fraction of the frame in the Point robot's red (the floor is grey, the goal green, the sky blue)."""
    r, g, b = (frame[..., k].astype(int) for k in range(3))
    return float(((r > 100) & (r > 2 * g) & (r > 2 * b)).mean())


def test_a_portrait_draws_the_robot_large_where_the_tour_draws_a_speck():
    size = 64
    [tour] = [v for k, v in figures.tour(size, seed=0, agents=("Point",)).items() if k[1:] == ("Goal", 0)]
    close = figures.portraits(("Point",), size, seed=0)
    assert list(close) == ["Point"] and close["Point"].shape == (size, size, 3)
    assert _robot_share(tour) < 0.005  # the issue: a robot two pixels wide (0.05% of this frame)
    assert _robot_share(close["Point"]) > 0.03 and _robot_share(close["Point"]) > 20 * _robot_share(tour)
