"""Natural policy gradient (Kakade 2001): the steepest ascent step under the KL metric,

theta <- theta + sqrt(2 delta / (g^T F^{-1} g)) F^{-1} g,

the largest step whose quadratic KL model equals delta (= ``target_kl``); F^{-1} g by conjugate gradient.
No line search: that is what TRPO adds.
"""

from __future__ import annotations

from alignbook.saferl.base import TrustRegion
from alignbook.saferl.config import TrustRegionConfig, register


@register("natural_pg")
class NaturalPG(TrustRegion):
    Config = TrustRegionConfig

    def actor_step(self, batch, mean_episode_cost):
        adv = self.advantage(batch)
        _, x, fvp, old = self.natural_direction(batch, adv)
        return self.move(batch, adv, old, self.natural_step(x, float(x @ fvp(x))), self.line_search_test())

    def line_search_test(self):
        """None: the natural gradient step is taken as it is."""
        return None
