"""The NumPy fast path computes the same minibatch step as torch's autograd path."""

import dataclasses

import numpy as np
import pytest
import torch

from alignbook.saferl import make_config
from alignbook.saferl.algorithms.pg import PolicyGradient
from alignbook.saferl.algorithms.ppo_lag import PPOLag
from alignbook.saferl.buffer import Batch
from alignbook.saferl.fast import NumpyUpdate


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
    fast = NumpyUpdate(algo, clip, parallel=False)
    fast.gradients(*(t.numpy() for t in (batch.obs, batch.act, batch.logp, batch.adv_r, batch.target_r,
                                         batch.target_c)))
    assert len(fast.links) == len(list(algo.ac.parameters()))
    for tensor, _, grad in fast.links:
        np.testing.assert_allclose(grad, tensor.grad.numpy().T, rtol=1e-3, atol=1e-5)


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


def test_numpy_kl_equals_the_torch_kl_after_an_update():
    algo = PPOLag(5, 2, make_config("ppo_lag", hidden=(8, 8), update_iters=2, kl_early_stop=False))
    batch = _batch()
    old = algo.old_distribution(batch)
    fast = NumpyUpdate(algo, 0.2, parallel=False)
    obs = batch.obs.numpy()
    old_mean = fast.actor.mean(obs)
    np.testing.assert_allclose(old_mean, old[0].numpy(), rtol=1e-5, atol=1e-6)
    kl, passes = fast.update(*(t.numpy() for t in (batch.obs, batch.act, batch.logp, batch.adv_r, batch.target_r,
                                                  batch.target_c)), np.stack([np.arange(96)] * 2))
    with torch.no_grad():
        expected = float(algo.kl(batch.obs, old).mean())
    assert passes == 2 and expected > 1e-6  # the policy moved
    # torch's float32 KL carries ~1e-7 of rounding: far below any target_kl.
    assert kl == pytest.approx(expected, rel=1e-3, abs=1e-6)
    assert fast.actor.kl(obs, old_mean, old[1].numpy()) == kl


@pytest.mark.parametrize("early_stop", [False, True])
def test_the_two_process_update_gives_the_same_numbers_as_one_process(early_stop):
    cfg = make_config("ppo_lag", hidden=(8, 8), update_iters=6, batch_size=32, kl_early_stop=early_stop,
                      target_kl=1e-4)
    batch = _batch(n=96, obs_dim=5, act_dim=2)
    results, logs = [], []
    for parallel in (False, True):
        torch.manual_seed(0)
        algo = PPOLag(5, 2, dataclasses.replace(cfg, parallel_update=parallel))
        logs += [algo.update(batch, mean_episode_cost=40.0), algo.update(batch, mean_episode_cost=40.0)]
        results.append(torch.cat([p.detach().reshape(-1) for p in algo.ac.parameters()]))
        assert algo._numpy_update.parallel == parallel
        algo.close()
    np.testing.assert_array_equal(results[0].numpy(), results[1].numpy())
    assert logs[:2] == logs[2:]
    assert (logs[0]["passes"] < 6) == early_stop
