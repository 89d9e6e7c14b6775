"""Running observation normalisation (as OmniSafe's ``obs_normalize``): subtract a running mean, divide by a
running standard deviation, both updated with every observation the agent sees."""

from __future__ import annotations

import numpy as np


class RunningNormaliser:
    """Batched running mean and variance (Chan et al.'s parallel update) and the normalisation they define."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8):
        self.mean = np.zeros(shape)
        self.var = np.ones(shape)
        self.count = 0
        self.clip, self.eps = clip, eps
        self._refresh_scale()

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64).reshape(-1, *self.mean.shape)
        n = batch.shape[0]
        total = self.count + n
        if n == 1:
            # One environment feeds one observation per step: the batch's own mean is the observation and its
            # variance 0, so the reductions below are skipped (same numbers, a fraction of the time).
            delta = batch[0] - self.mean
            self.mean = self.mean + delta / total
            self.var = (self.var * self.count + delta * delta * (self.count / total)) / total
        else:
            mean, var = batch.mean(axis=0), batch.var(axis=0)
            delta = mean - self.mean
            self.mean = self.mean + delta * n / total
            # Combine the two sums of squared deviations, then divide by the new count.
            self.var = (self.var * self.count + var * n + delta**2 * self.count * n / total) / total
        self.count = total
        self._refresh_scale()

    def _refresh_scale(self) -> None:
        """1 / (std + eps), kept with the statistics so that normalising is two operations per call. Before
        the second observation the variance is meaningless; only centre."""
        self._scale = 1.0 / ((np.sqrt(self.var) if self.count > 1 else 1.0) + self.eps)

    def __call__(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        if update:
            self.update(obs)
        scaled = (obs - self.mean) * self._scale
        return np.clip(scaled, -self.clip, self.clip, out=scaled)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": np.array(self.count)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.mean, self.var, self.count = np.array(state["mean"]), np.array(state["var"]), int(state["count"])
        self._refresh_scale()
