"""The Bradley-Terry model: P(a preferred to b) = sigmoid(r(a) - r(b)).

Every reward model in the book (the survey's toy utility, the PKU-SafeRLHF reward and cost models) is trained
by minimising the negative log-likelihood of observed preferences under this model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def preference_probability(score_a: torch.Tensor, score_b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Probability that ``a`` is preferred to ``b`` under Bradley-Terry with the given temperature."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return torch.sigmoid((score_a - score_b) / temperature)


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood -log sigmoid(r_chosen - r_rejected) of the observed preferences."""
    if chosen.shape != rejected.shape:
        raise ValueError(f"chosen and rejected scores differ in shape: {tuple(chosen.shape)} vs {tuple(rejected.shape)}")
    if chosen.numel() == 0:
        raise ValueError("no preferences to fit: the score tensors are empty")
    # logsigmoid is the numerically stable form of log(sigmoid(x)) for large |x|.
    return -F.logsigmoid(chosen - rejected).mean()
