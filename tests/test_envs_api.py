"""The public API of alignbook.envs: ids, make, make_vec, Gymnasium registration, vision, velocity tasks."""

from __future__ import annotations

import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from test_envs_navigation import _move_hazard

import alignbook.envs as envs
from alignbook.envs.velocity import VELOCITY_TASKS


def test_task_ids():
    ids = envs.list_tasks()
    assert len(envs.list_tasks("navigation")) == 60 and len(envs.list_tasks("vision")) == 60  # 5 robots x 12
    assert "SafetyPointGoal1-v0" in ids and "SafetyCarCircle2Vision-v0" in ids
    assert "SafetyHumanoidVelocity-v1" in ids and len(envs.list_tasks("velocity")) == 6
    with pytest.raises(ValueError, match="kind"):
        envs.list_tasks("robots")


def test_unknown_id_names_the_closest_valid_ones():
    with pytest.raises(ValueError, match="SafetyPointGoal1-v0"):
        envs.make("SafetyPointGaol1-v0")
    with pytest.raises(ValueError, match="unknown task id"):
        envs.make("SafetyDroneGoal1-v0")  # no such robot
    # An unknown option is a TypeError, as Python's own for an unexpected keyword argument (TorchRL's GymEnv
    # probes gym.make with frameskip and retries without it on exactly that), naming the valid options.
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'.*valid options are: camera, hei"):
        envs.make("SafetyPointGoal1-v0", colour="red")
    with pytest.raises(TypeError, match="did you mean 'camera'"):
        envs.make("SafetyCarButton1-v0", camra="fixedfar")
    with pytest.raises(TypeError, match="keyword arguments 'frameskip', 'hieght'.*did you mean 'height'"):
        envs.make("SafetyPointGoal1Vision-v0", frameskip=2, hieght=64)
    with pytest.raises(TypeError, match="'frame_skp'.*did you mean 'frame_skip'"):  # Gymnasium's own options
        envs.make("SafetyHopperVelocity-v1", frame_skp=2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'frameskip'"):
        gymnasium.make("alignbook/SafetyHalfCheetahVelocity-v1", frameskip=1)
    assert envs.make("SafetyHopperVelocity-v1", frame_skip=2).inner.frame_skip == 2  # valid ones still pass


def _force_cost(safe) -> None:
    """Make the next step of a reset single-agent task cost: a hazard under the agent, or the runner pushed
    over its speed limit."""
    if hasattr(safe, "velocity_threshold"):
        inner = safe.inner.unwrapped
        qvel = inner.data.qvel.copy()
        qvel[0] = 1.35 * safe.velocity_threshold
        inner.set_state(inner.data.qpos.copy(), qvel)
    else:
        _move_hazard(safe, safe.positions("agent")[0] + np.array([0.1, 0.0]))


@pytest.mark.parametrize("task_id", ["SafetyPointGoal1-v0", "SafetyCarPush1-v0", "SafetyHopperVelocity-v1"])
def test_gymnasium_registration_and_checker(task_id):
    env = gymnasium.make(f"alignbook/{task_id}")
    direct = envs.make(task_id)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, direct.reset(seed=0)[0])
    rng = np.random.default_rng(0)
    for _ in range(20):  # the registered task steps exactly as the safe-RL API does, its cost in info["cost"]
        action = envs.random_actions(direct, rng)
        obs, reward, terminated, truncated, info = env.step(action)
        direct_obs, direct_reward, direct_cost, *_ = direct.step(action)
        np.testing.assert_array_equal(obs, direct_obs)
        assert (reward, info["cost"]) == (direct_reward, direct_cost)
    _force_cost(env.unwrapped.safe_env)
    *_, info = env.step(np.zeros(env.action_space.shape))
    assert info["cost"] == 1.0
    check_env(env.unwrapped, skip_render_check=True)


def test_make_vec_autoreset_keeps_the_final_observation():
    venv = envs.make_vec("SafetyPointCircle0-v0", 3)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 28)
    for _ in range(500):
        obs, reward, cost, terminated, truncated, info = venv.step(np.zeros((3, 2)))
        assert reward.shape == cost.shape == (3,)
    assert truncated.all() and info["_final_observation"].all()
    assert info["final_observation"][0].shape == (28,)
    assert not np.array_equal(info["final_observation"][0], obs[0])  # obs is the new episode's first
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="num_envs"):
        envs.make_vec("SafetyPointGoal1-v0", 0)


def test_make_vec_with_worker_processes_equals_one_process():
    """The batch split over two processes steps exactly as the batch in this one, autoreset included."""
    here, split = envs.make_vec("SafetyPointCircle0-v0", 3), envs.make_vec("SafetyPointCircle0-v0", 3, workers=2)
    try:
        assert np.array_equal(here.reset(seed=4)[0], split.reset(seed=4)[0])
        actions = np.random.default_rng(0).uniform(-1, 1, (501, 3, 2))
        for step, action in enumerate(actions):  # Circle0 episodes last 500 steps: step 499 resets all three
            a, b = here.step(action), split.step(action)
            for x, y in zip(a[:5], b[:5], strict=True):
                assert np.array_equal(x, y), step
            assert a[5].keys() == b[5].keys() and np.array_equal(a[5]["cost"], b[5]["cost"])
            assert ("_final_observation" in b[5]) == (step == 499)
            if step == 499:
                assert b[5]["_final_observation"].all()
                for i in range(3):
                    assert np.array_equal(a[5]["final_observation"][i], b[5]["final_observation"][i])
        with pytest.raises(ValueError, match="NaN"):  # raised in a worker, re-raised here with its message
            split.step(np.full((3, 2), np.nan))
        with pytest.raises(ValueError, match="shape"):
            split.step(np.zeros((2, 2)))
    finally:
        split.close()
    with pytest.raises(ValueError, match="workers"):
        envs.make_vec("SafetyPointGoal1-v0", 2, workers=3)


def test_the_environments_do_not_import_torch():
    """make_vec's worker processes import alignbook.envs only: torch would add ~2 s to each start."""
    code = "import sys, alignbook.envs; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_vision_observation_is_an_image():
    env = envs.make("SafetyPointGoal1Vision-v0", vision_size=(32, 24))
    obs, _ = env.reset(seed=0)
    assert obs["vision"].shape == (24, 32, 3) and obs["vision"].dtype == np.uint8
    assert obs["goal_lidar"].shape == (16,)
    assert env.observation_space.contains(obs)
    frame = envs.make("SafetyCarButton0-v0", render_mode="rgb_array", width=48, height=40)
    frame.reset(seed=0)
    assert frame.render().shape == (40, 48, 3)
    with pytest.raises(RuntimeError, match="render_mode"):
        envs.make("SafetyPointGoal0-v0").render()


def test_velocity_thresholds_are_upstream_v1():
    expected = {"HalfCheetah": 3.2096, "Hopper": 0.7402, "Swimmer": 0.2282, "Walker2d": 2.3415,
                "Ant": 2.6222, "Humanoid": 1.4149}
    assert {k: v[3] for k, v in VELOCITY_TASKS.items()} == expected


def _step_at_velocity(env, velocity):
    """One step with no action from the reset pose, the root's velocity (x, then y for planar robots) set by
    hand: a random policy never runs fast enough to cross a threshold."""
    env.reset(seed=0)
    inner = env.inner.unwrapped
    qvel = inner.data.qvel.copy()
    qvel[: len(velocity)] = velocity
    inner.set_state(inner.data.qpos.copy(), qvel)
    _, _, cost, _, _, info = env.step(np.zeros(env.action_space.shape))
    return cost, info


@pytest.mark.parametrize("robot", sorted(VELOCITY_TASKS))
def test_velocity_cost_is_one_above_the_threshold_and_zero_below(robot):
    env = envs.make(f"Safety{robot}Velocity-v1")
    limit = env.velocity_threshold
    fast, info = _step_at_velocity(env, [1.35 * limit])
    assert fast == info["cost_velocity"] == 1.0 and env.speed(info) > limit
    slow, info = _step_at_velocity(env, [0.7 * limit])
    assert slow == info["cost_velocity"] == 0.0 and 0 < env.speed(info) < limit
    if env.planar_speed:  # the Ant and the Humanoid: speed in the plane, sideways counts too
        sideways, info = _step_at_velocity(env, [0.0, 1.35 * limit])
        assert sideways == 1.0
        # Diagonally at 1.35x the threshold each component (0.95x) is below it alone, the norm above it.
        diagonal, info = _step_at_velocity(env, [1.35 * limit / np.sqrt(2)] * 2)
        assert diagonal == 1.0 and max(info["x_velocity"], info["y_velocity"]) < limit
    else:  # the others: forward x-velocity, so running backwards fast is free
        backwards, info = _step_at_velocity(env, [-1.35 * limit])
        assert backwards == 0.0 and info["x_velocity"] < -limit


def test_speed_is_forward_or_planar_velocity():
    env = envs.make("SafetyHalfCheetahVelocity-v1")
    env.reset(seed=0)
    # At the threshold exactly the cost is 0 (strict inequality); the Ant's speed is planar.
    assert env.speed({"x_velocity": 3.2096}) <= env.velocity_threshold
    ant = envs.make("SafetyAntVelocity-v1")
    assert ant.speed({"x_velocity": 2.0, "y_velocity": 2.0}) == pytest.approx(np.hypot(2, 2))
    assert ant.observation_space.shape == (27,)


def test_every_task_is_registered_with_gymnasium():
    for task_id in envs.list_tasks():
        spec = gymnasium.spec(f"alignbook/{task_id}")
        assert spec.max_episode_steps == (500 if "Circle" in task_id else 1000)
    env = gymnasium.make("alignbook/SafetyCarCircle2Vision-v0", vision_size=(16, 16))
    obs, _ = env.reset(seed=0)
    assert obs["vision"].shape == (16, 16, 3)


def test_velocity_tasks_are_deterministic_under_a_seed():
    def rollout():
        env = envs.make("SafetyHopperVelocity-v1")
        obs, _ = env.reset(seed=3)
        rng = np.random.default_rng(0)
        out = [obs]
        for _ in range(20):
            obs, reward, cost, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 3))
            out.append(np.r_[obs, reward, cost])
            if terminated:
                break
        return np.concatenate(out)

    np.testing.assert_array_equal(rollout(), rollout())
