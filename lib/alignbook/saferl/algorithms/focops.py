"""First-order constrained optimisation in policy space (Zhang, Vuong & Ross 2020).

The optimal update policy of the KL-regularised, Lagrangian problem is pi* ~ pi_old exp(A / lambda_f); FOCOPS
projects onto it with first-order steps on

    L(theta) = E[ ( KL(pi_old || pi_theta)(s) - (1 / lambda_f) rho(s, a) A(s, a) ) * 1{ KL(s) <= eta } ]

with A = (A_r - nu A_c) / (1 + nu), nu the Lagrange multiplier of the cost (the shared Adam-on-lambda
multiplier), lambda_f = 1.5 and eta = 0.02 (the paper's and OmniSafe's values). States whose KL already exceeds
eta drop out of the loss: the indicator is the trust region.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.base import FirstOrder
from alignbook.saferl.config import LagrangeConfig, OnPolicyConfig, register


@dataclass(frozen=True)
class FOCOPSConfig(OnPolicyConfig, LagrangeConfig):
    update_iters: int = 10
    focops_lam: float = 1.5
    focops_eta: float = 0.02


@register("focops")
class FOCOPS(FirstOrder):
    Config = FOCOPSConfig
    loss = "focops"

    multiplier = "lagrange"

    def update_networks(self, batch, mean_episode_cost):
        adv = self.advantage(batch)
        old_mean, old_log_std = self.old_distribution(batch)

        def loss(mb, index):
            kl = self.kl(mb.obs, (old_mean[index], old_log_std))
            inside = (kl.detach() <= self.cfg.focops_eta).float()
            return ((kl - self.ratio(mb) * adv[index] / self.cfg.focops_lam) * inside).mean()

        return self.minibatch_updates(batch, loss)
