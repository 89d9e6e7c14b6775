"""The twelve algorithms: each runs, bad input is refused, and the constrained ones find the closed-form
optimum of the toy problem (alignbook.saferl.toy) where unconstrained PPO overshoots the limit."""

import importlib

import numpy as np
import pytest
import torch

from alignbook.saferl import ALGORITHMS, TOY_TASK, TOY_TRAINING, Agent, evaluate, toy_optimum, train
from alignbook.saferl.base import OnPolicy

# The module that holds train() (the package exports the function under the module's name).
saferl_train = importlib.import_module("alignbook.saferl.train")
TINY = dict(total_steps=300, steps_per_epoch=150, update_iters=2, batch_size=50, hidden=(8, 8))


# The registry also holds the off-policy family (tests/test_saferl_offpolicy.py), the Saute/Simmer-adapted
# algorithms (tests/test_saferl_adapters.py) and the multi-agent ones (tests/test_saferl_multi_agent.py); these
# tests are about SafePO's single-agent family.
ON_POLICY = {name: cls for name, cls in ALGORITHMS.items()
             if issubclass(cls, OnPolicy) and getattr(cls, "adapter", None) is None
             and not getattr(cls, "multi_agent", False)}


def test_the_registry_holds_safepos_twelve_single_agent_algorithms():
    assert sorted(ON_POLICY) == sorted(["pg", "natural_pg", "trpo", "ppo", "ppo_lag", "trpo_lag", "cpo", "pcpo",
                                         "focops", "cup", "rcpo", "cppo_pid"])


def test_safepo_names_exactly_the_algorithms_of_its_package():
    from alignbook.saferl import SAFEPO

    defined_there = {name for name, cls in ALGORITHMS.items()
                     if cls.__module__.startswith("alignbook.saferl.algorithms.")}
    assert len(SAFEPO) == len(set(SAFEPO)) == 12 and set(SAFEPO) == defined_there


def _record_initial_parameters(monkeypatch) -> list[dict[str, torch.Tensor]]:
    """Make train() leave a copy of its networks' parameters as built, before any update."""
    built = []
    make_class = saferl_train.algorithm_class

    def recording(name):
        cls = make_class(name)

        def build(*args, **kwargs):
            algo = cls(*args, **kwargs)
            built.append({k: v.detach().clone() for k, v in algo.ac.state_dict().items()})
            return algo

        return build

    monkeypatch.setattr(saferl_train, "algorithm_class", recording)
    return built


def _moved(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], prefix: str) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))


@pytest.mark.parametrize("algo", sorted(ON_POLICY))
def test_every_algorithm_trains_and_logs_two_epochs(algo, monkeypatch):
    initial = _record_initial_parameters(monkeypatch)
    agent, log = train(algo, TOY_TASK, **TINY)
    assert list(log.steps) == [150, 300]
    for column in ("episode_return", "episode_cost", "lambda", "kl", "wall_time"):
        assert np.isfinite(log[column]).all(), column
    assert (log["lambda"] >= 0).all()
    assert log.episodes.tolist() == [15, 15]  # 10-step episodes
    # The update did something: the policy and both critics moved from their initial parameters.
    [before] = initial
    after = agent.algo.ac.state_dict()
    for part in ("actor.", "reward_critic.", "cost_critic."):
        assert _moved(before, after, part), f"{algo}: {part[:-1]} did not move"


def test_training_is_deterministic_for_a_seed():
    first = train("ppo_lag", TOY_TASK, **TINY)[1]
    second = train("ppo_lag", TOY_TASK, **TINY)[1]
    other = train("ppo_lag", TOY_TASK, seed=1, **TINY)[1]
    cols = ["episode_return", "episode_cost", "lambda", "kl"]
    np.testing.assert_array_equal(first[cols].to_numpy(), second[cols].to_numpy())
    assert not np.array_equal(first[cols].to_numpy(), other[cols].to_numpy())


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"unknown algorithm 'soc' \(did you mean 'sac'\?\); registered algorithms: cpo"):
        train("soc", TOY_TASK)
    with pytest.raises(ValueError, match=r"unknown setting\(s\) 'costlimit'"):
        train("ppo_lag", TOY_TASK, costlimit=10.0)
    with pytest.raises(ValueError, match="cost_limit must be a non-negative number"):
        train("ppo_lag", TOY_TASK, cost_limit=-5.0)
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        train("ppo", TOY_TASK, total_steps=0)


def test_checkpoint_round_trip_and_evaluate(tmp_path):
    agent, _ = train("cppo_pid", TOY_TASK, **TINY)
    path = tmp_path / "agent.safetensors"
    agent.save(path)
    loaded = Agent.load(path)
    obs = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(loaded.act(obs), agent.act(obs), rtol=1e-6)
    assert loaded.cfg == agent.cfg and loaded.algo.name == "cppo_pid"
    episodes = evaluate(loaded, TOY_TASK, episodes=3)
    assert len(episodes) == 3 and (episodes.length == 10).all()
    # The mean action at each of the 10 steps, and the toy's reward -(a - 1)^2 and cost 2.5 exp(a) per step.
    actions = loaded.act(np.stack([np.ones(10), np.arange(10) / 10], axis=1))[:, 0]
    np.testing.assert_allclose(episodes["return"], -((actions - 1) ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(episodes.cost, (2.5 * np.exp(actions)).sum(), rtol=1e-6)
    with pytest.raises(ValueError, match="episodes must be a positive int"):
        evaluate(loaded, TOY_TASK, episodes=0)


# Learning on the toy problem: cost limit 25, optimum return -10 at cost 25 (toy_optimum), in 60 epochs of 20
# episodes (TOY_TRAINING). The result is the mean of the last 20 epochs: the multipliers oscillate around the
# optimum, as they do at full scale, and the mean is what primal-dual methods converge in.
OPT_RETURN, OPT_COST = toy_optimum(25.0)
RETURN_TOL, COST_TOL = 3.0, 5.0  # 3 of return (|a - a*| ~ 0.3 at the optimum); 20% of the cost limit


def _tail(log, epochs=20):
    tail = log.tail(epochs)
    return tail.episode_return.mean(), tail.episode_cost.mean()


@pytest.mark.parametrize("algo", ["cpo", "cppo_pid"])
def test_cpo_and_cppo_pid_reach_the_closed_form_optimum(algo):
    ret, cost = _tail(train(algo, TOY_TASK, total_steps=12_000, **TOY_TRAINING)[1])
    assert abs(cost - OPT_COST) <= COST_TOL, (ret, cost)
    assert abs(ret - OPT_RETURN) <= RETURN_TOL, (ret, cost)


def frontier(cost: float) -> float:
    """The best episode return any policy can have at this episode cost, in closed form: by Jensen's inequality
    over an episode's actions (alignbook.saferl.toy), the toy's optimum under a limit equal to that cost."""
    return toy_optimum(cost)[0]


def test_ppo_lag_oscillates_around_the_closed_form_optimum():
    """PPO-Lag's multiplier is an integral-only controller: it overshoots, and the cost swings around the limit
    with a period of about 40 epochs (Stooke et al.'s motivation for the PID multiplier). Averaged over one
    period (the last 40 of 120 epochs) its cost sits near the limit, with a wider tolerance than CPO and
    CPPO-PID; in every epoch its return lies on the closed-form frontier of the cost it paid, below it by no more
    than the policy's exploration costs (H sigma^2 = 2.5 at sigma = 0.5)."""
    log = train("ppo_lag", TOY_TASK, total_steps=24_000, **TOY_TRAINING)[1]
    ret, cost = _tail(log, epochs=40)
    assert abs(cost - OPT_COST) <= 1.5 * COST_TOL, (ret, cost)
    tail = log.tail(40)
    below_frontier = np.array([frontier(c) for c in tail.episode_cost]) - tail.episode_return.to_numpy()
    assert (below_frontier >= 0).all(), below_frontier.min()  # no policy can beat the frontier
    assert (below_frontier <= RETURN_TOL).all(), below_frontier.max()
    # Starting above the limit, the multiplier must have pushed the cost below it at some point.
    assert log.episode_cost.iloc[0] > OPT_COST > log.episode_cost.min()


def test_unconstrained_ppo_exceeds_the_limit():
    ret, cost = _tail(train("ppo", TOY_TASK, total_steps=6_000, **TOY_TRAINING)[1])
    assert cost > 1.5 * OPT_COST and ret > OPT_RETURN


def test_each_algorithm_declares_its_multiplier_and_builds_it():
    from alignbook.saferl import Lagrange, PIDLagrange, make_config

    declared = {name: cls.multiplier for name, cls in ON_POLICY.items()}
    assert declared == {"pg": None, "natural_pg": None, "trpo": None, "ppo": None, "cpo": None, "pcpo": None,
                        "ppo_lag": "lagrange", "trpo_lag": "lagrange", "focops": "lagrange", "cup": "lagrange",
                        "rcpo": "lagrange", "cppo_pid": "pid"}
    kinds = {None: type(None), "lagrange": Lagrange, "pid": PIDLagrange}
    for name, cls in ON_POLICY.items():
        assert type(cls(2, 1, make_config(name)).lagrange_multiplier) is kinds[cls.multiplier], name


def test_the_toy_is_an_ordinary_registered_task():
    import alignbook.envs
    from alignbook.saferl.toy import ToyConstraint

    venv = alignbook.envs.make_vec(TOY_TASK, 3)
    assert isinstance(venv, ToyConstraint) and venv.num_envs == 3
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 2)
    with pytest.raises(ValueError, match="registered twice"):
        alignbook.envs.register_batched(TOY_TASK, lambda n: None)
