"""Learning under distribution shift: ERM, risk extrapolation and group DRO on a task whose shortcut reverses.

The label y is +-1. Each example has a *core* feature that predicts y equally well in every environment and a
*spurious* feature whose agreement with y depends on the environment: it agrees with probability ``p_e``.
In the training environments the spurious feature is the better predictor (p_e = 0.9 and 0.8 against a core
accuracy of about 0.75); in the test environment it is reversed (p = 0.1). This is the linear skeleton of the
coloured-MNIST task of the IRM and REx papers. A logistic regression on [core, spurious] is trained by

- ERM: the mean of the pooled logistic risk;
- V-REx (Krueger et al. 2021): the mean of the environments' risks plus lambda times their variance, with the
  penalty switched on after a warm-up of ERM steps, as in the paper;
- group DRO (Sagawa et al. 2020): the groups are (label, spurious sign); the weight of each group's risk is
  raised by exponentiated gradient ascent, q_g <- q_g exp(eta R_g), and the model minimises sum_g q_g R_g.

V-REx needs to know which environment each example came from, group DRO which group; ERM needs neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F

METHODS = ("ERM", "V-REx", "group DRO")


@dataclass(frozen=True)
class Environment:
    features: torch.Tensor  # (n, 2): core, spurious
    labels: torch.Tensor  # (n,) in {-1, +1}

    @property
    def groups(self) -> torch.Tensor:
        """Group index 0..3 from (label, sign of the spurious feature)."""
        return 2 * (self.labels > 0).long() + (self.features[:, 1] > 0).long()


def make_environment(n: int, spurious_agreement: float, core_noise: float, generator: torch.Generator,
                     spurious_noise: float = 0.1, device: torch.device | None = None) -> Environment:
    """Drawn on the CPU generator, then moved to ``device`` (the same numbers on every device)."""
    if not 0.0 <= spurious_agreement <= 1.0:
        raise ValueError(f"spurious_agreement must be a probability, got {spurious_agreement}")
    if n <= 0 or core_noise <= 0:
        raise ValueError(f"need n > 0 and core_noise > 0, got n={n}, core_noise={core_noise}")
    y = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    core = y + core_noise * torch.randn(n, generator=generator)
    agrees = torch.rand(n, generator=generator) < spurious_agreement
    spurious = torch.where(agrees, y, -y) + spurious_noise * torch.randn(n, generator=generator)
    return Environment(torch.stack([core, spurious], dim=1).to(device), y.to(device))


def risk(weights: torch.Tensor, bias: torch.Tensor, env: Environment) -> torch.Tensor:
    """Mean logistic loss of sign(w . x + b) against y."""
    return F.softplus(-env.labels * (env.features @ weights + bias)).mean()


def accuracy(weights: torch.Tensor, bias: torch.Tensor, env: Environment) -> float:
    return float(((env.features @ weights + bias) * env.labels > 0).float().mean())


def worst_group_accuracy(weights: torch.Tensor, bias: torch.Tensor, env: Environment) -> float:
    correct = ((env.features @ weights + bias) * env.labels > 0).float()
    groups = env.groups
    return min(float(correct[groups == g].mean()) for g in range(4) if bool((groups == g).any()))


def train(method: str, envs: list[Environment], steps: int, lr: float, rex_lambda: float = 100.0,
          rex_warmup: int = 0, dro_eta: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch Adam on the method's objective; returns (weights, bias)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods are: {', '.join(METHODS)}")
    device = envs[0].features.device
    weights = torch.zeros(2, device=device, requires_grad=True)
    bias = torch.zeros((), device=device, requires_grad=True)
    optimiser = torch.optim.Adam([weights, bias], lr=lr)
    pooled = Environment(torch.cat([e.features for e in envs]), torch.cat([e.labels for e in envs]))
    group_weights = torch.full((4,), 0.25, device=device)
    for step in range(steps):
        if method == "ERM":
            loss = risk(weights, bias, pooled)
        elif method == "V-REx":
            risks = torch.stack([risk(weights, bias, e) for e in envs])
            penalty = rex_lambda if step >= rex_warmup else 0.0
            # dividing by the penalty keeps the gradient's scale comparable before and after the switch
            loss = (risks.mean() + penalty * risks.var(unbiased=False)) / max(1.0, penalty)
        else:
            margins = pooled.labels * (pooled.features @ weights + bias)
            losses = F.softplus(-margins)
            groups = pooled.groups
            risks = torch.stack([losses[groups == g].mean() if bool((groups == g).any()) else losses.new_zeros(())
                                 for g in range(4)])
            group_weights = group_weights * torch.exp(dro_eta * risks.detach())
            group_weights = group_weights / group_weights.sum()
            loss = (group_weights * risks).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weights.detach(), bias.detach()


def run(n: int, train_agreement, test_agreement: float, core_noise: float, seeds: int, steps: int, lr: float,
        rex_lambda: float, rex_warmup: int, dro_eta: float, device: torch.device | str = "cpu") -> pd.DataFrame:
    """One row per (seed, method), trained on ``device``: accuracies in and out of distribution, and how much
    weight is on the shortcut."""
    rows = []
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(3000 + seed)
        envs = [make_environment(n, p, core_noise, generator, device=device) for p in train_agreement]
        test = make_environment(n, test_agreement, core_noise, generator, device=device)
        for method in METHODS:
            w, b = train(method, envs, steps, lr, rex_lambda, rex_warmup, dro_eta)
            rows.append({
                "seed": seed, "method": method,
                "train_accuracy": sum(accuracy(w, b, e) for e in envs) / len(envs),
                "test_accuracy": accuracy(w, b, test),
                "worst_group_accuracy": worst_group_accuracy(w, b, test),
                # share of the decision weight on the spurious feature, in [0, 1]
                "spurious_share": float(w[1].abs() / w.abs().sum()),
            })
    return pd.DataFrame(rows)
