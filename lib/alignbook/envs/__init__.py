"""Safety-Gymnasium rebuilt on MuJoCo 4 and Gymnasium 1.x: the safe-control task suite of the safe-RL chapters.

The API contract (stable; the safe-RL library and chapters rely on it)
======================================================================

``env = alignbook.envs.make(task_id, **options)`` returns a single environment with

- ``env.observation_space``: a ``gymnasium.spaces.Box`` (float64, flat vector) -- for ``...Vision-v0`` tasks a
  ``gymnasium.spaces.Dict`` of the same named blocks plus ``"vision"``, a uint8 (height, width, 3) image;
- ``env.action_space``: a ``gymnasium.spaces.Box`` (float64), e.g. [-1, 1]^2 for Point and Car, [-1, 1]^8 for Ant,
  [-1, 1]^12 for Doggo, [-20, 20] x [-0.785, 0.785] for Racecar (rear-axle speed, steering angle);
- ``env.max_episode_steps``: 1000 (500 for Circle), enforced as truncation; the Ant also terminates when it
  falls (its torso at or below 0.08 m, as upstream);
- ``obs, info = env.reset(seed=None, options=None)``: ``obs`` a float64 ndarray (dict for Vision tasks);
  the same seed gives the same episode;
- ``obs, reward, cost, terminated, truncated, info = env.step(action)``: ``reward`` and ``cost`` Python
  floats, ``cost`` in {0.0, 1.0}; ``terminated``/``truncated`` bools; ``info`` holds every cost term of the task
  (``cost_hazards``, ``cost_vases_contact``, ...; each 0/1), ``cost_sum`` (= cost) and ``goal_met`` on the steps
  a goal is reached (velocity tasks: ``cost_velocity`` and Gymnasium's own entries);
- ``env.render()`` returns an RGB array when made with ``render_mode="rgb_array"``; ``env.close()``.

Bad input fails loudly: an unknown id raises ``ValueError`` naming the closest valid ids; an unknown option
raises ``TypeError`` (as Python does for an unexpected keyword argument, which callers that probe options, such
as TorchRL's ``GymEnv``, rely on) listing the valid options and the closest ones; an action of the wrong shape or
with NaN/inf raises ``ValueError`` before the physics runs; actions outside the box are clipped (as upstream);
``step`` before the first ``reset`` ("call reset() first") and after the episode ended raise ``RuntimeError``.

``venv = alignbook.envs.make_vec(task_id, num_envs, workers=1, **options)`` steps a batch with autoreset
(``workers`` > 1: the batch split over that many processes, stepped in parallel, same results):

- ``obs, info = venv.reset(seed=None)``: obs of shape (num_envs, obs_dim); environment i gets seed ``seed + i``;
- ``obs, reward, cost, terminated, truncated, info = venv.step(actions)`` with ``actions`` of shape
  (num_envs, act_dim) and every output batched (num_envs,); an environment whose episode ended is reset in
  the same call, its new first observation is in ``obs`` and its last one in ``info["final_observation"][i]``
  (with ``info["_final_observation"][i]`` True and ``info["final_info"][i]``); ``info["cost"]`` and every cost
  term are arrays of shape (num_envs,).

``alignbook.envs.list_tasks(kind="all")`` lists the ids. Every task is also registered with Gymnasium:
``gymnasium.make("alignbook/SafetyPointGoal1-v0")`` gives the five-tuple API with the cost in ``info["cost"]``
(a NumPy float64); TorchRL's ``GymEnv("alignbook/...")`` and Stable-Baselines3 take these ids as they are.

Tasks: Safety{Point,Car,Doggo,Racecar,Ant}{Goal,Button,Push,Circle}{0,1,2}-v0 and their ``Vision`` variants
(``alignbook.envs.navigation``), Safety{HalfCheetah,Hopper,Swimmer,Walker2d,Ant,Humanoid}Velocity-v1
(``alignbook.envs.velocity``); the multi-agent velocity tasks of SafePO and the two-robot
Safety{Point,Ant}MultiGoal{0,1,2}-v0 tasks (``make_multi_agent(task_id)``, PettingZoo's parallel API with a cost
per agent, ``alignbook.envs.multi_velocity`` and ``alignbook.envs.multi_goal``; ``make_multi_agent(task_id,
api="pettingzoo")`` is a ``pettingzoo.ParallelEnv`` with PettingZoo's own five-value ``step``, the cost in
``infos[agent]["cost"]``, ``alignbook.envs.pettingzoo_env``). Where the semantics differ
from upstream safety-gymnasium 1.0.0, the module docstrings say how.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

# MuJoCo picks its OpenGL backend when it is first imported: without a display, render offscreen with EGL.
if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")

import warnings  # noqa: E402

import mujoco  # noqa: E402


class MuJoCoWarning(UserWarning):
    """A warning from MuJoCo's C library, routed into Python's warnings so that it can be filtered."""


def _route_mujoco_warning(message: str) -> None:
    warnings.warn(message.strip(), MuJoCoWarning, stacklevel=2)


# By default MuJoCo prints its warnings to stderr and appends them to MUJOCO_LOG.TXT in the working directory;
# routed through Python they stay filterable and leave no files behind. Gymnasium's own velocity-task assets use
# a compiler attribute that MuJoCo 4 deprecates ('settotalmass'): that one is known and harmless here.
mujoco.set_mju_user_warning(_route_mujoco_warning)
warnings.filterwarnings("ignore", message=".*settotalmass.*", category=MuJoCoWarning)

from alignbook.envs.core import SafeEnv  # noqa: E402
from alignbook.envs.registry import (  # noqa: E402
    list_multi_agent_tasks,
    list_tasks,
    make,
    make_multi_agent,
    random_actions,
    register_all,
)
from alignbook.envs.vector import ProcessVectorEnv, SafeVectorEnv  # noqa: E402

# Tasks written natively as a batch (the same API as ``SafeVectorEnv``), registered by the module that defines
# them: task id -> a function of num_envs.
BATCHED_TASKS: dict[str, Callable[[int], Any]] = {}


def register_batched(task_id: str, make_batch: Callable[[int], Any]) -> None:
    """Make ``make_vec(task_id, n)`` return ``make_batch(n)``."""
    if task_id in BATCHED_TASKS and BATCHED_TASKS[task_id] is not make_batch:
        raise ValueError(f"task {task_id!r} is registered twice")
    BATCHED_TASKS[task_id] = make_batch


def make_vec(task_id: str, num_envs: int, workers: int = 1, **options) -> SafeVectorEnv | ProcessVectorEnv:
    """``num_envs`` copies of ``task_id`` behind one batched step with autoreset (see the module docstring);
    ``workers`` > 1 splits the batch over that many processes (``ProcessVectorEnv``), same results."""
    if task_id in BATCHED_TASKS:
        return BATCHED_TASKS[task_id](num_envs, **options)
    if workers != 1:
        return ProcessVectorEnv(task_id, num_envs, workers, **options)
    return SafeVectorEnv(lambda: make(task_id, **options), num_envs)


register_all()

__all__ = ["BATCHED_TASKS", "list_multi_agent_tasks", "make_multi_agent", "ProcessVectorEnv", "SafeEnv", "SafeVectorEnv", "list_tasks", "make", "make_vec", "random_actions", "register_batched"]
