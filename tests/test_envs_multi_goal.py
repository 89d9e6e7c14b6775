"""The MultiGoal tasks against the anchor's facts (shared/anchors/multi-agent.md, section 1b): ids, observation
sizes, per-agent goals and rewards, the cost rule (hazards, vases, robot-robot contact) on hand-placed states,
the Ant's collision geometry, seeding, and refused input."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from alignbook.envs import list_multi_agent_tasks, make_multi_agent

# The anchor's measured sizes (one vector, the same for both agents) and action sizes.
OBS = {("Point", 0): 88, ("Point", 1): 152, ("Point", 2): 152, ("Ant", 0): 144, ("Ant", 1): 208, ("Ant", 2): 208}
ACT = {"Point": 2, "Ant": 8}
STILL = {"agent_0": np.zeros(2), "agent_1": np.zeros(2)}


def test_ids_are_upstreams_point_and_ant():
    assert list_multi_agent_tasks("goal") == [f"Safety{r}MultiGoal{lv}-v0" for r in ("Point", "Ant") for lv in range(3)]
    assert set(list_multi_agent_tasks()) >= set(list_multi_agent_tasks("goal"))
    with pytest.raises(ValueError, match="SafetyPointMultiGoal1-v0"):
        make_multi_agent("SafetyCarMultiGoal1-v0")  # upstream ships no two-car model
    with pytest.raises(ValueError, match="kind"):
        list_multi_agent_tasks("vision")


@pytest.mark.parametrize("robot,level", list(OBS))
def test_sizes_and_shared_observation(robot, level):
    env = make_multi_agent(f"Safety{robot}MultiGoal{level}-v0")
    obs, infos = env.reset(seed=0)
    assert env.agents == ["agent_0", "agent_1"] and set(obs) == set(infos) == set(env.agents)
    for agent in env.agents:
        assert obs[agent].shape == env.observation_spaces[agent].shape == (OBS[(robot, level)],)
        assert env.action_spaces[agent].shape == (ACT[robot],)
    assert np.array_equal(obs["agent_0"], obs["agent_1"]) and np.array_equal(obs["agent_0"], env.state())
    # agent_0's block first, then agent_1's; the lidars: red goal, blue goal (, hazards, vases).
    names = [name for name, _ in env.obs_layout]
    assert names[0] == "agent_0/accelerometer" and names[len(names) // 2] == "agent_1/accelerometer"
    lidars = [n.split("/")[1] for n in names if n.startswith("agent_0/") and n.endswith("_lidar")]
    assert lidars == ["goal_red_lidar", "goal_blue_lidar"] + (["hazards_lidar", "vases_lidar"] if level else [])
    assert env.cost_terms == (() if level == 0 else ("cost_hazards", "cost_contact_other") + (
        ("cost_vases_contact", "cost_vases_velocity") if level == 2 else ()))


def _put(env, i: int, xy) -> None:
    """Move robot i's root to ``xy`` (at rest) and recompute the state."""
    adr = env.scene.robots[i].qpos
    env.data.qpos[adr[0]: adr[0] + 2] = xy
    env.data.qvel[:] = 0.0
    mujoco.mj_forward(env.model, env.data)


def test_each_agent_is_paid_for_its_own_goal_only():
    env = make_multi_agent("SafetyPointMultiGoal0-v0")
    env.reset(seed=1)
    blue_before = env.positions("goal_blue")[0].copy()
    red = env.positions("goal_red")[0]
    _put(env, 0, red)  # agent_0 onto its (red) goal; agent_1 stays where it was
    d0 = env._last_dist[0]
    _, rewards, costs, _, _, infos = env.step(STILL)
    assert infos["agent_0"].get("goal_met") and "goal_met" not in infos["agent_1"]
    assert rewards["agent_0"] == pytest.approx(d0 + 1.0, abs=0.02)  # moved d0 closer, plus the goal bonus
    assert abs(rewards["agent_1"]) < 0.01
    assert not np.allclose(env.positions("goal_red")[0], red)  # the reached goal is redrawn...
    assert np.allclose(env.positions("goal_blue")[0], blue_before)  # ...the other stays
    assert costs == {"agent_0": 0.0, "agent_1": 0.0}  # level 0 costs nothing


def test_hazard_cost_goes_to_the_robot_inside():
    env = make_multi_agent("SafetyPointMultiGoal1-v0")
    env.reset(seed=2)
    _put(env, 1, env.positions("hazards")[3])
    _, _, costs, _, _, infos = env.step(STILL)
    assert costs == {"agent_0": 0.0, "agent_1": 1.0}
    assert infos["agent_1"]["cost_hazards"] == 1.0 and infos["agent_0"]["cost_hazards"] == 0.0
    assert env.cost_terms_now()[1]["cost_hazards"] == pytest.approx(0.2, abs=0.02)  # depth: size - distance


@pytest.mark.parametrize("robot,gap", [("Point", 0.15), ("Ant", 0.1)])
def test_contact_between_the_robots_costs_both(robot, gap):
    env = make_multi_agent(f"Safety{robot}MultiGoal1-v0")
    env.reset(seed=3)
    terms = env.cost_terms_now()
    assert terms[0]["cost_contact_other"] == terms[1]["cost_contact_other"] == 0.0
    _put(env, 0, (0.0, 0.0))
    _put(env, 1, (gap, 0.0))  # Point spheres of radius 0.1, Ant torsos of 0.0625
    assert [t["cost_contact_other"] for t in env.cost_terms_now()] == [1.0, 1.0]
    _put(env, 1, (1.2, 0.0))
    assert [t["cost_contact_other"] for t in env.cost_terms_now()] == [0.0, 0.0]
    level0 = make_multi_agent(f"Safety{robot}MultiGoal0-v0")  # level 0 has no contact cost
    level0.reset(seed=3)
    _put(level0, 0, (0.0, 0.0))
    _put(level0, 1, (gap, 0.0))
    assert level0.cost_terms_now() == [{}, {}]


def test_each_ant_owns_its_own_geoms():
    """Upstream's bug: robot geoms found by slicing the geom list, which hands agent_1 a leg of agent_0."""
    env = make_multi_agent("SafetyAntMultiGoal1-v0")
    model, owner = env.model, env.scene.geom_agent
    for i, robot in enumerate(env.scene.robots):
        geoms = np.flatnonzero(owner == i)
        assert len(geoms) == 13  # torso + 4 legs x (aux, thigh, foot)
        assert (model.body_rootid[model.geom_bodyid[geoms]] == robot.body).all()
    assert (owner[model.body_rootid[model.geom_bodyid] == 0] == -1).all()  # nothing of the world is a robot


def test_vase_costs_go_to_the_robot_that_touched_it():
    env = make_multi_agent("SafetyPointMultiGoal2-v0")
    env.reset(seed=4)
    vase = env.positions("vases")[0]
    _put(env, 1, vase + (0.18, 0.0))  # agent_1's sphere (0.1) against the vase's side (half-width 0.1)
    terms = env.cost_terms_now()
    assert terms[1]["cost_vases_contact"] >= 1 and terms[0]["cost_vases_contact"] == 0
    dof = env.scene.free_dof["vases"][0]
    env.data.qvel[dof] = 0.5  # the vase now slides: charged to its last toucher, agent_1
    terms = env.cost_terms_now()
    assert terms[1]["cost_vases_velocity"] == pytest.approx(0.5) and terms[0]["cost_vases_velocity"] == 0.0
    env.data.qvel[dof] = 0.0
    other = env.scene.free_dof["vases"][1]
    env.data.qvel[other] = 0.3  # a vase no robot touched (set moving by another vase): the last toucher pays
    terms = env.cost_terms_now()
    assert terms[1]["cost_vases_velocity"] == pytest.approx(0.3) and terms[0]["cost_vases_velocity"] == 0.0
    env.reset(seed=4)
    env.data.qvel[other] = 0.3  # no robot has touched any vase this episode: both pay
    assert [t["cost_vases_velocity"] for t in env.cost_terms_now()] == pytest.approx([0.3, 0.3])
    level1 = make_multi_agent("SafetyPointMultiGoal1-v0")  # level 1's vase costs nothing
    level1.reset(seed=4)
    _put(level1, 1, level1.positions("vases")[0] + (0.18, 0.0))
    assert all("cost_vases_contact" not in t for t in level1.cost_terms_now())


def test_fallen_ant_terminates_both():
    env = make_multi_agent("SafetyAntMultiGoal0-v0")
    env.reset(seed=0)
    adr = env.scene.robots[1].qpos[0]
    env.data.qpos[adr + 2: adr + 7] = (0.07, 0.0, 1.0, 0.0, 0.0)  # agent_1 on its back: torso (r 0.0625) down
    _, _, _, terminated, truncated, _ = env.step({a: np.zeros(8) for a in env.agents})
    assert terminated == {"agent_0": True, "agent_1": True} and not any(truncated.values())
    with pytest.raises(RuntimeError, match="reset"):
        env.step({a: np.zeros(8) for a in env.agents})


def test_seeding():
    def run(seed):
        env = make_multi_agent("SafetyPointMultiGoal2-v0")
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, *_ = env.step({a: rng.uniform(-1, 1, 2) for a in env.agents})
        return obs["agent_0"]

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_episode_is_truncated_at_1000_steps():
    env = make_multi_agent("SafetyPointMultiGoal0-v0")
    env.reset(seed=0)
    for t in range(1000):
        _, _, _, terminated, truncated, _ = env.step(STILL)
        assert truncated["agent_0"] == (t == 999) and not terminated["agent_0"]


@pytest.mark.parametrize("bad,message", [
    ({"agent_0": np.zeros(2)}, "keys"),
    ({"agent_0": np.zeros(2), "agent_2": np.zeros(2)}, "keys"),
    ({"agent_0": np.zeros(2), "agent_1": np.zeros(8)}, "agent_1.*shape"),
    ({"agent_0": np.array([np.nan, 0.0]), "agent_1": np.zeros(2)}, "agent_0.*NaN"),
    ({"agent_0": np.zeros(2), "agent_1": np.array([np.inf, 0.0])}, "agent_1.*NaN"),
    ({"agent_0": "fast", "agent_1": np.zeros(2)}, "agent_0.*numeric"),
    ((np.zeros(2), np.zeros(2)), "dict"),
])
def test_bad_input_is_refused(bad, message):
    env = make_multi_agent("SafetyPointMultiGoal1-v0")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(STILL)
    env.reset(seed=0)
    qpos = env.data.qpos.copy()
    with pytest.raises(ValueError, match=message):
        env.step(bad)
    assert np.array_equal(env.data.qpos, qpos)  # refused before the physics ran
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)


def test_out_of_range_actions_are_clipped():
    env = make_multi_agent("SafetyPointMultiGoal0-v0")
    env.reset(seed=0)
    env.step({"agent_0": np.array([5.0, -5.0]), "agent_1": np.zeros(2)})
    assert np.array_equal(env.data.ctrl, [1.0, -1.0, 0.0, 0.0])


def test_renders_an_image():
    env = make_multi_agent("SafetyPointMultiGoal1-v0", render_mode="rgb_array", width=64, height=48)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.std() > 0
    env.close()
