"""The robots of the navigation tasks, written as MJCF fragments that the world builder splices into one scene.

Each agent is a body named ``agent`` with a site ``agent`` that carries the four observation sensors
(accelerometer, velocimeter, gyro, magnetometer). The physical constants -- masses, gears, force ranges,
damping and the integration timestep -- are those of the upstream robots, because the benchmark's difficulty
lives in them: the Point's motor, for instance, saturates at |action| = 0.05 (force range 0.05 before the 0.3
gear), which is why random and scripted policies behave the way they do upstream.

An agent also declares the extra observation entries upstream derives from its joint sensors, in upstream's
order: hinge velocities, ball-joint angular velocities, the free joint's height and angular velocity, then
hinge angles as (sin, cos) and ball-joint orientations as 3x3 matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

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

AGENTS: dict[str, AgentSpec] = {a.name: a for a in (POINT, CAR, ANT)}
