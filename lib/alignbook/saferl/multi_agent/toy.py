"""A cooperative two-agent constrained problem with a closed-form optimum (the multi-agent twin of
``alignbook.saferl.toy``).

Episodes of H = 10 steps; both agents observe (1, t / H); agent i acts with one real number a_i; every step
pays both agents the shared reward -(a_0 - 1)^2 - (a_1 - 1)^2 and the shared cost (k / 2)(exp(a_0) + exp(a_1)),
k = 2.5. Under an episode-cost limit d the best policy solves

    max  -H sum_i (a_i - 1)^2   s.t.   (k / 2) H sum_i exp(a_i) <= d

whose objective is concave and symmetric and whose constraint is convex and symmetric, so the optimum is
symmetric: a_0 = a_1 = a* = log(d / (k H)), return -2 H (a* - 1)^2 at cost d (a* = 0, return -20 at cost 25
for d = 25); stochastic policies do no better (Jensen). Unconstrained, a_i = 1 costs 25 e = 68 per episode.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

MA_TOY_TASK = "TwoAgentToyConstraint-v0"
HORIZON, COST_SCALE = 10, 2.5


def two_agent_optimum(cost_limit: float, horizon: int = HORIZON, cost_scale: float = COST_SCALE
                      ) -> tuple[float, float]:
    """(episode return, episode cost) of the best joint policy whose expected episode cost is at most d."""
    if cost_limit <= 0:
        raise ValueError("the toy's cost is positive everywhere: a limit must be positive")
    action = min(1.0, float(np.log(cost_limit / (cost_scale * horizon))))
    return -2 * horizon * (action - 1) ** 2, cost_scale * horizon * float(np.exp(action))


class TwoAgentToy:
    """The toy behind the multi-agent tasks' parallel API (dicts keyed agent_0, agent_1)."""

    def __init__(self, horizon: int = HORIZON, cost_scale: float = COST_SCALE):
        self.task_id, self.max_episode_steps, self.cost_scale = MA_TOY_TASK, int(horizon), float(cost_scale)
        self.agents = ["agent_0", "agent_1"]
        self.observation_spaces = {a: spaces.Box(-np.inf, np.inf, (2,), np.float64) for a in self.agents}
        self.action_spaces = {a: spaces.Box(-1.0, 1.0, (1,), np.float64) for a in self.agents}  # nominal, unclipped
        self._t = None

    def state(self) -> np.ndarray:
        return np.array([1.0, self._t / self.max_episode_steps])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._t = 0
        return {a: self.state() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict):
        if self._t is None:
            raise RuntimeError("call reset() before step()")
        if set(actions) != set(self.agents):
            raise ValueError(f"actions must be a dict with keys {self.agents}, got {sorted(actions)}")
        a = np.array([float(np.asarray(actions[k]).reshape(())) for k in self.agents])
        reward = float(-((a - 1.0) ** 2).sum())
        cost = float(0.5 * self.cost_scale * np.exp(a).sum())
        self._t += 1
        truncated = self._t >= self.max_episode_steps
        obs = {k: self.state() for k in self.agents}
        if truncated:
            self._t = None
        same = lambda v: {k: v for k in self.agents}  # noqa: E731
        return obs, same(reward), same(cost), same(False), same(truncated), same({"cost": cost})

    def close(self) -> None:
        pass
