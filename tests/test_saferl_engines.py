"""The engines: the NumPy accelerator computes the same updates as the reference (the algorithm files' own
losses with autograd)."""

import numpy as np
import pytest
import torch

from alignbook.saferl import ALGORITHMS, ENGINES, SAFEPO, TOY_TASK, TOY_TRAINING, make_config, train
from alignbook.saferl.algorithms.pg import PolicyGradient
from alignbook.saferl.algorithms.ppo_lag import PPOLag
from alignbook.saferl.buffer import Batch
from alignbook.saferl.engines import Autograd, NumpyEngine, make_engine

# The engines run SafePO's single-agent on-policy family; the off-policy, adapted and multi-agent algorithms of
# the registry have training loops of their own.
SINGLE_AGENT = {name: ALGORITHMS[name] for name in SAFEPO}

ACCELERATED = sorted(name for name, cls in SINGLE_AGENT.items()
                     if NumpyEngine.supports(cls(2, 1, make_config(name, hidden=(4,)))))


def test_the_accelerator_supports_the_minibatch_family_and_the_reference_every_algorithm():
    assert ACCELERATED == ["cppo_pid", "pg", "ppo", "ppo_lag"]
    assert all(Autograd.supports(cls(2, 1, make_config(name))) for name, cls in SINGLE_AGENT.items())
    cup = ALGORITHMS["cup"](2, 1, make_config("cup"))
    assert make_engine(cup).name == "autograd"  # the default falls back to the reference
    with pytest.raises(ValueError, match="engine 'numpy' does not support 'cup'"):
        make_engine(cup, "numpy")
    with pytest.raises(ValueError, match="unknown engine 'jax'; valid engines: numpy, autograd"):
        train("ppo", TOY_TASK, engine="jax")
    ppo = ALGORITHMS["ppo"](2, 1, make_config("ppo"))
    assert make_engine(ppo).name == "numpy" and set(ENGINES) == {"numpy", "autograd"}


@pytest.mark.parametrize("algo", ACCELERATED)
def test_both_engines_give_the_same_parameters_after_an_epoch(algo):
    # One epoch of the toy task, with the multiplier pushed up (cost limit below the toy's cost) so that the
    # Lagrangian algorithms' advantage differs from the reward's; no KL early stop, so that both engines
    # make every pass on the same minibatches.
    settings = {**TOY_TRAINING, "total_steps": TOY_TRAINING["steps_per_epoch"], "cost_limit": 5.0,
                "kl_early_stop": False}
    params, logs = [], []
    for engine in ("autograd", "numpy"):
        agent, log = train(algo, TOY_TASK, engine=engine, **settings)
        params.append(torch.cat([p.detach().reshape(-1) for p in agent.algo.ac.parameters()]).numpy())
        logs.append(log)
    assert logs[0].passes[0] == logs[1].passes[0] == TOY_TRAINING["update_iters"]
    torch.manual_seed(0)  # as train does before building the networks: the parameters the epoch started from
    initial = ALGORITHMS[algo](2, 1, make_config(algo, **settings))
    start = torch.cat([p.detach().reshape(-1) for p in initial.ac.parameters()])
    assert np.abs(params[0] - start.numpy()).max() > 1e-3  # the epoch moved them
    np.testing.assert_allclose(params[1], params[0], rtol=1e-4, atol=1e-5)
    assert logs[1].kl[0] == pytest.approx(logs[0].kl[0], rel=1e-3, abs=1e-6)
    assert logs[0]["lambda"][0] == logs[1]["lambda"][0]


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
    assert (algo.loss == "clipped_surrogate") == (clip is not None)
    fast = NumpyEngine(algo, parallel=False)
    fast.gradients(*(t.numpy() for t in (batch.obs, batch.act, batch.logp, batch.adv_r, batch.target_r,
                                         batch.target_c)))
    assert len(fast.links) == len(list(algo.ac.parameters()))
    for tensor, _, grad in fast.links:
        np.testing.assert_allclose(grad, tensor.grad.numpy().T, rtol=1e-3, atol=1e-5)


def test_a_whole_numpy_update_matches_the_reference_update():
    cfg = make_config("ppo_lag", hidden=(8, 8), update_iters=3, batch_size=32, kl_early_stop=False)
    batch = _batch(n=96, obs_dim=5, act_dim=2)
    results = []
    for engine in ("numpy", "autograd"):
        torch.manual_seed(0)
        algo = PPOLag(5, 2, cfg)
        make_engine(algo, engine).update(batch, mean_episode_cost=40.0)
        results.append(torch.cat([p.detach().reshape(-1) for p in algo.ac.parameters()]))
    assert not torch.equal(results[0], torch.cat([p.detach().reshape(-1) for p in PPOLag(5, 2, cfg).ac.parameters()]))
    np.testing.assert_allclose(results[0].numpy(), results[1].numpy(), rtol=1e-4, atol=1e-5)


def test_numpy_kl_equals_the_torch_kl_after_an_update():
    algo = PPOLag(5, 2, make_config("ppo_lag", hidden=(8, 8), update_iters=2, kl_early_stop=False))
    batch = _batch()
    old = algo.old_distribution(batch)
    fast = NumpyEngine(algo, parallel=False)
    obs = batch.obs.numpy()
    old_mean = fast.actor.mean(obs)
    np.testing.assert_allclose(old_mean, old[0].numpy(), rtol=1e-5, atol=1e-6)
    kl, passes = fast.passes(*(t.numpy() for t in (batch.obs, batch.act, batch.logp, batch.adv_r, batch.target_r,
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
        algo = PPOLag(5, 2, cfg)
        engine = NumpyEngine(algo, parallel=parallel)
        logs += [engine.update(batch, mean_episode_cost=40.0), engine.update(batch, mean_episode_cost=40.0)]
        results.append(torch.cat([p.detach().reshape(-1) for p in algo.ac.parameters()]))
        assert engine.parallel == parallel
    np.testing.assert_array_equal(results[0].numpy(), results[1].numpy())
    assert logs[:2] == logs[2:]
    assert (logs[0]["passes"] < 6) == early_stop
