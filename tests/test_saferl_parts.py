"""Unit tests of the shared parts of alignbook.saferl: multipliers, GAE and the buffer, normalisation, CPO's
case selection and line search, configuration checks, checkpoints."""

import math

import numpy as np
import pytest
import torch

from alignbook.saferl import Lagrange, PIDLagrange, make_config
from alignbook.saferl.algorithms.cpo import cpo_case, cpo_step, cpo_test
from alignbook.saferl.base import backtracking_line_search, conjugate_gradient
from alignbook.saferl.buffer import RolloutBuffer, gae
from alignbook.saferl.networks import GaussianActor
from alignbook.saferl.normalise import RunningNormaliser


def test_lagrange_rises_above_the_limit_and_returns_to_zero_below():
    lag = Lagrange(cost_limit=25.0)
    assert lag.value == pytest.approx(0.001)
    values = [lag.update(50.0) for _ in range(20)]
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert values[0] == pytest.approx(0.001 + 0.035, abs=1e-6)  # Adam's first step has size lr
    below = [lag.update(0.0) for _ in range(200)]
    assert min(below) >= 0.0 and below[-1] == 0.0


def test_lagrange_adam_step_equals_torch_adam_with_a_clamp():
    costs = [40.0, 40.0, 30.0, 10.0, 0.0, 0.0, 26.0, 90.0, 0.0, 0.0, 0.0, 0.0]
    lam = torch.nn.Parameter(torch.tensor(0.001, dtype=torch.float64))
    adam = torch.optim.Adam([lam], lr=0.035)
    ours = Lagrange(cost_limit=25.0)
    for cost in costs:
        adam.zero_grad()
        (-lam * (cost - 25.0)).backward()
        adam.step()
        with torch.no_grad():
            lam.clamp_(min=0.0)
        assert ours.update(cost) == pytest.approx(float(lam.detach()), abs=1e-12)


def test_pid_lagrange_tracks_the_violation_and_respects_its_bounds():
    pid = PIDLagrange(cost_limit=25.0)
    first = pid.update(35.0)
    # I = 0.01 * 10; P = 0.1 * (0.05 * 10); D = 0.01 * max(0, 0.05 * 35 - 0)
    assert first == pytest.approx(0.1 + 0.05 + 0.0175)
    rising = [pid.update(35.0) for _ in range(30)]
    assert all(b > a for a, b in zip(rising, rising[1:], strict=False))
    assert [pid.update(0.0) for _ in range(300)][-1] == 0.0
    capped = PIDLagrange(cost_limit=0.0, penalty_max=2.0)
    assert max(capped.update(1e6) for _ in range(5)) == 2.0


@pytest.mark.parametrize("limit", [-1.0, "25"])
def test_multipliers_refuse_a_bad_cost_limit(limit):
    with pytest.raises(ValueError, match="cost_limit"):
        Lagrange(limit)
    with pytest.raises(ValueError, match="cost_limit"):
        PIDLagrange(limit)


def test_gae_matches_a_hand_computed_example():
    # delta = [1 + .9*1 - .5, 0 + 0 - 1, 2 + .9*3 - 0] = [1.4, -1.0, 4.7]; the episode ends at t = 1.
    adv = gae(np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0, 0.0]), np.array([1.0, 0.0, 3.0]),
              np.array([0.0, 1.0, 0.0]), gamma=0.9, lam=0.5)
    np.testing.assert_allclose(adv, [1.4 + 0.45 * -1.0, -1.0, 4.7])


class _LinearValues:
    """V_r(s) = s[0], V_c(s) = 2 s[0]: makes the bootstrapped targets readable."""

    actor = GaussianActor(1, 1, (4,), "tanh")

    def values(self, obs):
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, 1)
        return obs[:, 0], 2 * obs[:, 0]


@pytest.mark.parametrize("terminated, expected", [(False, [10.0, 10.0, 4.0]), (True, [0.0, 0.0, 4.0])])
def test_buffer_bootstraps_on_truncation_but_not_on_termination(terminated, expected):
    buf = RolloutBuffer(3, 1, 1, 1)
    for t in range(3):
        ends = t == 1
        buf.add([[t + 1.0]], [[0.0]], [0.0], [0.0], [ends and terminated], [ends and not terminated])
    buf.bootstrap_obs[1, 0] = 10.0  # the final observation of the truncated episode
    batch = buf.finish(_LinearValues(), np.array([[4.0]]), gamma=1.0, lam_r=1.0, lam_c=1.0)
    np.testing.assert_allclose(batch.target_r.numpy(), expected)
    np.testing.assert_allclose(batch.target_c.numpy(), 2 * np.array(expected))


def test_normaliser_matches_numpy_statistics():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(500, 4))
    # Chunks of several sizes, then single observations (the one-environment rollout's shortcut).
    norm = RunningNormaliser((4,))
    for chunk in np.array_split(data[:400], 37):
        norm.update(chunk)
    for row in data[400:]:
        norm.update(row)
    np.testing.assert_allclose(norm.mean, data.mean(0))
    np.testing.assert_allclose(norm.var, data.var(0))
    out = norm(data, update=False)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-8)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-6)


def test_conjugate_gradient_solves_a_spd_system():
    a = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    np.testing.assert_allclose(conjugate_gradient(lambda v: a @ v, b, 10).numpy(), np.linalg.solve(a, b))


DELTA = 0.01  # trust region 1/2 |s|^2 <= DELTA with F = I: radius sqrt(0.02)


def _qp(c, g, b):
    g, b = torch.tensor(g), torch.tensor(b)
    q, r, s = float(g @ g), float(g @ b), float(b @ b)
    case = cpo_case(c, q, r, s, s, DELTA)
    return case, cpo_step(case, g.clone(), b.clone(), q, r, s, c, DELTA)[0]


@pytest.mark.parametrize("c, b, case", [(-1.0, (0.0, 0.0), 4), (-1.0, (0.0, 1.0), 3), (-0.05, (0.0, 1.0), 2),
                                        (0.05, (0.0, 1.0), 1), (0.5, (0.0, 1.0), 0)])
def test_cpo_selects_each_of_its_five_cases(c, b, case):
    assert _qp(c, (1.0, 1.0), b)[0] == case


def test_cpo_steps_solve_the_linearised_problem():
    radius = math.sqrt(2 * DELTA)
    # Cases 3/4: the constraint is irrelevant, the step is the trust region's edge along g.
    np.testing.assert_allclose(_qp(-1.0, (1.0, 1.0), (0.0, 1.0))[1].numpy(), [radius / math.sqrt(2)] * 2, rtol=1e-4)
    # Cases 2 and 1: the optimum of max s1 + s2 s.t. s2 <= -c, |s| <= radius is (sqrt(radius^2 - c^2), -c).
    for c in (-0.05, 0.05):
        step = _qp(c, (1.0, 1.0), (0.0, 1.0))[1].numpy()
        np.testing.assert_allclose(step, [math.sqrt(radius**2 - c**2), -c], rtol=1e-3, atol=1e-5)
    # Case 0: no feasible point in reach: the step only lowers the cost, to the trust region's edge.
    np.testing.assert_allclose(_qp(0.5, (1.0, 1.0), (0.0, 1.0))[1].numpy(), [0.0, -radius], rtol=1e-4)


def test_line_search_backtracks_to_the_first_acceptable_step_or_gives_up():
    seen = []

    def evaluate(step):
        seen.append(float(step[0]))
        return -float(step[0]), float(step[0]), float(step[0]) ** 2  # loss, cost, kl

    before = (0.0, 0.0, 0.0)
    accept = cpo_test(case=2, c=-1.0, delta=0.25)
    step, tries = backtracking_line_search(evaluate, torch.tensor([1.0]), lambda *after: accept(before, after),
                                           steps=15, decay=0.8)
    # kl = step^2 <= 0.25 first holds at 0.8^4 = 0.41
    assert tries == 4 and float(step[0]) == pytest.approx(0.8**4)
    strict = cpo_test(case=1, c=0.5, delta=0.25)
    step, tries = backtracking_line_search(evaluate, torch.tensor([1.0]), lambda *after: strict(before, after),
                                           steps=5, decay=0.8)
    assert tries == 5 and float(step[0]) == 0.0 and seen[-1] == 0.0  # rejected: the cost grows; params restored


def test_config_refuses_unknown_names_and_impossible_values():
    with pytest.raises(ValueError, match=r"unknown algorithm 'ppo_lagg'.*cpo.*ppo_lag"):
        make_config("ppo_lagg")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) 'lr_actor'"):
        make_config("ppo_lag", lr_actor=1e-3)
    with pytest.raises(ValueError, match="cost_limit"):
        make_config("cpo", cost_limit=-1.0)
    for key in ("total_steps", "steps_per_epoch"):
        with pytest.raises(ValueError, match=key):
            make_config("ppo", **{key: 0})
    cfg = make_config("cppo_pid", pid_kp=0.5)
    assert (cfg.pid_kp, cfg.pid_ki, cfg.cost_limit, cfg.update_iters, cfg.batch_size) == (0.5, 0.01, 25.0, 40, 64)
    assert make_config("cpo").target_kl == 0.01 and make_config("ppo_lag").lambda_lr == 0.035


def test_the_critic_weight_penalty_leaves_no_autograd_history_on_the_gradients():
    # Recording the in-place L2 add in autograd kept a growing graph alive between steps (a memory leak).
    from alignbook.saferl.algorithms.ppo import PPO
    from alignbook.saferl.buffer import Batch

    algo = PPO(3, 1, make_config("ppo", hidden=(8, 8)))
    batch = Batch(torch.randn(20, 3), torch.randn(20, 1), torch.randn(20), *(torch.randn(20) for _ in range(4)))
    algo.critic_optimizer.zero_grad()
    algo.critic_loss(batch).backward()
    algo.critic_step_gradients()
    grads = [p.grad for group in algo.critic_parameters for p in group]
    assert all(g is not None and not g.requires_grad and g.grad_fn is None for g in grads)
