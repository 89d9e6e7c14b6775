"""Lagrange multipliers for constrained optimisation: gradient ascent on lambda, and the PID controller.

Both classes solve the same problem -- keep a measured cost ``J_c`` at or below a limit ``d`` while something
else is optimised -- and neither knows what produces the cost: a safe-control agent feeds them the mean episode
cost of an epoch, the Safe RLHF chapter the mean cost-model score of a batch of generations. They depend on
nothing but the standard library (torch only for ``state_dict``), so that both chapters share exactly one
implementation.

The Lagrangian of ``max_pi J_r(pi) s.t. J_c(pi) <= d`` is ``L(pi, lambda) = J_r - lambda (J_c - d)``; the policy
ascends it in pi, the multiplier descends it in lambda >= 0, i.e. lambda grows while the cost is above the
limit and shrinks (down to 0) below it.

The Adam step on lambda is written out for one scalar (torch's formula and defaults, tested equal to
``torch.optim.Adam``): a torch optimiser would import torch's compiler stack on construction, seconds of
start-up for one number.
"""

from __future__ import annotations

import math
from collections import deque

import torch


def _check_limit(cost_limit: float) -> float:
    if not isinstance(cost_limit, int | float) or isinstance(cost_limit, bool) or cost_limit < 0:
        raise ValueError(f"cost_limit must be a non-negative number, got {cost_limit!r}")
    return float(cost_limit)


class Lagrange:
    """lambda updated by Adam on the loss ``-lambda (J_c - d)`` and clamped at 0 (SafePO / OmniSafe defaults).

    ``update(mean_cost)`` is called once per epoch, before the policy update, with the mean episode cost of
    the epoch; ``value`` is the multiplier the policy update then uses. ``log_space=True`` is Safe RLHF's rule
    instead: SGD with rate ``lr`` on log lambda (so lambda stays positive), capped at ``upper_bound``.
    """

    def __init__(self, cost_limit: float, init: float = 0.001, lr: float = 0.035, upper_bound: float | None = None,
                 log_space: bool = False):
        if init < 0 or lr <= 0 or (log_space and init == 0):
            raise ValueError(f"need init >= 0 (> 0 in log space) and lr > 0, got init={init!r}, lr={lr!r}")
        self.log_space = log_space
        self.cost_limit = _check_limit(cost_limit)
        self.upper_bound = upper_bound
        self.lr = float(lr)
        self._lambda = float(init)
        self._m = self._v = 0.0  # Adam's first and second moments
        self._t = 0

    @property
    def value(self) -> float:
        return self._lambda

    def update(self, mean_cost: float) -> float:
        """One Adam step on lambda given this epoch's mean cost; returns the new lambda."""
        # d/dlambda of -lambda (J_c - d) is -(J_c - d): descending it raises lambda while J_c > d.
        grad = -(float(mean_cost) - self.cost_limit)
        if self.log_space:  # Safe RLHF: plain SGD on log lambda, loss -(J_c - d) exp(log lambda), capped at the max
            log_lambda = math.log(self._lambda) - self.lr * grad * self._lambda
            if self.upper_bound is not None:
                log_lambda = min(log_lambda, math.log(self.upper_bound))
            self._lambda = math.exp(log_lambda)
            return self._lambda
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        self._t += 1
        self._m = beta1 * self._m + (1 - beta1) * grad
        self._v = beta2 * self._v + (1 - beta2) * grad * grad
        step = self.lr / (1 - beta1**self._t) * self._m / (math.sqrt(self._v / (1 - beta2**self._t)) + eps)
        self._lambda = max(0.0, self._lambda - step)
        if self.upper_bound is not None:
            self._lambda = min(self._lambda, self.upper_bound)
        return self._lambda

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"lambda": torch.tensor(self._lambda)}


class PIDLagrange:
    """The PID Lagrangian of Stooke, Achiam & Abbeel (2020), with OmniSafe's CPPO-PID defaults.

    lambda = clip(kp * EMA(J_c - d) + I + kd * max(0, EMA(J_c) - EMA(J_c) ``delay`` updates ago), 0, penalty_max)
    with the integral ``I = max(0, I + ki (J_c - d))``. The proportional and derivative terms damp the
    oscillation that plain gradient ascent on lambda (an integral-only controller) shows around the limit.
    """

    def __init__(self, cost_limit: float, kp: float = 0.1, ki: float = 0.01, kd: float = 0.01,
                 d_delay: int = 10, p_ema: float = 0.95, d_ema: float = 0.95, penalty_max: float = 100.0,
                 init: float = 0.001):
        if d_delay < 1 or not 0 <= p_ema < 1 or not 0 <= d_ema < 1 or penalty_max <= 0:
            raise ValueError("need d_delay >= 1, EMA factors in [0, 1) and penalty_max > 0")
        self.cost_limit = _check_limit(cost_limit)
        self.kp, self.ki, self.kd, self.penalty_max = kp, ki, kd, penalty_max
        self.p_ema, self.d_ema = p_ema, d_ema
        self._integral = 0.0
        self._delta_p = 0.0  # EMA of the violation J_c - d
        self._cost_d = 0.0  # EMA of the cost itself, for the derivative
        self._history: deque[float] = deque([0.0], maxlen=d_delay)
        self._value = float(init)

    @property
    def value(self) -> float:
        return self._value

    def update(self, mean_cost: float) -> float:
        violation = float(mean_cost) - self.cost_limit
        self._integral = max(0.0, self._integral + self.ki * violation)
        self._delta_p = self.p_ema * self._delta_p + (1 - self.p_ema) * violation
        self._cost_d = self.d_ema * self._cost_d + (1 - self.d_ema) * float(mean_cost)
        # Only a rising cost pushes lambda up through the derivative term; a falling one is left to P and I.
        derivative = max(0.0, self._cost_d - self._history[0])
        self._history.append(self._cost_d)
        self._value = min(max(0.0, self.kp * self._delta_p + self._integral + self.kd * derivative), self.penalty_max)
        return self._value

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"lambda": torch.tensor(self._value), "integral": torch.tensor(self._integral)}
