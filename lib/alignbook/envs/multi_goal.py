"""The MultiGoal tasks: Safety{Point,Ant}MultiGoal{0,1,2}-v0, two robots in one arena, each with its own goal.

Ids as upstream registers them (Safety-Gymnasium's ``safe_multi_agent`` MultiGoal; SafePO's
``multi_agent_goal_tasks`` uses Point and Ant). Upstream also registers Car, Doggo and Racecar ids, but ships no
two-robot model for them, so they fail to build there; they are not offered here.

The scene is the navigation tasks' (``alignbook.envs.world``: one compiled model, objects moved at reset) with
two copies of the robot, renamed apart (``agents.renamed``: agent_0's names end in ``_0``, agent_1's in ``_1``).
PettingZoo's parallel API with a cost per agent, as the multi-agent velocity tasks:

- ``obs, infos = env.reset(seed=None)``; ``obs, rewards, costs, terminations, truncations, infos =
  env.step(actions)``, ``actions`` a dict with exactly the keys ``agent_0`` and ``agent_1``, each of the
  robot's action shape (Point 2, Ant 8); wrong keys, shapes, NaN or inf are refused with ``ValueError`` before
  the physics runs, values outside the box are clipped (as upstream); ``step`` before the first ``reset`` or
  after the episode ended raises ``RuntimeError``;
- ``env.agents`` (both of ``env.possible_agents`` once reset, empty after the step that ends the episode),
  ``env.observation_spaces``, ``env.action_spaces``, ``env.state()``;
- ``make_multi_agent(task_id, api="pettingzoo")``: PettingZoo's own five-value ``step``, the cost in
  ``infos[agent]["cost"]`` (``alignbook.envs.pettingzoo_env``).

Semantics (upstream's, anchor ``multi-agent.md`` 1b):

- one step is ten physics steps; episode 1000 steps (truncation); terminated when either Ant's torso falls to
  0.08 m, or when no room is left to draw a new goal;
- agent i's reward: ``(d_prev - d_now) + 1[d_now <= 0.3]``, d the XY distance from robot i to its own goal
  (agent_0 red, agent_1 blue); the other colour pays nothing. A reached goal is redrawn (keepouts respected)
  and the episode goes on;
- levels: 0 -- the two goals, placement box [-1, 1]^2, no cost; 1 -- + 8 hazards (radius 0.2) and one vase
  that costs nothing, [-1.5, 1.5]^2; 2 -- 10 hazards and 10 vases (contact and velocity cost), [-2, 2]^2;
- agent i's cost terms (levels 1-2, in ``infos[agent]``, each binarised to 0/1): ``cost_hazards`` (robot i
  inside a hazard, depth summed), ``cost_contact_other`` (the two robots touch: 1 for both),
  ``cost_vases_contact`` (robot i touches a vase) and ``cost_vases_velocity`` (a vase moves at >= 1e-4 m/s
  and robot i was the last robot to touch it); the step's cost is 1 when any term is positive
  (``cost_sum``);
- observation, the same vector for both agents (upstream's: SafePO feeds it to every actor with a one-hot id):
  agent_0's block, then agent_1's; each block is the robot's sensors (the navigation tasks': Point 12, Ant 40)
  and 16-bin pseudo-lidars (range 3) of the red goal, the blue goal, the hazards and the vases, in that robot's
  frame (no lidar sees the other robot). Sizes: Point 88 (level 0) / 152 (levels 1-2), Ant 144 / 208.

Fixed upstream bugs (also stated in the chapter):

- Ant collision geometry: upstream finds each robot's geoms by slicing the model's geom list two at a time,
  which for the Ant gives agent_1 a leg of agent_0 -- so contact between the two Ants never registers, and
  agent_1's vase contacts are misattributed. Here each robot's geoms are found by its own names, so the
  contact costs hold for the Ant as for the Point (tests/test_envs_multi_agent.py places two Ants in contact).
- vase velocity: upstream charges a moving vase to a single "last toucher" that defaults to agent_0; here each
  vase remembers which robot touched it last. A vase no robot has touched this episode (set moving by another
  vase) is charged to the robot that touched any vase last, or to both when none has.
- a physics blow-up returns a reward per agent (upstream's exception path returns a scalar): reward -10 and
  cost 1 for both (``cost_exception``), then truncation, as the single-agent tasks.

Other differences, as for the single-agent navigation tasks: the scene is compiled once; random numbers come
from NumPy's PCG64; rewards are not clipped (upstream's clip never binds at this scale of reward).
"""

from __future__ import annotations

import math
import re
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from alignbook.envs.agents import AGENTS, renamed
from alignbook.envs.core import ActionBox, ActionScatter, ParallelEnv
from alignbook.envs.layout import ResamplingError, sample_layout, sample_one
from alignbook.envs.lidar import PseudoLidar
from alignbook.envs.navigation import (
    BAD_STATE,
    LIDAR_BINS,
    REWARD_EXCEPTION,
    SUBSTEPS,
    VASE_VELOCITY_THRESHOLD,
    RobotSensors,
    check_size,
    hazard_cost,
    place_robot,
    yaw_quats,
)
from alignbook.envs.tasks import MULTI_GOAL_SPECS
from alignbook.envs.world import ROLE_VASE, build_scene

MULTI_GOAL_ROBOTS = ("Point", "Ant")
_ID = re.compile(r"^Safety(?P<robot>[A-Za-z]+)MultiGoal(?P<level>\d)-v0$")
GOALS = ("goal_red", "goal_blue")  # agent i's goal
CONTACT_OTHER_COST = 1.0  # upstream's contact_other_cost at levels 1 and 2


def multi_goal_ids() -> list[str]:
    return [f"Safety{r}MultiGoal{level}-v0" for r in MULTI_GOAL_ROBOTS for level in MULTI_GOAL_SPECS]


class MultiGoalEnv(ParallelEnv):
    """Two robots, two goals (see the module docstring)."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, task_id: str, *, render_mode: str | None = None, width: int = 256, height: int = 256,
                 camera: str = "fixedfar"):
        match = _ID.match(task_id) if isinstance(task_id, str) else None
        if not match or match["robot"] not in MULTI_GOAL_ROBOTS or int(match["level"]) not in MULTI_GOAL_SPECS:
            raise ValueError(f"unknown MultiGoal task {task_id!r}; valid ids: {', '.join(multi_goal_ids())}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unknown render_mode {render_mode!r}; valid values are: None, 'rgb_array'")
        self.task_id, self.robot, self.level = task_id, match["robot"], int(match["level"])
        self.render_mode, self.size = render_mode, check_size((width, height), "width/height")
        self.spec = spec = MULTI_GOAL_SPECS[self.level]
        self.max_episode_steps = spec.episode_steps
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents = list(self.possible_agents)  # emptied when an episode ends (core.ParallelEnv)
        self.robot_specs = [renamed(AGENTS[self.robot], f"_{i}") for i in range(len(self.possible_agents))]
        self.scene = scene = build_scene(self.robot_specs, spec, (max(width, 640), max(height, 480)))
        model = self.model = scene.model
        self.data = mujoco.MjData(model)
        try:
            self.camera = model.camera(camera).id
        except KeyError:
            valid = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"unknown camera {camera!r}; valid cameras are: {', '.join(valid)}") from None
        self._renderer: mujoco.Renderer | None = None
        self._robots = scene.robots
        self._robot_bodies = [r.body for r in scene.robots]
        self._sensors = [RobotSensors(model, r, robot.sensor_adr)
                         for r, robot in zip(self.robot_specs, scene.robots, strict=True)]
        self._reset_pose = [[(int(model.joint(j).qposadr[0]), angle) for j, angle in r.reset_pose]
                            for r in self.robot_specs]
        self._alive_height = self.robot_specs[0].alive_height

        # Observation: one block per robot (its sensors, then its lidars).
        self.lidar_kinds = tuple(o.kind for o in spec.objects if o.lidar)
        self._lidar_bodies = np.concatenate([scene.bodies[k] for k in self.lidar_kinds])
        groups = np.concatenate([np.full(len(scene.bodies[k]), g) for g, k in enumerate(self.lidar_kinds)])
        self._lidar = PseudoLidar(groups, len(self.lidar_kinds), LIDAR_BINS, spec.lidar_max_dist)
        n_sensor = self._sensors[0].size
        self._block = n_sensor + LIDAR_BINS * len(self.lidar_kinds)
        self.obs_layout: list[tuple[str, slice]] = []
        for i, agent in enumerate(self.possible_agents):
            start = i * self._block
            names = self._sensors[i].layout + [(f"{k}_lidar", LIDAR_BINS) for k in self.lidar_kinds]
            for name, size in names:
                self.obs_layout.append((f"{agent}/{name}", slice(start, start + size)))
                start += size
        sensor_low = np.full(n_sensor, -np.inf)
        low = np.tile(np.concatenate([sensor_low, np.zeros(self._block - n_sensor)]), len(self.possible_agents))
        high = np.tile(np.concatenate([-sensor_low, np.ones(self._block - n_sensor)]), len(self.possible_agents))
        self.state_space = spaces.Box(low, high, dtype=np.float64)
        self.observation_spaces = {a: self.state_space for a in self.possible_agents}

        # Actions: the model's actuators are agent_0's, then agent_1's.
        ctrl = model.actuator_ctrlrange.astype(np.float32).astype(np.float64)
        n_act = model.nu // len(self.possible_agents)
        self.partition = [list(range(i * n_act, (i + 1) * n_act)) for i in range(len(self.possible_agents))]
        self.action_spaces = {a: spaces.Box(ctrl[p, 0], ctrl[p, 1], dtype=np.float64)
                              for a, p in zip(self.possible_agents, self.partition, strict=True)}
        self._box = ActionBox(ctrl[:, 0], ctrl[:, 1])
        self._scatter = ActionScatter(task_id, self.possible_agents, self.partition, model.nu)

        # Costs.
        self._hazards, self._vases = spec.get("hazards"), spec.get("vases")
        terms = []
        if self.level > 0:
            terms += ["cost_hazards", "cost_contact_other"]
        if self._vases is not None and self._vases.constrained:
            terms += ["cost_vases_contact", "cost_vases_velocity"]
        self.cost_terms = tuple(terms)
        if self._vases is not None:
            self._vase_dofs = scene.free_dof["vases"][:, None] + np.arange(3)
            self._vase_of_geom = np.full(model.ngeom, -1)
            for v, body in enumerate(scene.bodies["vases"]):
                first = model.body_geomadr[body]
                self._vase_of_geom[first: first + model.body_geomnum[body]] = v

        # Placement: the two robots, then every object in declaration order.
        e = spec.extents
        boxes = [(-e, -e, e, e)] * len(self.possible_agents)
        keepouts = [spec.agent_keepout] * len(self.possible_agents)
        self._slots: dict[str, list[int]] = {}
        for obj in spec.objects:
            self._slots[obj.kind] = list(range(len(boxes), len(boxes) + obj.num))
            boxes += [(-e, -e, e, e)] * obj.num
            keepouts += [obj.keepout] * obj.num
        self._boxes, self._keepouts = boxes, np.array(keepouts)
        self._goal_mocap = [int(scene.mocap[g][0]) for g in GOALS]
        self._rng = np.random.default_rng()

    # -- the PettingZoo-style API (the accessors are ParallelEnv's) ------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
            self._rng = np.random.default_rng(int(seed))
        rng, model, data, scene = self._rng, self.model, self.data, self.scene
        mujoco.mj_resetData(model, data)
        self._layout = xy = sample_layout(rng, self._boxes, self._keepouts)
        for i, (spec, robot) in enumerate(zip(self.robot_specs, self._robots, strict=True)):
            place_robot(data, spec, robot.qpos, xy[i], rng.uniform(0.0, 2.0 * np.pi))
        for obj in self.spec.objects:
            pos = xy[self._slots[obj.kind]]
            if obj.kind in scene.mocap:
                data.mocap_pos[scene.mocap[obj.kind], :2] = pos
            if obj.kind in scene.free_qpos:
                adr = scene.free_qpos[obj.kind]
                data.qpos[adr] = pos[:, 0]
                data.qpos[adr + 1] = pos[:, 1]
                data.qpos[adr[:, None] + np.arange(3, 7)] = yaw_quats(rng.uniform(0.0, 2.0 * np.pi, obj.num))
        self._hazard_list = xy[self._slots["hazards"]].tolist() if self._hazards is not None else []
        for pose in self._reset_pose:  # the Ant's spawning pose, as the single-agent tasks
            for adr, angle in pose:
                data.qpos[adr] = angle + rng.uniform(-0.1, 0.1)
        mujoco.mj_forward(model, data)
        self._goal_xy = [xy[self._slots[g][0]].tolist() for g in GOALS]
        self._last_dist = [self._dist_goal(i) for i in range(len(self.possible_agents))]
        n_vases = self._vases.num if self._vases is not None else 0
        self._vase_toucher, self._last_toucher = np.full(n_vases, -1), -1
        self._warnings = int(data.warning.number[BAD_STATE].sum())
        self._steps = 0
        self._start()
        self._state = self._observation()
        return {a: self._state.copy() for a in self.possible_agents}, {a: {} for a in self.possible_agents}

    def step(self, actions: dict):
        self._running()
        joint = self._box(self._scatter(actions))  # clipped as upstream, or None when it holds NaN or inf
        if joint is None:
            raise self._scatter.nonfinite(actions)
        model, data = self.model, self.data
        data.ctrl[:] = joint
        mujoco.mj_step(model, data, nstep=SUBSTEPS)
        mujoco.mj_forward(model, data)  # positions, contacts and sensors of the state we report
        self._steps += 1
        truncated = self._steps >= self.max_episode_steps
        n = len(self.possible_agents)
        warnings = int(data.warning.number[BAD_STATE].sum())
        if warnings != self._warnings:  # MuJoCo reset a diverging simulation: upstream's exception case
            self._warnings = warnings
            info = {"cost_exception": 1.0, "cost_sum": 1.0, **{t: 0.0 for t in self.cost_terms}}
            rewards, costs, terminated, truncated = [REWARD_EXCEPTION] * n, [1.0] * n, False, True
            infos = [dict(info) for _ in range(n)]
        else:
            rewards, achieved = self._rewards()
            terms = self.cost_terms_now()
            infos = [{name: float(value > 0.0) for name, value in t.items()} for t in terms]
            costs = [float(sum(t.values()) > 0.0) for t in terms]
            for info, cost in zip(infos, costs, strict=True):
                info["cost_sum"] = cost
            terminated = self._alive_height is not None and bool(
                (data.xpos[self._robot_bodies, 2] <= self._alive_height).any())
            for i in np.flatnonzero(achieved):
                infos[i]["goal_met"] = True
                try:
                    self._redraw_goal(int(i))
                except ResamplingError:
                    terminated = True
        per = self.agents  # those that acted: every agent (the episode ends for both at once)
        self._finish(terminated or truncated)
        self._state = self._observation()
        return ({a: self._state.copy() for a in per}, dict(zip(per, rewards, strict=True)),
                dict(zip(per, costs, strict=True)), {a: terminated for a in per}, {a: truncated for a in per},
                dict(zip(per, infos, strict=True)))

    # -- reward and goals ------------------------------------------------------------------------------------
    def _dist_goal(self, i: int) -> float:
        x, y = self.data.xpos[self._robot_bodies[i], :2].tolist()
        gx, gy = self._goal_xy[i]
        return math.hypot(gx - x, gy - y)

    def _rewards(self) -> tuple[list[float], np.ndarray]:
        size = self.spec.get(GOALS[0]).size
        rewards, achieved = [], np.zeros(len(self.possible_agents), dtype=bool)
        for i in range(len(self.possible_agents)):
            dist = self._dist_goal(i)
            achieved[i] = dist <= size
            rewards.append(self._last_dist[i] - dist + float(achieved[i]))
            self._last_dist[i] = dist
        return rewards, achieved

    def _redraw_goal(self, i: int) -> None:
        """A new place for agent i's goal, clear of everything else as it stands now."""
        layout = self._layout
        layout[: len(self.possible_agents)] = self.data.xpos[self._robot_bodies, :2]
        if self._vases is not None:
            layout[self._slots["vases"]] = self.data.xpos[self.scene.bodies["vases"], :2]
        slot = self._slots[GOALS[i]][0]
        others = np.ones(len(layout), dtype=bool)
        others[slot] = False
        xy = sample_one(self._rng, self._boxes[slot], self._keepouts[slot], layout[others], self._keepouts[others])
        layout[slot] = xy
        self._goal_xy[i] = xy.tolist()
        self.data.mocap_pos[self._goal_mocap[i], :2] = xy
        mujoco.mj_forward(self.model, self.data)
        self._last_dist[i] = self._dist_goal(i)

    # -- costs -----------------------------------------------------------------------------------------------
    def cost_terms_now(self) -> list[dict[str, float]]:
        """Each agent's raw cost terms (before binarisation) in the current state; also records which robot
        touched which vase (for the vase velocity cost)."""
        n = len(self.possible_agents)
        terms: list[dict[str, float]] = [{} for _ in range(n)]
        if not self.cost_terms:
            return terms
        geom = self.data.contact.geom  # (ncon, 2)
        owner, role = self.scene.geom_agent[geom], self.scene.geom_role[geom]
        robots_touch = bool(((owner[:, 0] >= 0) & (owner[:, 1] >= 0) & (owner[:, 0] != owner[:, 1])).any())
        for i in range(n):
            xy = self.data.xpos[self._robot_bodies[i], :2].tolist()
            terms[i]["cost_hazards"] = hazard_cost(xy, self._hazard_list, self._hazards.size)
            terms[i]["cost_contact_other"] = CONTACT_OTHER_COST * robots_touch
        if self._vases is None:
            return terms
        # Per contact: the robot on one side and whatever is on the other side.
        first = owner[:, 0] >= 0
        robot = np.where(first, owner[:, 0], owner[:, 1])
        other = np.where(first, geom[:, 1], geom[:, 0])
        other_role = np.where(first, role[:, 1], role[:, 0])
        vase = np.where((robot >= 0) & (other_role == ROLE_VASE), self._vase_of_geom[other], -1)
        for i in range(n):
            touched = vase[(robot == i) & (vase >= 0)]  # one entry per contact of robot i with a vase
            if len(touched):
                self._vase_toucher[touched] = i
                self._last_toucher = i
            if self._vases.constrained:
                terms[i]["cost_vases_contact"] = float(len(touched))
        if self._vases.constrained:
            speed = np.linalg.norm(self.data.qvel[self._vase_dofs], axis=1)
            moving = np.flatnonzero(speed >= VASE_VELOCITY_THRESHOLD)
            charged = np.where(self._vase_toucher[moving] >= 0, self._vase_toucher[moving], self._last_toucher)
            for i in range(n):
                terms[i]["cost_vases_velocity"] = float(speed[moving][(charged == i) | (charged < 0)].sum())
        return terms

    # -- observation and rendering ---------------------------------------------------------------------------
    def _observation(self) -> np.ndarray:
        data = self.data
        obs = np.empty(self._block * len(self.possible_agents))
        objects = data.xpos[self._lidar_bodies]
        for i, body in enumerate(self._robot_bodies):
            start = i * self._block
            sensors = self._sensors[i]
            sensors.read(data.sensordata, obs[start: start + sensors.size])
            lidar = self._lidar(objects, data.xpos[body], data.xmat[body].reshape(3, 3))
            obs[start + sensors.size: start + self._block] = lidar.ravel()
        return obs

    def positions(self, kind: str) -> np.ndarray:
        """World XY of every object of ``kind``, or of the robots (``kind="agents"``), right now."""
        bodies = self._robot_bodies if kind == "agents" else self.scene.bodies[kind]
        return self.data.xpos[bodies, :2].copy()

    def render(self) -> np.ndarray:
        if self.render_mode != "rgb_array":
            raise RuntimeError(f"{self.task_id}: make the task with render_mode='rgb_array' to render it")
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height=self.size[1], width=self.size[0])
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __repr__(self) -> str:
        return f"<MultiGoalEnv {self.task_id}>"
