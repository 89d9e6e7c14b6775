"""The joint update of the multi-agent algorithms, built from the single-agent learners.

Each agent i has its own learner (SafePO: one actor, one reward critic and, for the constrained methods, one
cost critic per agent, no sharing), an instance of a single-agent class (PPO, PPO-Lag or CPO) whose update is
reused unchanged. What is multi-agent is the order and the weighting of the agents' updates:

- simultaneous (MAPPO): every agent updates on its own advantage, ignoring the others' updates;
- sequential (HAPPO, MAPPO-Lag, MACPO; Kuba et al. 2022, Gu et al. 2023): the agents update one after the other
  in a fresh random order each epoch, and agent i_m's advantage is weighted by the running product

      M = prod over the agents already updated this epoch of  pi_new(a_j | s) / pi_old(a_j | s)

  (the joint ratio over each agent's action dimensions, per sample). Since M > 0, HAPPO's
  ``-M min(r A, clip(r) A)`` equals PPO's clipped loss on the advantage ``M A``, and MACPO's factor-weighted
  surrogates are CPO's on ``M A`` and ``M A_c``: so the weighted advantage is all a learner is given.

A constrained learner's multiplier (declared as data on its class, ``multiplier = "lagrange"``) is the
single-agent family's ``alignbook.saferl.lagrange.Lagrange``, updated once per epoch per agent from the epoch's
mean episode cost (that agent's own when the agents have costs of their own, as in MultiGoal), before the policy update, as in the single-agent family. Upstream's MAPPO-Lag instead moves
lambda by plain gradient steps of size 1e-5 per minibatch (anchor 2), a near-fixed penalty at 1e7 steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from alignbook.saferl.base import OnPolicy
from alignbook.saferl.buffer import Batch


class MultiAgent:
    """One learner of class ``agent_class`` per agent, updated simultaneously or (``sequential``) in a random
    order with the running product of ratios. Subclasses declare ``Config``, ``agent_class``, ``sequential``."""

    Config: type
    agent_class: type[OnPolicy]
    sequential: bool = False
    multi_agent = True
    name = "multi-agent base"

    def __init__(self, obs_dims: Sequence[int], act_dims: Sequence[int], cfg):
        if isinstance(obs_dims, int) or isinstance(act_dims, int) or len(obs_dims) != len(act_dims):
            raise ValueError(f"{self.name}: obs_dims and act_dims must be sequences with one entry per agent, "
                             f"got {obs_dims!r} and {act_dims!r}")
        self.cfg = cfg
        # Each agent's networks and minibatch order get their own seed, derived from the run's.
        self.agents = [self.agent_class(o, a, dataclasses.replace(cfg, seed=cfg.seed + 1000 * i))
                       for i, (o, a) in enumerate(zip(obs_dims, act_dims, strict=True))]
        self.generator = torch.Generator().manual_seed(cfg.seed)

    @property
    def multiplier(self) -> str | None:
        return self.agent_class.multiplier

    @property
    def family(self) -> str:
        return self.agent_class.family

    @property
    def penalties(self) -> list[float]:
        return [agent.penalty for agent in self.agents]

    def joint_action(self, state: np.ndarray) -> list[np.ndarray]:
        """Each agent's mean action (in [-1, 1] before the task's scaling) at one global state, as trained by
        ``train_multi``: the state normalised with the run's statistics, then the agent's one-hot id."""
        z = self.normaliser(state[None], update=False) if getattr(self, "normaliser", None) else state[None]
        ids = np.eye(len(self.agents))
        return [agent.ac.actor.act(np.concatenate([z, ids[i][None]], axis=1), None)[0]
                for i, agent in enumerate(self.agents)]

    def order(self) -> list[int]:
        n = len(self.agents)
        return torch.randperm(n, generator=self.generator).tolist() if self.sequential else list(range(n))

    def update(self, batches: Sequence[Batch], mean_episode_cost: float | Sequence[float]) -> dict[str, float]:
        """One epoch's update of every agent from its own batch (same steps, same length); the mean episode cost
        is one number shared by all agents or one per agent."""
        if len(batches) != len(self.agents):
            raise ValueError(f"need one batch per agent ({len(self.agents)}), got {len(batches)}")
        costs = [float(mean_episode_cost)] * len(self.agents) if np.ndim(mean_episode_cost) == 0 else list(
            mean_episode_cost)
        if len(costs) != len(self.agents):
            raise ValueError(f"need one mean episode cost per agent ({len(self.agents)}), got {len(costs)}")
        factor = torch.ones(len(batches[0]), device=batches[0].obs.device)
        stats: dict[str, float] = {}
        for i in self.order():
            agent, batch = self.agents[i], batches[i]
            agent.update_multiplier(costs[i])
            if self.sequential:
                batch = dataclasses.replace(batch, adv_r=batch.adv_r * factor, adv_c=batch.adv_c * factor)
            for key, value in agent.update_networks(batch, costs[i]).items():
                stats[f"{key}_{i}"] = value
            agent.ac.actor.sync()
            if self.sequential:
                with torch.no_grad():
                    factor = factor * torch.exp(agent.ac.actor.log_prob(batch.obs, batch.act) - batch.logp)
        stats["lambda"] = sum(self.penalties) / len(self.agents)
        return stats
