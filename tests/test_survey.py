import math

import pytest
import torch

from alignbook.rlhf import bradley_terry_loss, preference_probability
from alignbook.survey import feedback, misgeneralisation


def test_bradley_terry_loss_known_values():
    zero = torch.zeros(4)
    assert bradley_terry_loss(zero, zero).item() == pytest.approx(math.log(2))
    assert bradley_terry_loss(torch.tensor([2.0]), torch.tensor([0.0])).item() == pytest.approx(
        -math.log(1 / (1 + math.exp(-2))))
    # numerically stable far in the tails
    assert torch.isfinite(bradley_terry_loss(torch.tensor([-1e4]), torch.tensor([1e4])))
    assert preference_probability(torch.tensor(1.0), torch.tensor(1.0)).item() == 0.5


def test_bradley_terry_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in shape"):
        bradley_terry_loss(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="empty"):
        bradley_terry_loss(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="temperature must be positive"):
        preference_probability(torch.zeros(1), torch.zeros(1), temperature=0)


def test_reward_model_recovers_the_hidden_utility():
    g = torch.Generator().manual_seed(0)
    annotator = feedback.make_annotator(5, g)
    items = feedback.make_items(100, 5, g)
    chosen, rejected = feedback.sample_comparisons(items, annotator, 3000, 0.0, g)
    assert not torch.any(chosen == rejected)
    w = feedback.fit_reward_model(items, chosen, rejected, steps=200)
    cosine = torch.nn.functional.cosine_similarity(w, annotator.weights, dim=0)
    assert cosine > 0.97
    fresh = feedback.make_items(200, 5, g)
    assert feedback.ordering_accuracy(w, annotator.weights, fresh, 2000, g) > 0.93


def test_label_noise_shrinks_the_scale_but_keeps_the_direction():
    g = torch.Generator().manual_seed(1)
    annotator = feedback.make_annotator(4, g)
    items = feedback.make_items(100, 4, g)
    fits = {}
    for noise in (0.0, 0.3):
        chosen, rejected = feedback.sample_comparisons(items, annotator, 8000, noise, g)
        fits[noise] = feedback.fit_reward_model(items, chosen, rejected, steps=200)
    assert fits[0.3].norm() < 0.6 * fits[0.0].norm()
    assert torch.nn.functional.cosine_similarity(fits[0.3], annotator.weights, dim=0) > 0.95


def test_comparisons_reject_meaningless_noise():
    g = torch.Generator().manual_seed(0)
    annotator, items = feedback.make_annotator(3, g), feedback.make_items(10, 3, g)
    with pytest.raises(ValueError, match=r"label noise must be in \[0, 0.5\)"):
        feedback.sample_comparisons(items, annotator, 10, 0.5, g)


def test_rank_correlation_known_values():
    x = torch.arange(10.0)
    assert feedback.rank_correlation(x, x**3) == pytest.approx(1.0)
    assert feedback.rank_correlation(x, -x) == pytest.approx(-1.0)


def test_grid_world_moves_stay_inside_and_coin_placement():
    world = misgeneralisation.GridWorld(4)
    g = torch.Generator().manual_seed(0)
    agent, coin = world.reset(500, 0.0, g)
    assert torch.all(coin == world.corner) and not torch.any((agent == coin).all(-1))
    agent, coin = world.reset(500, 1.0, g, exclude_corner=True)
    assert not torch.any((coin == world.corner).all(-1)) and not torch.any((agent == coin).all(-1))
    corner = torch.tensor([[0, 3]])
    assert torch.equal(world.step(corner, torch.tensor([0])), corner)  # up at the top edge: stays
    assert torch.equal(world.step(corner, torch.tensor([1])), torch.tensor([[1, 3]]))
    obs = world.observe(agent, coin)
    assert obs.shape == (500, 32) and torch.all(obs.sum(1) == 2)


def test_agent_trained_on_corner_coins_learns_the_corner():
    net = misgeneralisation.train(size=4, randomised=0.0, updates=150, batch=32, hidden=32, seed=0)
    before = misgeneralisation.evaluate(net, 4, 300, shifted=False, seed=0)
    after = misgeneralisation.evaluate(net, 4, 300, shifted=True, seed=0)
    assert before["coin"] > 0.9
    assert after["coin"] < before["coin"] - 0.3
    with pytest.raises(ValueError, match="randomised fraction"):
        misgeneralisation.train(size=4, randomised=1.5, updates=1, batch=2, hidden=4, seed=0)


def test_the_home_pages_cycle_figure_is_current(tmp_path):
    """book/figures/alignment-cycle.svg is what alignbook.survey.cycle draws now (the site copies it, and
    imports no chapter code); after a change, redraw it as the message says."""
    from pathlib import Path

    from alignbook.survey.cycle import save_alignment_cycle

    committed = Path(__file__).resolve().parents[1] / "book" / "figures" / "alignment-cycle.svg"
    fresh = tmp_path / "cycle.svg"
    save_alignment_cycle(str(fresh))
    assert fresh.read_bytes() == committed.read_bytes(), (
        "stale figure: run python -m alignbook.survey.cycle book/figures/alignment-cycle.svg")
