"""alignbook.worldmodel: the DreamerV3 pieces against hand-computed values, a known linear system, the planner's
ranking, the augmented Lagrangian, and bad input refused before training."""

import math

import numpy as np
import pytest
import torch

from alignbook.saferl.augmented import AugmentedLagrange
from alignbook.worldmodel import TwoHot, WorldModel, WorldModelConfig, kl_balance, symexp, symlog, train
from alignbook.worldmodel.behaviour import ActorCritic, PercentileScale, lambda_return
from alignbook.worldmodel.dist import sample_straight_through, unimix
from alignbook.worldmodel.planner import ConstrainedCEM, PlannerConfig, select_elites
from alignbook.worldmodel.train import check_observation

TINY = WorldModelConfig(deter=16, stoch=4, classes=4, units=16, layers=1, enc_units=16, enc_layers=1, cnn_depth=4,
                        bins=31)


SMALL_RUN = dict(env_steps=120, prefill=60, batch=2, length=8, train_ratio=16.0, imag_horizon=3,
                 model=dict(deter=16, stoch=4, classes=4, units=16, layers=1, enc_units=16, enc_layers=1),
                 planner=dict(horizon=3, candidates=8, elites=2, iterations=2))


def test_symlog_inverts_and_squashes():
    x = torch.tensor([-1e4, -3.0, 0.0, 0.5, 1e4])
    assert torch.allclose(symexp(symlog(x)), x, rtol=1e-5)
    assert symlog(torch.tensor(math.e - 1)).item() == pytest.approx(1.0)


def test_twohot_round_trip_and_weights():
    twohot = TwoHot(255, 20.0)
    y = torch.tensor([-50.0, -1.0, 0.0, 0.3, 2.0, 1000.0])
    enc = twohot.encode(y)
    assert torch.allclose(enc.sum(-1), torch.ones(len(y)))
    assert ((enc > 0).sum(-1) <= 2).all()
    assert torch.allclose((enc * twohot.grid).sum(-1), symlog(y), atol=1e-5)  # the weighted bin is symlog(y)
    # logits = log of the encoding decode back to y (the softmax of log-weights is the weights themselves)
    assert torch.allclose(twohot.decode(torch.log(enc + 1e-30)), y, rtol=1e-4, atol=1e-4)
    # a value on the grid is one-hot; halfway between two bins splits 0.5 / 0.5
    grid = twohot.grid
    assert twohot.encode(symexp(grid[100:101])).max().item() == pytest.approx(1.0)
    half = twohot.encode(symexp((grid[10:11] + grid[11:12]) / 2))[0]
    assert half[10].item() == pytest.approx(0.5, abs=1e-4) and half[11].item() == pytest.approx(0.5, abs=1e-4)


def test_unimix_and_straight_through():
    logp = unimix(torch.tensor([[100.0, 0.0, 0.0, 0.0]]))
    assert logp.exp()[0, 1].item() == pytest.approx(0.01 / 4)  # 1% spread uniformly over 4 classes
    assert logp.exp().sum().item() == pytest.approx(1.0)
    logits = torch.zeros(3, 4, requires_grad=True)
    sample = sample_straight_through(unimix(logits).exp())
    assert torch.equal(sample.detach().sum(-1), torch.ones(3)) and set(sample.detach().unique().tolist()) <= {0.0, 1.0}
    sample[:, 0].sum().backward()
    assert logits.grad.abs().sum() > 0  # the gradient reaches the logits through the probabilities
    # the samples follow the (mixed) probabilities: frequencies over many draws
    torch.manual_seed(0)
    logp = unimix(torch.tensor([2.0, 0.0, -1.0, 1.0])).expand(20000, 4)
    with torch.no_grad():
        freq = sample_straight_through(logp.exp()).mean(0)
    assert torch.allclose(freq, logp[0].exp(), atol=0.01)


def test_kl_balance_against_hand_computed_values():
    p = torch.tensor([[[0.5, 0.5], [0.9, 0.1]]]).log()  # one element, two latents of two classes
    q = torch.tensor([[[0.25, 0.75], [0.5, 0.5]]]).log()
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75) + 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    loss, kl_dyn, kl_rep = kl_balance(p, q, dyn=0.5, rep=0.1, free=1.0)
    assert kl_dyn.item() == pytest.approx(kl, rel=1e-5) and kl_rep.item() == pytest.approx(kl, rel=1e-5)
    assert kl < 1.0 and loss.item() == pytest.approx(0.6 * 1.0)  # below the free nat: clipped to 1
    loss, _, _ = kl_balance(p, q, free=0.0)
    assert loss.item() == pytest.approx(0.6 * kl, rel=1e-5)
    # the balance: the dynamics loss moves only the prior, the representation loss only the posterior
    post, prior = p.clone().requires_grad_(), q.clone().requires_grad_()
    kl_balance(post, prior, dyn=1.0, rep=0.0, free=0.0)[0].sum().backward()
    assert post.grad.abs().sum() == 0 and prior.grad.abs().sum() > 0


def test_world_model_shapes_vector_and_image():
    for space, obs in ((7, torch.randn(2, 5, 7)), ("image", torch.randint(0, 256, (2, 5, 64, 64, 3), dtype=torch.uint8))):
        wm = WorldModel(space, 2, TINY)
        loss, metrics, (h, z) = wm.loss(obs, torch.zeros(2, 5, 2), torch.zeros(2, 5), torch.ones(2, 5))
        assert loss.ndim == 0 and torch.isfinite(loss) and set(metrics) >= {"recon", "cost_loss", "kl_dyn"}
        assert h.shape == (2, 5, 16) and z.shape == (2, 5, 16)
        feats, actions = wm.imagine(h[:, -1], z[:, -1], 4, lambda t, f: torch.zeros(2, 2))
        assert feats.shape == (5, 2, TINY.feat) and actions.shape == (4, 2, 2)
        assert wm.coder.decode(feats).shape == (5, 2, *obs.shape[2:]) if space == 7 else (5, 2, 3, 64, 64)
        assert wm.cost(feats).shape == (5, 2)


def test_cost_loss_weighted_where_cost_at_least_one():
    wm = WorldModel(3, 1, TINY)
    obs, act = torch.zeros(1, 4, 3), torch.zeros(1, 4, 1)
    _, m0, _ = wm.loss(obs, act, torch.zeros(1, 4), torch.tensor([[0.0, 0.0, 1.0, 0.0]]))
    per_step = TwoHot(31).loss(torch.zeros(31), torch.tensor(1.0)).item()  # zero-initialised head
    zero = TwoHot(31).loss(torch.zeros(31), torch.tensor(0.0)).item()
    assert m0["cost_loss"] == pytest.approx((10 * per_step + 3 * zero) / 4, rel=1e-5)


def test_world_model_learns_a_linear_system():
    torch.manual_seed(0)
    A = torch.tensor([[0.9, 0.2], [-0.2, 0.9]])
    B = torch.tensor([[0.5], [0.3]])
    cfg = WorldModelConfig(deter=32, stoch=4, classes=8, units=64, layers=1, enc_units=64, enc_layers=1, bins=63)
    wm = WorldModel(2, 1, cfg)
    opt = torch.optim.Adam(wm.parameters(), lr=3e-3)

    def batch(n, T):
        x, xs, acts = torch.randn(n, 2), [], torch.rand(n, T, 1) * 2 - 1
        for t in range(T):
            xs.append(x)
            x = x @ A.T + acts[:, t] @ B.T
        prev = torch.cat([torch.zeros(n, 1, 1), acts[:, :-1]], 1)  # a_{t-1} led to x_t
        return torch.stack(xs, 1), prev, acts

    for _ in range(150):
        obs, prev, _ = batch(32, 12)
        reward = obs[..., 0]  # a reward that is a linear read-out of the state
        loss, _, _ = wm.loss(obs, prev, reward, torch.zeros_like(reward))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        obs, prev, acts = batch(256, 12)
        h, z, _, _ = wm.observe(obs[:, :8], prev[:, :8])
        feats, _ = wm.imagine(h[:, -1], z[:, -1], 3, lambda t, f: acts[:, 7 + t])
        pred = wm.coder.decode(feats[1:]).transpose(0, 1)  # three steps open loop
        error = (pred - obs[:, 8:11]).pow(2).mean() / obs[:, 8:11].var()
        reward_error = (wm.reward(feats[1:]).T - obs[:, 8:11, 0]).pow(2).mean() / obs[:, 8:11, 0].var()
    assert error < 0.1 and reward_error < 0.1, (error, reward_error)


def test_lambda_return_by_hand_and_percentile_scale():
    rewards = torch.tensor([[1.0], [0.0]])
    values = torch.tensor([[2.0], [4.0]])  # of the states 1 and 2 (the start state's value is never used)
    g, lam = 0.5, 0.5
    r1 = 0.0 + g * 4.0
    r0 = 1.0 + g * ((1 - lam) * 2.0 + lam * r1)
    assert torch.allclose(lambda_return(rewards, values, g, lam), torch.tensor([[r0], [r1]]))
    scale = PercentileScale(decay=0.0)
    assert scale.update(torch.linspace(0, 100, 101)) == pytest.approx(90.0)  # 95th minus 5th percentile
    assert scale.update(torch.zeros(10)) == 1.0  # small returns are not scaled up


def test_select_elites_constraint_first():
    reward = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0])
    cost = torch.tensor([9.0, 0.1, 0.2, 0.0, 0.3])
    assert set(select_elites(reward, cost, 1.0, 2).tolist()) == {1, 2}  # enough safe ones: best return among them
    assert set(select_elites(reward, cost, 0.15, 2).tolist()) == {3, 1}  # two safe only of three asked -> lowest cost
    assert set(select_elites(reward, cost, 0.15, 3).tolist()) == {3, 1, 2}


def test_select_elites_a_cost_at_the_limit_is_not_safe():
    # Upstream's planner counts a candidate safe when its trajectory cost is *below* the limit; one exactly at the
    # limit would spend the whole budget. Two candidates sit at it with the best rewards.
    reward = torch.tensor([9.0, 8.0, 1.0, 0.5])
    cost = torch.tensor([2.0, 2.0, 1.0, 0.0])
    assert set(select_elites(reward, cost, 2.0, 2).tolist()) == {2, 3}


def test_augmented_lagrange_cases():
    lag = AugmentedLagrange(cost_limit=1.0, init=0.5, penalty=2.0, growth=0.1, penalty_max=2.1)
    active = lag.term(torch.tensor([2.0, 2.0]))  # g = 1, lam + c g = 2.5 > 0
    assert active.item() == pytest.approx(0.5 * 1 + 2.0 / 2 * 1)
    inactive = lag.term(torch.tensor([-1.0]))  # g = -2, lam + c g = -3.5 < 0
    assert inactive.item() == pytest.approx(-0.25 / 4)
    assert lag.update(2.0) == pytest.approx(2.5) and lag.penalty == pytest.approx(2.1)  # c capped
    assert lag.update(-10.0) == 0.0  # the multiplier never goes negative


def test_planner_runs_and_warm_starts():
    torch.manual_seed(0)
    wm = WorldModel(3, 2, TINY)
    ac = ActorCritic(wm, 3, 0.99, 0.95, 1e-4)
    planner = ConstrainedCEM(wm, ac, PlannerConfig(horizon=4, candidates=16, elites=4, iterations=2), 1.0, 10.0)
    h, z = wm.rssm.initial(1)
    action = planner(h, z)
    assert action.shape == (2,) and action.abs().max() <= 1
    assert torch.equal(planner.mean[-1], torch.zeros(2)) and 0 <= planner.safe_fraction <= 1


@pytest.mark.parametrize("algo", ["dreamer", "osrp", "osrp_lag", "bsrp_lag"])
def test_training_is_deterministic_and_logs_episodes(algo):
    run = dict(SMALL_RUN, episode_steps=40, pid_start=0)
    logs = [train(algo, "SafetyPointCircle1-v0", seed=1, **run)[1].drop(columns="wall_time") for _ in range(2)]
    assert logs[0].equals(logs[1])
    assert list(logs[0].steps) == [40, 80, 120] and logs[0].updates.iloc[-1] > 0
    assert set(logs[0].algo) == {algo} and (logs[0].episode_cost >= 0).all()


def test_runs_in_workers_match_runs_in_process():
    from alignbook.worldmodel.train import train_in_workers

    run = dict(SMALL_RUN, env_steps=80, episode_steps=40)
    jobs = [("osrp", "SafetyPointCircle1-v0", dict(run, seed=s)) for s in (0, 1)]
    here = [log.drop(columns="wall_time") for _, log in train_in_workers(jobs, workers=1)]
    there = train_in_workers(jobs, workers=2)
    assert all(a.equals(b.drop(columns="wall_time")) for a, (_, b) in zip(here, there, strict=True))
    assert not here[0].equals(here[1])  # the seeds differ, so the order of the results is checked too
    assert type(there[0][0].wm).__name__ == "WorldModel"  # the trained agent comes back from its worker


@pytest.mark.parametrize("bad, message", [
    (dict(task="SafetyPointGoal0-v0"), "has no cost"),
    (dict(task="SafetyPointGoal1Vision-v0", encoder="vector"), "Vision task needs encoder='image'"),
    (dict(planner=dict(candidates=4, elites=8)), "elites (8) must not exceed candidates (4)"),
    (dict(planner=dict(horizon=0)), "horizon must be a positive int"),
    (dict(imag_horizon=0), "imag_horizon must be a positive int"),
    (dict(episode_steps=20, planner=dict(horizon=8, candidates=8, elites=2, iterations=2)),
     "planner horizon (8 decisions) exceeds an episode"),
    (dict(algo="ppo"), "unknown algorithm 'ppo'"),
    (dict(bogus=1), "unknown setting(s) ['bogus']"),
])
def test_bad_input_refused_before_training(bad, message):
    bad = dict(bad)
    algo, task = bad.pop("algo", "osrp"), bad.pop("task", "SafetyPointCircle1-v0")
    with pytest.raises(ValueError) as err:
        train(algo, task, **{**SMALL_RUN, **bad})
    assert message in str(err.value)


def test_nan_observation_refused(monkeypatch):
    with pytest.raises(ValueError, match="NaN"):
        check_observation(np.array([0.0, np.nan]))
    assert check_observation(np.ones(3)).shape == (3,)
    # A task whose first observation is NaN stops train() at the reset, before any update.
    import alignbook.envs

    make = alignbook.envs.make

    def broken(task_id):
        env = make(task_id)
        reset = env.reset
        env.reset = lambda **kw: (np.where(np.arange(len(reset(**kw)[0])) == 3, np.nan, 0.0), {})
        return env

    monkeypatch.setattr(alignbook.envs, "make", broken)
    with pytest.raises(ValueError, match=r"NaN or inf at indices \[3\]"):
        train("osrp", "SafetyPointCircle1-v0", **SMALL_RUN)


def test_vision_task_trains_with_the_image_encoder():
    run = dict(SMALL_RUN, env_steps=40, prefill=20, episode_steps=20,
               model=dict(deter=16, stoch=4, classes=4, units=16, layers=1, cnn_depth=2, bins=31))
    agent, log = train("osrp", "SafetyPointGoal1Vision-v0", **run)
    assert type(agent.wm.coder).__name__ == "ImageCoder" and list(log.steps) == [20, 40]


def test_open_loop_and_cost_events_on_recorded_episodes():
    from alignbook.worldmodel.evaluate import cost_events, open_loop, record

    agent, _ = train("dreamer", "SafetyPointCircle1-v0", **dict(SMALL_RUN, episode_steps=40))
    traces = record(agent, "SafetyPointCircle1-v0", episodes=1, seed=3, episode_steps=40)
    assert len(traces[0]["cost"]) == 1 + 40 // agent.action_repeat  # the first entry is the reset
    window = open_loop(agent, traces[0], start=0, context=3, horizon=4)
    assert window["pred_obs"].shape == window["obs"].shape == (4, 28) and window["pred_cost"].shape == (4,)
    events = cost_events(agent, traces, context=3, horizon=4, stride=2)
    assert events.steps == 4 * len(range(0, 11 - 7 + 1, 2))
    for key in ("precision", "recall"):  # NaN when undefined, never a made-up 0 or 1
        assert np.isnan(events[key]) or 0 <= events[key] <= 1
    assert np.isnan(events.precision) == (events.predicted_events == 0)
