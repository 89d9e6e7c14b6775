"""Pictures of the suite for the chapter: rendered frames of every task and per-step cost maps."""

from __future__ import annotations

import mujoco
import numpy as np

from alignbook.envs.agents import AGENTS
from alignbook.envs.navigation import NavigationEnv
from alignbook.envs.registry import make
from alignbook.envs.tasks import LEVELS, TASKS


def tour(size: int, seed: int, camera: str = "fixedfar", agents: tuple[str, ...] = tuple(AGENTS)
         ) -> dict[tuple[str, str, int], np.ndarray]:
    """One rendered frame of the first layout of every agent x task x level, keyed by (agent, task, level)."""
    frames = {}
    for agent in agents:
        for task in TASKS:
            for level in LEVELS:
                env = make(f"Safety{agent}{task}{level}-v0", render_mode="rgb_array", width=size, height=size,
                           camera=camera)
                env.reset(seed=seed)
                frames[(agent, task, level)] = env.render()
                env.close()
    return frames


def portraits(agents: tuple[str, ...], size: int, seed: int) -> dict[str, np.ndarray]:
    """A close-up frame of each agent where its Goal0 episode starts, keyed by agent: in the tour's view of the
    whole arena a robot is a few pixels wide. The camera looks down at 30 degrees from 4 robot radii away."""
    frames = {}
    for agent in agents:
        env = make(f"Safety{agent}Goal0-v0")
        env.reset(seed=seed)
        model, data = env.model, env.data
        geoms = [model.geom(name).id for name in env.agent_spec.geom_names]
        center = data.xpos[env.scene.agent_body].copy()
        radius = max(np.linalg.norm(data.geom_xpos[g] - center) + model.geom_rbound[g] for g in geoms)
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.lookat[:] = center
        camera.distance, camera.elevation, camera.azimuth = 4 * radius, -30.0, 120.0
        with mujoco.Renderer(model, height=size, width=size) as renderer:
            renderer.update_scene(data, camera=camera)
            frames[agent] = renderer.render()
        env.close()
    return frames


def cost_map(env: NavigationEnv, resolution: int, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """The per-step cost the agent would pay at rest at each point of a grid over the current layout.

    The agent is moved to every grid point, the simulator recomputes positions and contacts, and the task's own
    cost function is read; the state is restored afterwards. Returns (grid coordinates, cost map
    [resolution x resolution], rows = y).
    """
    model, data = env.model, env.data
    saved = (data.qpos.copy(), data.qvel.copy(), data.act.copy(), data.time)
    adr = env.scene.agent_qpos
    xs = np.linspace(-half_width, half_width, resolution)
    costs = np.zeros((resolution, resolution))
    data.qvel[:] = 0.0
    timer = env._button_timer
    env._button_timer = 0  # show the button costs as they are once the timer has run out
    for j, y in enumerate(xs):
        for i, x in enumerate(xs):
            data.qpos[adr[0]: adr[0] + 2] = (x, y)
            mujoco.mj_forward(model, data)
            costs[j, i] = float(sum(env._cost_terms().values()) > 0.0)
    env._button_timer = timer
    data.qpos[:], data.qvel[:], data.act[:] = saved[:3]
    data.time = saved[3]
    mujoco.mj_forward(model, data)
    return xs, costs
