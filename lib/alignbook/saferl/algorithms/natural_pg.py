"""Natural policy gradient (Kakade 2001): the steepest ascent step under the KL metric,

theta <- theta + sqrt(2 delta / (g^T F^{-1} g)) F^{-1} g,

the largest step whose quadratic KL model equals delta (= ``target_kl``); F^{-1} g by conjugate gradient.
No line search: that is what TRPO adds.
"""

from __future__ import annotations

import math

from alignbook.saferl.base import TrustRegion
from alignbook.saferl.config import TrustRegionConfig, register


@register("natural_pg")
class NaturalPG(TrustRegion):
    Config = TrustRegionConfig

    def actor_step(self, batch, mean_episode_cost):
        adv = self.advantage(batch)
        g, x, fvp, old = self.natural_direction(batch, adv)
        xhx = float(x @ fvp(x))
        step = math.sqrt(2 * self.cfg.target_kl / (xhx + 1e-8)) * x
        evaluate = self.evaluate_step(batch, adv, old, self.get_flat())
        _, _, kl = evaluate(step)
        return {"kl": kl}
