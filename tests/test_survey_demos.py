"""The survey's demonstrations: DPO against RLHF, ERM/REx/group DRO, probing and patching, debate."""

import numpy as np
import pytest
import torch

from alignbook import report
from alignbook.survey import debate, dpo, probing, shift

# --- DPO against RLHF ---------------------------------------------------------------------------------------

def _world(seed=0, comparisons=800):
    return dpo.make_world(50, 4, comparisons, 0.0, torch.Generator().manual_seed(seed))


def test_reference_policy_is_uniform_with_zero_kl():
    world = _world()
    theta = torch.zeros(4)
    assert torch.allclose(dpo.log_policy(theta, world.items).exp(), torch.full((50,), 1 / 50))
    assert dpo.kl_to_reference(theta, world.items) == pytest.approx(0.0, abs=1e-6)
    # the reference against itself wins exactly half of the time (sigma(d) + sigma(-d) = 1)
    assert dpo.win_rate(theta, world) == pytest.approx(0.5, abs=1e-6)


def test_dpo_optimum_is_the_closed_form_rlhf_optimum():
    """The theorem behind DPO in this family: argmin of the DPO loss = w_hat / beta."""
    from alignbook.survey import feedback

    world = _world()
    w_hat = feedback.fit_reward_model(world.items, world.chosen, world.rejected, steps=300)
    for beta in (0.1, 0.5, 2.0):
        theta = dpo.dpo(world, beta, steps=300)
        assert torch.allclose(theta, dpo.closed_form_optimum(w_hat, beta), rtol=1e-3, atol=1e-4)


def test_rlhf_policy_gradient_approaches_the_optimum_and_raises_true_reward():
    world = _world()
    theta, w_hat = dpo.rlhf(world, beta=1.0, reward_steps=200, rl_steps=300, batch=32, lr=0.05,
                            generator=torch.Generator().manual_seed(1))
    optimum = dpo.closed_form_optimum(w_hat, 1.0)
    assert float((theta - optimum).norm() / optimum.norm()) < 0.05
    assert dpo.true_reward(theta, world) > dpo.true_reward(torch.zeros(4), world)
    assert dpo.win_rate(theta, world) > 0.5


def test_smaller_beta_moves_further_from_the_reference():
    world = _world()
    kls = [dpo.kl_to_reference(dpo.dpo(world, beta, steps=200), world.items) for beta in (2.0, 0.5, 0.1)]
    assert kls[0] < kls[1] < kls[2]


def test_dpo_rejects_a_non_positive_beta():
    with pytest.raises(ValueError, match="beta must be positive"):
        dpo.dpo(_world(), 0.0, steps=10)
    with pytest.raises(ValueError, match="beta must be positive"):
        dpo.rlhf(_world(), -1.0, 10, 10, 4, 0.1, torch.Generator())


def test_compare_methods_is_deterministic_and_complete():
    kwargs = dict(items=30, features=3, comparisons=100, noise=0.1, betas=(0.5, 1.0), seeds=2, reward_steps=30,
                  rl_steps=5, rl_batch=8, rl_lr=0.05)
    a, b = dpo.compare_methods(**kwargs), dpo.compare_methods(**kwargs)
    assert len(a) == 2 * 2 * 2 and set(a.method) == {"RLHF", "DPO"}
    assert a.equals(b)


def test_frontier_gap_is_zero_for_equal_curves_and_measures_a_shift():
    import pandas as pd

    rows = []
    for seed in (0, 1):
        for kl, reward in ((0.1, 1.0), (0.5, 2.0), (1.0, 2.5)):
            rows.append({"seed": seed, "method": "RLHF", "kl": kl, "true_reward": reward})
            rows.append({"seed": seed, "method": "DPO", "kl": kl, "true_reward": reward + 0.1 * seed})
    gaps = dpo.frontier_gap(pd.DataFrame(rows))
    assert gaps[0] == pytest.approx(0.0) and gaps[1] == pytest.approx(0.1)
    disjoint = pd.DataFrame([{"seed": 0, "method": m, "kl": kl, "true_reward": 0.0}
                             for m, kls in (("DPO", (0.1, 0.2)), ("RLHF", (0.5, 0.6))) for kl in kls])
    # No shared range of KL: that seed has no gap (NaN), and a verdict over seeds that include it is not decisive.
    overlapping = pd.DataFrame([{"seed": 1, "method": m, "kl": kl, "true_reward": 0.0}
                                for m, kls in (("DPO", (0.1, 0.2)), ("RLHF", (0.15, 0.25))) for kl in kls])
    both = pd.concat([disjoint, overlapping])
    gaps = dpo.frontier_gap(both)
    assert np.isnan(gaps[0]) and gaps[1] == pytest.approx(0.0)
    assert report.compare(gaps.values, np.zeros(2), better="higher").verdict() == report.Verdict.NOT_AT_SCALE


# --- ERM, V-REx, group DRO ------------------------------------------------------------------------------------

def test_environment_has_the_requested_spurious_agreement():
    env = shift.make_environment(20000, 0.8, 1.5, torch.Generator().manual_seed(0))
    agreement = float((torch.sign(env.features[:, 1]) == env.labels).float().mean())
    assert agreement == pytest.approx(0.8, abs=0.02)
    core = float((torch.sign(env.features[:, 0]) == env.labels).float().mean())
    assert core == pytest.approx(0.75, abs=0.02)  # Phi(1 / 1.5)
    assert set(env.groups.unique().tolist()) == {0, 1, 2, 3}


def test_interventions_beat_erm_out_of_distribution():
    frame = shift.run(n=2000, train_agreement=(0.9, 0.8), test_agreement=0.1, core_noise=1.5, seeds=1, steps=300,
                      lr=0.2, rex_lambda=1000.0, rex_warmup=50, dro_eta=0.05)
    by = frame.set_index("method")
    assert by.loc["ERM", "spurious_share"] > 0.5
    assert by.loc["ERM", "train_accuracy"] > by.loc["V-REx", "train_accuracy"]
    assert by.loc["V-REx", "test_accuracy"] > by.loc["ERM", "test_accuracy"] + 0.2
    assert by.loc["group DRO", "worst_group_accuracy"] > by.loc["ERM", "worst_group_accuracy"] + 0.2


def test_shift_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown method 'IRM'"):
        shift.train("IRM", [], 1, 0.1)
    with pytest.raises(ValueError, match="spurious_agreement must be a probability"):
        shift.make_environment(10, 1.5, 1.0, torch.Generator())


# --- probing and activation patching ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained():
    generator = torch.Generator().manual_seed(0)
    model = probing.make_model(symbols=8, hidden=32, layers=2, heads=2, length=6, seed=0)
    probing.train_copy_first(model, 8, 6, steps=150, batch=64, lr=3e-3, generator=generator)
    return model, generator


def test_the_decoder_learns_to_copy_the_first_token(trained):
    model, generator = trained
    assert probing.task_accuracy(model, probing.make_sequences(256, 6, 8, generator)) > 0.95


def test_residual_streams_have_one_entry_per_layer(trained):
    model, generator = trained
    streams = probing.residual_streams(model, probing.make_sequences(4, 6, 8, generator))
    assert len(streams) == 3 and all(s.shape == (4, 6, 32) for s in streams)


def test_probe_finds_the_answer_only_after_attention(trained):
    model, generator = trained
    train, test = (probing.make_sequences(n, 6, 8, generator) for n in (512, 256))
    accuracy = probing.probe_layers(model, train, test, 8)
    assert accuracy[0] < 0.3  # the last token's embedding is independent of the first token
    assert accuracy[-1] > 0.9
    # at position 0 the embedding *is* the first token: a probe there is perfect from the start
    assert probing.probe_layers(model, train, test, 8, position=0)[0] == 1.0


def test_patching_follows_the_route_of_the_answer(trained):
    model, generator = trained
    clean = probing.make_sequences(128, 6, 8, generator)
    corrupted = probing.corrupt_first(clean, 8, generator)
    assert torch.all(corrupted[:, 0] != clean[:, 0]) and torch.equal(corrupted[:, 1:], clean[:, 1:])
    restored = probing.activation_patching(model, clean, corrupted)
    assert restored.shape == (3, 6)
    # patching the whole corrupted token at the embedding restores the clean run exactly
    assert restored[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert restored[-1, -1] == pytest.approx(1.0, abs=1e-4)
    # positions in between never carry the answer
    assert np.abs(restored[:, 1:-1]).max() < 0.2


def test_sequences_reject_degenerate_sizes():
    with pytest.raises(ValueError, match="length >= 2"):
        probing.make_sequences(4, 1, 8, torch.Generator())


# --- debate -------------------------------------------------------------------------------------------------------

def test_perfect_honest_debater_always_wins():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.integers(10, size=64)
        assert debate.debate(values, lie=int(rng.integers(1, 5)), slip=0.0, rng=rng)


def test_slips_let_the_liar_win_sometimes():
    rng = np.random.default_rng(0)
    wins = [debate.debate(rng.integers(10, size=64), lie=3, slip=0.5, rng=rng) for _ in range(300)]
    assert 0.05 < np.mean(wins) < 0.9


def test_judge_alone_is_perfect_when_it_reads_everything_and_near_chance_on_small_lies():
    rng = np.random.default_rng(0)
    values = rng.integers(10, size=32)
    assert debate.judge_alone(values, lie=1, reads=32, rng=rng)
    wins = [debate.judge_alone(rng.integers(10, size=512), lie=1, reads=4, rng=rng) for _ in range(400)]
    assert 0.4 < np.mean(wins) < 0.65


def test_play_rejects_lengths_that_cannot_be_halved():
    with pytest.raises(ValueError, match="power of two"):
        debate.play((12,), (0.0,), games=1, seeds=1)
