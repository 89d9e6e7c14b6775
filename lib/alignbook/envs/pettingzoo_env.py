"""PettingZoo's own parallel API over a multi-agent task, for the clients users bring (PettingZoo's API test,
the loops its documentation teaches, libraries that take a ``pettingzoo.ParallelEnv``).

``make_multi_agent(task_id, api="pettingzoo")`` -- or ``PettingZooEnv(make_multi_agent(task_id))`` -- gives

- ``obs, infos = env.reset(seed=None, options=None)``;
- ``obs, rewards, terminations, truncations, infos = env.step(actions)``: PettingZoo's five values, the
  step's cost of each agent in ``infos[agent]["cost"]`` (a NumPy float64), beside the task's cost terms;
- ``env.agents`` (empty once the episode has ended, so ``while env.agents:`` runs one episode),
  ``env.possible_agents``, ``env.num_agents``, ``env.max_num_agents``, ``env.observation_space(agent)``,
  ``env.action_space(agent)``, ``env.state()``, ``env.state_space``, ``env.render()``, ``env.close()``;
- ``env.env``: the task itself, with the book's safe API (``step`` returns six dicts, the costs third).

The wrapper holds no state of its own: the task's ``agents`` and refusals (bad actions, a step before the
first reset or after the episode's end) are the wrapper's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pettingzoo import ParallelEnv as PettingZooParallelEnv

from alignbook.envs.core import ParallelEnv


class PettingZooEnv(PettingZooParallelEnv):
    """A multi-agent task (``alignbook.envs.core.ParallelEnv``) behind PettingZoo's five-value ``step``."""

    def __init__(self, env: ParallelEnv):
        if not isinstance(env, ParallelEnv):
            raise TypeError(f"PettingZooEnv wraps a multi-agent task from make_multi_agent, got {env!r}")
        self.env = env
        self.possible_agents = env.possible_agents
        self.observation_spaces, self.action_spaces = env.observation_spaces, env.action_spaces
        self.state_space = env.state_space
        self.render_mode = env.render_mode
        self.metadata = {**env.metadata, "name": env.task_id}

    @property
    def agents(self) -> list[str]:
        return self.env.agents

    def observation_space(self, agent: str):
        return self.env.observation_space(agent)

    def action_space(self, agent: str):
        return self.env.action_space(agent)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: dict):
        obs, rewards, costs, terminations, truncations, infos = self.env.step(actions)
        for agent, info in infos.items():  # (velocity tasks share one info dict: their cost is shared too)
            info["cost"] = np.float64(costs[agent])
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return self.env.state()

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def __repr__(self) -> str:
        return f"<PettingZooEnv {self.env.task_id}>"
