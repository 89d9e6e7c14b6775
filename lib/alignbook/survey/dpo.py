"""Direct preference optimisation against RLHF on the Bradley-Terry world of ``feedback``.

One prompt and a finite set of candidate responses (the items of ``feedback``, feature vectors x_y). A policy
is a log-linear tilt of the reference policy,

    pi_theta(y) = pi_ref(y) exp(theta . x_y) / Z(theta),

so theta = 0 is the reference, and both methods search the same family. The reference is uniform, which makes
the comparisons of ``feedback.sample_comparisons`` (uniform pairs) exactly "pairs sampled from pi_ref".

- RLHF: fit a Bradley-Terry reward model r(y) = w . x_y (``feedback.fit_reward_model``), then maximise
  E_pi[r] - beta KL(pi || pi_ref) with a sampled policy gradient (REINFORCE with the KL folded into the reward,
  as PPO-based RLHF does per token).
- DPO (Rafailov et al. 2023, Eq. 7): minimise -log sigma(beta [log pi/pi_ref (y_w) - log pi/pi_ref (y_l)]) on
  the same comparisons. Here log pi/pi_ref (y) = theta . x_y - log Z, so the loss is the Bradley-Terry loss of
  the reward beta theta . x: DPO's optimum is theta = w_hat / beta, the closed-form optimum of the RLHF
  objective. The two differ only in how they get there.

The judge is the hidden annotator: true reward E_pi[u] and the win rate against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from alignbook.rlhf.preferences import bradley_terry_loss
from alignbook.survey import feedback


@dataclass(frozen=True)
class World:
    """The responses, the hidden annotator, and the comparisons both methods learn from."""

    items: torch.Tensor  # (responses, features)
    annotator: feedback.Annotator
    chosen: torch.Tensor
    rejected: torch.Tensor


def make_world(items: int, features: int, comparisons: int, noise: float, generator: torch.Generator,
               device: torch.device | None = None) -> World:
    annotator = feedback.make_annotator(features, generator, device=device)
    responses = feedback.make_items(items, features, generator, device)
    chosen, rejected = feedback.sample_comparisons(responses, annotator, comparisons, noise, generator)
    return World(responses, annotator, chosen, rejected)


def log_policy(theta: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """log pi_theta over all responses (uniform reference)."""
    return torch.log_softmax(items @ theta, dim=0)


def kl_to_reference(theta: torch.Tensor, items: torch.Tensor) -> float:
    logp = log_policy(theta, items)
    return float((logp.exp() * (logp + torch.log(torch.tensor(float(len(items)))))).sum())


def true_reward(theta: torch.Tensor, world: World) -> float:
    return float(log_policy(theta, world.items).exp() @ world.annotator.utility(world.items))


def win_rate(theta: torch.Tensor, world: World) -> float:
    """P(the annotator prefers y ~ pi_theta to y' ~ pi_ref), computed exactly over all pairs."""
    u = world.annotator.utility(world.items)
    prefer = torch.sigmoid(u[:, None] - u[None, :])
    return float(log_policy(theta, world.items).exp() @ prefer.mean(dim=1))


def regularised_objective(theta: torch.Tensor, world: World, beta: float) -> float:
    """The RLHF objective under the true reward, E_pi[u] - beta KL: the quantity both methods approximate."""
    return true_reward(theta, world) - beta * kl_to_reference(theta, world.items)


def dpo(world: World, beta: float, steps: int, l2: float = 1e-3) -> torch.Tensor:
    """Fit the DPO loss with the optimiser and L2 penalty the reward model uses (on the implicit reward)."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    theta = torch.zeros(world.items.shape[1], device=world.items.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([theta], max_iter=steps, line_search_fn="strong_wolfe")
    difference = world.items[world.chosen] - world.items[world.rejected]

    def closure():
        optimiser.zero_grad()
        # beta (log pi/pi_ref (y_w) - log pi/pi_ref (y_l)); the normaliser log Z cancels in the difference
        margin = beta * (difference @ theta)
        loss = bradley_terry_loss(margin, torch.zeros_like(margin)) + l2 * (beta * theta).square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return theta.detach()


def rlhf(world: World, beta: float, reward_steps: int, rl_steps: int, batch: int, lr: float,
         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Reward model, then a KL-penalised policy gradient; returns (theta, reward-model weights)."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    w = feedback.fit_reward_model(world.items, world.chosen, world.rejected, reward_steps)
    reward = world.items @ w
    log_ref = -torch.log(torch.tensor(float(len(world.items))))
    theta = torch.zeros(world.items.shape[1], device=world.items.device, requires_grad=True)
    optimiser = torch.optim.Adam([theta], lr=lr)
    for _ in range(rl_steps):
        logp = log_policy(theta, world.items)
        # drawn on the CPU generator (the same samples on every device), then moved to the policy's device
        y = torch.multinomial(logp.detach().exp().cpu(), batch, replacement=True, generator=generator).to(theta.device)
        # the per-sample KL estimate log pi(y) - log pi_ref(y) is part of the reward, as in PPO-based RLHF
        shaped = reward[y] - beta * (logp[y].detach() - log_ref)
        advantage = shaped - shaped.mean()
        loss = -(advantage * logp[y]).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return theta.detach(), w


def closed_form_optimum(w: torch.Tensor, beta: float) -> torch.Tensor:
    """argmax E_pi[w . x] - beta KL(pi || pi_ref) in the log-linear family: pi ∝ pi_ref exp(r / beta)."""
    return w / beta


def compare_methods(items: int, features: int, comparisons: int, noise: float, betas, seeds: int,
                    reward_steps: int, rl_steps: int, rl_batch: int, rl_lr: float,
                    device: torch.device | str = "cpu") -> pd.DataFrame:
    """One row per (seed, beta, method), computed on ``device``: true reward, KL, regularised objective, win rate, and the distance
    of the solution from the closed-form optimum of the RLHF objective under the fitted reward model."""
    rows = []
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(2000 + seed)
        world = make_world(items, features, comparisons, noise, generator, device)
        for beta in betas:
            theta_rlhf, w = rlhf(world, beta, reward_steps, rl_steps, rl_batch, rl_lr, generator)
            optimum = closed_form_optimum(w, beta)
            for method, theta in (("RLHF", theta_rlhf), ("DPO", dpo(world, beta, reward_steps))):
                rows.append({
                    "seed": seed, "beta": beta, "method": method,
                    "true_reward": true_reward(theta, world),
                    "kl": kl_to_reference(theta, world.items),
                    "objective": regularised_objective(theta, world, beta),
                    "win_rate": win_rate(theta, world),
                    "distance_to_optimum": float((theta - optimum).norm() / optimum.norm()),
                })
    return pd.DataFrame(rows)


def frontier_gap(frame: pd.DataFrame, method: str = "DPO", baseline: str = "RLHF", points: int = 50) -> pd.Series:
    """Per seed: the mean over a grid of KL values of method's true reward minus baseline's, each method's curve
    (its points over beta, ordered by KL) interpolated linearly; the grid spans the KL range both curves cover.
    A positive value means the method's reward/KL frontier lies above the baseline's (Rafailov et al. Fig. 2).
    A seed whose two curves share no range of KL (runs too short for the betas to spread them) has no gap: NaN,
    which ``report.compare`` counts as not decisive rather than dropping the seed."""
    gaps = {}
    for seed, runs in frame.groupby("seed"):
        curves = {m: runs[runs.method == m].sort_values("kl") for m in (method, baseline)}
        low = max(c.kl.min() for c in curves.values())
        high = min(c.kl.max() for c in curves.values())
        if not high > low:
            gaps[seed] = float("nan")
            continue
        grid = np.linspace(low, high, points)
        reward = {m: np.interp(grid, c.kl.values, c.true_reward.values) for m, c in curves.items()}
        gaps[seed] = float(np.mean(reward[method] - reward[baseline]))
    return pd.Series(gaps, name="frontier_gap")
