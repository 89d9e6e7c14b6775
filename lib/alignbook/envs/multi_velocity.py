"""The multi-agent velocity tasks (Safety-Gymnasium's ``safe_multi_agent`` velocity scenarios, SafePO's ids):
one robot whose actuators are split between agents, a shared reward and a shared speed-limit cost.

Ids (SafePO's ``multi_agent_velocity_map``; upstream Safety-Gymnasium registers none): Safety2x4AntVelocity-v0,
Safety4x2AntVelocity-v0, Safety2x3HalfCheetahVelocity-v0, Safety6x1HalfCheetahVelocity-v0,
Safety3x1HopperVelocity-v0, Safety2x3Walker2dVelocity-v0, Safety2x1SwimmerVelocity-v0,
Safety9|8HumanoidVelocity-v0.

PettingZoo's parallel API, dicts keyed ``agent_0`` ... ``agent_{n-1}``:

- ``obs, infos = env.reset(seed=None)``;
- ``obs, rewards, costs, terminations, truncations, infos = env.step(actions)``, ``actions`` a dict with
  exactly the agents' keys, each an array of that agent's action shape; wrong keys, shapes, NaN or inf are
  refused with ``ValueError`` before the physics runs;
- ``env.agents`` (all of ``env.possible_agents`` once reset, empty after the step that ends the episode),
  ``env.observation_spaces``, ``env.action_spaces``, ``env.state()`` (the robot's single-agent observation),
  ``env.partition`` (each agent's indices into the robot's action vector); ``step`` before the first
  ``reset`` or after the episode's end raises ``RuntimeError``;
- ``make_multi_agent(task_id, api="pettingzoo")``: the same task behind PettingZoo's own five-value ``step``,
  the cost in ``infos[agent]["cost"]`` (``alignbook.envs.pettingzoo_env``);
- every agent's observation is the same read-only array and every agent's info the same dict (as MaMuJoCo's
  own environment shares one info): copy before changing them.

The robot is the single-agent task's (``alignbook.envs.velocity``, Gymnasium's ``-v5`` models), so both
families share one simulation; each agent's actions are scattered into the robot's action vector by the
partition, which is upstream's (MaMuJoCo's ``obsk.py``; anchor ``multi-agent.md`` 1a).

Reward: the robot's reward, the same for every agent. Cost, the same for every agent: 1 when the speed exceeds
the task's threshold (upstream's multi-agent thresholds, which differ from the single-agent ones), with
upstream's multi-agent speed ``sqrt(vx^2 + vy^2)`` and vy = 0 when the robot reports none -- so HalfCheetah,
Hopper and Walker2d are charged for |vx| (running backwards costs too, unlike the single-agent tasks); the
Swimmer is charged for its signed vx.

Observation: every agent observes the robot's full state (``state()``), not MaMuJoCo's local (``agent_obsk``)
views. Why: SafePO's four multi-agent algorithms never read the local views -- their wrapper feeds each actor
the global state plus a one-hot agent id -- and the global state is the same under MaMuJoCo v0 and v1 apart
from the model version, so we follow the v1 (``-v5`` model) state that the single-agent tasks use: Ant 27
(v5 without contact forces, as the single-agent Ant), Humanoid 348, HalfCheetah and Walker2d 17, Hopper 11,
Swimmer 8. The local views (MaMuJoCo v0: e.g. Ant 2x4 21 per agent, v1: 63) are not built.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from alignbook.envs.core import ActionBox, ActionScatter, ParallelEnv
from alignbook.envs.velocity import VelocityEnv

# id -> (robot, partition into the robot's action indices, speed threshold)
MULTI_VELOCITY_TASKS: dict[str, tuple[str, tuple[tuple[int, ...], ...], float]] = {
    # Ant actuators (Gymnasium): hip_4, ankle_4, hip_1, ankle_1, hip_2, ankle_2, hip_3, ankle_3
    "Safety2x4AntVelocity-v0": ("Ant", ((2, 3, 4, 5), (6, 7, 0, 1)), 2.522),
    "Safety4x2AntVelocity-v0": ("Ant", ((2, 3), (4, 5), (6, 7), (0, 1)), 2.418),
    "Safety2x3HalfCheetahVelocity-v0": ("HalfCheetah", ((0, 1, 2), (3, 4, 5)), 3.227),
    "Safety6x1HalfCheetahVelocity-v0": ("HalfCheetah", tuple((i,) for i in range(6)), 2.932),
    "Safety3x1HopperVelocity-v0": ("Hopper", ((0,), (1,), (2,)), 0.9613),
    # Walker2d actuators: thigh, leg, foot, thigh_left, leg_left, foot_left; MaMuJoCo lists foot first.
    "Safety2x3Walker2dVelocity-v0": ("Walker2d", ((2, 1, 0), (5, 4, 3)), 1.641),
    "Safety2x1SwimmerVelocity-v0": ("Swimmer", ((0,), (1,)), 0.04891),
    # Humanoid: upper body (abdomen x, y, z, both shoulders, elbows) and lower body (hips x, y, z, knees).
    "Safety9|8HumanoidVelocity-v0": ("Humanoid", ((2, 0, 1, 11, 12, 13, 14, 15, 16),
                                                  (3, 5, 4, 6, 7, 9, 8, 10)), 0.58),
}


def multi_agent_speed(robot: str, info: dict[str, Any]) -> float:
    """Upstream's multi-agent speed: sqrt(vx^2 + vy^2) with vy = 0 when absent; the Swimmer's signed vx."""
    if robot == "Swimmer":
        return float(info["x_velocity"])
    return math.hypot(info["x_velocity"], info.get("y_velocity", 0.0))  # math: NumPy's scalar path is slower


class MultiAgentVelocityEnv(ParallelEnv):
    """One velocity robot driven by several agents (PettingZoo's parallel API plus a cost per agent)."""

    def __init__(self, task_id: str, **options: Any):
        if task_id not in MULTI_VELOCITY_TASKS:
            raise ValueError(f"unknown multi-agent velocity task {task_id!r}; valid ids: "
                             f"{', '.join(MULTI_VELOCITY_TASKS)}")
        robot, partition, threshold = MULTI_VELOCITY_TASKS[task_id]
        partition = tuple(list(p) for p in partition)  # lists index NumPy arrays without conversion
        self.task_id, self.robot, self.partition, self.velocity_threshold = task_id, robot, partition, threshold
        self.robot_env = VelocityEnv(robot, task_id=task_id, **options)
        self.render_mode = self.robot_env.render_mode
        self.max_episode_steps = self.robot_env.max_episode_steps
        self.possible_agents = [f"agent_{i}" for i in range(len(partition))]
        self.agents = list(self.possible_agents)
        box = self.robot_env.action_space
        self.action_spaces = {a: spaces.Box(box.low[p], box.high[p], dtype=box.dtype)
                              for a, p in zip(self.possible_agents, partition, strict=True)}
        self.observation_spaces = {a: self.robot_env.observation_space for a in self.possible_agents}
        self.state_space = self.robot_env.observation_space
        self._scatter = ActionScatter(task_id, self.possible_agents, partition, box.shape[0])
        self._box = ActionBox(box.low, box.high)
        self._state: np.ndarray | None = None

    def _observe(self, obs) -> dict[str, np.ndarray]:
        # Every agent observes the same state: one read-only array serves them all (no copy per agent).
        self._state = np.asarray(obs, dtype=np.float64)
        self._state.flags.writeable = False
        return dict.fromkeys(self.agents, self._state)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.robot_env.reset(seed=seed, options=options)
        self._start()
        return self._observe(obs), dict.fromkeys(self.agents, info)

    def step(self, actions: dict):
        self._running()
        joint = self._box(self._scatter(actions))  # keys and shapes checked, joined, clipped as upstream
        if joint is None:  # one NaN/inf check for all agents; find the culprit only when it fails
            raise self._scatter.nonfinite(actions)
        obs, reward, _, terminated, truncated, info = self.robot_env.advance(joint)
        cost = float(multi_agent_speed(self.robot, info) > self.velocity_threshold)
        info["cost_velocity"] = info["cost_sum"] = cost
        every = self.agents  # shared reward, cost, ends and info: the same value for every agent
        obs = self._observe(obs)
        self._finish(terminated or truncated)
        return (obs, dict.fromkeys(every, reward), dict.fromkeys(every, cost),
                dict.fromkeys(every, terminated), dict.fromkeys(every, truncated), dict.fromkeys(every, info))

    def render(self):
        return self.robot_env.render()

    def close(self) -> None:
        self.robot_env.close()

    def __repr__(self) -> str:
        return f"<MultiAgentVelocityEnv {self.task_id}>"
