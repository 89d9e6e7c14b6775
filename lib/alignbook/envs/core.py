"""What every task of the suite shares: the safe step API, input checks and seeding.

A subclass implements ``_reset(rng)`` and ``_step(action)``; this base class refuses bad input before the
physics runs (wrong shape, NaN or inf), clips out-of-range actions to the action space as upstream does
(``np.clip`` to the actuators' control range), refuses to step a finished episode (or one never started),
counts steps and turns the episode length into truncation. ``ParallelEnv`` is the multi-agent tasks' base.
"""

from __future__ import annotations

import difflib
import math
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
        self._started = False  # whether reset() ever ran: the refusal then says which mistake it was
        self._needs_reset_message = "call reset() before step()"
        self._box: ActionBox | None = None  # made on the first step (subclasses set the space later)

    # -- the public API ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
            self._rng = np.random.default_rng(int(seed))
        self._steps = 0
        self._done, self._started = False, True
        return self._reset(self._rng, options or {})

    def step(self, action) -> tuple[Any, float, float, bool, bool, dict]:
        if self._box is None:
            self._box = ActionBox(self.action_space.low, self.action_space.high)
        return self.advance(self._check_action(action))

    def advance(self, action: np.ndarray) -> tuple[Any, float, float, bool, bool, dict]:
        """``step`` for an action already checked and clipped to the action space: the multi-agent velocity
        tasks check their agents' actions themselves and drive the robot through this."""
        if self._done:
            if not self._started:
                raise RuntimeError(not_started(self.task_id))
            raise RuntimeError(
                f"{self.task_id}: the episode has ended (terminated or truncated); " + self._needs_reset_message
            )
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
        shape = self._box.shape
        if array.shape != shape:
            raise ValueError(
                f"{self.task_id}: the action must have shape {shape}, got shape {array.shape}"
            )
        clipped = self._box(array)  # upstream clips to the actuators' control range without complaint; so do we
        if clipped is None:
            raise ValueError(f"{self.task_id}: the action contains NaN or inf: {array}")
        return clipped

    # -- for subclasses ---------------------------------------------------------------------------------------
    def _reset(self, rng: np.random.Generator, options: dict) -> tuple[Any, dict]:
        raise NotImplementedError

    def _step(self, action: np.ndarray) -> tuple[Any, float, float, bool, bool, dict]:
        raise NotImplementedError

    def _render(self) -> np.ndarray:
        raise NotImplementedError


def not_started(task_id: str) -> str:
    """The refusal of a step before the first reset (distinct from a step after the episode's end)."""
    return f"{task_id}: step() before the first reset(); call reset() first"


def check_options(task_id: str, options: dict[str, Any], allowed) -> None:
    """Refuse options the task does not take with a ``TypeError`` -- what Python raises for an unexpected
    keyword argument, and what callers that probe options rely on (TorchRL's ``GymEnv`` retries ``gym.make``
    without ``frameskip`` on exactly this) -- that lists the valid options and suggests the closest ones."""
    unknown = sorted(set(options) - set(allowed))
    if not unknown:
        return
    names = ", ".join(map(repr, unknown))
    said = (f"an unexpected keyword argument {names}" if len(unknown) == 1
            else f"unexpected keyword arguments {names}")
    close = sorted({c for u in unknown for c in difflib.get_close_matches(u, allowed, n=2, cutoff=0.6)})
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    valid = ", ".join(sorted(allowed))
    raise TypeError(f"{task_id} got {said} (unknown option); valid options are: {valid}{hint}")


class ParallelEnv:
    """What every multi-agent task shares: PettingZoo's parallel-API attributes and accessors, and the episode's
    bookkeeping. ``agents`` is ``possible_agents`` from construction and after each ``reset``, and empties on
    the step that ends the episode, so that PettingZoo's ``while env.agents:`` loop ends; a subclass sizes its
    arrays from ``possible_agents``, sets ``observation_spaces``, ``action_spaces`` and ``state_space``, keeps
    the global state in ``_state`` once reset, calls ``_start()`` in ``reset`` and ``_running()`` first in
    ``step``, and ``_finish(terminated or truncated)`` before it returns the step's dicts.

    ``step`` keeps the book's safe API (six dicts, the costs third); ``alignbook.envs.pettingzoo_env`` wraps a
    task in PettingZoo's own five-value API."""

    observation_spaces: dict[str, spaces.Space]
    action_spaces: dict[str, spaces.Box]
    state_space: spaces.Space
    task_id: str
    possible_agents: list[str]
    agents: list[str]
    render_mode: str | None = None
    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 50}
    _state: np.ndarray | None = None
    _started = False
    _done = True

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self.action_spaces[agent]

    def state(self) -> np.ndarray:
        if self._state is None:
            raise RuntimeError(f"{self.task_id}: call reset() first")
        return self._state.copy()

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    @property
    def unwrapped(self) -> ParallelEnv:
        return self

    def _start(self) -> None:
        self.agents = list(self.possible_agents)
        self._started, self._done = True, False

    def _running(self) -> None:
        if self._done:
            if not self._started:
                raise RuntimeError(not_started(self.task_id))
            raise RuntimeError(f"{self.task_id}: the episode has ended (terminated or truncated); "
                               "call reset() before step()")

    def _finish(self, done: bool) -> None:
        if done:
            self._done, self.agents = True, []


class ActionBox:
    """Clip an action to the box [low, high], refusing NaN and inf. This runs on every step of every task, so
    the common case -- a finite action already inside a box with the same bounds on every axis -- costs a few
    Python operations on the action's values and no NumPy call; anything else takes the exact NumPy path."""

    def __init__(self, low, high):
        # float64 bounds: clipping float64 actions against Gymnasium's float32 ones is NumPy's slow mixed path.
        self.low, self.high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        self.shape = self.low.shape
        uniform = self.low.size > 0 and (self.low == self.low.flat[0]).all() and (self.high == self.high.flat[0]).all()
        self._bounds = (float(self.low.flat[0]), float(self.high.flat[0])) if uniform else None

    def __call__(self, array: np.ndarray) -> np.ndarray | None:
        """``array`` (float64, the box's shape) clipped to the box -- itself when it is inside -- or None when it
        holds NaN or inf."""
        values = array.ravel().tolist()
        if math.isfinite(sum(values)):  # NaN or inf when an entry is (or when the sum overflows: see below)
            bounds = self._bounds
            if bounds is not None and bounds[0] <= min(values) and max(values) <= bounds[1]:
                return array
        elif not np.isfinite(array).all():
            return None
        return np.minimum(np.maximum(array, self.low), self.high)


class ActionScatter:
    """The multi-agent tasks' joint action: ``actions`` must be a dict with exactly the ``agents``' keys, agent
    i's entry a numeric array of shape ``(len(partition[i]),)``; calling returns the joint action vector
    (``size`` entries) with agent i's action at the indices ``partition[i]``, and refuses bad input with a
    ``ValueError`` that names the agent. NaN and inf are the caller's check (``ActionBox``, once on the joint
    action); ``nonfinite`` then names the agent."""

    def __init__(self, task_id: str, agents: list[str], partition, size: int):
        order = [i for p in partition for i in p]  # the joint index of each entry of the agents' actions, in turn
        if sorted(order) != list(range(size)):
            raise ValueError(f"{task_id}: the partition must use each of the {size} action indices once")
        self.task_id, self.agents = task_id, list(agents)
        self._keys = set(agents)
        self._shapes = [(len(p),) for p in partition]
        # The agents' actions are concatenated in turn, then put in joint order (when that differs).
        self._gather = None if order == list(range(size)) else np.argsort(order)

    def __call__(self, actions) -> np.ndarray:
        task_id = self.task_id
        if not isinstance(actions, dict) or actions.keys() != self._keys:
            got = sorted(map(str, actions)) if isinstance(actions, dict) else type(actions).__name__
            raise ValueError(f"{task_id}: actions must be a dict with keys {self.agents}, got {got}")
        parts = [actions[agent] for agent in self.agents]
        try:  # the common case: float arrays of the right shapes, joined in one NumPy call
            if [a.shape for a in parts] == self._shapes:
                joint = np.concatenate(parts, dtype=np.float64, casting="safe")
                return joint if self._gather is None else joint[self._gather]
        except (AttributeError, TypeError, ValueError):
            pass  # not arrays, or not numeric: converted one by one below, the error naming the agent
        for i, (agent, shape) in enumerate(zip(self.agents, self._shapes, strict=True)):
            try:
                a = parts[i] = np.asarray(parts[i], dtype=np.float64)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{task_id}: actions[{agent!r}] must be numeric") from error
            if a.shape != shape:
                raise ValueError(f"{task_id}: actions[{agent!r}] must have shape {shape}, got {a.shape}")
        joint = np.concatenate(parts)
        return joint if self._gather is None else joint[self._gather]

    def nonfinite(self, actions: dict) -> ValueError | None:
        """The error naming the first agent whose action holds NaN or inf, or None when there is none."""
        for agent in self.agents:
            if not np.isfinite(np.asarray(actions[agent], dtype=np.float64)).all():
                return ValueError(f"{self.task_id}: actions[{agent!r}] contains NaN or inf: {actions[agent]}")
        return None
