"""Scaling laws: train a ladder of model sizes, fit L(C) = a * C^b + L_inf on the smaller ones, and predict the
final loss of a larger model before it is trained (Baichuan 2, Sec. 3: fit models of 10M-3B, predict 7B/13B).

Compute is counted as C = 6 N D (forward and backward, two FLOPs per multiply-add), with N the parameters that
do matrix multiplications for every token -- the blocks and the output head; the input embedding is a lookup
and costs nothing -- and D the training tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit


@dataclass(frozen=True)
class PowerLaw:
    """L(C) = a * C^b + L_inf, with C in units of ``c_unit`` FLOPs so the fit is well conditioned."""

    a: float
    b: float
    l_inf: float
    c_unit: float

    def __call__(self, compute: float | np.ndarray) -> np.ndarray:
        return self.a * (np.asarray(compute, dtype=float) / self.c_unit) ** self.b + self.l_inf


def compute_flops(matmul_params: int, tokens: int) -> float:
    return 6.0 * matmul_params * tokens


def fit_power_law(compute: Sequence[float], loss: Sequence[float]) -> PowerLaw:
    """Least-squares fit of L(C) = a C^b + L_inf with b < 0 and 0 <= L_inf < min(loss); needs >= 3 points."""
    c, y = np.asarray(compute, dtype=float), np.asarray(loss, dtype=float)
    if c.shape != y.shape or c.size < 3:
        raise ValueError(f"need at least three (compute, loss) pairs of equal length, got {c.size} and {y.size}")
    if np.any(c <= 0) or not np.all(np.isfinite(y)):
        raise ValueError("compute must be positive and losses finite")
    unit = float(c.min())
    x = c / unit

    def model(x, a, b, l_inf):
        return a * x**b + l_inf

    # Start from a straight line in log-log space with the floor at half the smallest loss.
    floor0 = 0.5 * y.min()
    slope = np.polyfit(np.log(x), np.log(np.maximum(y - floor0, 1e-6)), 1)[0] if np.ptp(x) > 0 else -0.1
    guess = (max(y[np.argmin(x)] - floor0, 1e-3), min(slope, -1e-3), floor0)
    bounds = ([0.0, -3.0, 0.0], [np.inf, 0.0, y.min()])
    params, _ = curve_fit(model, x, y, p0=guess, bounds=bounds, maxfev=20000)
    return PowerLaw(float(params[0]), float(params[1]), float(params[2]), unit)
