"""Trust region policy optimisation (Schulman et al. 2015): the natural gradient step of NPG, then a
backtracking line search (x0.8, up to 15 tries) that keeps the first step with KL <= delta which also
improves the surrogate; if none does, the policy stays where it was.
"""

from __future__ import annotations

from alignbook.saferl.algorithms.natural_pg import NaturalPG
from alignbook.saferl.config import register


@register("trpo")
class TRPO(NaturalPG):
    def line_search_test(self):
        def improves_within_the_trust_region(before, after):
            (loss_before, _, _), (loss, _, kl) = before, after
            return loss < loss_before and kl <= self.cfg.target_kl

        return improves_within_the_trust_region
