"""The Doggo and the Racecar against upstream safety-gymnasium 1.0.0's numbers (measured there, written here)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from test_envs_navigation import _move_hazard

import alignbook.envs as envs
from alignbook.envs.agents import AGENTS

# Upstream's flat observation sizes per task and level (safety_gymnasium.make(id).observation_space.shape[0]):
# Doggo 12 site + 8 touch + 12 joint velocities + 12 joint angles as (sin, cos) = 56 before the lidar blocks,
# Racecar the 12 site values only.
UPSTREAM_SIZES = {
    "Doggo": {"Goal": (72, 104, 104), "Button": (88, 120, 120), "Push": (88, 120, 120), "Circle": (72, 72, 72)},
    "Racecar": {"Goal": (28, 60, 60), "Button": (44, 76, 76), "Push": (44, 76, 76), "Circle": (28, 28, 28)},
}
_DOGGO_JOINTS = [f"hip_{i}_z" for i in range(1, 5)] + [f"hip_{i}_y" for i in range(1, 5)] + [
    f"ankle_{i}" for i in range(1, 5)]
# Upstream's named blocks before the lidar (task.obs_info.obs_space_dict, in order).
UPSTREAM_SENSOR_BLOCKS = {
    "Doggo": [("accelerometer", 3), ("velocimeter", 3), ("gyro", 3), ("magnetometer", 3)]
    + [(f"touch_ankle_{i}{end}", 1) for end in "ab" for i in range(1, 5)]
    + [(f"jointvel_{j}", 1) for j in _DOGGO_JOINTS] + [(f"jointpos_{j}", 2) for j in _DOGGO_JOINTS],
    "Racecar": [("accelerometer", 3), ("velocimeter", 3), ("gyro", 3), ("magnetometer", 3)],
}
# Upstream's action boxes (float32 bounds widened to float64, as upstream's Box does).
UPSTREAM_ACTIONS = {
    "Doggo": (np.full(12, -1.0), np.full(12, 1.0)),
    "Racecar": (np.array([-20.0, np.float32(-0.785)]), np.array([20.0, np.float32(0.785)])),
}


@pytest.mark.parametrize("agent", ["Doggo", "Racecar"])
def test_observation_sizes_and_blocks_equal_upstream(agent):
    for task, sizes in UPSTREAM_SIZES[agent].items():
        for level in (0, 1, 2):
            env = envs.make(f"Safety{agent}{task}{level}-v0")
            obs, _ = env.reset(seed=level)
            assert obs.shape == (sizes[level],), (task, level)
            assert env.observation_space.contains(obs)
    blocks = [(name, s.stop - s.start) for name, s in envs.make(f"Safety{agent}Goal1-v0").obs_layout]
    assert blocks == UPSTREAM_SENSOR_BLOCKS[agent] + [(f"{k}_lidar", 16) for k in ("goal", "hazards", "vases")]
    vision = envs.make(f"Safety{agent}Goal1Vision-v0").observation_space
    assert set(vision.spaces) == {name for name, _ in blocks} | {"vision"}


@pytest.mark.parametrize("agent", ["Doggo", "Racecar"])
def test_action_space_equals_upstream(agent):
    space = envs.make(f"Safety{agent}Goal0-v0").action_space
    low, high = UPSTREAM_ACTIONS[agent]
    assert space.dtype == np.float64 and space.shape == low.shape
    np.testing.assert_array_equal(space.low, low)
    np.testing.assert_array_equal(space.high, high)


@pytest.mark.parametrize("agent", ["Doggo", "Racecar"])
def test_random_rollout_reset_cost_and_seeding(agent):
    env = envs.make(f"Safety{agent}Goal1-v0")
    first, _ = env.reset(seed=5)
    assert sum(env._cost_terms().values()) == 0.0  # a layout never starts in violation
    again, _ = envs.make(f"Safety{agent}Goal1-v0").reset(seed=5)
    np.testing.assert_array_equal(first, again)
    rng = np.random.default_rng(0)
    for _ in range(60):
        obs, reward, cost, terminated, truncated, info = env.step(envs.random_actions(env, rng))
        assert np.isfinite(obs).all() and np.isfinite(reward)
        # The cost is 1 exactly when some raw cost term of the state reached is positive (then binarised).
        assert cost == float(sum(env._cost_terms().values()) > 0) == info["cost_sum"]
        assert not terminated and not truncated  # neither robot ends an episode early (upstream: never)
    # A hazard moved under the robot: the raw term is its depth inside (at most the size, 0.2), the cost 1.
    _move_hazard(env, env.positions("agent")[0] + np.array([0.1, 0.0]))
    _, _, cost, _, _, info = env.step(np.zeros(env.action_space.shape))
    assert 0 < env._cost_terms()["cost_hazards"] <= 0.2 and cost == info["cost_hazards"] == 1.0


def test_doggo_lands_on_its_feet_and_feels_them():
    env = envs.make("SafetyDoggoGoal0-v0")
    obs, _ = env.reset(seed=0)
    touch = dict(env.obs_layout)
    feet = [touch[f"touch_ankle_{i}b"].start for i in range(1, 5)]
    assert not obs[feet].any()  # spawned 0.22 m up: in the air
    for _ in range(20):
        obs, *_ = env.step(np.zeros(12))
    assert (obs[feet] > 0).all()  # standing on the four feet
    # Upstream's torso comes to rest at 0.0774 m with zero torques (measured over the same 20 steps).
    assert env.data.xpos[env.scene.agent_body, 2] == pytest.approx(0.0774, abs=2e-3)


def test_racecar_mass_and_driving_semantics():
    spec = AGENTS["Racecar"]
    env = envs.make("SafetyRacecarGoal0-v0")
    model = env.model
    # The chassis box carries the mass MuJoCo 2.3.3 derives from upstream's mesh; the whole car weighs what
    # upstream's does (2.156072 kg, from the compiled model there).
    assert model.body("car_body").mass[0] == pytest.approx(0.0176055, rel=1e-6)
    assert model.body_subtreemass[env.scene.agent_body] == pytest.approx(2.156072, abs=1e-5)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4 and spec.timestep == 0.004
    env.reset(seed=0)
    start = env.positions("agent")[0].copy()
    heading = env.data.xmat[env.scene.agent_body].reshape(3, 3)[:2, 0].copy()
    for _ in range(25):  # full speed ahead, steering left
        obs, *_ = env.step(np.array([20.0, 0.5]))
    moved = env.positions("agent")[0] - start
    assert moved @ heading > 0.2  # forward is the body's +x
    assert obs[dict(env.obs_layout)["gyro"]][2] > 0.5  # a positive steering angle turns counter-clockwise
    # Upstream's contact exclusions: the chassis never collides with the front wheels it overlaps.
    assert model.nexclude == 2 and model.neq == 1
