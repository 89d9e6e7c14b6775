"""Saute and Simmer (OmniSafe's environment adapters): wrappers that make any registered algorithm safe by
changing the task it sees, not the algorithm.

Saute (Sootla et al. 2022) appends a *safety state* z to the observation: z starts at 1 and after each step

    z <- (z - c / B) / gamma_s,        B = budget (1 - gamma_s^T) / ((1 - gamma_s) T)

(B = budget when gamma_s = 1: then z is the fraction of the episode's budget still unspent). Once z <= 0 the
reward is replaced by ``unsafe_reward``: an agent maximising the new reward learns to keep its episode cost
within the budget, and sees how much is left. The cost itself is passed through unchanged (for logging).

Simmer (Sootla et al. 2022b) is Saute whose budget is moved once per epoch by a PI(D) controller on the mean
episode cost J_c (``end_epoch``): error e = budget - J_c, smoothed by an EMA (0.995), step = kp e_EMA +
ki (sum of the last 10 errors) + kd (e - e_previous), clamped to [-1, 1]; budget clamped to (1e-6, upper_budget).
Defaults as OmniSafe's PPOSaute / PPOSimmerPID (the anchor lists them).

Both wrap the batched environments of ``alignbook.envs.make_vec`` (autoreset; z of a finished episode goes into
its ``final_observation`` and restarts at 1).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class SauteConfig:
    safety_budget: float = 25.0
    saute_gamma: float = 0.999
    unsafe_reward: float = -1.0


@dataclass(frozen=True)
class SimmerConfig(SauteConfig):
    upper_budget: float = 25.0
    simmer_kp: float = 5e-4
    simmer_ki: float = 1e-5
    simmer_kd: float = 0.0
    simmer_ema: float = 0.995


class Saute:
    def __init__(self, env, budget: float, gamma: float = 0.999, unsafe_reward: float = -1.0,
                 horizon: int | None = None):
        if not isinstance(budget, int | float) or budget <= 0:
            raise ValueError(f"safety_budget must be a positive number, got {budget!r}")
        if not 0 < gamma <= 1:
            raise ValueError(f"saute_gamma must lie in (0, 1], got {gamma!r}")
        self.env, self.gamma, self.unsafe_reward = env, float(gamma), float(unsafe_reward)
        self.num_envs = env.num_envs
        self.max_episode_steps = env.max_episode_steps
        self.horizon = int(horizon or env.max_episode_steps)
        self.task_id = getattr(env, "task_id", None)
        low, high = env.single_observation_space.low, env.single_observation_space.high
        self.single_observation_space = spaces.Box(np.append(low, -np.inf), np.append(high, np.inf),
                                                   dtype=np.float64)
        self.single_action_space = env.single_action_space
        self.budget = float(budget)
        self.z = np.ones(self.num_envs)

    @property
    def step_budget(self) -> float:
        """B: the budget per step, discounted so that spending it evenly over T steps empties z exactly."""
        T, g = self.horizon, self.gamma
        return self.budget if g == 1.0 else self.budget * (1 - g**T) / ((1 - g) * T)

    def _with_z(self, obs, z) -> np.ndarray:
        return np.concatenate([np.asarray(obs, np.float64).reshape(self.num_envs, -1), z[:, None]], axis=1)

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.z = np.ones(self.num_envs)
        return self._with_z(obs, self.z), info

    def step(self, actions):
        obs, reward, cost, terminated, truncated, info = self.env.step(actions)
        self.z = (self.z - np.asarray(cost, np.float64) / self.step_budget) / self.gamma
        reward = np.where(self.z > 0, reward, self.unsafe_reward)
        ended = np.logical_or(terminated, truncated)
        if "final_observation" in info:
            final = np.empty(self.num_envs, dtype=object)  # one entry per environment, whatever the task built
            flagged = info.get("_final_observation", ended)
            for i in range(self.num_envs):
                task_final = info["final_observation"][i]
                final[i] = np.append(np.asarray(task_final, np.float64), self.z[i]) if flagged[i] else task_final
            info = {**info, "final_observation": final}
        out = self._with_z(obs, self.z)
        self.z[ended] = 1.0
        out[ended, -1] = 1.0  # the next episode's first observation
        return out, reward, cost, terminated, truncated, info

    def end_epoch(self, mean_episode_cost: float) -> None:
        """Saute's budget is fixed; Simmer moves it here."""

    def state_dict(self) -> dict:
        """What a resumed run needs (JSON): the budget, each episode's z, and the task's own state when it
        can give one (``None`` otherwise: a simulator restarts its episodes)."""
        inner = self.env.state_dict() if hasattr(self.env, "state_dict") else None
        return {"budget": self.budget, "z": self.z.tolist(), "task": inner}

    def load_state_dict(self, state: dict) -> None:
        self.budget, self.z = float(state["budget"]), np.asarray(state["z"], np.float64)
        if state["task"] is not None:
            self.env.load_state_dict(state["task"])

    def close(self) -> None:
        self.env.close()


class Simmer(Saute):
    def __init__(self, env, budget: float, upper_budget: float, kp: float, ki: float, kd: float, ema: float,
                 **saute):
        super().__init__(env, budget, **saute)
        if upper_budget <= 0:
            raise ValueError(f"upper_budget must be positive, got {upper_budget!r}")
        self.upper_budget, self.kp, self.ki, self.kd, self.ema = upper_budget, kp, ki, kd, ema
        self._error_ema = 0.0
        self._previous = 0.0
        self._errors: deque[float] = deque(maxlen=10)

    def end_epoch(self, mean_episode_cost: float) -> None:
        error = self.budget - float(mean_episode_cost)
        self._error_ema = self.ema * self._error_ema + (1 - self.ema) * error
        self._errors.append(error)
        step = self.kp * self._error_ema + self.ki * sum(self._errors) + self.kd * (error - self._previous)
        self._previous = error
        self.budget = float(np.clip(self.budget + np.clip(step, -1.0, 1.0), 1e-6, self.upper_budget))

    def state_dict(self) -> dict:
        return {**super().state_dict(), "controller": [self._error_ema, self._previous, list(self._errors)]}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._error_ema, self._previous, errors = state["controller"]
        self._errors = deque(errors, maxlen=self._errors.maxlen)


def adapt(env, algo_cls, cfg):
    """``env`` as the algorithm's ``adapter`` ("saute", "simmer" or None) sets it up."""
    kind = getattr(algo_cls, "adapter", None)
    if kind is None:
        return env
    saute = dict(gamma=cfg.saute_gamma, unsafe_reward=cfg.unsafe_reward)
    if kind == "saute":
        return Saute(env, cfg.safety_budget, **saute)
    return Simmer(env, cfg.safety_budget, cfg.upper_budget, cfg.simmer_kp, cfg.simmer_ki, cfg.simmer_kd,
                  cfg.simmer_ema, **saute)
