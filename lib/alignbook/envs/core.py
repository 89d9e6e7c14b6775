"""What every task of the suite shares: the safe step API, input checks and seeding.

A subclass implements ``_reset(rng)`` and ``_step(action)``; this base class refuses bad input before the
physics runs (wrong shape, NaN or inf), clips out-of-range actions to the action space as upstream does
(``np.clip`` to the actuators' control range), refuses to step a finished episode, counts steps and turns the
episode length into truncation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class SafeEnv:
    """The safe-RL environment API: ``step`` returns ``(obs, reward, cost, terminated, truncated, info)``."""

    task_id: str
    observation_space: spaces.Space
    action_space: spaces.Box
    max_episode_steps: int
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unknown render_mode {render_mode!r}; valid values are: None, 'rgb_array'")
        self.render_mode = render_mode
        self._rng = np.random.default_rng()  # replaced by reset(seed=...)
        self._steps = 0
        self._done = True  # a fresh environment must be reset first
        self._needs_reset_message = "call reset() before step()"
        self._action_low = self._action_high = None  # cached on the first step (subclasses set the space later)

    # -- the public API ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
            self._rng = np.random.default_rng(int(seed))
        self._steps = 0
        self._done = False
        return self._reset(self._rng, options or {})

    def step(self, action) -> tuple[Any, float, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError(
                f"{self.task_id}: the episode has ended (terminated or truncated); " + self._needs_reset_message
            )
        if self._action_low is None:
            self._action_low, self._action_high = self.action_space.low, self.action_space.high
        action = self._check_action(action)
        obs, reward, cost, terminated, truncated, info = self._step(action)
        self._steps += 1
        if self._steps >= self.max_episode_steps:
            truncated = True  # the episode length is a time limit: truncation, never termination
        self._done = terminated or truncated
        return obs, reward, cost, terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            raise RuntimeError(f"{self.task_id}: make the task with render_mode='rgb_array' to render it")
        return self._render()

    def close(self) -> None:
        """Release renderers; the environment can still be reset and stepped afterwards."""

    @property
    def unwrapped(self) -> SafeEnv:
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id}>"

    # -- input checks -----------------------------------------------------------------------------------------
    def _check_action(self, action) -> np.ndarray:
        try:
            array = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{self.task_id}: the action must be numeric, got {action!r}") from error
        shape = self.action_space.shape
        if array.shape != shape:
            raise ValueError(
                f"{self.task_id}: the action must have shape {shape}, got shape {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"{self.task_id}: the action contains NaN or inf: {array}")
        # Upstream clips to the actuators' control range without complaint; so do we.
        return np.minimum(np.maximum(array, self._action_low), self._action_high)

    # -- for subclasses ---------------------------------------------------------------------------------------
    def _reset(self, rng: np.random.Generator, options: dict) -> tuple[Any, dict]:
        raise NotImplementedError

    def _step(self, action: np.ndarray) -> tuple[Any, float, float, bool, bool, dict]:
        raise NotImplementedError

    def _render(self) -> np.ndarray:
        raise NotImplementedError


def scatter_actions(task_id: str, agents: list[str], partition, actions, size: int) -> np.ndarray:
    """The multi-agent tasks' input check: ``actions`` must be a dict with exactly the ``agents``' keys, agent
    i's entry a finite numeric array of shape ``(len(partition[i]),)``; returns the joint action vector
    (``size`` entries) with agent i's action at the indices ``partition[i]``. Refuses bad input with a
    ``ValueError`` that names the agent."""
    if not isinstance(actions, dict) or set(actions) != set(agents):
        got = sorted(map(str, actions)) if isinstance(actions, dict) else type(actions).__name__
        raise ValueError(f"{task_id}: actions must be a dict with keys {agents}, got {got}")
    joint = np.zeros(size)
    for agent, part in zip(agents, partition, strict=True):
        try:
            a = np.asarray(actions[agent], dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{task_id}: actions[{agent!r}] must be numeric") from error
        if a.shape != (len(part),):
            raise ValueError(f"{task_id}: actions[{agent!r}] must have shape {(len(part),)}, got {a.shape}")
        joint[part] = a
    if not np.isfinite(joint).all():  # one check for all agents; find the culprit only when it fails
        agent = next(a for a, p in zip(agents, partition, strict=True) if not np.isfinite(joint[p]).all())
        raise ValueError(f"{task_id}: actions[{agent!r}] contains NaN or inf: {actions[agent]}")
    return joint
