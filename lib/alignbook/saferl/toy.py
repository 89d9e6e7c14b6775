"""A tiny constrained problem whose constrained optimum is known in closed form, for tests and for the chapter.

``ToyConstraint``: episodes of H = ``horizon`` steps (10); the observation is (1, t / H); the action a is one
real number (the box [-1, 1] is nominal, for the agent's action scaling; the toy does not clip, so that no
action is ever without a gradient); each step pays reward -(a - 1)^2 and cost k exp(a), k = ``cost_scale``
(2.5, so that the unconstrained optimum a = 1 costs 25 e = 68 per episode, well above Safety-Gymnasium's
limit of 25). Under an episode-cost limit d < k H e the best deterministic policy solves

    max  -H (a - 1)^2   s.t.   k H exp(a) <= d      =>     a* = log(d / (k H)),

and no stochastic policy does better (spreading the actions lowers the concave reward and raises the convex
cost). So the constrained optimum has episode cost exactly d and return -H (a* - 1)^2: a* = 0, return -10 at
cost 25 for d = 25. Both functions are smooth and strictly concave / convex so that every Lagrange multiplier
has one best response that moves smoothly with it; with a kink or a linear reward the best response jumps and
primal-dual methods can only oscillate.
It follows the batched API of ``alignbook.envs.make_vec`` (autoreset, ``final_observation``), natively vectorised
in NumPy, and is registered there: ``make_vec(TOY_TASK, n)`` builds it.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from alignbook.envs import register_batched

TOY_TASK = "ToyConstraint-v0"


HORIZON, COST_SCALE = 10, 2.5


def toy_optimum(cost_limit: float, horizon: int = HORIZON, cost_scale: float = COST_SCALE) -> tuple[float, float]:
    """(episode return, episode cost) of the best policy whose expected episode cost is at most the limit."""
    if cost_limit <= 0:
        raise ValueError("the toy's cost is positive everywhere: a limit must be positive")
    action = min(1.0, float(np.log(cost_limit / (cost_scale * horizon))))
    return -horizon * (action - 1) ** 2, cost_scale * horizon * float(np.exp(action))


class ToyConstraint:
    def __init__(self, num_envs: int = 1, horizon: int = HORIZON, cost_scale: float = COST_SCALE):
        self.num_envs, self.max_episode_steps, self.cost_scale = int(num_envs), int(horizon), float(cost_scale)
        self.task_id = TOY_TASK
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.single_action_space = spaces.Box(-1.0, 1.0, (1,), np.float64)
        self._t = np.zeros(self.num_envs, dtype=int)
        self._started = False

    def _obs(self) -> np.ndarray:
        return np.stack([np.ones(self.num_envs), self._t / self.max_episode_steps], axis=1)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._t[:] = 0
        self._started = True
        return self._obs(), {}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(actions, dtype=np.float64).reshape(self.num_envs)
        reward, cost = -((a - 1.0) ** 2), self.cost_scale * np.exp(a)
        self._t += 1
        truncated = self._t >= self.max_episode_steps
        terminated = np.zeros(self.num_envs, dtype=bool)
        info: dict = {"cost": cost}
        if truncated.any():
            info["final_observation"] = np.array(list(self._obs()), dtype=object)
            info["_final_observation"] = truncated.copy()
            self._t[truncated] = 0
        return self._obs(), reward, cost, terminated, truncated, info

    def state_dict(self) -> dict:
        """Where each episode stands (the whole state: the toy draws no random numbers), for resuming a run."""
        return {"t": self._t.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self._t[:] = state["t"]

    def close(self) -> None:
        pass


register_batched(TOY_TASK, ToyConstraint)


# Training settings for the toy (tests and the chapter): short epochs (20 episodes) so that the multipliers get
# many updates, 10 passes of minibatch 100, small networks, a larger learning rate and no decay, so that a run
# takes seconds. The multipliers keep their defaults.
TOY_TRAINING = dict(steps_per_epoch=200, update_iters=10, batch_size=100, hidden=(16, 16), linear_lr_decay=False,
                    actor_lr=3e-3, critic_lr=3e-3)
