"""A batch of environments stepped together, with autoreset (``alignbook.envs.make_vec``).

``step(actions)`` takes an array of shape (num_envs, *action_shape) and returns arrays with a leading batch
axis. When an episode ends (terminated or truncated), that environment is reset in the same call: the returned
observation is the first one of its new episode, and the last observation and info of the finished episode are
in ``info["final_observation"][i]`` and ``info["final_info"][i]``, with ``info["_final_observation"][i]`` True
(Gymnasium 0.29's convention, "same-step" autoreset). Bootstrapping code therefore reads the final observation
from the info, never from the returned batch.

The environments run in this process, one after another: the tasks are small enough that a step costs tens of
microseconds, so processes would spend more on communication than they save.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from alignbook.envs.core import SafeEnv


class SafeVectorEnv:
    """``num_envs`` copies of one task behind a batched safe API."""

    def __init__(self, make_env: Callable[[], SafeEnv], num_envs: int):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.envs = [make_env() for _ in range(int(num_envs))]
        self.num_envs = int(num_envs)
        first = self.envs[0]
        self.task_id = first.task_id
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.action_space = spaces.Box(
            np.tile(first.action_space.low, (self.num_envs, 1)), np.tile(first.action_space.high, (self.num_envs, 1)),
            dtype=first.action_space.dtype,
        )
        self.max_episode_steps = first.max_episode_steps
        self.cost_terms = tuple(getattr(first, "cost_terms", ()))
        self._info_keys = self.cost_terms + ("cost_sum",)
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        results = [
            env.reset(seed=None if seed is None else seed + i, options=options) for i, env in enumerate(self.envs)
        ]
        self._started = True
        return self._stack([obs for obs, _ in results]), {}

    def step(self, actions) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if not self._started:
            raise RuntimeError(f"{self.task_id}: call reset() on the vector environment before step()")
        actions = np.asarray(actions, dtype=np.float64)
        expected = (self.num_envs, *self.single_action_space.shape)
        if actions.shape != expected:
            raise ValueError(f"{self.task_id}: actions must have shape {expected}, got {actions.shape}")
        n = self.num_envs
        observations: list[Any] = [None] * n
        rewards, costs = [0.0] * n, [0.0] * n
        terminated, truncated = [False] * n, [False] * n
        terms = {key: [0.0] * n for key in self._info_keys}
        finals: dict[int, tuple[Any, dict]] = {}
        for i, env in enumerate(self.envs):
            obs, rewards[i], costs[i], terminated[i], truncated[i], info = env.step(actions[i])
            for key, column in terms.items():
                column[i] = info.get(key, 0.0)
            if terminated[i] or truncated[i]:
                finals[i] = (obs, info)
                obs, _ = env.reset()
            observations[i] = obs
        cost_array = np.array(costs)
        infos: dict[str, Any] = {"cost": cost_array, **{key: np.array(col) for key, col in terms.items()}}
        if finals:
            ended = np.zeros(n, dtype=bool)
            ended[list(finals)] = True
            final_obs, final_info = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
            for i, (obs, info) in finals.items():
                final_obs[i], final_info[i] = obs, info
            infos.update(final_observation=final_obs, _final_observation=ended, final_info=final_info,
                         _final_info=ended)
        return (self._stack(observations), np.array(rewards), cost_array, np.array(terminated),
                np.array(truncated), infos)

    def render(self) -> list[np.ndarray]:
        return [env.render() for env in self.envs]

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _stack(self, observations: list[Any]) -> Any:
        if isinstance(observations[0], dict):
            return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
        return np.stack(observations)
