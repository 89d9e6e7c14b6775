"""The engine interface, and the reference engine: the algorithm file's own update with torch's autograd."""

from __future__ import annotations

import torch

from alignbook.saferl.buffer import Batch
from alignbook.saferl.checkpoint import load_optimizer, optimizer_tensors


class Engine:
    """One epoch's update of an algorithm instance ``algo``: the multiplier first (from the epoch's mean episode
    cost), then the networks, then the rollout copy of the actor."""

    name = "engine"

    def __init__(self, algo):
        self.algo = algo

    @classmethod
    def supports(cls, algo) -> bool:
        raise NotImplementedError

    def update(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        algo = self.algo
        algo.update_multiplier(mean_episode_cost)
        stats = self.update_networks(batch, mean_episode_cost)
        algo.ac.actor.sync()
        return {"lambda": algo.penalty, **stats}

    def update_networks(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The optimiser state this engine carries between epochs (the networks themselves live in torch)."""
        raise NotImplementedError

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError


class Autograd(Engine):
    """The reference: the algorithm file's own update, with torch's autograd."""

    name = "autograd"

    @classmethod
    def supports(cls, algo) -> bool:
        return True

    def update_networks(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        return self.algo.update_networks(batch, mean_episode_cost)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**optimizer_tensors("actor", self.algo.actor_optimizer),
                **optimizer_tensors("critic", self.algo.critic_optimizer)}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        load_optimizer("actor", self.algo.actor_optimizer, tensors)
        load_optimizer("critic", self.algo.critic_optimizer, tensors)
