"""OSRP and OSRP-Lag: constrained cross-entropy planning in the world model (Safe DreamerV3's CCE planner).

Each decision runs ``iterations`` rounds of: draw ``candidates`` action sequences of length ``horizon`` from a
Gaussian (clipped to [-1, 1]), imagine all of them at once in the world model (one batched rollout), score them,
keep the ``elites`` best and move the Gaussian towards them (``momentum`` of the old mean and std kept). The
agent executes the first action of the final mean; the next decision starts from this mean shifted by one step.

Scoring (the constraint first, then the return):

- trajectory cost = sum of the predicted costs over the horizon x ``cost_scale`` (upstream: episode length /
  horizon, a whole episode at this rate); a candidate is *safe* when that is below the cost limit;
- at least ``elites`` safe candidates: the elites are the safe ones with the highest R_lambda - lambda_p C_lambda
  (OSRP: lambda_p = 0, the reward lambda-return alone; OSRP-Lag: lambda_p from a PID Lagrangian);
- fewer: the elites are the candidates with the lowest trajectory cost -- safety before return.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from alignbook.worldmodel.behaviour import ActorCritic
from alignbook.worldmodel.model import WorldModel


@dataclass(frozen=True)
class PlannerConfig:
    horizon: int = 15
    candidates: int = 500
    elites: int = 50
    iterations: int = 6
    momentum: float = 0.1
    init_std: float = 1.0

    def __post_init__(self):
        for name in ("horizon", "candidates", "elites", "iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"planner {name} must be a positive int, got {value!r}")
        if self.elites > self.candidates:
            raise ValueError(f"planner elites ({self.elites}) must not exceed candidates ({self.candidates})")
        if not 0 <= self.momentum < 1 or self.init_std <= 0:
            raise ValueError(f"need 0 <= momentum < 1 and init_std > 0, got {self.momentum!r}, {self.init_std!r}")


def select_elites(reward_score: torch.Tensor, trajectory_cost: torch.Tensor, cost_limit: float,
                  elites: int) -> torch.Tensor:
    """Indices of the elites: the best ``reward_score`` among the safe candidates when there are at least
    ``elites`` of them, else the lowest ``trajectory_cost``."""
    safe = trajectory_cost < cost_limit
    if int(safe.sum()) >= elites:
        score = torch.where(safe, reward_score, torch.full_like(reward_score, -torch.inf))
    else:
        score = -trajectory_cost
    return torch.topk(score, elites).indices


class ConstrainedCEM:
    def __init__(self, wm: WorldModel, ac: ActorCritic, cfg: PlannerConfig, cost_limit: float, cost_scale: float,
                 multiplier=None):
        """``multiplier``: an object with ``.value`` (OSRP-Lag's PID Lagrangian), or None for OSRP."""
        self.wm, self.ac, self.cfg = wm, ac, cfg
        self.cost_limit, self.cost_scale, self.multiplier = cost_limit, cost_scale, multiplier
        self.reset()

    def reset(self) -> None:
        self.mean = torch.zeros(self.cfg.horizon, self.wm.act_dim, device=self.wm.rssm.gru.weight_hh.device)
        self.safe_fraction = 1.0

    @torch.inference_mode()
    def __call__(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The action (act_dim,) to take from the filtered state (h, z) of shape (1, ...)."""
        cfg = self.cfg
        n = cfg.candidates
        # All candidates go through the world model as one batch: the filtered state is shared (expanded, not
        # copied) and never recomputed; actions are drawn time-major (horizon, candidates, act_dim), the
        # layout the rollout consumes step by step.
        h, z = h.expand(n, -1), z.expand(n, -1)
        mean, std = self.mean, torch.full_like(self.mean, cfg.init_std)
        lam = 0.0 if self.multiplier is None else float(self.multiplier.value)
        for _ in range(cfg.iterations):
            noise = torch.randn(cfg.horizon, n, mean.shape[-1], device=mean.device)
            actions = torch.addcmul(mean[:, None], std[:, None], noise).clamp_(-1, 1)
            feats, _ = self.wm.imagine(h, z, cfg.horizon, actions)
            trajectory_cost = self.wm.cost(feats[1:]).sum(0) * self.cost_scale
            score = self.ac.reward_return(self.wm, feats)[0]
            if lam > 0:
                score = score - lam * self.ac.cost_return(self.wm, feats)[0]
            elite = actions[:, select_elites(score, trajectory_cost, self.cost_limit, cfg.elites)]
            mean = cfg.momentum * mean + (1 - cfg.momentum) * elite.mean(1)
            std = cfg.momentum * std + (1 - cfg.momentum) * elite.std(1, unbiased=False)
        self.safe_fraction = float((trajectory_cost < self.cost_limit).float().mean())
        self.mean = torch.cat([mean[1:], torch.zeros_like(mean[:1])])  # warm start for the next decision
        return mean[0].clamp(-1, 1)
