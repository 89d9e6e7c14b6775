"""Learning from feedback in miniature: recover a hidden utility from noisy pairwise comparisons.

Items are feature vectors x; a hidden annotator values them by u(x) = w* . x and, shown two items, prefers ``a``
with probability sigmoid(u(a) - u(b)) (Bradley-Terry). Label noise flips each answer with probability
``noise`` on top of that. A linear reward model r(x) = w . x is fitted by maximum likelihood, and judged on
fresh items by how often it orders a pair as the hidden utility does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from alignbook.checks import positive_int
from alignbook.rlhf.preferences import bradley_terry_loss


@dataclass(frozen=True)
class Annotator:
    """The hidden utility: unit-norm direction times a scale that makes most comparisons informative."""

    weights: torch.Tensor  # shape (features,)

    def utility(self, items: torch.Tensor) -> torch.Tensor:
        return items @ self.weights


# Random draws come from a CPU generator and then move to ``device``: the same numbers on every device.
def make_annotator(features: int, generator: torch.Generator, scale: float = 3.0,
                   device: torch.device | None = None) -> Annotator:
    direction = torch.randn(features, generator=generator)
    return Annotator((scale * direction / direction.norm()).to(device))


def make_items(count: int, features: int, generator: torch.Generator, device: torch.device | None = None
               ) -> torch.Tensor:
    # Unit-variance features scaled by 1/sqrt(d) keep utilities on the same scale whatever the dimension.
    return (torch.randn(count, features, generator=generator) / features**0.5).to(device)


def sample_comparisons(
    items: torch.Tensor, annotator: Annotator, count: int, noise: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` answered comparisons as (chosen, rejected) item indices."""
    if not 0.0 <= noise < 0.5:
        raise ValueError(f"label noise must be in [0, 0.5), got {noise}; at 0.5 the labels carry no information")
    positive_int(count, "count (the number of comparisons)")
    a = torch.randint(len(items), (count,), generator=generator)
    b = torch.randint(len(items) - 1, (count,), generator=generator)
    a, b = a.to(items.device), (b + (b >= a)).to(items.device)  # never compare an item with itself
    u = annotator.utility(items)
    prefers_a = torch.rand(count, generator=generator).to(items.device) < torch.sigmoid(u[a] - u[b])
    flipped = torch.rand(count, generator=generator).to(items.device) < noise
    prefers_a = prefers_a ^ flipped
    chosen = torch.where(prefers_a, a, b)
    rejected = torch.where(prefers_a, b, a)
    return chosen, rejected


def fit_reward_model(
    items: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor, steps: int, l2: float = 1e-3
) -> torch.Tensor:
    """Maximum-likelihood linear reward under Bradley-Terry; a little L2 keeps separable data finite."""
    weights = torch.zeros(items.shape[1], device=items.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights], max_iter=steps, line_search_fn="strong_wolfe")
    difference = items[chosen] - items[rejected]

    def closure():
        optimiser.zero_grad()
        scores = difference @ weights
        loss = bradley_terry_loss(scores, torch.zeros_like(scores)) + l2 * weights.square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return weights.detach()


def ordering_accuracy(estimate: torch.Tensor, truth: torch.Tensor, items: torch.Tensor, pairs: int,
                      generator: torch.Generator) -> float:
    """Fraction of random pairs of ``items`` that the estimated utility orders as the true one does."""
    a = torch.randint(len(items), (pairs,), generator=generator).to(items.device)
    b = torch.randint(len(items), (pairs,), generator=generator).to(items.device)
    true_gap = items[a] @ truth - items[b] @ truth
    est_gap = items[a] @ estimate - items[b] @ estimate
    keep = true_gap != 0
    return float(((true_gap > 0) == (est_gap > 0))[keep].float().mean())


def rank_correlation(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman's rho, without ties (continuous utilities)."""
    rx = x.argsort().argsort().double()
    ry = y.argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([rx, ry]))[0, 1])


def sweep(items: int, features: int, comparisons, noises, seeds: int, steps: int, test_pairs: int,
          device: torch.device | str = "cpu") -> pd.DataFrame:
    """Accuracy of the fitted reward model for every (comparisons, noise, seed), computed on ``device``; one
    row each."""
    rows = []
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(1000 + seed)
        annotator = make_annotator(features, generator, device=device)
        train_items = make_items(items, features, generator, device)
        test_items = make_items(2 * items, features, generator, device)
        for noise in noises:
            for count in comparisons:
                chosen, rejected = sample_comparisons(train_items, annotator, count, noise, generator)
                estimate = fit_reward_model(train_items, chosen, rejected, steps)
                rows.append({
                    "seed": seed,
                    "noise": noise,
                    "comparisons": count,
                    "accuracy": ordering_accuracy(estimate, annotator.weights, test_items, test_pairs, generator),
                    "rank_correlation": rank_correlation(test_items @ estimate, annotator.utility(test_items)),
                    # |w| / |w*|: symmetric label noise shrinks the learned scale but not the ordering.
                    "scale_ratio": float(estimate.norm() / annotator.weights.norm()),
                })
    return pd.DataFrame(rows)


def comparisons_to_reach(frame: pd.DataFrame, accuracy: float) -> pd.Series:
    """For each noise level, the fewest comparisons whose mean accuracy over seeds reaches ``accuracy``."""
    means = frame.groupby(["noise", "comparisons"])["accuracy"].mean().reset_index()
    reached = means[means["accuracy"] >= accuracy]
    out = reached.groupby("noise")["comparisons"].min()
    return out.reindex(sorted(frame["noise"].unique())).astype("float").fillna(np.inf)
