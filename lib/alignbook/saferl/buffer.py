"""The on-policy rollout buffer: one epoch of experience from ``num_envs`` environments, and its advantages.

Generalised advantage estimation (Schulman et al. 2016) is computed twice, for the reward and for the cost:

    delta_t = r_t + gamma * V(s_{t+1}) - V(s_t),     A_t = delta_t + gamma * lambda * A_{t+1}   (within an episode)

The value of "the next state" is where time limits matter: after a *termination* it is 0; after a
*truncation* (the time limit) the episode did not end in the MDP, so we bootstrap from V of the final
observation; and at the end of the epoch an unfinished episode bootstraps from V of the observation it will
continue from. Values are computed in one batched forward after the rollout, since the critics do not change
during it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, dones: np.ndarray,
        gamma: float, lam: float) -> np.ndarray:
    """Advantages for arrays of shape (T, ...) in time order.

    ``next_values[t]`` is the value to bootstrap from after step t (already 0 after a termination);
    ``dones[t]`` is true when the episode ended at step t (either way), which cuts the recursion.
    """
    advantages = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros_like(rewards[0], dtype=np.float64)
    for t in range(len(rewards) - 1, -1, -1):
        delta = rewards[t] + gamma * next_values[t] - values[t]
        running = delta + gamma * lam * (1.0 - dones[t]) * running
        advantages[t] = running
    return advantages


@dataclass
class Batch:
    """A flat epoch of experience as torch tensors (float32), ready for the update."""

    obs: torch.Tensor
    act: torch.Tensor
    logp: torch.Tensor
    adv_r: torch.Tensor
    adv_c: torch.Tensor
    target_r: torch.Tensor
    target_c: torch.Tensor

    def __len__(self) -> int:
        return self.obs.shape[0]

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.obs, self.act, self.logp, self.adv_r, self.adv_c, self.target_r, self.target_c)

    def minibatch(self, index: torch.Tensor) -> Batch:
        return Batch(*(t[index] for t in self._tensors()))

    def slice(self, start: int, stop: int) -> Batch:
        return Batch(*(t[start:stop] for t in self._tensors()))


class RolloutBuffer:
    def __init__(self, steps: int, num_envs: int, obs_dim: int, act_dim: int):
        shape = (steps, num_envs)
        self.obs = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.act = np.zeros((*shape, act_dim), dtype=np.float32)
        self.reward = np.zeros(shape)
        self.cost = np.zeros(shape)
        self.terminated = np.zeros(shape, dtype=bool)
        self.truncated = np.zeros(shape, dtype=bool)
        # The (normalised) observation each step's bootstrap value is read from, when the episode ended there
        # by truncation, or at the last step of the epoch.
        self.bootstrap_obs = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.t, self.steps = 0, steps

    def add(self, obs, act, reward, cost, terminated, truncated) -> None:
        t = self.t
        self.obs[t], self.act[t], self.reward[t], self.cost[t] = obs, act, reward, cost
        self.terminated[t], self.truncated[t] = terminated, truncated
        self.t += 1

    def finish(self, model, last_obs: np.ndarray, gamma: float, lam_r: float, lam_c: float,
               standardise_reward: bool = True, centre_cost: bool = True) -> Batch:
        """Compute values, GAE and critic targets, and flatten the epoch into a ``Batch``."""
        assert self.t == self.steps, "the buffer is not full"
        steps, n, dim = self.obs.shape
        v_r, v_c = model.values(self.obs.reshape(-1, dim))
        v_r, v_c = v_r.reshape(steps, n), v_c.reshape(steps, n)
        done = self.terminated | self.truncated
        # By default, step t continues into s_{t+1} = obs[t + 1]; the last step continues into last_obs.
        next_r, next_c = np.empty_like(v_r), np.empty_like(v_c)
        next_r[:-1], next_c[:-1] = v_r[1:], v_c[1:]
        next_r[-1], next_c[-1] = model.values(np.asarray(last_obs, dtype=np.float32))
        cut = self.truncated & ~self.terminated
        if cut.any():
            b_r, b_c = model.values(self.bootstrap_obs[cut])
            next_r[cut], next_c[cut] = b_r, b_c
        next_r[self.terminated], next_c[self.terminated] = 0.0, 0.0
        adv_r = gae(self.reward, v_r, next_r, done, gamma, lam_r)
        adv_c = gae(self.cost, v_c, next_c, done, gamma, lam_c)
        target_r, target_c = adv_r + v_r, adv_c + v_c
        # OmniSafe's buffer: reward advantages standardised, cost advantages only centred (their scale is
        # what the constraint is measured in).
        if standardise_reward:
            adv_r = (adv_r - adv_r.mean()) / (adv_r.std() + 1e-8)
        if centre_cost:
            adv_c = adv_c - adv_c.mean()

        def flat(x: np.ndarray) -> torch.Tensor:
            # time-major (T, N, ...) -> (T * N, ...); the order does not matter once advantages exist.
            return torch.as_tensor(x.reshape(steps * n, *x.shape[2:]), dtype=torch.float32, device=device)

        device = model.actor.log_std.device  # the batch goes where the networks are

        obs, act = flat(self.obs), flat(self.act)
        with torch.no_grad():
            logp = model.actor.log_prob(obs, act)
        return Batch(obs, act, logp, flat(adv_r), flat(adv_c), flat(target_r), flat(target_c))
