"""The DreamerV3 distributions and losses, each a few lines: symlog, two-hot, unimix categoricals, KL balancing.

- ``symlog(x) = sign(x) ln(1 + |x|)`` squashes targets of any scale; ``symexp`` inverts it.
- Two-hot: a scalar ``y`` is encoded as weights on the two neighbouring bins of a fixed grid (in symlog space) so
  that their weighted mean is exactly ``symlog(y)``; a head predicts a softmax over the bins and is trained by
  cross-entropy against that encoding; its prediction is ``symexp`` of the softmax's mean.
- Categorical latents mix 1% uniform into their probabilities (no class ever has probability 0, so the KL stays
  finite) and are sampled straight through (the sample forward, the probabilities' gradient backward).
- KL balancing: ``dyn * max(free, KL[sg(post) || prior]) + rep * max(free, KL[post || sg(prior)])``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

UNIMIX = 0.01


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


class TwoHot(nn.Module):
    """A grid of ``bins`` points evenly spaced over [-limit, limit] in symlog space (DreamerV3: 255 over +-20).
    A module only so that the grid moves with the model to its device."""

    def __init__(self, bins: int = 255, limit: float = 20.0):
        super().__init__()
        if bins < 2 or limit <= 0:
            raise ValueError(f"need bins >= 2 and limit > 0, got bins={bins!r}, limit={limit!r}")
        self.register_buffer("grid", torch.linspace(-limit, limit, bins))

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """Weights of shape (*y.shape, bins) on the two bins around symlog(y), summing to one."""
        x = symlog(y).clamp(self.grid[0], self.grid[-1])
        above = torch.searchsorted(self.grid, x.contiguous(), right=True).clamp(1, len(self.grid) - 1)
        below = above - 1
        lo, hi = self.grid[below], self.grid[above]
        w_hi = (x - lo) / (hi - lo)
        return F.one_hot(below, len(self.grid)) * (1 - w_hi)[..., None] + F.one_hot(above, len(self.grid)) * w_hi[..., None]

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        return symexp(logits.softmax(-1) @ self.grid)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the predicted bins against the two-hot encoding of ``y`` (per element)."""
        return -(self.encode(y) * logits.log_softmax(-1)).sum(-1)


def unimix_probs(logits: torch.Tensor, mix: float = UNIMIX) -> torch.Tensor:
    """``(1 - mix) softmax(logits) + mix / classes`` over the last axis."""
    # The softmax by hand: torch's CPU kernel is several times slower over a last axis as short as a latent's
    # classes (8 at book scale), and this runs twice per imagined or observed step.
    e = (logits - logits.detach().amax(-1, keepdim=True)).exp()
    return (1 - mix) * e / e.sum(-1, keepdim=True) + mix / logits.shape[-1]


def unimix(logits: torch.Tensor, mix: float = UNIMIX) -> torch.Tensor:
    """Log-probabilities of ``unimix_probs``."""
    return torch.log(unimix_probs(logits, mix))


def sample_straight_through(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A one-hot sample per categorical of probabilities ``probs`` whose gradient is that of the probabilities."""
    # Inverse-CDF sampling: the first class whose cumulative probability passes a uniform draw. Same law as
    # torch.multinomial, and several times faster for many small categoricals (no exponential draws).
    uniform = torch.rand(*probs.shape[:-1], 1, generator=generator, device=probs.device)
    index = (probs.detach().cumsum(-1) < uniform).sum(-1).clamp(max=probs.shape[-1] - 1)
    one_hot = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
    if not torch.is_grad_enabled():  # planning: no gradient to pass, skip two operations per step
        return one_hot
    return one_hot + probs - probs.detach()


def categorical_kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) summed over the classes and the latents: inputs (..., latents, classes), output (...)."""
    return (log_p.exp() * (log_p - log_q)).sum((-2, -1))


def kl_balance(post: torch.Tensor, prior: torch.Tensor, dyn: float = 0.5, rep: float = 0.1,
               free: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DreamerV3's KL balancing with free bits; ``post`` and ``prior`` are unimix log-probabilities.

    The dynamics loss trains the prior towards the (frozen) posterior, the representation loss the posterior
    towards the (frozen) prior; below ``free`` nats either is clipped, so its gradient vanishes.
    Returns (weighted loss, dynamics KL, representation KL), each per element of the leading axes.
    """
    kl_dyn = categorical_kl(post.detach(), prior)
    kl_rep = categorical_kl(post, prior.detach())
    loss = dyn * torch.clamp(kl_dyn, min=free) + rep * torch.clamp(kl_rep, min=free)
    return loss, kl_dyn, kl_rep
