"""The multi-agent velocity tasks against the anchor's facts (shared/anchors/multi-agent.md, section 1a):
partitions, thresholds, sizes, the cost rule on hand-set velocities, seeding, and refused input."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from alignbook.envs import list_multi_agent_tasks, make_multi_agent
from alignbook.envs.multi_velocity import multi_agent_speed

# The anchor's partitions, by joint name (MaMuJoCo's obsk.py), and its thresholds.
PARTITIONS = {
    "Safety2x4AntVelocity-v0": [["hip_1", "ankle_1", "hip_2", "ankle_2"], ["hip_3", "ankle_3", "hip_4", "ankle_4"]],
    "Safety4x2AntVelocity-v0": [[f"hip_{i}", f"ankle_{i}"] for i in range(1, 5)],
    "Safety2x3HalfCheetahVelocity-v0": [["bthigh", "bshin", "bfoot"], ["fthigh", "fshin", "ffoot"]],
    "Safety6x1HalfCheetahVelocity-v0": [[j] for j in ["bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"]],
    "Safety3x1HopperVelocity-v0": [["thigh_joint"], ["leg_joint"], ["foot_joint"]],
    "Safety2x3Walker2dVelocity-v0": [["foot_joint", "leg_joint", "thigh_joint"],
                                     ["foot_left_joint", "leg_left_joint", "thigh_left_joint"]],
    "Safety2x1SwimmerVelocity-v0": [["motor1_rot"], ["motor2_rot"]],
    "Safety9|8HumanoidVelocity-v0": [
        ["abdomen_x", "abdomen_y", "abdomen_z", "right_shoulder1", "right_shoulder2", "right_elbow",
         "left_shoulder1", "left_shoulder2", "left_elbow"],
        ["right_hip_x", "right_hip_y", "right_hip_z", "right_knee", "left_hip_x", "left_hip_y", "left_hip_z",
         "left_knee"]],
}
THRESHOLDS = {"Safety2x4AntVelocity-v0": 2.522, "Safety4x2AntVelocity-v0": 2.418,
              "Safety2x3HalfCheetahVelocity-v0": 3.227, "Safety6x1HalfCheetahVelocity-v0": 2.932,
              "Safety3x1HopperVelocity-v0": 0.9613, "Safety2x3Walker2dVelocity-v0": 1.641,
              "Safety2x1SwimmerVelocity-v0": 0.04891, "Safety9|8HumanoidVelocity-v0": 0.58}
# Global state sizes: MaMuJoCo v1's (Gymnasium -v5 models), Ant without contact forces as the single-agent Ant.
STATE = {"Ant": 27, "HalfCheetah": 17, "Hopper": 11, "Walker2d": 17, "Swimmer": 8, "Humanoid": 348}


def test_the_eight_safepo_ids():
    assert sorted(list_multi_agent_tasks("velocity")) == sorted(PARTITIONS)


@pytest.mark.parametrize("task_id", list(PARTITIONS))
def test_partition_threshold_and_sizes(task_id):
    env = make_multi_agent(task_id)
    model = env.robot_env.inner.model
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, model.actuator_trnid[i, 0]) for i in range(model.nu)]
    assert [[names[i] for i in part] for part in env.partition] == PARTITIONS[task_id]
    assert sorted(i for part in env.partition for i in part) == list(range(model.nu))  # every actuator once
    assert env.velocity_threshold == THRESHOLDS[task_id]
    assert env.agents == [f"agent_{i}" for i in range(len(PARTITIONS[task_id]))]
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(env.agents)
    for agent, part in zip(env.agents, PARTITIONS[task_id], strict=True):
        assert env.action_spaces[agent].shape == (len(part),)
        assert obs[agent].shape == env.observation_spaces[agent].shape == (STATE[env.robot],)
    if env.robot == "Humanoid":
        assert np.allclose(env.action_spaces["agent_0"].high, 0.4)


def test_step_returns_six_dicts_with_shared_reward_and_cost():
    env = make_multi_agent("Safety2x3HalfCheetahVelocity-v0")
    env.reset(seed=1)
    out = env.step({a: env.action_spaces[a].sample() for a in env.agents})
    assert len(out) == 6 and all(set(d) == set(env.agents) for d in out)
    obs, rewards, costs, terms, truncs, infos = out
    assert len(set(rewards.values())) == 1 and len(set(costs.values())) == 1
    assert np.array_equal(env.state(), obs["agent_0"])


def _set_velocity(env, vx: float) -> dict:
    """Reset, set the root's x velocity by hand, step once with zero actions and return the step's info."""
    env.reset(seed=0)
    data = env.robot_env.inner.data
    qpos, qvel = data.qpos.copy(), np.zeros_like(data.qvel)
    qvel[0] = vx
    env.robot_env.inner.set_state(qpos, qvel)
    zero = {a: np.zeros(env.action_spaces[a].shape) for a in env.agents}
    _, _, costs, *_, infos = env.step(zero)
    return costs["agent_0"], infos["agent_0"]


@pytest.mark.parametrize("task_id,factor,cost", [
    ("Safety2x3HalfCheetahVelocity-v0", 2.0, 1.0), ("Safety2x3HalfCheetahVelocity-v0", 0.3, 0.0),
    ("Safety2x3HalfCheetahVelocity-v0", -2.0, 1.0),  # backwards costs too in the multi-agent rule: |vx|
    ("Safety2x4AntVelocity-v0", 2.0, 1.0), ("Safety2x4AntVelocity-v0", 0.3, 0.0),
    ("Safety2x1SwimmerVelocity-v0", 3.0, 1.0), ("Safety2x1SwimmerVelocity-v0", -3.0, 0.0),  # signed vx
])
def test_cost_rule_on_hand_set_velocities(task_id, factor, cost):
    env = make_multi_agent(task_id)
    got, info = _set_velocity(env, factor * env.velocity_threshold)
    assert np.sign(info["x_velocity"]) == np.sign(factor)  # the hand-set velocity survived the step
    assert got == cost == info["cost_velocity"]


def test_speed_rule_on_infos():
    assert multi_agent_speed("HalfCheetah", {"x_velocity": -3.0}) == 3.0
    assert multi_agent_speed("Ant", {"x_velocity": 3.0, "y_velocity": 4.0}) == 5.0
    assert multi_agent_speed("Swimmer", {"x_velocity": -0.5, "y_velocity": 1.0}) == -0.5


def test_seeding_reproduces_episodes():
    def run(seed):
        env = make_multi_agent("Safety3x1HopperVelocity-v0")
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        trace = [obs["agent_0"]]
        for _ in range(5):
            obs, *_ = env.step({a: rng.uniform(-1, 1, env.action_spaces[a].shape) for a in env.agents})
            trace.append(obs["agent_1"])
        return np.array(trace)

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.mark.parametrize("bad,message", [
    ({"agent_0": np.zeros(3)}, "keys"),
    ({"agent_0": np.zeros(3), "agent_1": np.zeros(3), "agent_2": np.zeros(3)}, "keys"),
    ({"agent_0": np.zeros(3), "agent_1": np.zeros(2)}, "agent_1"),
    ({"agent_0": np.array([0.0, np.nan, 0.0]), "agent_1": np.zeros(3)}, "NaN"),
    ([np.zeros(3), np.zeros(3)], "dict"),
])
def test_bad_input_is_refused(bad, message):
    env = make_multi_agent("Safety2x3HalfCheetahVelocity-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(bad)


def test_unknown_id_is_refused():
    with pytest.raises(ValueError, match="Safety2x4AntVelocity-v0"):
        make_multi_agent("Safety2x4AntVelocity-v1")


def test_throughput_helpers_measure_the_multi_agent_task_and_gymnasiums_robot():
    from alignbook.envs.benchmark import gymnasium_rate, multi_agent_rate

    assert multi_agent_rate("Safety2x1SwimmerVelocity-v0", 0.05) > 0
    assert gymnasium_rate("Swimmer", 0.05) > 0


def test_action_box_clips_and_refuses_nan_and_inf():
    from alignbook.envs.core import ActionBox

    box = ActionBox(np.full(3, -1.0, dtype=np.float32), np.ones(3, dtype=np.float32))
    inside = np.array([0.5, -1.0, 1.0])
    assert box(inside) is inside  # nothing to clip: the action itself, no copy
    assert np.array_equal(box(np.array([2.0, -3.0, 0.25])), [1.0, -1.0, 0.25])
    assert np.array_equal(box(np.array([1e300, 1e300, 0.0])), [1.0, 1.0, 0.0])  # the sum overflows: still finite
    for bad in ([np.nan, 0.0, 0.0], [0.0, np.inf, 0.0], [np.inf, -np.inf, 0.0]):
        assert box(np.array(bad)) is None
    uneven = ActionBox(np.array([-20.0, -0.5]), np.array([20.0, 0.5]))  # different bounds per axis
    assert np.array_equal(uneven(np.array([10.0, 0.75])), [10.0, 0.5])


@pytest.mark.parametrize("task_id", list(PARTITIONS))
def test_each_agents_action_lands_on_its_actuators(task_id):
    env = make_multi_agent(task_id)
    n = env.robot_env.action_space.shape[0]
    joint = np.linspace(-0.3, 0.3, n)
    actions = {a: joint[p] for a, p in zip(env.agents, env.partition, strict=True)}
    assert np.array_equal(env._scatter(actions), joint)
    as_lists = {a: list(v) for a, v in actions.items()}  # plain lists take the converting path: same result
    assert np.array_equal(env._scatter(as_lists), joint)


def test_every_agent_shares_one_read_only_observation():
    env = make_multi_agent("Safety2x3HalfCheetahVelocity-v0")
    obs, _ = env.reset(seed=0)
    assert obs["agent_0"] is obs["agent_1"] and not obs["agent_0"].flags.writeable
    state = env.state()
    state[0] += 1.0  # state() is the caller's copy
    assert not np.array_equal(state, obs["agent_0"])


def test_side_by_side_measures_gymnasium_and_both_velocity_tasks_on_the_same_physics():
    from alignbook.envs.benchmark import velocity_side_by_side

    side = velocity_side_by_side("Safety2x1SwimmerVelocity-v0", episodes=1)
    assert list(side) == ["Gymnasium Swimmer-v5 (the class)", "gymnasium.make('Swimmer-v5')",
                          "SafetySwimmerVelocity-v1", "Safety2x1SwimmerVelocity-v0"]
    assert all(t["steps"] == 999 and t["median_us"] > 0 for t in side.values())
