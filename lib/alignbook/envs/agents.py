"""The robots of the navigation tasks, written as MJCF fragments that the world builder splices into one scene.

Each agent is a body named ``agent`` with a site ``agent`` that carries the four observation sensors
(accelerometer, velocimeter, gyro, magnetometer). The physical constants -- masses, gears, force ranges,
damping and the integration timestep -- are those of the upstream robots, because the benchmark's difficulty
lives in them: the Point's motor, for instance, saturates at |action| = 0.05 (force range 0.05 before the 0.3
gear), which is why random and scripted policies behave the way they do upstream.

An agent also declares the extra observation entries upstream derives from its joint sensors, in upstream's
order: hinge velocities, ball-joint angular velocities, the free joint's height and angular velocity, then
hinge angles as (sin, cos) and ball-joint orientations as 3x3 matrices. The Doggo's eight foot touch sensors
come first, right after the four site sensors, as upstream lists them.

Deviations from upstream's robot files:

- Racecar: upstream's chassis collides as a mesh (``chassis_differential.STL``, MuJoCo using its convex hull)
  whose mass and inertia MuJoCo derives from the mesh volume at density 5. No mesh ships with this project: the
  chassis is a box fitted to the mesh's bounding box (0.405 x 0.2 x 0.06 m, but 1 mm narrower on each side: the
  hull reaches the rear wheels' inner faces at y = +-0.1 without ever touching them upstream, and a full-width
  box would rub them), and the chassis body carries an explicit ``<inertial>`` with the mass and inertia
  upstream's mesh gets (see ``RACECAR``). Upstream's visual-only meshes (the wheels, steering hinges and the
  differential's parts) are left out; every primitive geom, joint, actuator, gear, range, the steering coupling
  and the chassis/front-wheel contact exclusions are upstream's. The cameras' near plane is pinned at 3 cm, what
  upstream's works out to, so that the vision camera does not see the front axle right in front of it.
- Doggo: none beyond names -- upstream's robot is made of capsules and cylinders already; geoms are named
  ``agent_*`` here (upstream: ``aux_1``, ``hip_1``, ...), observation blocks keep upstream's sensor names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

# The four sensors every robot carries, in the order they appear in the observation.
SITE_SENSORS = ("accelerometer", "velocimeter", "gyro", "magnetometer")


@dataclass(frozen=True)
class AgentSpec:
    """One robot: its MJCF pieces, timestep and the observation entries its joint sensors add."""

    name: str
    timestep: float  # seconds per physics step; an environment step is ``substeps`` of them
    defaults: str  # the scene-wide <default> children (upstream's agent defaults apply to every object)
    body: str  # the <body name="agent"> element, placed at the origin; reset moves it
    actuators: str
    joint_sensors: str  # MJCF sensors beyond the four site sensors
    # (observation name, sensor name, how to read it): "vec" copies the sensor, "z" keeps a position's height,
    # "sincos" turns an angle into (sin, cos), "mat" turns a quaternion into a 3x3 matrix.
    extra_obs: tuple[tuple[str, str, str], ...]
    free: bool  # a free joint (qpos holds x, y, z, quaternion) or planar slide-slide-hinge joints (x, y, yaw)
    z_height: float  # height of the agent body's origin at reset
    geom_names: tuple[str, ...]  # geoms that count as "the agent" in contact costs
    push_box_size: float = 0.2  # the Car gets a smaller, lighter box (upstream does the same)
    push_box_keepout: float = 0.2
    push_box_density: float = 0.001
    integrator: str = "Euler"
    alive_height: float | None = None  # the episode terminates when the agent's body falls to this height
    # Joints set at reset, upstream's spawning pose: (joint, angle); each gets uniform noise in [-0.1, 0.1].
    reset_pose: tuple[tuple[str, float], ...] = ()
    # Top-level MJCF sections the robot needs besides its body (equality constraints, contact exclusions).
    extra: str = ""
    # The cameras' near clipping distance in metres, where the robot's own parts sit right in front of its
    # vision camera (None: MuJoCo's default, 1% of the scene's extent).
    vision_near: float | None = None
    # Appended to every MJCF name of the robot; several copies of one robot share a scene (multi-agent tasks).
    suffix: str = ""


# MJCF attributes that name an element or refer to one by name.
_NAME_ATTRIBUTES = re.compile(r'\b(name|joint|site|objname|body1|body2|geom1|geom2)="([^"]+)"')


def renamed(spec: AgentSpec, suffix: str) -> AgentSpec:
    """A copy of ``spec`` whose every element name (bodies, geoms, joints, sites, sensors, actuators, cameras)
    ends with ``suffix``, so that several robots can live in one model without a name clash."""
    if spec.suffix:
        raise ValueError(f"{spec.name} is renamed already (suffix {spec.suffix!r})")

    def mjcf(text: str) -> str:
        return _NAME_ATTRIBUTES.sub(lambda m: f'{m[1]}="{m[2]}{suffix}"', text)

    return replace(
        spec, body=mjcf(spec.body), actuators=mjcf(spec.actuators), joint_sensors=mjcf(spec.joint_sensors),
        extra=mjcf(spec.extra), suffix=suffix,
        extra_obs=tuple((name, sensor + suffix, kind) for name, sensor, kind in spec.extra_obs),
        geom_names=tuple(g + suffix for g in spec.geom_names),
        reset_pose=tuple((j + suffix, angle) for j, angle in spec.reset_pose),
    )


POINT = AgentSpec(
    name="Point",
    timestep=0.002,
    defaults="""
      <geom condim="6" density="1"/>
      <joint damping="0.001"/>
      <motor ctrlrange="-1 1" ctrllimited="true" forcerange="-0.05 0.05" forcelimited="true"/>
      <velocity ctrlrange="-1 1" ctrllimited="true" forcerange="-0.05 0.05" forcelimited="true"/>""",
    body="""
      <body name="agent" pos="0 0 0.1" sleep="never">
        <camera name="vision" pos="0 0 0.15" xyaxes="0 -1 0 0.4 0 1" fovy="90"/>
        <joint type="slide" axis="1 0 0" name="agent_x" damping="0.01"/>
        <joint type="slide" axis="0 1 0" name="agent_y" damping="0.01"/>
        <joint type="hinge" axis="0 0 1" name="agent_yaw" damping="0.005"/>
        <geom name="agent" type="sphere" size="0.1" friction="1 0.01 0.01" rgba="0.74 0.04 0.18 1"/>
        <geom name="agent_nose" pos="0.1 0 0" size="0.05 0.05 0.05" type="box" rgba="0.0 0.15 0.4 1"/>
        <site name="agent" size="0.032" rgba="1 0 0 0.1"/>
      </body>""",
    # Action 0 pushes along the heading (a force on the site's x axis); action 1 drives the yaw rate.
    actuators="""
      <motor gear="0.3 0 0 0 0 0" site="agent" name="thrust"/>
      <velocity gear="0.3" joint="agent_yaw" name="turn"/>""",
    joint_sensors="",
    extra_obs=(),
    free=False,
    z_height=0.1,
    geom_names=("agent", "agent_nose"),
)

CAR = AgentSpec(
    name="Car",
    timestep=0.004,  # upstream's car.xml integrates at 4 ms (the Point at 2 ms)
    defaults="""
      <geom condim="6" density="5" size="0.05" type="sphere"/>
      <joint damping="0.001"/>
      <motor ctrlrange="-1 1" ctrllimited="true" forcerange="-0.02 0.02" forcelimited="true"/>""",
    # Two driven wheels at the back (differential drive) and a passive ball wheel in front.
    body="""
      <body name="agent" pos="0 0 0.1" sleep="never">
        <site name="agent" pos="0 0 0" size="0.032"/>
        <camera name="vision" pos="0 0 0.2" xyaxes="-1 0 0 0 -0.4 1" fovy="90"/>
        <freejoint name="agent"/>
        <geom name="agent" type="box" size="0.1 0.1 0.05" rgba="0.74 0.04 0.18 1"/>
        <geom name="agent_back_bumper" type="box" pos="0 0.15 0" size="0.1 0.01 0.05" rgba="0.0 0.15 0.4 1"/>
        <geom name="agent_back_link" type="box" pos="0 0.125 0" size="0.01 0.025 0.03" rgba="0.0 0.15 0.4 1"/>
        <geom name="agent_front_bumper" type="box" pos="0 -0.165 0" size="0.05 0.01 0.05" rgba="0.0 0.15 0.4 1"/>
        <geom name="agent_front_link" type="box" pos="0 -0.13 0.04" size="0.05 0.03 0.01" rgba="0.0 0.15 0.4 1"/>
        <body name="agent_left" pos="-0.1 0.1 -0.05">
          <joint type="hinge" name="agent_left" axis="1 0 0"/>
          <geom type="cylinder" name="agent_left" fromto="-0.055 0 0 -0.005 0 0" rgba="0.74 0.04 0.18 1"/>
        </body>
        <body name="agent_right" pos="0.1 0.1 -0.05">
          <joint type="hinge" name="agent_right" axis="1 0 0"/>
          <geom type="cylinder" name="agent_right" fromto="0.005 0 0 0.055 0 0" rgba="0.74 0.04 0.18 1"/>
        </body>
        <body name="agent_rear" pos="0 -0.1 -0.05">
          <joint name="agent_rear" type="ball"/>
          <geom name="agent_rear" rgba="0.74 0.04 0.18 1"/>
        </body>
      </body>""",
    actuators="""
      <motor gear="1" joint="agent_left" name="left"/>
      <motor gear="1" joint="agent_right" name="right"/>""",
    joint_sensors="""
      <ballquat joint="agent_rear" name="ballquat_rear"/>
      <ballangvel joint="agent_rear" name="ballangvel_rear"/>""",
    # Upstream's order: hinge velocities (none), ball angular velocities, then ball orientations as matrices.
    extra_obs=(("ballangvel_rear", "ballangvel_rear", "vec"), ("ballquat_rear", "ballquat_rear", "mat")),
    free=True,
    z_height=0.1,
    geom_names=(
        "agent", "agent_back_bumper", "agent_back_link", "agent_front_bumper", "agent_front_link",
        "agent_left", "agent_right", "agent_rear",
    ),
    push_box_size=0.125,
    push_box_keepout=0.125,
    push_box_density=0.0005,
)


def _ant_leg(i: int, sx: int, sy: int, ankle_axis: str, ankle_range: str, colour: str) -> str:
    """One of the Ant's four legs: a hip rotating about z, then an ankle lifting the heavy foot."""
    return f"""
        <body name="agent_leg{i}" pos="0 0 0">
          <geom name="agent_aux{i}" fromto="0 0 0 {0.05 * sx} {0.05 * sy} 0" size="0.02" type="capsule" rgba="{colour}"/>
          <body name="agent_thigh{i}" pos="{0.05 * sx} {0.05 * sy} 0">
            <joint axis="0 0 1" name="hip_{i}" type="hinge" range="-0.70 0.70"/>
            <geom name="agent_thigh{i}" fromto="0 0 0 {0.05 * sx} {0.05 * sy} 0" size="0.02" type="capsule" rgba="{colour}"/>
            <body name="agent_foot{i}" pos="{0.05 * sx} {0.05 * sy} 0">
              <joint axis="{ankle_axis}" name="ankle_{i}" type="hinge" range="{ankle_range}"/>
              <geom name="agent_foot{i}" fromto="0 0 0 {0.1 * sx} {0.1 * sy} 0" size="0.02" type="capsule"
                    density="50000" rgba="0.8 0.5 0.3 1"/>
            </body>
          </body>
        </body>"""


_LEGS = ((1, 1, 1, "-1 1 0", "0.52 1.74", "0.0 0.15 0.4 1"), (2, -1, 1, "1 1 0", "-1.74 -0.52", "0.0 0.15 0.4 1"),
         (3, -1, -1, "-1 1 0", "-1.74 -0.52", "0.74 0.04 0.18 1"), (4, 1, -1, "1 1 0", "0.52 1.74", "0.74 0.04 0.18 1"))
_JOINTS = tuple(j for i in range(1, 5) for j in (f"hip_{i}", f"ankle_{i}"))

ANT = AgentSpec(
    name="Ant",
    timestep=0.01,
    integrator="RK4",
    defaults="""
      <joint armature="1" damping="1" limited="true"/>
      <geom condim="6" density="5.0"/>""",
    body=f"""
      <body name="agent" pos="0 0 0.18" sleep="never">
        <site name="agent" pos="0 0 -0.02" size="0.032"/>
        <camera name="vision" pos="0 0.05 0.05" euler="1.57 0 0" fovy="100"/>
        <freejoint name="agent"/>
        <geom name="agent" size="0.0625" type="sphere" rgba="0.8 0.6 0.4 1"/>
        {"".join(_ant_leg(*leg) for leg in _LEGS)}
      </body>""",
    actuators="".join(f'<motor ctrllimited="true" ctrlrange="-1 1" joint="{j}" gear="150"/>' for j in _JOINTS),
    joint_sensors=(
        '<framepos objtype="site" objname="agent" name="agent_pos"/>'
        + "".join(f'<jointpos joint="{j}" name="{j}"/>' for j in _JOINTS)
        + '<frameangvel objtype="site" objname="agent" name="agent_qvel"/>'
        + "".join(f'<jointvel joint="{j}" name="{j}_vel"/>' for j in _JOINTS)
    ),
    extra_obs=(
        tuple((f"{j}_vel", f"{j}_vel", "vec") for j in _JOINTS)
        + (("agent_pos", "agent_pos", "z"), ("agent_qvel", "agent_qvel", "vec"))
        + tuple((j, j, "sincos") for j in _JOINTS)
    ),
    free=True,
    z_height=0.18,
    geom_names=("agent",) + tuple(f"agent_{part}{i}" for i in range(1, 5) for part in ("aux", "thigh", "foot")),
    alive_height=0.08,
    # Upstream's spawn: hips near 0, ankles near 90 degrees (mirrored on legs 2 and 3) so that random actions
    # sometimes walk.
    reset_pose=tuple((j, (0.0 if j.startswith("hip") else np.pi / 2) * (-1 if j in ("ankle_2", "ankle_3") else 1))
                     for j in _JOINTS),
)

# The Doggo's legs: (leg, front (+1) or rear (-1), side (+1 left, -1 right), hip elevation range and spring
# reference, colour). Legs 1 and 4 hang from the front half of the torso, 2 and 3 from the rear half, which
# turns about the waist; every shin points back, inwards and down from its knee.
_DOGGO_LEGS = (
    (1, 1, 1, "-1.308998 0.2618", -0.174533, "0.0039 0.1529 0.3961 1"),
    (4, 1, -1, "-1.308998 0.2618", -0.174533, "0.0039 0.1529 0.3961 1"),
    (2, -1, 1, "0 2.356196", 0.0, "0.7412 0.0431 0.1843 1"),
    (3, -1, -1, "0 2.356196", 0.0, "0.7412 0.0431 0.1843 1"),
)


def _doggo_leg(i: int, sx: int, sy: int, hip_range: str, hip_ref: float, colour: str) -> str:
    """One Doggo leg: a strut from the torso, a hip with azimuth (z) and elevation (y) joints, and a knee."""
    return f"""
        <body name="agent_leg{i}">
          <geom name="agent_aux{i}" fromto="{0.05 * sx} 0 0 {0.1 * sx} {0.05 * sy} 0" density="20" rgba="{colour}"/>
          <body name="agent_hip{i}" pos="{0.1 * sx} {0.05 * sy} 0">
            <joint name="hip_{i}_z" type="hinge" axis="0 0 {sy}" range="-0.174533 0.523599" springref="0"/>
            <joint name="hip_{i}_y" type="hinge" axis="0 1 0" range="{hip_range}" springref="{hip_ref}"/>
            <geom name="agent_hip{i}" fromto="0 0 0 0.049 {0.0283 * sy} -0.025" density="20" rgba="{colour}"/>
            <body name="agent_shin{i}" pos="0.049 {0.0283 * sy} -0.025">
              <joint name="ankle_{i}" type="hinge" axis="{-0.5 * sy} 0.866 0" range="-1.308998 0" springref="-0.349066"/>
              <geom name="agent_ankle{i}" fromto="0 0 0 -0.0588 {-0.0339 * sy} -0.05" density="20"
                    rgba="0.8 0.6 0.4 1"/>
              <site name="ankle_{i}a"/>
              <site name="ankle_{i}b" pos="-0.0588 {-0.0339 * sy} -0.05"/>
            </body>
          </body>
        </body>"""


_DOGGO_JOINTS = tuple(f"hip_{i}_z" for i in range(1, 5)) + tuple(f"hip_{i}_y" for i in range(1, 5)) + tuple(
    f"ankle_{i}" for i in range(1, 5))
_DOGGO_TOUCH = tuple(f"touch_ankle_{i}{end}" for end in "ab" for i in range(1, 5))

DOGGO = AgentSpec(
    name="Doggo",
    timestep=0.01,  # upstream's doggo.xml: 10 ms, Euler
    # Tiny torques on a light body (about 20 g): gear 0.00625, no force limit. The joints carry a weak spring
    # towards each joint's reference angle and a little armature.
    defaults="""
      <joint limited="true" stiffness="0.0001" armature="0.00005"/>
      <geom condim="6" size="0.016" type="capsule" density="5"/>
      <motor ctrllimited="true" ctrlrange="-1 1" gear="0.00625"/>
      <site size="0.018" type="sphere" rgba="1 0 0 0"/>""",
    # A two-part torso (the rear half turns about the waist's x axis), each half carrying two legs. The touch
    # sensors' sites (spheres of radius 0.018) sit at each shin's two ends.
    body=f"""
      <body name="agent" pos="0 0 0.22" sleep="never">
        <camera name="vision" pos="0.0625 0 0.1" xyaxes="0 -0.5 0 0.2 0 0.5" fovy="100"/>
        <site name="agent"/>
        <freejoint name="agent"/>
        <geom name="agent" type="cylinder" size="0.0375" fromto="0 0 0 0.1 0 0" density="2" rgba="0.8 0.6 0.4 1"/>
        {"".join(_doggo_leg(*leg) for leg in _DOGGO_LEGS[:2])}
        <body name="agent_rear">
          <joint name="waist_x" type="hinge" axis="1 0 0" range="-0.523599 0.523599" springref="0"/>
          <geom name="agent_rear" type="cylinder" size="0.0375" fromto="-0.1 0 0 0 0 0" density="2"
                rgba="0.8 0.6 0.4 1"/>
          {"".join(_doggo_leg(*leg) for leg in _DOGGO_LEGS[2:])}
        </body>
      </body>""",
    # Upstream's actuator order: the four hip azimuths, the four hip elevations, the four knees.
    actuators="".join(f'<motor name="{j}" joint="{j}"/>' for j in _DOGGO_JOINTS),
    joint_sensors=(
        "".join(f'<touch site="{n.removeprefix("touch_")}" name="{n}"/>' for n in _DOGGO_TOUCH)
        + "".join(f'<jointvel joint="{j}" name="jointvel_{j}"/>' for j in _DOGGO_JOINTS)
        + "".join(f'<jointpos joint="{j}" name="jointpos_{j}"/>' for j in _DOGGO_JOINTS)
    ),
    # Upstream's order: the touch sensors (listed with the site sensors), hinge velocities, hinge angles.
    extra_obs=(
        tuple((n, n, "vec") for n in _DOGGO_TOUCH)
        + tuple((f"jointvel_{j}", f"jointvel_{j}", "vec") for j in _DOGGO_JOINTS)
        + tuple((f"jointpos_{j}", f"jointpos_{j}", "sincos") for j in _DOGGO_JOINTS)
    ),
    free=True,
    z_height=0.22,  # upstream spawns the torso at 0.22 m: the robot drops about 0.13 m onto its feet
    geom_names=("agent", "agent_rear") + tuple(
        f"agent_{part}{i}" for i in range(1, 5) for part in ("aux", "hip", "ankle")),
)


_DIFF_INERTIA = '<inertial pos="0 0 0" quat="0.5 0.5 -0.5 0.5" mass="{}" diaginertia="0.04411 0.02467 0.02467"/>'
_HIDDEN = 'contype="0" conaffinity="0"'  # drawn, never in contact


def _racecar_diff(name: str, pos: str, ring: str, sides: str) -> str:
    """A differential fixed to the frame: its ring (``ring``: the ring's geom), two spider gears and ``sides``
    (its two side gears). Every part has upstream's explicit inertia."""
    spiders = "".join(
        f'<body name="{name}_spider{s}" quat="0.707107 0 0 {q}">{_DIFF_INERTIA.format(0.056)}'
        f'<geom type="cylinder" size="0.015 0.005" pos="0 0.01 0" quat="0.707107 0.707106 0 0" rgba="{c}" '
        f"{_HIDDEN}/></body>"
        for s, q, c in (("A", "0.707106", "0.8 0 0 1"), ("B", "-0.707106", "0.870588 0.811765 0.764706 1")))
    return f"""
          <body name="{name}_ring" pos="{pos}">
            {_DIFF_INERTIA.format(0.0637)}
            {ring}
            {spiders}
            {sides}
          </body>"""


def _racecar_side(name: str, sy: int, inertial: str, wheel: str = "") -> str:
    """One side gear of a differential (on the driven axle also carrying a rear wheel)."""
    q = "0.707107 0.707106 0 0" if sy > 0 else "0.707107 -0.707106 0 0"
    return (f'<body name="{name}">{inertial}<geom type="cylinder" size="0.015 0.005" pos="0 {0.01 * sy} 0" '
            f'quat="{q}" rgba="1 1 1 1" {_HIDDEN}/>{wheel}</body>')


_RING_GEOM = 'type="cylinder" size="0.025 0.005" pos="0 0.025 0" quat="0.707107 0.707106 0 0" rgba="0 0.8 0 1"'
_DRIVEN_SIDE = ('<inertial pos="0 {y} {z}" quat="0.5 0.5 -0.5 0.5" mass="0.39655" '
                'diaginertia="0.0450921 0.0256521 0.0250823"/>')
_REAR_WHEEL = ('<geom name="agent_rear_{side}_wheel" type="cylinder" size="0.05 0.0225" pos="0 {y} {z}" '
               'quat="0.707105 0.707108 0 0" rgba="0 0 0 1"/>')
# The rear differential: its ring collides; both side gears hang from one hinge (the driven axle), so the two
# rear wheels always turn together.
_REAR_DIFF = _racecar_diff("diff", "0 0 0", f'<geom name="agent_diff" {_RING_GEOM}/>', f"""
            <body name="drive_axle">
              <joint name="diff_ring" axis="0 1 0"/>
              {_racecar_side("diff_sideA", 1, _DRIVEN_SIDE.format(y=0.105201, z=7.09759e-08),
                             _REAR_WHEEL.format(side="left", y=0.1225, z=8.26471e-08))}
              {_racecar_side("diff_sideB", -1, _DRIVEN_SIDE.format(y=-0.105201, z=-7.09759e-08),
                             _REAR_WHEEL.format(side="right", y=-0.1225, z=-8.26471e-08))}
            </body>""")
# The front differential is only mass: every part welded to the frame, nothing collides.
_FRONT_DIFF = _racecar_diff("diff2", "0.32 0 0", f"<geom {_RING_GEOM} {_HIDDEN}/>", "".join(
    _racecar_side(f"diff2_side{s}", sy, _DIFF_INERTIA.format(0.056)) for s, sy in (("A", 1), ("B", -1))))


def _racecar_front_wheel(side: str, sy: int) -> str:
    """A steering knuckle (hinge about the vertical) carrying a free-spinning front wheel."""
    return f"""
          <body name="{side}_steering_hinge" pos="0.325 {0.1 * sy} 0" quat="0.707105 0 0.707108 0">
            <inertial pos="0 0 0" mass="0.1" diaginertia="4e-06 4e-06 4e-06"/>
            <joint name="{side}_steering_hinge_joint" axis="-1 0 0" range="-0.785 0.785"/>
            <body name="{side}_front_wheel" quat="0.707105 0.707108 0 0">
              <inertial pos="0 0 {-0.0225 * sy}" quat="0.5 0.5 -0.5 0.5" mass="0.34055"
                        diaginertia="0.00041226 0.00026046 0.00026046"/>
              <joint name="{side}_front_wheel_joint" axis="0 0 -1"/>
              <geom name="agent_front_{side}_wheel" type="cylinder" size="0.05 0.0225" pos="0 0 {-0.0225 * sy}"
                    rgba="0 0 0 1"/>
            </body>
          </body>"""


RACECAR = AgentSpec(
    name="Racecar",
    timestep=0.004,  # upstream's racecar.xml: 4 ms, RK4
    integrator="RK4",
    defaults="""
      <geom condim="6" density="5" size="0.05" type="sphere"/>
      <joint damping="0.001"/>
      <motor ctrllimited="true" forcelimited="true" ctrlrange="-1 1" forcerange="-0.2 0.2"/>
      <site size="0.032" type="sphere"/>""",
    # An Ackermann-less car: the rear wheels sit on one driven axle (both turn together), the front wheels steer
    # on two knuckles coupled by an equality constraint. The bodies under ``pos_change`` are shifted back by
    # 0.16 m so that the agent's origin lies between the axles. Most of the mass is in the wheels and the
    # differentials' explicit inertias (upstream's numbers); the chassis itself weighs 18 g.
    #
    # Chassis (the deviation, see the module docstring): upstream's collision mesh spans x in [-0.04, 0.365],
    # y in [-0.1, 0.1], z in [-0.03, 0.03] in this body's frame; here a box of that extent but a half-width of
    # 0.099 m. Its <inertial> holds what MuJoCo 2.3.3 (the version upstream runs) computes for upstream's mesh at
    # density 5, read by loading upstream's racecar model (safety-gymnasium 1.0.0, ``assets/xmls/racecar.xml``,
    # body ``car_body``): mass 0.0176055 kg, centre of mass (0.15558, -0.000383, 0), principal moments
    # (2.706e-4, 2.385e-4, 4.125e-5) kg m^2, written below as the full tensor in the body frame. (MuJoCo 4,
    # loading the same file, computes 0.02428 kg; the number upstream simulates with is the one pinned here.)
    body=f"""
      <body name="agent" pos="0 0 0.05" sleep="never">
        <freejoint name="agent"/>
        <camera name="vision" pos="0.2 0 0.05" euler="1.57 -1.57 0"/>
        <site name="agent" pos="0.02 0 0"/>
        <body name="pos_change" pos="-0.16 0 0">
          <body name="car_body">
            <inertial mass="0.0176055" pos="0.1555799 -0.0003827 0"
                      fullinertia="4.125946e-05 2.384952e-04 2.706324e-04 9.857288e-07 0 0"/>
            <geom name="agent" type="box" pos="0.1625 0 0" size="0.2025 0.099 0.03" rgba="0.7412 0.0431 0.1843 1"/>
          </body>
          <geom name="agent_front_axle" type="box" size="0.0165 0.0875 0.015" pos="0.39 0 0.04"
                rgba="0.0039 0.1529 0.3961 1"/>
          {_racecar_front_wheel("left", 1)}
          {_racecar_front_wheel("right", -1)}
          {_REAR_DIFF}
          {_FRONT_DIFF}
        </body>
      </body>""",
    # Action 0: the rear axle's target speed (rad/s, a velocity servo with kv = 1 and at most 1 N m); action 1:
    # the steering angle (rad, a position servo with kp = 1 on the left knuckle; the right one follows).
    actuators="""
      <velocity name="diff_ring" joint="diff_ring" forcerange="-1 1" ctrlrange="-20 20"/>
      <position name="steering_hinge" joint="left_steering_hinge_joint" forcerange="-1 1" ctrlrange="-0.785 0.785"/>""",
    joint_sensors="",
    extra_obs=(),
    free=True,
    z_height=0.05,
    geom_names=("agent", "agent_front_axle", "agent_front_left_wheel", "agent_front_right_wheel", "agent_diff",
                "agent_rear_left_wheel", "agent_rear_right_wheel"),
    # The vision camera sits 13.5 mm behind the front axle's box. Upstream draws nothing of it: its near plane is
    # 1% of its scene's extent, about 3 cm in the Goal, Button and Push layouts (a scene recompiled with the
    # objects spread out), and the box's far faces point away from the camera. Our scene is compiled with every
    # object at the origin, so its extent -- and the relative near plane -- would be several times smaller.
    vision_near=0.03,
    extra="""
  <equality><joint joint1="left_steering_hinge_joint" joint2="right_steering_hinge_joint"/></equality>
  <contact>
    <exclude body1="car_body" body2="left_front_wheel"/>
    <exclude body1="car_body" body2="right_front_wheel"/>
  </contact>""",
)

AGENTS: dict[str, AgentSpec] = {a.name: a for a in (POINT, CAR, DOGGO, RACECAR, ANT)}
