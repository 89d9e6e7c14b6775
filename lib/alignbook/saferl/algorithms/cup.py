"""Constrained update projection (Yang et al. 2022), two stages per epoch:

1. policy improvement: PPO's clipped step on the reward advantage alone, giving pi_{k+1/2};
2. projection: minibatch steps on  E[ KL(pi_{k+1/2} || pi_theta)(s) + nu * (1 - gamma lam) / (1 - gamma) * rho A_c ]
   (rho relative to the policy that collected the data), stopped once the KL to pi_{k+1/2} exceeds target_kl;

nu is the shared Adam-on-lambda multiplier. The factor (1 - gamma lam) / (1 - gamma) is the paper's
generalised-advantage bound on how far the cost may move.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.algorithms.ppo import PPO, PPOConfig, clipped_surrogate_loss
from alignbook.saferl.config import LagrangeConfig, register


@dataclass(frozen=True)
class CUPConfig(PPOConfig, LagrangeConfig):
    update_iters: int = 10


@register("cup")
class CUP(PPO):
    Config = CUPConfig
    loss = "cup"  # two stages: the clipped surrogate on A_r, then the projection below

    multiplier = "lagrange"

    def update_networks(self, batch, mean_episode_cost):
        adv = batch.adv_r
        improve = self.minibatch_updates(
            batch, lambda mb, index: clipped_surrogate_loss(self.ratio(mb), adv[index], self.cfg.clip))
        half_mean, half_log_std = self.old_distribution(batch)  # pi_{k+1/2}
        coef = (1 - self.cfg.gamma * self.cfg.lam) / (1 - self.cfg.gamma)
        nu = self.penalty

        def projection(mb, index):
            kl = self.kl(mb.obs, (half_mean[index], half_log_std))
            return (kl + nu * coef * self.ratio(mb) * batch.adv_c[index]).mean()

        project = self.minibatch_updates(batch, projection, critics=False)
        return {"kl": improve["kl"] + project["kl"], "passes": improve["passes"] + project["passes"]}
