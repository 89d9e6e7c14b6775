"""Trust region policy optimisation (Schulman et al. 2015): the natural gradient step of NPG, then a
backtracking line search (x0.8, up to 15 tries) that keeps the first step with KL <= delta which also
improves the surrogate; if none does, the policy stays where it was.
"""

from __future__ import annotations

import math

from alignbook.saferl.base import TrustRegion, backtracking_line_search
from alignbook.saferl.config import TrustRegionConfig, register


@register("trpo")
class TRPO(TrustRegion):
    Config = TrustRegionConfig

    def actor_step(self, batch, mean_episode_cost):
        adv = self.advantage(batch)
        g, x, fvp, old = self.natural_direction(batch, adv)
        step = math.sqrt(2 * self.cfg.target_kl / (float(x @ fvp(x)) + 1e-8)) * x
        evaluate = self.evaluate_step(batch, adv, old, self.get_flat())
        loss_before, _, _ = evaluate(step * 0)
        accepted, tries = backtracking_line_search(
            evaluate, step, lambda loss, _cost, kl: loss < loss_before and kl <= self.cfg.target_kl,
            self.cfg.line_search_steps, self.cfg.line_search_decay)
        _, _, kl = evaluate(accepted)
        return {"kl": kl, "line_search": float(tries)}
