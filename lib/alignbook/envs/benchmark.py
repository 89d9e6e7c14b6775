"""Throughput measurements shared by benchmarks/env_throughput.py and the chapter's live table."""

from __future__ import annotations

import importlib
import time

import mujoco
import numpy as np

from alignbook.envs import make_vec
from alignbook.envs.registry import make, random_actions

# Random-action steps per second of safety-gymnasium 1.0.0 (Python 3.10, MuJoCo 2.3.3, one environment),
# measured by the book's maintainers on the reference 2-core machine (ORIGINAL_PROVENANCE says how).
ORIGINAL_STEPS_PER_S = {
    "SafetyPointGoal1-v0": 600, "SafetyCarGoal1-v0": 516, "SafetyPointButton1-v0": 395,
    "SafetyPointPush1-v0": 567, "SafetyPointCircle1-v0": 409, "SafetyHalfCheetahVelocity-v1": 19_496,
}
ORIGINAL_PROVENANCE = (
    "safety-gymnasium 1.0.0 on Python 3.10 (gymnasium 0.28.1, mujoco 2.3.3), random actions, one environment, "
    "measured on the book's 2-core reference machine"
)


def env_rate(task_id: str, seconds: float, num_envs: int = 1, seed: int = 0, workers: int = 1) -> float:
    """Random-action environment steps per second (summed over the batch when ``num_envs`` > 1; ``workers``
    processes share the batch, see ``make_vec``; their start-up is not timed)."""
    rng = np.random.default_rng(seed)
    if num_envs == 1:
        env = make(task_id)
        env.reset(seed=seed)
        actions = np.array([random_actions(env, rng) for _ in range(4096)])
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for k in range(128):
                *_, terminated, truncated, _ = env.step(actions[(steps + k) % 4096])
                if terminated or truncated:
                    env.reset()
            steps += 128
        return steps / (time.perf_counter() - start)
    venv = make_vec(task_id, num_envs, workers=workers)
    venv.reset(seed=seed)
    space = venv.single_action_space
    actions = rng.uniform(space.low, space.high, size=(64, num_envs, *space.shape))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for k in range(8):
            venv.step(actions[k])
        steps += 8 * num_envs
    rate = steps / (time.perf_counter() - start)
    venv.close()
    return rate


def mujoco_rate(task_id: str, seconds: float) -> float:
    """Environment steps per second of the task's compiled model stepped by MuJoCo alone: the ceiling."""
    env = make(task_id)
    env.reset(seed=0)
    env.step(np.zeros(env.action_space.shape))  # one real step: e.g. lifts the gremlins onto their drivers
    if hasattr(env, "inner"):  # a velocity task: the Gymnasium environment underneath
        model, data, substeps = env.inner.model, env.inner.data, env.inner.frame_skip
    else:
        model, data, substeps = env.model, env.data, 10
    data.ctrl[:] = 0.5 * model.actuator_ctrlrange[:, 1]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(128):
            mujoco.mj_step(model, data, nstep=substeps)
        steps += 128
    return steps / (time.perf_counter() - start)


def vision_rate(task_id: str, seconds: float, size: tuple[int, int] = (64, 64)) -> float:
    """Steps per second of the Vision variant of ``task_id`` (an RGB image rendered every step)."""
    name = task_id if "Vision" in task_id else task_id.replace("-v0", "Vision-v0")
    env = make(name, vision_size=size)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        *_, terminated, truncated, _ = env.step(random_actions(env, rng))
        frames += 1
        if terminated or truncated:
            env.reset()
    env.close()
    return frames / (time.perf_counter() - start)


def multi_agent_rate(task_id: str, seconds: float, seed: int = 0) -> float:
    """Joint random-action steps per second of a multi-agent task (every agent acts once per joint step)."""
    from alignbook.envs.registry import make_multi_agent

    env = make_multi_agent(task_id)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = [{a: rng.uniform(s.low, s.high) for a, s in env.action_spaces.items()} for _ in range(1024)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for k in range(128):
            out = env.step(actions[(steps + k) % 1024])
            if out[3]["agent_0"] or out[4]["agent_0"]:
                env.reset()
        steps += 128
    env.close()
    return steps / (time.perf_counter() - start)


def gymnasium_rate(robot: str, seconds: float, seed: int = 0) -> float:
    """Random-action steps per second of Gymnasium's own ``<robot>-v5`` (with the options the velocity task
    passes it), stepped the same way as ``env_rate``: the reference for the velocity robots' overhead."""
    from alignbook.envs.velocity import VELOCITY_TASKS

    module, cls, options, _, _ = VELOCITY_TASKS[robot]
    env = getattr(importlib.import_module(f"gymnasium.envs.mujoco.{module}"), cls)(**options)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(env.action_space.low, env.action_space.high, size=(4096, *env.action_space.shape))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for k in range(128):
            _, _, terminated, truncated, _ = env.step(actions[(steps + k) % 4096])
            if terminated or truncated:
                env.reset()
        steps += 128
    env.close()
    return steps / (time.perf_counter() - start)


def velocity_side_by_side(multi_task: str, episodes: int = 4, seed: int = 0) -> dict[str, dict[str, float]]:
    """Microseconds per step of Gymnasium's own ``<robot>-v5`` -- the class itself and as ``gymnasium.make``
    builds it (with its standard wrappers) --, the single-agent velocity task on that robot, and the multi-agent
    task ``multi_task``, measured side by side in one run.

    The four take turns step by step (the order rotating), start each episode from the same state and get the
    same pre-drawn random actions, so they simulate the same physics, and whatever else loads the machine loads
    all four alike. Each episode runs until the time limit (1000 steps) or the robot's termination. Returns,
    per contender, the median and the mean per-step time: the median is the figure to compare on a shared
    machine (the mean carries every pause of the process)."""
    import gymnasium

    from alignbook.envs.multi_velocity import MULTI_VELOCITY_TASKS
    from alignbook.envs.registry import make_multi_agent
    from alignbook.envs.velocity import EPISODE_STEPS, VELOCITY_TASKS

    robot, _, _ = MULTI_VELOCITY_TASKS[multi_task]
    module, cls, options, _, _ = VELOCITY_TASKS[robot]
    raw = getattr(importlib.import_module(f"gymnasium.envs.mujoco.{module}"), cls)(**options)
    wrapped = gymnasium.make(f"{robot}-v5", **options)
    single = make(f"Safety{robot}Velocity-v1")
    multi = make_multi_agent(multi_task)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(raw.action_space.low, raw.action_space.high, size=(EPISODE_STEPS, *raw.action_space.shape))
    per_agent = [{a: np.ascontiguousarray(row[p]) for a, p in zip(multi.agents, multi.partition, strict=True)}
                 for row in actions]
    contenders = {
        f"Gymnasium {robot}-v5 (the class)": lambda k: raw.step(actions[k])[2],
        f"gymnasium.make('{robot}-v5')": lambda k: wrapped.step(actions[k])[2],
        f"Safety{robot}Velocity-v1": lambda k: single.step(actions[k])[3],
        multi_task: lambda k: multi.step(per_agent[k])[3]["agent_0"],
    }
    names = list(contenders)
    times: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    for episode in range(episodes):
        single.reset(seed=seed + episode)
        multi.reset(seed=seed + episode)
        raw.reset(seed=seed + episode)
        wrapped.reset(seed=seed + episode)
        qpos, qvel = single.inner.data.qpos.copy(), single.inner.data.qvel.copy()
        for env in (raw, wrapped.unwrapped, multi.robot_env.inner):
            env.set_state(qpos, qvel)
        for k in range(EPISODE_STEPS - 1):  # the last step would end the safe tasks' episodes by truncation
            ended = False
            for j in range(len(names)):
                name = names[(j + k) % len(names)]
                start = clock()
                ended |= bool(contenders[name](k))
                times[name].append(clock() - start)
            if ended:  # the same physics everywhere: the robot fell in all four
                break
        states = [env.data.qpos for env in (raw, wrapped.unwrapped, single.inner, multi.robot_env.inner)]
        if not all(np.array_equal(states[0], q) for q in states[1:]):
            raise RuntimeError(f"{multi_task}: the side-by-side environments drifted apart; the timing is void")
    for env in (raw, wrapped, single, multi):
        env.close()
    return {name: {"median_us": float(np.median(t)) / 1e3, "mean_us": float(np.mean(t)) / 1e3, "steps": len(t)}
            for name, t in times.items()}
