"""The off-policy family (DDPG, TD3, SAC and their Lagrangian and PID variants): the parts (replay buffer,
Polyak averaging, policy delay, target smoothing, the squashed Gaussian's density), OmniSafe's defaults and
per-task sections, and learning: each constrained member reaches the toy CMDP's closed-form optimum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alignbook.saferl import (
    ALGORITHMS,
    TOY_TASK,
    Lagrange,
    PIDLagrange,
    evaluate,
    make_config,
    toy_optimum,
    train,
)
from alignbook.saferl.offpolicy.base import ReplayBuffer
from alignbook.saferl.offpolicy.sac import SquashedGaussianActor

OFF_POLICY = ["ddpg", "td3", "sac", "ddpg_lag", "td3_lag", "sac_lag", "ddpg_pid", "td3_pid", "sac_pid"]


def test_the_registry_holds_the_nine_off_policy_members_with_their_multipliers():
    assert set(OFF_POLICY) <= set(ALGORITHMS)
    kinds = {None: type(None), "lagrange": Lagrange, "pid": PIDLagrange}
    for name in OFF_POLICY:
        cls = ALGORITHMS[name]
        assert cls.family == "off-policy"
        assert cls.multiplier == {"lag": "lagrange", "pid": "pid"}.get(name.rpartition("_")[2]), name
        algo = cls(3, 2, make_config(name, hidden=(8,)))
        assert type(algo.lagrange_multiplier) is kinds[cls.multiplier]
        assert len(algo.critics) == (1 if name.startswith("ddpg") else 2)


def test_omnisafe_defaults_and_the_task_sections():
    """The anchor's numbers: 1e6 steps, 2,000 per epoch, batch 256, polyak 0.005, [256, 256] ReLU, Adam 3e-4
    (PID actors 1e-4), TD3 delay 2 and noise 0.2 clipped at 0.5, SAC alpha 0.2 and 10,000 random steps;
    Lag init 0.001 lr 1e-5; PID kp 1e-6, DDPGPID starting at 0; the navigation sections override them."""
    td3 = make_config("td3_lag")
    assert (td3.total_steps, td3.steps_per_epoch, td3.batch_size, td3.polyak, td3.hidden, td3.activation) == \
        (1_000_000, 2_000, 256, 0.005, (256, 256), "relu")
    assert (td3.policy_delay, td3.target_noise, td3.target_noise_clip, td3.start_learning_steps) == (2, 0.2, 0.5, 25_000)
    assert (td3.lambda_init, td3.lambda_lr, td3.actor_lr, td3.cost_limit) == (0.001, 1e-5, 3e-4, 25.0)
    sac = make_config("sac_pid")
    assert (sac.alpha, sac.start_learning_steps, sac.pid_kp, sac.actor_lr, sac.lambda_init) == (0.2, 10_000, 1e-6, 1e-4,
                                                                                                  0.001)
    assert make_config("ddpg_pid").lambda_init == 0.0 and make_config("ddpg").policy_delay == 1
    goal = make_config("sac_lag", "SafetyPointGoal1-v0")
    assert (goal.actor_lr, goal.critic_lr, goal.lambda_init, goal.lambda_lr, goal.alpha) == (5e-6, 1e-3, 0.0, 5e-7,
                                                                                              1e-5)
    # defaults < task section < user overrides
    assert make_config("sac_lag", "SafetyPointGoal1-v0", actor_lr=1e-3).actor_lr == 1e-3
    assert make_config("sac_lag", "SafetyPointButton1-v0").actor_lr == 3e-4  # no section: the defaults


def test_replay_buffer_wraps_around_and_round_trips():
    buf = ReplayBuffer(3, obs_dim=1, act_dim=1)
    for i in range(5):
        buf.add([i], [i], i, 10 * i, [i + 1], i == 4)
    assert buf.n == 3 and sorted(buf.reward.tolist()) == [2, 3, 4]  # the oldest two were overwritten
    batch = buf.sample(64, np.random.default_rng(0))
    assert set(batch["reward"].tolist()) <= {2.0, 3.0, 4.0}
    np.testing.assert_array_equal(batch["cost"].numpy(), 10 * batch["reward"].numpy())
    copy = ReplayBuffer(3, 1, 1)
    copy.load_state_dict(buf.state_dict())
    assert (copy.n, copy.i) == (buf.n, buf.i) and (copy.next_obs == buf.next_obs).all()


def _algo(name, **overrides):
    return ALGORITHMS[name](2, 1, make_config(name, hidden=(8,), **overrides))


def _batch(n=16):
    g = torch.Generator().manual_seed(0)
    return {"obs": torch.randn(n, 2, generator=g), "act": torch.rand(n, 1, generator=g) * 2 - 1,
            "reward": torch.randn(n, generator=g), "cost": torch.rand(n, generator=g),
            "next_obs": torch.randn(n, 2, generator=g), "done": torch.zeros(n)}


def test_policy_delay_and_polyak_averaging():
    """TD3 moves its actor and its targets on every second update only; a target moves by polyak of the gap."""
    algo = _algo("td3", polyak=0.25)
    actor0 = [p.detach().clone() for p in algo.actor.parameters()]
    target0 = [p.detach().clone() for p in algo.target_critics.parameters()]
    algo.update(_batch())
    assert all(torch.equal(a, b) for a, b in zip(actor0, algo.actor.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(target0, algo.target_critics.parameters(), strict=True))
    algo.update(_batch())
    assert not all(torch.equal(a, b) for a, b in zip(actor0, algo.actor.parameters(), strict=True))
    for before, online, target in zip(target0, algo.critics.parameters(), algo.target_critics.parameters(),
                                      strict=True):
        torch.testing.assert_close(target, before + 0.25 * (online.detach() - before))


def test_td3_target_smoothing_is_clipped_and_stays_in_the_box():
    algo = _algo("td3", target_noise=10.0, target_noise_clip=0.5)
    obs = torch.randn(2000, 2)
    mean = algo.target_actor(obs)
    action, bonus = algo.target_action(obs)
    assert (action - mean).abs().max() <= 0.5 + 1e-6 and action.abs().max() <= 1.0 and float(bonus) == 0.0
    assert (action - mean).abs().max() > 0.4  # the noise is there


def test_squashed_gaussian_log_density_matches_the_change_of_variables():
    actor = SquashedGaussianActor(2, 1, (8,), "relu")
    torch.manual_seed(0)
    obs = torch.randn(500, 2)
    action, logp = actor(obs)
    mean, log_std = actor.net(obs).chunk(2, -1)
    u = torch.atanh(action.clamp(-1 + 1e-6, 1 - 1e-6))
    normal = torch.distributions.Normal(mean, log_std.clamp(-20, 2).exp())
    expected = (normal.log_prob(u) - torch.log1p(-action.pow(2))).sum(-1)
    mask = action.abs().squeeze(-1) < 0.99  # away from float32's saturation of tanh
    torch.testing.assert_close(logp[mask], expected[mask], rtol=1e-3, atol=1e-3)


def test_an_update_with_a_large_multiplier_pushes_the_action_toward_lower_cost():
    """On the toy's cost 2.5 exp(a), a cost critic trained first and lambda large: the actor's action falls."""
    algo = _algo("ddpg_lag", actor_lr=2e-2, critic_lr=2e-2)
    algo.lagrange_multiplier._lambda = 50.0
    obs = torch.ones(64, 2)
    torch.manual_seed(0)
    with torch.no_grad():
        start = float(algo.actor(obs[:1]))
    for _ in range(100):
        act = torch.rand(64, 1) * 2 - 1
        batch = {"obs": obs, "act": act, "reward": torch.zeros(64), "cost": 2.5 * act.squeeze(-1).exp(),
                 "next_obs": obs, "done": torch.ones(64)}
        algo.update(batch)
    with torch.no_grad():
        assert float(algo.actor(obs[:1])) < min(start, 0.0) - 0.5


# Learning on the toy (limit 25, optimum return -10 at cost 25). Its per-task section (offpolicy/base.py) holds
# the toy's settings; 2,000 environment steps = 200 episodes, 1,800 updates. The result is the mean of the last
# 3 epochs (60 episodes), and the deterministic policy's episode at the end; tolerances as the on-policy test's.
OPT_RETURN, OPT_COST = toy_optimum(25.0)
RETURN_TOL, COST_TOL = 3.0, 5.0


@pytest.mark.parametrize("algo", [a for a in OFF_POLICY if "_" in a])
def test_each_constrained_member_reaches_the_closed_form_optimum(algo):
    agent, log = train(algo, TOY_TASK, total_steps=2_000)
    tail = log.tail(3)
    assert abs(tail.episode_cost.mean() - OPT_COST) <= COST_TOL, log.episode_cost.tolist()
    assert abs(tail.episode_return.mean() - OPT_RETURN) <= RETURN_TOL, log.episode_return.tolist()
    final = evaluate(agent, TOY_TASK, episodes=1)
    assert abs(final.cost[0] - OPT_COST) <= COST_TOL and abs(final["return"][0] - OPT_RETURN) <= RETURN_TOL
    assert 0.3 < log["lambda"].iloc[-1] < 2.0  # lambda* = 0.8: 2 (1 - a) = 2.5 lambda exp(a) at a = 0


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_unconstrained_members_reach_the_unconstrained_optimum(algo):
    """Without a multiplier the best action is a = 1 (return 0, cost 25 e = 68): far over the limit."""
    _, log = train(algo, TOY_TASK, total_steps=1_400)
    tail = log.tail(2)
    assert tail.episode_return.mean() > -1.0 and tail.episode_cost.mean() > 1.5 * OPT_COST, log.tail(2)


def test_names_are_accepted_as_omnisafe_and_safepo_spell_them():
    from alignbook.saferl.config import canonical_name

    for spelling, name in [("PPOLag", "ppo_lag"), ("CPPOPID", "cppo_pid"), ("SACLag", "sac_lag"), ("ppo_lag", "ppo_lag"),
                           ("td3-pid", "td3_pid"), ("Natural PG", "natural_pg"), ("DDPG", "ddpg")]:
        assert canonical_name(spelling) == name
    with pytest.raises(ValueError, match=r"unknown algorithm 'SACLagg' \(did you mean 'sac_lag'\?\)"):
        canonical_name("SACLagg")


def test_an_unknown_setting_is_refused_naming_the_closest_valid_one():
    with pytest.raises(ValueError, match=r"'polyack'.*did you mean 'polyak'"):
        make_config("SACLag", polyack=0.01)
    with pytest.raises(ValueError, match="polyak must lie in"):
        make_config("td3", polyak=2.0)
    with pytest.raises(ValueError, match="cost_limit must be a non-negative"):
        make_config("sac_lag", cost_limit=-1.0)


@pytest.mark.parametrize("done", [0.0, 1.0])
def test_the_cost_critic_bootstraps_from_its_target_unless_the_episode_terminated(done):
    """y_c = c + gamma (1 - terminated) Q'_c(s', a'): with zero costs and a target cost critic that says 5
    everywhere, the cost critic learns gamma x 5 on transitions that go on and 0 on terminal ones. (The toy CMDP
    cannot show this: its actions do not move its state, so a critic without the bootstrap passes there.)"""
    algo = _algo("ddpg_lag", polyak=0.0, critic_lr=3e-2)
    last = [m for m in algo.target_cost_critic.net.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, 5.0)
    batch = {**_batch(), "cost": torch.zeros(16), "done": torch.full((16,), done)}
    for _ in range(300):
        algo.update(batch)
    with torch.no_grad():
        learnt = algo.cost_critic(batch["obs"], batch["act"]).mean().item()
    assert learnt == pytest.approx(algo.cfg.gamma * 5.0 * (1.0 - done), abs=0.1)
