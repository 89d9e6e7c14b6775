"""The multi-agent algorithms: registration, the sequential update's factor, and learning on the two-agent toy
CMDP (alignbook.saferl.multi_agent.toy) whose constrained optimum is known in closed form: a_0 = a_1 = 0,
return -20 at cost 25 for the limit 25; unconstrained, a_i = 1 costs 68."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alignbook.saferl import (
    ALGORITHMS,
    MA_TOY_TASK,
    TOY_TRAINING,
    Lagrange,
    make_config,
    train_multi,
    two_agent_optimum,
)
from alignbook.saferl.algorithms.cpo import CPO
from alignbook.saferl.algorithms.ppo import PPO
from alignbook.saferl.buffer import Batch
from alignbook.saferl.multi_agent.toy import TwoAgentToy

OPT_RETURN, OPT_COST = two_agent_optimum(25.0)
MULTI = {"mappo", "mappo_lag", "happo", "macpo"}


def test_closed_form_optimum():
    assert (OPT_RETURN, OPT_COST) == pytest.approx((-20.0, 25.0))
    env = TwoAgentToy()
    env.reset()
    _, rewards, costs, *_ = env.step({"agent_0": np.zeros(1), "agent_1": np.zeros(1)})
    assert rewards["agent_0"] == -2.0 and costs["agent_1"] == 2.5  # x 10 steps = the optimum
    with pytest.raises(ValueError, match="keys"):
        env.step({"agent_0": np.zeros(1)})


def test_registered_with_their_learners_and_multipliers():
    assert MULTI <= set(ALGORITHMS)
    learners = {name: (ALGORITHMS[name].agent_class, ALGORITHMS[name].sequential) for name in MULTI}
    assert learners == {"mappo": (PPO, False), "happo": (PPO, True), "macpo": (CPO, True),
                        "mappo_lag": (ALGORITHMS["ppo_lag"], True)}
    algo = ALGORITHMS["mappo_lag"]([4, 4], [1, 2], make_config("mappo_lag"))
    assert algo.multiplier == "lagrange" and all(type(a.lagrange_multiplier) is Lagrange for a in algo.agents)
    assert algo.penalties == [0.78, 0.78]  # SafePO's initial lambda
    assert ALGORITHMS["mappo"]([4, 4], [1, 2], make_config("mappo")).multiplier is None
    with pytest.raises(ValueError, match="one entry per agent"):
        ALGORITHMS["happo"](4, 1, make_config("happo"))
    with pytest.raises(ValueError, match="single-agent"):
        train_multi("ppo", MA_TOY_TASK)


def _batch(algo, i, n=64):
    g = torch.Generator().manual_seed(i)
    obs, act = torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)
    with torch.no_grad():
        logp = algo.agents[i].ac.actor.log_prob(obs, act)
    adv = torch.randn(n, generator=g)
    return Batch(obs, act, logp, adv, torch.zeros(n), torch.zeros(n), torch.zeros(n))


def test_sequential_update_weights_later_agents_by_the_earlier_ratios():
    """HAPPO: the agent updated second sees its advantage times the first agent's new/old ratio."""
    cfg = make_config("happo", hidden=(8,), update_iters=1, batch_size=64)
    algo = ALGORITHMS["happo"]([3, 3], [1, 1], cfg)
    batches = [_batch(algo, 0), _batch(algo, 1)]
    seen = {}
    for i, agent in enumerate(algo.agents):
        original = agent.update_networks

        def spy(batch, cost, i=i, original=original):
            seen[i] = batch.adv_r.clone()
            return original(batch, cost)

        agent.update_networks = spy
    first = algo.order()[0]  # peek at the order the update will use, then replay it
    algo.generator.manual_seed(cfg.seed)
    algo.update(batches, 0.0)
    second = 1 - first
    assert torch.equal(seen[first], batches[first].adv_r)
    with torch.no_grad():
        a = algo.agents[first].ac.actor
        ratio = torch.exp(a.log_prob(batches[first].obs, batches[first].act) - batches[first].logp)
    assert not torch.allclose(ratio, torch.ones_like(ratio))
    torch.testing.assert_close(seen[second], batches[second].adv_r * ratio)


def test_mappo_updates_every_agent_on_its_own_advantage():
    algo = ALGORITHMS["mappo"]([3, 3], [1, 1], make_config("mappo", hidden=(8,), update_iters=1, batch_size=64))
    assert algo.order() == [0, 1]


def _run(algo, **extra):
    return train_multi(algo, MA_TOY_TASK, **{"total_steps": 12_000, "num_envs": 1, **TOY_TRAINING, **extra})


def _deterministic(algo) -> tuple[float, float]:
    """The return and cost of an episode of the agents' mean actions."""
    env = TwoAgentToy()
    ret = cost = 0.0
    for t in range(env.max_episode_steps):
        a = np.array([float(x[0]) for x in algo.joint_action(np.array([1.0, t / env.max_episode_steps]))])
        ret, cost = ret - float(((a - 1) ** 2).sum()), cost + 0.5 * env.cost_scale * float(np.exp(a).sum())
    return ret, cost


# Tolerances. The learners keep exploring (sigma ~ 0.45 at the end), so the constraint binds on the sampled
# actions: the stochastic policy's cost (the log's) must be within 20% of the limit, and the mean-action policy
# must lie on the closed-form frontier -- the best return any policy has at its cost -- within FRONTIER_TOL,
# at a cost no lower than 75% of the limit (exploration noise makes the sampled cost exp(sigma^2 / 2) ~ 1.1
# times the mean action's).
COST_TOL, FRONTIER_TOL = 5.0, 1.0


def _on_the_frontier(algo) -> None:
    ret, cost = _deterministic(algo)
    best = two_agent_optimum(cost)[0]
    assert best + 1e-9 >= ret >= best - FRONTIER_TOL, (ret, cost, best)
    assert cost >= 0.75 * OPT_COST, (ret, cost)
    a = algo.joint_action(np.array([1.0, 0.0]))
    assert abs(float(a[0][0]) - float(a[1][0])) < 0.3  # the optimum is symmetric


def test_macpo_reaches_the_constrained_optimum():
    algo, log = _run("macpo")
    tail = log.tail(20)
    assert abs(tail.episode_cost.mean() - OPT_COST) <= COST_TOL, tail.episode_cost.mean()
    _on_the_frontier(algo)


def test_mappo_lag_reaches_the_constrained_optimum():
    """The integral-only multiplier oscillates around the limit (as PPO-Lag's on the single-agent toy): judged
    on the mean of the last 20 of 60 epochs, with 1.5 x the cost tolerance."""
    algo, log = _run("mappo_lag", lambda_init=0.001)
    tail = log.tail(20)
    assert abs(tail.episode_cost.mean() - OPT_COST) <= 1.5 * COST_TOL, tail.episode_cost.mean()
    assert log.episode_cost.max() > OPT_COST > log.episode_cost.min()
    ret, cost = _deterministic(algo)
    best = two_agent_optimum(cost)[0]
    assert best + 1e-9 >= ret >= best - FRONTIER_TOL, (ret, cost, best)


@pytest.mark.parametrize("algo", ["mappo", "happo"])
def test_unconstrained_methods_violate_the_limit(algo):
    _, log = _run(algo, total_steps=6_000)
    tail = log.tail(10)
    assert tail.episode_cost.mean() > 1.5 * OPT_COST and tail.episode_return.mean() > OPT_RETURN


def test_each_agent_multiplier_follows_its_own_cost():
    """MultiGoal: each agent has its own cost; MAPPO-Lag's agent i moves its multiplier by its own J_c - d."""
    cfg = make_config("mappo_lag", hidden=(8,), update_iters=1, batch_size=64, lambda_lr=0.05, cost_limit=25.0)
    algo = ALGORITHMS["mappo_lag"]([3, 3], [1, 1], cfg)
    algo.update([_batch(algo, 0), _batch(algo, 1)], [100.0, 0.0])
    assert algo.penalties[0] > 0.78 > algo.penalties[1]
    with pytest.raises(ValueError, match="one mean episode cost per agent"):
        algo.update([_batch(algo, 0), _batch(algo, 1)], [1.0, 2.0, 3.0])


def test_trains_on_a_multigoal_task_with_each_agents_reward():
    _, log = train_multi("mappo_lag", "SafetyPointMultiGoal1-v0", seed=0, total_steps=1000, steps_per_epoch=500,
                         num_envs=1, hidden=(8,), batch_size=250, update_iters=1)
    assert list(log.epoch) == [0, 1] and log.episodes.tolist() == [0, 1]  # one 1000-step episode, ended in epoch 1
    assert np.isfinite(log.episode_return.iloc[1]) and log.episode_cost.iloc[1] >= 0
