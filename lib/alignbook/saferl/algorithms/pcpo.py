"""Projection-based constrained policy optimisation (Yang, Rosca, Narasimhan & Ramadge 2020).

Two steps per epoch: a TRPO reward step within the trust region, then a projection (in the KL metric) back
onto the linearised constraint set c + b^T s <= 0:

    s = sqrt(2 delta / q) x  -  max(0, (sqrt(2 delta / q) r + c) / s_bb) p

(x = F^{-1} g, p = F^{-1} b, q = g^T x, r = g^T p, s_bb = b^T p), followed by the same backtracking line
search as CPO (KL within delta, cost surrogate within the slack).
"""

from __future__ import annotations

import math

from alignbook.saferl.algorithms.cpo import cpo_acceptance
from alignbook.saferl.base import TrustRegion, backtracking_line_search
from alignbook.saferl.config import TrustRegionConfig, register


@register("pcpo")
class PCPO(TrustRegion):
    Config = TrustRegionConfig

    def actor_step(self, batch, mean_episode_cost):
        delta, c = self.cfg.target_kl, mean_episode_cost - self.cfg.cost_limit
        adv = self.advantage(batch)
        geo = self.constraint_geometry(batch, adv)
        scale = math.sqrt(2 * delta / (geo.q + 1e-8))
        step = scale * geo.x - max(0.0, (scale * geo.r + c) / (geo.s + 1e-8)) * geo.p
        evaluate = self.evaluate_step(batch, adv, geo.old, self.get_flat())
        loss_before, cost_before, _ = evaluate(step * 0)
        # Case 1's test: reward may be given up (the projection's job is the constraint), cost may not grow.
        accepted, tries = backtracking_line_search(
            evaluate, step, cpo_acceptance(1, c, loss_before, cost_before, delta),
            self.cfg.line_search_steps, self.cfg.line_search_decay)
        _, _, kl = evaluate(accepted)
        return {"kl": kl, "line_search": float(tries)}
