"""Semantics of the navigation tasks against upstream safety-gymnasium's (the anchor facts)."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

import alignbook.envs as envs
from alignbook.envs.layout import sample_layout
from alignbook.envs.lidar import pseudo_lidar

# Upstream's flat observation sizes: 12 sensor values (+12 for the Car's rear ball wheel, +28 for the Ant's joints)
# + 16 per lidar block.
EXPECTED_SIZES = {
    "Goal": (28, 60, 60), "Button": (44, 76, 76), "Push": (44, 76, 76), "Circle": (28, 28, 28),
}


@pytest.mark.parametrize("agent,extra", [("Point", 0), ("Car", 12), ("Ant", 28)])
@pytest.mark.parametrize("task", list(EXPECTED_SIZES))
def test_observation_sizes_equal_upstream(agent, extra, task):
    for level in (0, 1, 2):
        env = envs.make(f"Safety{agent}{task}{level}-v0")
        obs, info = env.reset(seed=level)
        assert obs.shape == (EXPECTED_SIZES[task][level] + extra,)
        assert env.observation_space.contains(obs)
        assert env.max_episode_steps == (500 if task == "Circle" else 1000)


def _still(env):
    """A zero action: the agent (at rest after a reset) stays where it is for one step."""
    return np.zeros(env.action_space.shape)


def _move_hazard(env, xy):
    env.data.mocap_pos[env.scene.mocap["hazards"][0], :2] = xy
    env._hazard_xy[0] = xy
    env._hazard_list = env._hazard_xy.tolist()
    mujoco.mj_forward(env.model, env.data)


def test_hazard_under_the_agent_costs_one_and_just_outside_costs_zero():
    env = envs.make("SafetyPointGoal1-v0")
    env.reset(seed=0)
    agent = env.positions("agent")[0]
    _move_hazard(env, agent + np.array([0.19, 0.0]))  # hazard size 0.2: the agent is inside
    _, _, cost, _, _, info = env.step(_still(env))
    assert cost == 1.0 and info["cost_hazards"] == 1.0 and info["cost_sum"] == 1.0
    agent = env.positions("agent")[0]
    _move_hazard(env, agent + np.array([0.0, 0.205]))  # just outside the disc
    _, _, cost, _, _, info = env.step(_still(env))
    assert cost == 0.0 and info["cost_hazards"] == 0.0


def test_reward_is_distance_progress_towards_the_goal():
    env = envs.make("SafetyPointGoal1-v0")
    env.reset(seed=1)
    goal = env.positions("goal")[0]
    rng = np.random.default_rng(0)
    for _ in range(30):
        before = np.linalg.norm(env.positions("agent")[0] - goal)
        _, reward, _, _, _, info = env.step(rng.uniform(-1, 1, 2))
        after = np.linalg.norm(env.positions("agent")[0] - goal)
        if "goal_met" not in info:
            assert reward == pytest.approx(before - after, abs=1e-12)


def test_goal_bonus_and_redraw_without_ending_the_episode():
    env = envs.make("SafetyPointGoal1-v0")
    env.reset(seed=2)
    agent = env.positions("agent")[0]
    old_goal = agent + np.array([0.1, 0.0])  # within the goal's 0.3 radius
    env.data.mocap_pos[env.scene.mocap["goal"][0], :2] = old_goal
    env._goal_xy = old_goal.tolist()
    mujoco.mj_forward(env.model, env.data)
    env._last_dist_goal = env._dist_goal()
    _, reward, _, terminated, truncated, info = env.step(_still(env))
    assert info["goal_met"] is True
    assert 0.9 < reward < 1.1  # the +1 bonus plus a tiny distance change
    assert not terminated and not truncated
    new_goal = env.positions("goal")[0]
    assert np.linalg.norm(new_goal - old_goal) > 0  # re-drawn
    # The new goal respects the keepouts of everything placed (agent 0.4 + goal 0.305).
    assert np.linalg.norm(new_goal - env.positions("agent")[0]) >= 0.4 + 0.305 - 1e-9
    env.step(_still(env))  # the episode goes on


def test_pushing_the_box_onto_the_goal_pays_the_bonus():
    env = envs.make("SafetyPointPush0-v0")
    env.reset(seed=0)
    box = env.positions("push_box")[0]
    env.data.mocap_pos[env.scene.mocap["goal"][0], :2] = box
    mujoco.mj_forward(env.model, env.data)
    env._last_box_goal = env._dist_box_goal()
    _, reward, _, _, _, info = env.step(_still(env))
    assert info.get("goal_met") and reward > 0.9


def test_circle_boundary_cost():
    env = envs.make("SafetyPointCircle2-v0")
    env.reset(seed=0)
    adr = env.scene.agent_qpos
    for xy, expected in (((1.2, 0.0), 1.0), ((0.0, -1.2), 1.0), ((1.0, 1.0), 0.0)):
        env.data.qpos[adr[:2]] = xy
        env.data.qvel[:] = 0
        mujoco.mj_forward(env.model, env.data)
        _, _, cost, _, _, info = env.step(_still(env))
        assert info["cost_out_of_boundary"] == expected == cost
    level1 = envs.make("SafetyPointCircle1-v0")
    level1.reset(seed=0)
    level1.data.qpos[level1.scene.agent_qpos[:2]] = (0.0, 1.3)  # level 1 has walls at x = +-1.125 only
    mujoco.mj_forward(level1.model, level1.data)
    assert level1.step(_still(level1))[2] == 0.0


def test_episode_length_is_truncation():
    env = envs.make("SafetyPointCircle0-v0")
    env.reset(seed=0)
    for step in range(500):
        _, _, _, terminated, truncated, _ = env.step(_still(env))
        assert not terminated
        assert truncated == (step == 499)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(_still(env))


def test_same_seed_same_episode():
    def rollout():
        env = envs.make("SafetyPointButton1-v0")
        obs, _ = env.reset(seed=7)
        rng = np.random.default_rng(3)
        out = [obs]
        for _ in range(50):
            obs, reward, cost, *_ = env.step(rng.uniform(-1, 1, 2))
            out.append(np.r_[obs, reward, cost])
        return np.concatenate(out)

    np.testing.assert_array_equal(rollout(), rollout())
    env = envs.make("SafetyPointGoal2-v0")
    first, _ = env.reset(seed=1)
    other, _ = env.reset(seed=2)
    assert not np.array_equal(first, other)  # a new layout every reset


def test_placement_never_violates_keepouts():
    rng = np.random.default_rng(0)
    env = envs.make("SafetyPointGoal2-v0")
    for _ in range(20):
        env.reset(seed=int(rng.integers(1 << 30)))
        xy, keepout = env.keepout_pairs()
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
        need = keepout[:, None] + keepout[None]
        off_diagonal = ~np.eye(len(xy), dtype=bool)
        assert np.all(d[off_diagonal] >= need[off_diagonal])
        assert np.all(np.abs(xy) <= 2.0 - keepout[:, None] + 1e-12)  # inside the extents shrunk by keepout
    boxes = [(-1, -1, 1, 1)] * 3
    xy = sample_layout(rng, boxes, np.array([0.4, 0.3, 0.2]))
    assert np.linalg.norm(xy[0] - xy[1]) >= 0.7 and np.linalg.norm(xy[1] - xy[2]) >= 0.5


def test_lidar_reading_bins_and_aliasing():
    identity = np.eye(3)
    # An object 1.5 ahead (+x) in the middle of bin 0: reading (3 - 1.5)/3 = 0.5, half of it spills each way.
    angle = 0.5 * 2 * np.pi / 16
    pos = np.array([[1.5 * math.cos(angle), 1.5 * math.sin(angle)]])
    reading = pseudo_lidar(pos, np.array([0]), 1, np.zeros(3), identity)[0]
    assert reading[0] == pytest.approx(0.5)
    assert reading[1] == pytest.approx(0.25) and reading[15] == pytest.approx(0.25)
    assert np.count_nonzero(reading) == 3
    # Out of range (d >= 3) reads 0; the closest object wins a bin; rotating the agent rotates the bins.
    far = pseudo_lidar(np.array([[3.5, 0.0]]), np.array([0]), 1, np.zeros(3), identity)
    assert not far.any()
    two = pseudo_lidar(np.array([[1.0, 0.01], [2.0, 0.02]]), np.array([0, 0]), 1, np.zeros(3), identity)[0]
    assert two[0] == pytest.approx(2 / 3, abs=1e-2)
    quarter = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # agent facing +y
    turned = pseudo_lidar(np.array([[0.0, 1.5]]), np.array([0]), 1, np.zeros(3), quarter)[0]
    assert turned[0] > 0.45 or turned[15] > 0.45


def _touch_button(env, i, offset):
    """Move button ``i`` against the agent, at rest (the two spheres of radius 0.1 overlap by 0.01)."""
    env.data.mocap_pos[env.scene.mocap["buttons"][i], :2] = env.positions("agent")[0] + offset
    env.data.qvel[env.scene.agent_dof] = 0.0
    mujoco.mj_forward(env.model, env.data)


def test_button_timer_starts_at_zero_and_runs_for_ten_steps_after_each_press():
    env = envs.make("SafetyPointButton1-v0")
    obs, _ = env.reset(seed=0)
    block = dict(env.obs_layout)["buttons_lidar"]
    # Upstream's reset stops the timer (specific_reset after update_world): buttons visible, wrong
    # presses cost.
    assert obs[block].any()
    wrong = (env._goal_button + 1) % 4
    _touch_button(env, wrong, np.array([0.0, 0.19]))
    _, _, cost, _, _, info = env.step(_still(env))
    assert info["cost_buttons"] == 1.0 and cost == 1.0
    # Pressing the goal button draws a new one and starts the timer: the next 10 observations hide the buttons
    # and wrong presses are free while it runs.
    goal = env._goal_button
    home = env.positions("buttons")[goal]
    _touch_button(env, goal, np.array([0.0, -0.19]))
    obs, reward, _, _, _, info = env.step(_still(env))
    assert info["goal_met"] is True and reward > 0.9 and not obs[block].any()
    _touch_button(env, goal, home - env.positions("agent")[0])  # back where it was: no second press
    wrong = (env._goal_button + 1) % 4
    for step in range(10):
        _touch_button(env, wrong, np.array([0.19, 0.0]))
        obs, *_, info = env.step(_still(env))
        assert info["cost_buttons"] == 0.0
        assert obs[block].any() == (step == 9)
    _touch_button(env, wrong, np.array([0.19, 0.0]))
    assert env.step(_still(env))[-1]["cost_buttons"] == 1.0


def test_gremlins_keep_their_random_heading_while_they_circle():
    env = envs.make("SafetyPointButton2-v0")
    env.reset(seed=3)

    def headings():
        mat = env.data.xmat[env.scene.bodies["gremlins"]].reshape(-1, 3, 3)
        return np.arctan2(mat[:, 1, 0], mat[:, 0, 0])

    start = headings()
    assert np.ptp(start) > 0.5  # random headings, as upstream's layout draws them
    start_xy = env.positions("gremlins")
    for _ in range(50):
        env.step(_still(env))
    turned = np.angle(np.exp(1j * (headings() - start)))
    # Upstream welds each gremlin to its driver with the heading it was built with: it moves, not turns.
    assert np.abs(turned).max() < 0.05
    assert np.linalg.norm(env.positions("gremlins") - start_xy, axis=1).min() > 0.05


def test_out_of_range_actions_are_clipped_and_bad_actions_refused():
    a, b = envs.make("SafetyPointGoal0-v0"), envs.make("SafetyPointGoal0-v0")
    a.reset(seed=0)
    b.reset(seed=0)
    for _ in range(5):
        np.testing.assert_array_equal(a.step(np.array([5.0, -7.0]))[0], b.step(np.array([1.0, -1.0]))[0])
    with pytest.raises(ValueError, match="shape"):
        a.step(np.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        a.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        a.step(np.array([np.inf, 0.0]))
    fresh = envs.make("SafetyCarGoal1-v0")
    with pytest.raises(RuntimeError, match="reset"):
        fresh.step(np.zeros(2))


def test_ant_falls_over_and_terminates():
    env = envs.make("SafetyAntGoal0-v0")
    env.reset(seed=0)
    # Upstream spawns the Ant with its ankles near 90 degrees: standing, the torso well above 0.08.
    assert env.data.xpos[env.scene.agent_body, 2] > 0.1
    adr = env.scene.agent_qpos[0]
    env.data.qpos[adr + 2] = 0.063  # on its back: torso (radius 0.0625) on the floor, legs in the air
    env.data.qpos[adr + 3: adr + 7] = (0.0, 1.0, 0.0, 0.0)
    mujoco.mj_forward(env.model, env.data)
    _, _, _, terminated, truncated, _ = env.step(np.zeros(8))
    assert terminated and not truncated
