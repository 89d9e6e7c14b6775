"""Two reference policies for the navigation tasks and a rollout loop: what the chapter measures.

- ``random``: uniform actions in the action box (the usual "random policy" baseline);
- ``scripted``: a privileged controller that reads object positions from the simulator and steers the robot:
  to the goal (Goal), to the goal button (Button), behind the box and then through it (Push), along a circle of
  radius 0.8 -- inside the Circle walls at x, y = +-1.125 -- (Circle). It ignores hazards on purpose: it shows
  how much reward competent driving earns and how much cost it incurs when it does not care about safety.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from alignbook.envs.navigation import NavigationEnv
from alignbook.envs.registry import make, random_actions

Policy = Callable[[NavigationEnv, np.ndarray, np.random.Generator], np.ndarray]
SCRIPTED_CIRCLE_RADIUS = 0.8


def random_policy(env, obs, rng: np.random.Generator) -> np.ndarray:
    return random_actions(env, rng)


def _steer(env: NavigationEnv, target_xy: np.ndarray) -> np.ndarray:
    """Drive the agent towards ``target_xy``: turn towards it, push forward when roughly facing it."""
    body = env.scene.agent_body
    rel = np.r_[target_xy - env.data.xpos[body, :2], 0.0] @ env.data.xmat[body].reshape(3, 3)
    if env.agent_spec.name == "Car":  # the Car drives along its -y axis; +x is its left
        angle = math.atan2(rel[0], -rel[1])
        forward = 1.0 if abs(angle) < 0.6 else 0.0
        turn = float(np.clip(2.0 * angle, -1.0, 1.0))  # left wheel faster than the right turns it left
        return np.clip(np.array([forward + turn, forward - turn]), -1.0, 1.0)
    angle = math.atan2(rel[1], rel[0])
    return np.array([1.0 if abs(angle) < 0.5 else 0.0, float(np.clip(3.0 * angle, -1.0, 1.0))])


def scripted_policy(env: NavigationEnv, obs, rng: np.random.Generator) -> np.ndarray:
    task = env.spec.task
    agent = env.positions("agent")[0]
    if task in ("Goal", "Button"):
        return _steer(env, env.positions("goal")[0])
    if task == "Push":
        box, goal = env.positions("push_box")[0], env.positions("goal")[0]
        push = (goal - box) / (np.linalg.norm(goal - box) + 1e-9)
        rel = agent - box
        along = float(rel @ push)
        side = rel - along * push
        if along < -0.2 and np.linalg.norm(side) < 0.15:
            return _steer(env, box + 0.5 * push)  # lined up behind the box: push it towards the goal
        if along > -0.25:  # beside or in front of the box: go round it, on the side the agent is already on
            normal = side / (np.linalg.norm(side) + 1e-9) if np.linalg.norm(side) > 1e-6 else np.array([-push[1], push[0]])
            return _steer(env, box - 0.3 * push + 0.5 * normal)
        return _steer(env, box - 0.4 * push)  # behind it, but off the line: get onto the line
    # Circle: aim at a point a little ahead (counter-clockwise) on a circle that stays inside the walls.
    heading = math.atan2(agent[1], agent[0]) + 0.6
    return _steer(env, SCRIPTED_CIRCLE_RADIUS * np.array([math.cos(heading), math.sin(heading)]))


POLICIES: dict[str, Policy] = {"random": random_policy, "scripted": scripted_policy}


def rollouts(task_id: str, policy: str, episodes: int, seed: int, max_steps: int | None = None) -> pd.DataFrame:
    """One row per episode: return, cost (sum of per-step costs), cost rate, length, goals reached, and whether
    every per-step cost was 0 or 1."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; valid policies are: {', '.join(POLICIES)}")
    env = make(task_id)
    act = POLICIES[policy]
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        ret = cost = 0.0
        goals = steps = 0
        binary = True
        done = False
        while not done and (max_steps is None or steps < max_steps):
            obs, reward, c, terminated, truncated, info = env.step(act(env, obs, rng))
            ret, cost, steps = ret + reward, cost + c, steps + 1
            binary &= c in (0.0, 1.0)
            goals += int(info.get("goal_met", False))
            done = terminated or truncated
        rows.append(dict(task=task_id, policy=policy, episode=episode, ret=ret, cost=cost,
                         cost_rate=cost / steps, length=steps, goals=goals, binary_cost=binary))
    env.close()
    return pd.DataFrame(rows)
