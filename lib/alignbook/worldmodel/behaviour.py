"""Learning behaviour in imagination (DreamerV3): actor, reward and cost critics, lambda-returns, and the
percentile return normaliser.

From posterior states of replayed data the actor imagines ``horizon`` steps in the world model. Along them::

    R_t = r_t + gamma ((1 - lambda) v(s_{t+1}) + lambda R_{t+1}),    R_H = v(s_H)       (lambda-return)
    actor loss  = -mean(R / max(1, S)) - eta H[pi]                  (gradients through the dynamics)
    critic loss = two-hot cross-entropy of v(s_t) against sg(R_t)

with S the EMA of the 95th minus the 5th percentile of the returns, so that large returns are scaled down and
small ones are not scaled up. The cost critic learns the cost lambda-return C the same way. BSRP-Lag adds the
augmented-Lagrangian term of ``C`` to the actor loss (``alignbook.saferl.augmented``); the plain DreamerV3
baseline adds nothing. Slow target critics (an EMA of the weights) give the bootstrap values.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from alignbook.worldmodel.dist import TwoHot
from alignbook.worldmodel.model import WorldModel, mlp


def lambda_return(rewards: torch.Tensor, values: torch.Tensor, discount: float, lam: float) -> torch.Tensor:
    """rewards (H, N) received on entering states 1..H, values (H, N) of those states 1..H -> R (H, N) of
    states 0..H-1. (The start state's own value never enters its return, so it is not computed.)"""
    out, last = [], values[-1]
    for t in reversed(range(len(rewards))):
        last = rewards[t] + discount * ((1 - lam) * values[t] + lam * last)
        out.append(last)
    return torch.stack(out[::-1])


class PercentileScale:
    """S = EMA(decay) of Per(R, high) - Per(R, low); returns are divided by max(1, S) (DreamerV3)."""

    def __init__(self, low: float = 0.05, high: float = 0.95, decay: float = 0.99):
        if not 0 <= low < high <= 1 or not 0 <= decay < 1:
            raise ValueError(f"need 0 <= low < high <= 1 and 0 <= decay < 1, got {low!r}, {high!r}, {decay!r}")
        self.low, self.high, self.decay = low, high, decay
        self.spread = 0.0

    def update(self, returns: torch.Tensor) -> float:
        q = torch.quantile(returns.detach().flatten(), torch.tensor([self.low, self.high], device=returns.device))
        self.spread = self.decay * self.spread + (1 - self.decay) * float(q[1] - q[0])
        return self.scale

    @property
    def scale(self) -> float:
        return max(1.0, self.spread)


class Actor(nn.Module):
    """A Gaussian squashed by tanh into [-1, 1]^A; its std lies in [0.1, 1] (DreamerV3's bounds)."""

    def __init__(self, feat: int, act_dim: int, units: int, layers: int):
        super().__init__()
        self.net = mlp(feat, units, layers, 2 * act_dim)

    def forward(self, feat: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(action, entropy of the Gaussian before the squashing)."""
        mean, raw_std = self.net(feat).chunk(2, -1)
        std = 0.9 * torch.sigmoid(raw_std + 2.0) + 0.1
        pre = mean + std * torch.randn_like(mean) if sample else mean
        entropy = (0.5 * math.log(2 * math.pi * math.e) + torch.log(std)).sum(-1)
        return torch.tanh(pre), entropy


class Critic(nn.Module):
    """A two-hot value head and its slow copy (EMA of the weights) that gives bootstrap values."""

    def __init__(self, feat: int, units: int, layers: int, twohot: TwoHot, slow_rate: float = 0.02):
        super().__init__()
        self.net = mlp(feat, units, layers, len(twohot.grid))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.slow = copy.deepcopy(self.net).requires_grad_(False)
        self.twohot, self.slow_rate = twohot, slow_rate

    def value(self, feat: torch.Tensor) -> torch.Tensor:
        return self.twohot.decode(self.slow(feat))

    def loss(self, feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.twohot.loss(self.net(feat), target.detach()).mean()

    @torch.no_grad()
    def update_slow(self) -> None:
        for slow, fast in zip(self.slow.parameters(), self.net.parameters(), strict=True):
            slow.lerp_(fast, self.slow_rate)


class ActorCritic(nn.Module):
    """The actor and the two critics, with one optimiser each (Adam, DreamerV3's eps and gradient clip)."""

    def __init__(self, wm: WorldModel, horizon: int, discount: float, lam: float, lr: float,
                 entropy: float = 3e-4, grad_clip: float = 100.0, device: str = "cpu"):
        super().__init__()
        cfg = wm.cfg
        self.actor = Actor(cfg.feat, wm.act_dim, cfg.units, cfg.layers)
        self.critic = Critic(cfg.feat, cfg.units, cfg.layers, wm.twohot)
        self.cost_critic = Critic(cfg.feat, cfg.units, cfg.layers, wm.twohot)
        self.horizon, self.discount, self.lam, self.entropy, self.grad_clip = horizon, discount, lam, entropy, grad_clip
        self.return_scale = PercentileScale()
        self.to(device)
        self.opts = [torch.optim.Adam(m.parameters(), lr=lr, eps=1e-5)
                     for m in (self.actor, self.critic.net, self.cost_critic.net)]

    def reward_return(self, wm: WorldModel, feats: torch.Tensor) -> torch.Tensor:
        """The reward lambda-return (H, N) along imagined states feats (H + 1, N, F)."""
        return lambda_return(wm.reward(feats[1:]), self.critic.value(feats[1:]), self.discount, self.lam)

    def cost_return(self, wm: WorldModel, feats: torch.Tensor) -> torch.Tensor:
        return lambda_return(wm.cost(feats[1:]), self.cost_critic.value(feats[1:]), self.discount, self.lam)

    def update(self, wm: WorldModel, h: torch.Tensor, z: torch.Tensor, constraint=None) -> dict[str, float]:
        """One step of actor and critics from start states (h, z); ``constraint`` (an ``AugmentedLagrange``)
        adds its term in the cost return to the actor loss (BSRP-Lag)."""
        wm.requires_grad_(False)  # gradients pass through the dynamics, the world model is not trained here
        try:
            entropies = []

            def act(t, feat):
                action, entropy = self.actor(feat.detach() if t == 0 else feat)
                entropies.append(entropy)
                return action

            feats, _ = wm.imagine(h, z, self.horizon, act)
            reward_return, cost_return = self.reward_return(wm, feats), self.cost_return(wm, feats)
        finally:
            wm.requires_grad_(True)
        scale = self.return_scale.update(reward_return)
        actor_loss = -(reward_return / scale).mean() - self.entropy * torch.stack(entropies).mean()
        stats = {"imag_return": reward_return.mean().item(), "imag_cost_return": cost_return.mean().item()}
        if constraint is not None:
            actor_loss = actor_loss + constraint.term(cost_return)
            stats["lambda"] = constraint.update(cost_return.mean().item())
        states = feats[:-1].detach()
        losses = [actor_loss, self.critic.loss(states, reward_return), self.cost_critic.loss(states, cost_return)]
        for opt in self.opts:
            opt.zero_grad(set_to_none=True)
        sum(losses).backward()
        for opt in self.opts:
            nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], self.grad_clip)
            opt.step()
        self.critic.update_slow()
        self.cost_critic.update_slow()
        stats["actor_loss"] = actor_loss.item()
        return stats
