"""The conditional CNN: the latents and the noisy image in, a denoised image out, noise level through FiLM.

Its size does not depend on the data's resolution (only on its width and depth); with the per-frequency EquiNet
latents this is why the whole model grows slower than the number of pixels.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class NoiseEmbedding(nn.Module):
    """Random Fourier features of the (preconditioned) noise level, then a small MLP."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("frequencies", torch.exp(torch.linspace(0, math.log(100), dim // 2)))
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, level: torch.Tensor) -> torch.Tensor:
        angles = level[:, None] * self.frequencies[None, :]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=1))


class FiLMBlock(nn.Module):
    """conv - SiLU - FiLM(noise) - conv, with a residual connection."""

    def __init__(self, width: int, embed: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(embed, 2 * width)
        self.norm = nn.GroupNorm(4, width)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(embedding)[:, :, None, None].chunk(2, dim=1)
        h = nn.functional.silu(self.conv1(self.norm(x)))
        h = h * (1 + scale) + shift
        return x + self.conv2(nn.functional.silu(h))


class ConditionalCNN(nn.Module):
    """(noisy image (B,1,n,n), latents (B,F,n,n), noise level (B,)) -> image (B,1,n,n)."""

    def __init__(self, latent_channels: int, width: int = 32, blocks: int = 3, embed: int = 64):
        super().__init__()
        self.embedding = NoiseEmbedding(embed)
        self.inlet = nn.Conv2d(1 + latent_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(FiLMBlock(width, embed) for _ in range(blocks))
        self.outlet = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, latents: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        embedding = self.embedding(level)
        h = self.inlet(torch.cat([x, latents], dim=1))
        for block in self.blocks:
            h = block(h, embedding)
        return self.outlet(nn.functional.silu(h))
