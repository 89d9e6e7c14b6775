"""Saute and Simmer: the budget arithmetic against hand-computed sequences, the reward replacement, the
autoreset of z, Simmer's controller, and the adapted algorithms training through the ordinary loop."""

from __future__ import annotations

import numpy as np
import pytest

from alignbook.saferl import ALGORITHMS, TOY_TASK, train
from alignbook.saferl.adapters import Saute, Simmer


class Scripted:
    """A batched one-environment task that pays a given sequence of costs, reward 1 per step, horizon T."""

    def __init__(self, costs, horizon=4):
        from gymnasium import spaces

        self.costs, self.t, self.num_envs, self.max_episode_steps = list(costs), 0, 1, horizon
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float64)
        self.single_action_space = spaces.Box(-1.0, 1.0, (1,), np.float64)

    def reset(self, *, seed=None, options=None):
        return np.zeros((1, 1)), {}

    def step(self, actions):
        cost = self.costs[self.t]
        self.t += 1
        truncated = np.array([self.t % self.max_episode_steps == 0])
        info = {"cost": np.array([cost])}
        if truncated[0]:
            info["final_observation"] = np.array([np.array([9.0])], dtype=object)
            info["_final_observation"] = truncated.copy()
        return np.full((1, 1), self.t), np.ones(1), np.array([cost]), np.zeros(1, bool), truncated, info

    def close(self):
        pass


def test_saute_with_gamma_one_counts_down_the_fraction_of_the_budget_left():
    # budget 10: costs 2, 3, 0, 6 leave 8/10, 5/10, 5/10, -1/10 of it; the last step's reward is replaced.
    env = Saute(Scripted([2, 3, 0, 6, 4]), budget=10.0, gamma=1.0, unsafe_reward=-0.5)
    obs, _ = env.reset()
    assert obs[0, -1] == 1.0
    zs, rewards = [], []
    for _ in range(4):
        obs, reward, cost, _, truncated, info = env.step(np.zeros((1, 1)))
        zs.append(float(obs[0, -1]) if not truncated[0] else float(info["final_observation"][0][-1]))
        rewards.append(float(reward[0]))
    np.testing.assert_allclose(zs, [0.8, 0.5, 0.5, -0.1])
    assert rewards == [1.0, 1.0, 1.0, -0.5]
    assert obs[0, -1] == 1.0  # the episode ended (T = 4): the next one starts with the whole budget
    assert info["final_observation"][0][0] == 9.0  # the task's own final observation is kept
    obs, reward, *_ = env.step(np.zeros((1, 1)))
    np.testing.assert_allclose(obs[0, -1], 0.6)


def test_saute_discounted_budget_by_hand():
    # gamma_s = 0.5, T = 4, budget 10: B = 10 (1 - 0.5^4) / (0.5 * 4) = 4.6875.
    # z1 = (1 - 2/4.6875) / 0.5 = 1.146667;  z2 = (z1 - 3/4.6875) / 0.5 = 1.013333;  z3 = z2 / 0.5 = 2.026667
    env = Saute(Scripted([2, 3, 0, 0]), budget=10.0, gamma=0.5)
    assert env.step_budget == pytest.approx(4.6875)
    env.reset()
    zs = [float(env.step(np.zeros((1, 1)))[0][0, -1]) for _ in range(3)]
    np.testing.assert_allclose(zs, [1.146667, 1.013333, 2.026667], rtol=1e-5)


def test_simmer_controller_lowers_the_budget_when_the_cost_overshoots_and_respects_the_bounds():
    # kp = 0.1, ki = 0.01, kd = 0, EMA 0.5; budget 20 (upper 25), mean cost 30: error -10,
    # EMA -5, step 0.1 * -5 + 0.01 * -10 = -0.6 -> 19.4. Next epoch: error 19.4 - 30 = -10.6, EMA -7.8,
    # step -0.78 - 0.01 * 20.6 = -0.986 -> 18.414. A large undershoot is clamped to a step of +1 and to the upper bound.
    env = Simmer(Scripted([0] * 4), budget=20.0, upper_budget=25.0, kp=0.1, ki=0.01, kd=0.0, ema=0.5, gamma=1.0)
    env.end_epoch(30.0)
    assert env.budget == pytest.approx(19.4)
    env.end_epoch(30.0)
    assert env.budget == pytest.approx(18.414)
    for _ in range(20):
        env.end_epoch(0.0)
    assert env.budget == 25.0


def test_bad_budgets_are_refused():
    with pytest.raises(ValueError, match="safety_budget must be a positive number"):
        Saute(Scripted([0]), budget=-1.0)
    with pytest.raises(ValueError, match="saute_gamma"):
        Saute(Scripted([0]), budget=1.0, gamma=0.0)


@pytest.mark.parametrize("algo", ["PPOSaute", "SACSaute", "PPOSimmerPID"])
def test_adapted_algorithms_train_on_the_wrapped_task(algo):
    """The observation gains z; on the toy (cost >= 2.5 exp(-1) a step) a budget of 5 is spent within a few
    steps, so an episode's return is mostly the unsafe reward."""
    from alignbook.saferl.config import canonical_name

    name = canonical_name(algo)
    assert ALGORITHMS[name].adapter in ("saute", "simmer")
    settings = dict(total_steps=400, safety_budget=5.0, unsafe_reward=-3.0)
    if ALGORITHMS[name].family == "off-policy":
        settings.update(start_learning_steps=200)
    else:
        settings.update(steps_per_epoch=200, update_iters=2)
    agent, log = train(algo, TOY_TASK, **settings)
    obs_dim = agent.algo.obs_dim if hasattr(agent.algo, "obs_dim") else agent.algo.ac.actor.mean[0].in_features
    assert obs_dim == 3  # the toy's two features and z
    assert (log.episode_return < -10).all()  # most of each episode's ten rewards are the unsafe -3


def test_adapted_algorithms_keep_their_base_sections_and_add_the_toys():
    """The toy's section sets an unsafe reward below the safe optimum's -1 a step (and Simmer's integral gain),
    on top of the base algorithm's own section for the toy; elsewhere OmniSafe's defaults stay."""
    from alignbook.saferl import make_config

    sac_saute, sac = make_config("SACSaute", TOY_TASK), make_config("SAC", TOY_TASK)
    assert sac_saute.unsafe_reward == -5.0 and sac_saute.start_learning_steps == sac.start_learning_steps == 200
    assert make_config("PPOSimmerPID", TOY_TASK).simmer_ki == 5e-3
    assert make_config("PPOSaute").unsafe_reward == -1.0 and make_config("PPOSimmerPID").simmer_ki == 1e-5
    assert make_config("PPOSaute", TOY_TASK, unsafe_reward=-2.0).unsafe_reward == -2.0  # the user's word wins
