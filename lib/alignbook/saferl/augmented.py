"""The augmented Lagrangian of a single inequality constraint ``g <= 0`` (Nocedal & Wright, eq. 17.65).

For a multiplier estimate lambda >= 0 and a penalty weight c > 0 the term added to a loss is::

    psi(g) = lambda g + c/2 g^2      if lambda + c g > 0   (the constraint is active or near it)
    psi(g) = -lambda^2 / (2c)        otherwise             (far inside the feasible set: a constant, no gradient)

and after each step the estimates move as ``lambda <- max(0, lambda + c g)``, ``c <- min(c (1 + growth), c_max)``.
Safe DreamerV3's BSRP-Lag puts it in the imagined actor loss with g = mean(C_lambda) - d, the cost lambda-return
above the limit. Like ``Lagrange`` and ``PIDLagrange`` it knows nothing about what produces the cost.
"""

from __future__ import annotations

import torch


class AugmentedLagrange:
    def __init__(self, cost_limit: float, init: float = 1e-6, penalty: float = 5e-9, growth: float = 1e-5,
                 penalty_max: float = 1.0):
        if cost_limit < 0 or init < 0 or penalty <= 0 or growth < 0 or penalty_max < penalty:
            raise ValueError("need cost_limit >= 0, init >= 0, 0 < penalty <= penalty_max and growth >= 0, got "
                             f"{cost_limit!r}, {init!r}, {penalty!r}, {penalty_max!r}, {growth!r}")
        self.cost_limit, self.growth, self.penalty_max = float(cost_limit), float(growth), float(penalty_max)
        self._lambda, self._c = float(init), float(penalty)

    @property
    def value(self) -> float:
        return self._lambda

    @property
    def penalty(self) -> float:
        return self._c

    def term(self, cost: torch.Tensor) -> torch.Tensor:
        """psi(g) for g = mean(cost) - limit, differentiable in ``cost`` (add it to the loss)."""
        g = cost.mean() - self.cost_limit
        lam, c = self._lambda, self._c
        if lam + c * g.item() > 0:
            return lam * g + c / 2 * g * g
        return torch.full_like(g, -lam * lam / (2 * c))

    def update(self, mean_cost: float) -> float:
        g = float(mean_cost) - self.cost_limit
        self._lambda = max(0.0, self._lambda + self._c * g)
        self._c = min(self._c * (1 + self.growth), self.penalty_max)
        return self._lambda
