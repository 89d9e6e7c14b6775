"""The NumPy fast path computes the same minibatch step as torch's autograd path."""

import dataclasses

import numpy as np
import pytest
import torch

from alignbook.saferl import make_config
from alignbook.saferl.algorithms.pg import PolicyGradient
from alignbook.saferl.algorithms.ppo_lag import PPOLag
from alignbook.saferl.buffer import Batch
from alignbook.saferl.fast import NumpyMinibatchStep


def _batch(n=96, obs_dim=5, act_dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs, act = torch.randn(n, obs_dim, generator=g), torch.randn(n, act_dim, generator=g)
    # Old log-probabilities near the current ones, so that some ratios fall inside the clip range and some out.
    logp = -0.5 * (act**2).sum(1) - act_dim * 0.9189 + 0.3 * torch.randn(n, generator=g)
    return Batch(obs, act, logp, *(torch.randn(n, generator=g) for _ in range(4)))


@pytest.mark.parametrize("cls, clip", [(PPOLag, 0.2), (PolicyGradient, None)])
def test_numpy_gradients_equal_autograd(cls, clip):
    algo = cls(5, 2, make_config(cls.name, hidden=(7, 6)))
    batch = _batch()
    loss = (algo.actor_loss(batch, batch.adv_r) + algo.critic_loss(batch))
    loss.backward()
    fast = NumpyMinibatchStep(algo, clip)
    fast.gradients(*(t.numpy() for t in (batch.obs, batch.act, batch.logp, batch.adv_r, batch.target_r,
                                                   batch.target_c)))
    for group, grads in zip(fast.params.tensors, fast.params.grad_views, strict=True):
        for p, g in zip(group, grads, strict=True):
            expected = p.grad.numpy().T if p.dim() == 2 else p.grad.numpy()
            np.testing.assert_allclose(g, expected, rtol=1e-3, atol=1e-5)


def test_a_whole_numpy_update_matches_the_torch_update():
    cfg = make_config("ppo_lag", hidden=(8, 8), update_iters=3, batch_size=32, kl_early_stop=False)
    batch = _batch(n=96, obs_dim=5, act_dim=2)
    results = []
    for fast in (True, False):
        torch.manual_seed(0)
        algo = PPOLag(5, 2, dataclasses.replace(cfg, fast_updates=fast))
        algo.update(batch, mean_episode_cost=40.0)
        results.append(torch.cat([p.detach().reshape(-1) for p in algo.ac.parameters()]))
    np.testing.assert_allclose(results[0].numpy(), results[1].numpy(), rtol=1e-4, atol=1e-5)
