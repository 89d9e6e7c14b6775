"""Constrained policy optimisation (Achiam, Held, Tamar & Abbeel 2017).

Each epoch solves the trust-region problem with the constraint linearised around the current policy:

    max_s  g^T s    s.t.   c + b^T s <= 0,   (1/2) s^T F s <= delta

g: gradient of the reward surrogate, b: of the cost surrogate, F: Fisher matrix, c = J_c - d, delta =
``target_kl``. With x = F^{-1} g, p = F^{-1} b (conjugate gradient) and q = g^T x, r = g^T p, s = b^T p the
dual gives the step in closed form; which formula applies is one of five cases (the paper's appendix, numbered
as in SafePO and OmniSafe):

  4: the cost gradient vanishes and the policy is feasible -> the plain TRPO step
  3: feasible, and the whole trust region satisfies the linearised constraint -> the plain TRPO step
  2: feasible, the constraint cuts the trust region -> the dual solution (lambda*, nu*)
  1: infeasible, but the trust region reaches the feasible set -> the dual solution
  0: infeasible, and the trust region misses it -> a pure recovery step down the cost, -sqrt(2 delta / s) p

A backtracking line search then keeps the first step (x0.8, up to 15) whose KL is within delta, whose cost
surrogate does not grow by more than the slack max(-c, 0), and, in cases 2-4, whose reward surrogate improves.
"""

from __future__ import annotations

import math

import torch

from alignbook.saferl.base import TrustRegion
from alignbook.saferl.config import TrustRegionConfig, register

EPS = 1e-8


def cpo_case(c: float, q: float, r: float, s: float, b_norm_sq: float, delta: float) -> int:
    """Which of CPO's five cases (0-4) applies; see the module docstring."""
    if b_norm_sq <= EPS and c < 0:
        return 4
    B = 2 * delta - c**2 / (s + EPS)  # > 0 iff the constraint's boundary enters the trust region
    if c < 0:
        return 3 if B < 0 else 2
    return 1 if B >= 0 else 0


def cpo_step(case: int, x: torch.Tensor, p: torch.Tensor, q: float, r: float, s: float, c: float,
             delta: float) -> tuple[torch.Tensor, float, float]:
    """The step and the dual variables (lambda*, nu*) of the given case."""
    if case in (3, 4):
        lam = math.sqrt(q / (2 * delta))
        return x / (lam + EPS), lam, 0.0
    if case == 0:
        nu = math.sqrt(2 * delta / (s + EPS))
        return -nu * p, 0.0, nu
    # Here g is the reward's ascent direction, so the dual's stationarity gives nu*(lambda) = (lambda c + r) / s
    # (the paper writes the problem with the loss gradient, hence its opposite sign of r). The dual objective
    # is f_a where nu* > 0 and f_b where nu* is clipped to 0; maximise each over its range of lambda.
    A = q - r**2 / (s + EPS)
    B = 2 * delta - c**2 / (s + EPS)
    boundary = -r / c if c != 0 else math.inf  # lambda where nu* changes sign
    if c < 0:
        range_a, range_b = (0.0, max(boundary, 0.0)), (max(boundary, 0.0), math.inf)
    else:
        range_a, range_b = (max(boundary, 0.0), math.inf), (0.0, max(boundary, 0.0))

    def project(value: float, bounds: tuple[float, float]) -> float:
        return min(max(value, bounds[0]), bounds[1])

    lam_a = project(math.sqrt(max(A, 0.0) / (B + EPS)), range_a)
    lam_b = project(math.sqrt(q / (2 * delta)), range_b)

    def f_a(lam: float) -> float:
        return -0.5 * (A / (lam + EPS) + B * lam) + r * c / (s + EPS)

    def f_b(lam: float) -> float:
        return -0.5 * (q / (lam + EPS) + 2 * delta * lam)

    lam = lam_a if f_a(lam_a) >= f_b(lam_b) else lam_b
    nu = max(0.0, lam * c + r) / (s + EPS)
    return (x - nu * p) / (lam + EPS), lam, nu


def cpo_test(case: int, c: float, delta: float):
    """The line search's test of a trial step: (before, after), each (loss_r, loss_c, kl) -> accept?"""

    def accept(before: tuple[float, float, float], after: tuple[float, float, float]) -> bool:
        (loss_before, cost_before, _), (loss_r, loss_c, kl) = before, after
        if case >= 2 and loss_r > loss_before:  # a feasible policy must not lose reward
            return False
        if loss_c - cost_before > max(-c, 0.0):  # nor spend more than the slack on cost
            return False
        return kl <= delta

    return accept


@register("cpo")
class CPO(TrustRegion):
    Config = TrustRegionConfig

    def actor_step(self, batch, mean_episode_cost):
        delta, c = self.cfg.target_kl, mean_episode_cost - self.cfg.cost_limit
        adv = self.advantage(batch)
        geo = self.constraint_geometry(batch, adv)
        case = cpo_case(c, geo.q, geo.r, geo.s, geo.bb, delta)
        step, lam, nu = cpo_step(case, geo.x, geo.p, geo.q, geo.r, geo.s, c, delta)
        return {**self.move(batch, adv, geo.old, step, cpo_test(case, c, delta)), "case": float(case), "nu": nu}
