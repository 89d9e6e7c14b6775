"""Build one navigation scene as MJCF and compile it once.

Upstream regenerates and recompiles the whole MJCF document at every reset (the new layout is baked into the
XML). Here the scene is compiled once per environment with every object the task will ever hold; a reset only
writes positions: ``mocap_pos`` for objects that never move on their own (goal, hazards, pillars, buttons, and
the drivers of the gremlins) and ``qpos`` for free bodies (vases, the push box, the gremlins' bodies, the agent).

Collision bits keep the cheap things cheap: fixed obstacles (contype 2) collide with the agent and free bodies
(contype 3) but not with the floor (contype 1), so no contact is computed between two immovable things.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from alignbook.envs.agents import SITE_SENSORS, AgentSpec
from alignbook.envs.tasks import TaskSpec

# RGBA colours as upstream (they matter for the vision tasks: a policy learns from these pixels).
COLOURS = {
    "goal": (0.0, 1.0, 0.0, 0.25), "hazards": (0.0, 0.0, 1.0, 0.25), "vases": (0.0, 1.0, 1.0, 1.0),
    "pillars": (0.5, 0.5, 1.0, 1.0), "buttons": (1.0, 0.5, 0.0, 1.0), "gremlins": (0.5, 0.0, 1.0, 1.0),
    "push_box": (1.0, 1.0, 0.0, 0.25), "circle": (0.0, 1.0, 0.0, 0.1), "sigwalls": (1.0, 1.0, 0.0, 0.1),
    "goal_red": (1.0, 0.0, 0.0, 0.25), "goal_blue": (0.0, 0.0, 1.0, 0.25),  # the multi-agent goals
}
GOAL_KINDS = ("goal", "goal_red", "goal_blue")
FLOOR_HALF_SIZE = 3.5
# Vases rest on the floor; MuJoCo's soft contact lets them sink a little. Placing them at their resting height
# keeps them still after a reset, so that the vase velocity cost (threshold 1e-4 m/s) does not fire by itself.
VASE_SINK = 4e-5

STATIC, FREE = "2", "3"  # contype/conaffinity bit patterns (see the module docstring)
# MuJoCo's sleeping islands (bodies at rest stop being simulated until something touches them) make the
# cluttered levels several times faster; older MuJoCo versions without the feature simply simulate everything.
SLEEP = hasattr(mujoco.mjtEnableBit, "mjENBL_SLEEP")


def _rgba(kind: str, alpha: float | None = None) -> str:
    r, g, b, a = COLOURS[kind]
    return f"{r} {g} {b} {a if alpha is None else alpha}"


@dataclass
class Robot:
    """Where one robot lives in the compiled model."""

    body: int
    qpos: np.ndarray  # qpos addresses of the robot's root joint(s)
    dof: np.ndarray
    sensor_adr: int  # where its sensors start in sensordata (the four site sensors first)


@dataclass
class Scene:
    """The compiled model and the indices a step needs, so that no name is looked up after construction."""

    model: mujoco.MjModel
    xml: str
    robots: list[Robot]  # one per agent (the navigation tasks have one)
    bodies: dict[str, np.ndarray]  # kind -> body ids (for gremlins: their free bodies)
    mocap: dict[str, np.ndarray]  # kind -> mocap ids (for gremlins: their drivers)
    free_qpos: dict[str, np.ndarray]  # kind -> qpos address of each free body's joint
    free_dof: dict[str, np.ndarray]
    geom_role: np.ndarray  # per geom: 0 other, 1 agent, 2 vase, 3 pillar, 4 gremlin, 10 + i button i
    geom_agent: np.ndarray  # per geom: the index of the robot it belongs to, -1 for the rest of the world

    # The single robot of the navigation tasks.
    @property
    def agent_body(self) -> int:
        return self.robots[0].body

    @property
    def agent_qpos(self) -> np.ndarray:
        return self.robots[0].qpos

    @property
    def agent_dof(self) -> np.ndarray:
        return self.robots[0].dof


ROLE_AGENT, ROLE_VASE, ROLE_PILLAR, ROLE_GREMLIN, ROLE_BUTTON = 1, 2, 3, 4, 10


def scene_xml(agent: AgentSpec | Sequence[AgentSpec], spec: TaskSpec, offscreen: tuple[int, int] = (640, 480)) -> str:
    """The MJCF document of one task; objects sit at the origin until a reset places them. ``agent``: one
    robot, or several (renamed apart, see ``agents.renamed``) that share the scene."""
    robots = (agent,) if isinstance(agent, AgentSpec) else tuple(agent)
    agent = robots[0]  # the robots are copies of one: its physics settings are the scene's
    parts: list[str] = []
    for obj in spec.objects:
        colour = _rgba(obj.kind)
        if obj.kind in GOAL_KINDS:
            parts.append(
                f'<body name="{obj.kind}" mocap="true" pos="0 0 {obj.size / 2 + 0.01}"><geom name="{obj.kind}" '
                f'type="cylinder" size="{obj.size} {obj.size / 2}" contype="0" conaffinity="0" rgba="{colour}"/>'
                f"</body>"
            )
        elif obj.kind == "hazards":
            parts += [
                f'<body name="hazard{i}" mocap="true" pos="0 0 0.02"><geom name="hazard{i}" type="cylinder" '
                f'size="{obj.size} 0.01" contype="0" conaffinity="0" rgba="{colour}"/></body>'
                for i in range(obj.num)
            ]
        elif obj.kind == "pillars":
            parts += [
                f'<body name="pillar{i}" mocap="true" pos="0 0 0.5"><geom name="pillar{i}" type="cylinder" '
                f'size="{obj.size} 0.5" contype="{STATIC}" conaffinity="{STATIC}" rgba="{colour}"/></body>'
                for i in range(obj.num)
            ]
        elif obj.kind == "buttons":
            parts += [
                f'<body name="button{i}" mocap="true" pos="0 0 {obj.size}"><geom name="button{i}" '
                f'type="sphere" size="{obj.size}" contype="{STATIC}" conaffinity="{STATIC}" rgba="{colour}"/>'
                f"</body>"
                for i in range(obj.num)
            ]
        elif obj.kind == "vases":
            parts += [
                f'<body name="vase{i}" pos="0 0 {obj.size - VASE_SINK}"><freejoint name="vase{i}"/>'
                f'<geom name="vase{i}" type="box" size="{obj.size} {obj.size} {obj.size}" density="0.001" '
                f'contype="{FREE}" conaffinity="{FREE}" rgba="{colour}"/></body>'
                for i in range(obj.num)
            ]
        elif obj.kind == "gremlins":
            # A light free box held by a soft weld to an invisible driver that circles the gremlin's centre.
            for i in range(obj.num):
                parts.append(
                    f'<body name="gremlin{i}" pos="0 0 {obj.size}"><freejoint name="gremlin{i}"/>'
                    f'<geom name="gremlin{i}" type="box" size="{obj.size} {obj.size} {obj.size}" '
                    f'density="0.001" contype="{FREE}" conaffinity="{FREE}" rgba="{colour}"/></body>'
                    f'<body name="gremlin{i}_driver" mocap="true" pos="0 0 {obj.size}">'
                    f'<geom type="box" size="{obj.size} {obj.size} {obj.size}" contype="0" conaffinity="0" '
                    f'rgba="{_rgba("gremlins", 0.1)}"/></body>'
                )
        elif obj.kind == "push_box":
            s = agent.push_box_size
            w = s / 2
            geom = f'type="box" density="{agent.push_box_density}" contype="{FREE}" conaffinity="{FREE}"'
            # Upstream's box: a cube with four square columns at its corners, so that it rolls less easily.
            corners = "".join(
                f'<geom name="push_box_corner{k}" {geom} size="{w} {w} {s}" pos="{sx * s} {sy * s} 0" '
                f'rgba="{colour}"/>'
                for k, (sx, sy) in enumerate(((1, 1), (-1, 1), (1, -1), (-1, -1)))
            )
            parts.append(
                f'<body name="push_box" pos="0 0 {s}"><freejoint name="push_box"/>'
                f'<geom name="push_box" {geom} size="{s} {s} {s}" rgba="{colour}"/>{corners}</body>'
            )
        elif obj.kind == "circle":
            parts.append(
                f'<body name="circle" pos="0 0 0.01"><geom name="circle" type="cylinder" '
                f'size="{obj.size} 0.01" contype="0" conaffinity="0" rgba="{colour}"/></body>'
            )
        elif obj.kind == "sigwalls":
            quarter = np.pi / 2
            walls = [(obj.size, 0, 0), (-obj.size, 0, 0), (0, obj.size, quarter), (0, -obj.size, quarter)][: obj.num]
            parts += [
                f'<body name="sigwall{i}" pos="{x} {y} 0.25" euler="0 0 {deg}"><geom name="sigwall{i}" '
                f'type="box" size="0.05 {FLOOR_HALF_SIZE} 0.3" contype="0" conaffinity="0" rgba="{colour}"/>'
                f"</body>"
                for i, (x, y, deg) in enumerate(walls)
            ]
        else:
            raise ValueError(f"unknown object kind {obj.kind!r}")
    # Each robot's sensors in one block: its four site sensors, then its joint sensors.
    sensors = "".join(
        "".join(f'<{s} site="agent{r.suffix}" name="{s}{r.suffix}"/>' for s in SITE_SENSORS) + r.joint_sensors
        for r in robots)
    bodies = "".join(r.body if SLEEP else r.body.replace(' sleep="never"', '') for r in robots)
    width, height = offscreen
    return f"""<mujoco model="alignbook-{agent.name}{spec.task}{spec.level}">
  <compiler angle="radian"/>
  <option timestep="{agent.timestep}" integrator="{agent.integrator}">{'<flag sleep="enable"/>' if SLEEP else ''}</option>
  <visual><global offwidth="{width}" offheight="{height}"/><quality shadowsize="0"/></visual>
  <default>{agent.defaults}</default>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.55 0.65 0.8" rgb2="0.1 0.1 0.15" width="64" height="64"/>
    <texture name="mat" type="2d" builtin="checker" rgb1="0.92 0.92 0.9" rgb2="0.82 0.82 0.8" width="256" height="256"/>
    <material name="mat" texture="mat" texrepeat="7 7"/>
  </asset>
  <worldbody>
    <light directional="true" diffuse="1 1 1" specular="0 0 0" pos="0 0 4" dir="0 0 -1" castshadow="false"/>
    <geom name="floor" type="plane" size="{FLOOR_HALF_SIZE} {FLOOR_HALF_SIZE} 0.1" material="mat" condim="6"
          contype="1" conaffinity="1"/>
    <camera name="fixednear" pos="0 -2 2" zaxis="0 -1 1"/>
    <camera name="fixedfar" pos="0 -5 5" zaxis="0 -1 1"/>
    <camera name="overhead" pos="0 0 5.5" xyaxes="1 0 0 0 1 0" fovy="55"/>
    {bodies}
    {"".join(parts)}
  </worldbody>
  {"<equality>" + "".join(
        f'<weld body1="gremlin{i}_driver" body2="gremlin{i}" solref="0.02 1.5"/>'
        for i in range(spec.get("gremlins").num)) + "</equality>" if spec.get("gremlins") else ""}
  <sensor>{sensors}</sensor>
  <actuator>{"".join(r.actuators for r in robots)}</actuator>{"".join(r.extra for r in robots)}
</mujoco>"""


def build_scene(agent: AgentSpec | Sequence[AgentSpec], spec: TaskSpec,
                offscreen: tuple[int, int] = (640, 480)) -> Scene:
    robots = (agent,) if isinstance(agent, AgentSpec) else tuple(agent)
    xml = scene_xml(robots, spec, offscreen)
    model = mujoco.MjModel.from_xml_string(xml)
    if robots[0].vision_near is not None:  # MuJoCo's near plane is a fraction of the model's extent
        model.vis.map.znear = robots[0].vision_near / model.stat.extent
    # The robots' geoms collide with everything: floor (bit 1), obstacles (bit 2) and each other. They are
    # found by name, each robot's own, never by position in the geom list (upstream's multi-agent Ant bug).
    geoms_of = [[model.geom(name).id for name in r.geom_names] for r in robots]
    agent_geoms = [g for geoms in geoms_of for g in geoms]
    model.geom_contype[agent_geoms] = 3
    model.geom_conaffinity[agent_geoms] = 3
    # The broad phase filters by the union of each body's geom bits, computed at compile time: update it too.
    agent_bodies = model.geom_bodyid[agent_geoms]
    model.body_contype[agent_bodies] |= 3
    model.body_conaffinity[agent_bodies] |= 3

    def body_ids(fmt: str, n: int) -> np.ndarray:
        return np.array([model.body(fmt.format(i)).id for i in range(n)], dtype=np.int64)

    names = {"goal": "goal", "goal_red": "goal_red", "goal_blue": "goal_blue", "hazards": "hazard{}", "vases": "vase{}", "pillars": "pillar{}",
             "buttons": "button{}", "gremlins": "gremlin{}", "push_box": "push_box", "circle": "circle",
             "sigwalls": "sigwall{}"}
    bodies, mocap, free_qpos, free_dof = {}, {}, {}, {}
    for obj in spec.objects:
        ids = body_ids(names[obj.kind], obj.num)
        bodies[obj.kind] = ids
        if obj.kind in GOAL_KINDS + ("hazards", "pillars", "buttons"):
            mocap[obj.kind] = model.body_mocapid[ids]
        if obj.kind == "gremlins":
            mocap[obj.kind] = model.body_mocapid[body_ids("gremlin{}_driver", obj.num)]
        if obj.kind in ("vases", "gremlins", "push_box"):
            joints = model.body_jntadr[ids]
            free_qpos[obj.kind] = model.jnt_qposadr[joints]
            free_dof[obj.kind] = model.jnt_dofadr[joints]

    role = np.zeros(model.ngeom, dtype=np.int64)
    role[agent_geoms] = ROLE_AGENT
    for kind, code in (("vases", ROLE_VASE), ("pillars", ROLE_PILLAR), ("gremlins", ROLE_GREMLIN)):
        for body in bodies.get(kind, ()):
            role[model.body_geomadr[body]: model.body_geomadr[body] + model.body_geomnum[body]] = code
    for i, body in enumerate(bodies.get("buttons", ())):
        role[model.body_geomadr[body]] = ROLE_BUTTON + i

    owner = np.full(model.ngeom, -1, dtype=np.int64)
    for k, geoms in enumerate(geoms_of):
        owner[geoms] = k

    def robot(r: AgentSpec) -> Robot:
        body = model.body(f"agent{r.suffix}").id
        first_joint = model.body_jntadr[body]
        joints = np.arange(first_joint, first_joint + (1 if r.free else 3))
        return Robot(body=body, qpos=model.jnt_qposadr[joints], dof=model.jnt_dofadr[joints],
                     sensor_adr=int(model.sensor_adr[model.sensor(f"{SITE_SENSORS[0]}{r.suffix}").id]))

    return Scene(
        model=model, xml=xml, robots=[robot(r) for r in robots],
        bodies=bodies, mocap=mocap, free_qpos=free_qpos, free_dof=free_dof, geom_role=role, geom_agent=owner,
    )
