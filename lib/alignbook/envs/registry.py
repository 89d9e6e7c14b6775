"""Task ids, ``make``, and the registration of every task with Gymnasium under the namespace ``alignbook``."""

from __future__ import annotations

import difflib
import re
from typing import Any

import gymnasium
import numpy as np

from alignbook.envs.agents import AGENTS
from alignbook.envs.core import SafeEnv, check_options
from alignbook.envs.tasks import LEVELS, TASK_SPECS, TASKS
from alignbook.envs.velocity import EPISODE_STEPS, VELOCITY_TASKS

NAMESPACE = "alignbook"
_NAV = re.compile(r"^Safety(?P<agent>[A-Z][a-z]+)(?P<task>Goal|Button|Push|Circle)(?P<level>\d)(?P<vision>Vision)?-v0$")
_VEL = re.compile(r"^Safety(?P<robot>[A-Za-z0-9]+)Velocity-v1$")


def list_tasks(kind: str = "all") -> list[str]:
    """Every task id: ``kind`` is "all", "navigation", "vision" or "velocity"."""
    valid = ("all", "navigation", "vision", "velocity")
    if kind not in valid:
        raise ValueError(f"unknown kind {kind!r}; valid kinds are: {', '.join(valid)}")
    nav = [f"Safety{a}{t}{lv}-v0" for a in AGENTS for t in TASKS for lv in LEVELS]
    vision = [f"Safety{a}{t}{lv}Vision-v0" for a in AGENTS for t in TASKS for lv in LEVELS]
    vel = [f"Safety{r}Velocity-v1" for r in VELOCITY_TASKS]
    return {"all": nav + vision + vel, "navigation": nav, "vision": vision, "velocity": vel}[kind]


def episode_steps(task_id: str) -> int:
    match = _NAV.match(_strip(task_id))
    if match:
        return TASK_SPECS[(match["task"], int(match["level"]))].episode_steps
    return EPISODE_STEPS


def _strip(task_id: str) -> str:
    return task_id[len(NAMESPACE) + 1:] if task_id.startswith(NAMESPACE + "/") else task_id


def _unknown(task_id: object) -> ValueError:
    ids = list_tasks()
    close = difflib.get_close_matches(str(task_id), ids, n=5, cutoff=0.6)
    hint = f"; closest valid ids: {', '.join(close)}" if close else ""
    return ValueError(
        f"unknown task id {task_id!r}{hint}. alignbook.envs.list_tasks() lists all {len(ids)} ids "
        f"(Safety{{{','.join(AGENTS)}}}{{{','.join(TASKS)}}}{{{','.join(map(str, LEVELS))}}}[Vision]-v0, "
        "Safety<Robot>Velocity-v1)"
    )


def make(task_id: str, **options: Any) -> SafeEnv:
    """Create one task (safe API). Options: ``render_mode`` ("rgb_array" or None), ``width``/``height`` of
    rendered frames; navigation tasks also ``camera`` (default "vision", others "fixednear", "fixedfar",
    "overhead") and, for Vision tasks, ``vision_size`` (width, height), default (64, 64); velocity tasks pass
    other options to the Gymnasium environment (those its class takes). Other options raise ``TypeError``."""
    if not isinstance(task_id, str):
        raise _unknown(task_id)
    name = _strip(task_id)
    match = _NAV.match(name)
    if match and match["agent"] in AGENTS and (match["task"], int(match["level"])) in TASK_SPECS:
        vision = bool(match["vision"])
        if not vision and "vision_size" in options:
            raise ValueError(f"{name}: vision_size only applies to the ...Vision-v0 tasks")
        allowed = {"render_mode", "width", "height", "camera", "vision_size"}
        check_options(name, options, allowed)
        from alignbook.envs.navigation import NavigationEnv

        return NavigationEnv(match["agent"], match["task"], int(match["level"]), task_id=name, vision=vision,
                             **options)
    match = _VEL.match(name)
    if match and match["robot"] in VELOCITY_TASKS:
        from alignbook.envs.velocity import VelocityEnv

        return VelocityEnv(match["robot"], task_id=name, **options)
    raise _unknown(task_id)


class GymnasiumSafeEnv(gymnasium.Env):
    """A safe task behind Gymnasium's five-tuple API; the step's cost is in ``info["cost"]``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # read by gymnasium.make before construction

    def __init__(self, task_id: str, render_mode: str | None = None, **options: Any):
        self.safe_env = make(task_id, render_mode=render_mode, **options)
        self.observation_space = self.safe_env.observation_space
        self.action_space = self.safe_env.action_space
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None and not hasattr(self, "_seeded"):
            # Gymnasium seeds np_random from entropy; derive the task's generator from it so that a seeded
            # np_random (e.g. by the environment checker) also fixes the layouts.
            seed = int(self.np_random.integers(2**31 - 1))
        self._seeded = True
        return self.safe_env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, cost, terminated, truncated, info = self.safe_env.step(action)
        info["cost"] = np.float64(cost)  # a NumPy scalar, as readers of info (TorchRL's) expect a dtype
        return obs, reward, terminated, truncated, info

    def render(self):
        return self.safe_env.render()

    def close(self):
        self.safe_env.close()


def register_all() -> None:
    """Register every task as ``alignbook/<task id>`` (idempotent)."""
    for task_id in list_tasks():
        full = f"{NAMESPACE}/{task_id}"
        if full in gymnasium.registry:
            continue
        gymnasium.register(
            id=full,
            entry_point="alignbook.envs.registry:GymnasiumSafeEnv",
            kwargs={"task_id": task_id},
            max_episode_steps=episode_steps(task_id),
        )


def random_actions(env: SafeEnv, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random action in the task's action space (what "a random policy" means in this book)."""
    return rng.uniform(env.action_space.low, env.action_space.high)


def list_multi_agent_tasks(kind: str = "all") -> list[str]:
    """The multi-agent task ids: ``kind`` "all", "velocity" (SafePO's eight velocity tasks) or "goal" (the
    MultiGoal tasks)."""
    from alignbook.envs.multi_goal import multi_goal_ids
    from alignbook.envs.multi_velocity import MULTI_VELOCITY_TASKS

    groups = {"velocity": list(MULTI_VELOCITY_TASKS), "goal": multi_goal_ids()}
    if kind not in ("all", *groups):
        raise ValueError(f"unknown kind {kind!r}; valid kinds are: all, velocity, goal")
    return groups["velocity"] + groups["goal"] if kind == "all" else groups[kind]


def make_multi_agent(task_id: str, api: str = "safe", **options: Any):
    """A multi-agent task by id: a velocity task (``alignbook.envs.multi_velocity``; ``options`` go to the
    robot) or a MultiGoal task (``alignbook.envs.multi_goal``; ``render_mode``, ``width``, ``height``,
    ``camera``). ``api="safe"`` (the book's): ``step`` returns six dicts, the costs third;
    ``api="pettingzoo"``: PettingZoo's five-value parallel API, the cost in ``infos[agent]["cost"]``
    (``alignbook.envs.pettingzoo_env``)."""
    from alignbook.envs.multi_goal import MultiGoalEnv, multi_goal_ids
    from alignbook.envs.multi_velocity import MULTI_VELOCITY_TASKS, MultiAgentVelocityEnv

    if api not in ("safe", "pettingzoo"):
        raise ValueError(f"unknown api {api!r}; valid values are: 'safe', 'pettingzoo'")
    if task_id in MULTI_VELOCITY_TASKS:
        env = MultiAgentVelocityEnv(task_id, **options)
    elif task_id in multi_goal_ids():
        check_options(task_id, options, {"render_mode", "width", "height", "camera"})
        env = MultiGoalEnv(task_id, **options)
    else:
        ids = list_multi_agent_tasks()
        close = difflib.get_close_matches(str(task_id), ids, n=3, cutoff=0.6)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ValueError(f"unknown multi-agent task {task_id!r}{hint}; valid ids: {', '.join(ids)}")
    if api == "pettingzoo":
        from alignbook.envs.pettingzoo_env import PettingZooEnv

        return PettingZooEnv(env)
    return env
