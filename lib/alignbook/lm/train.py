"""The training loop, separate from the model (nanoGPT style): AdamW, warm-up then cosine, gradient clipping,
random windows of a packed token stream, and a tidy log.

The optimiser follows Baichuan 2 (Sec. 2.6): AdamW with betas (0.9, 0.95), weight decay 0.1 on matrices only,
gradient clipping, a linear warm-up then cosine decay to a tenth of the peak. Everything random comes from one
seeded generator, so the same seed gives the same log on a CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pandas as pd
import torch

from alignbook.checks import positive_int
from alignbook.lm.fused import accelerate
from alignbook.lm.model import BaichuanForCausalLM

Progress = Callable[..., Iterator]


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int
    seq_len: int
    lr: float = 1e-3
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    grad_clip: float = 0.5
    seed: int = 0
    log_every: int = 1

    def __post_init__(self):
        for name in ("steps", "batch_size", "seq_len", "log_every"):
            positive_int(getattr(self, name), name)
        if self.warmup_steps < 0 or self.lr <= 0:
            raise ValueError(f"need lr > 0 and warmup_steps >= 0, got lr={self.lr}, warmup_steps={self.warmup_steps}")


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``cfg.lr``, then cosine decay to ``cfg.min_lr_ratio * cfg.lr`` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps - 1)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def optimiser(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    # Decay the matrices (and the embeddings); never the RMSNorm gains, whose natural value is 1, not 0.
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def _check_stream(tokens: torch.Tensor, seq_len: int) -> None:
    if tokens.dim() != 1 or tokens.numel() == 0:
        raise ValueError("training data is empty: pass a non-empty 1-D tensor of token ids (see corpus.pack)")
    if tokens.numel() <= seq_len:
        raise ValueError(f"training data has {tokens.numel()} tokens, fewer than one window of seq_len {seq_len}")


def train(
    model: torch.nn.Module,
    tokens: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    desc: str = "training",
) -> pd.DataFrame:
    """Train ``model`` in place on random windows of the packed stream ``tokens``; return the log, one row per
    ``log_every`` steps: step, tokens seen, loss (CE + max-z), CE, max logit, gradient norm, lr, wall time."""
    _check_stream(tokens, cfg.seq_len)
    return _train(model, tokens, cfg, torch.device(device), progress, desc)


def _train(model, tokens, cfg: TrainConfig, device: torch.device, progress, desc) -> pd.DataFrame:
    if isinstance(model, BaichuanForCausalLM):
        accelerate(model)  # the one-pass loss: the model file's values and gradients, faster
    model.to(device).train()
    opt = optimiser(model, cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    offsets = torch.arange(cfg.seq_len)
    rows, start = [], time.perf_counter()
    steps: Iterable[int] = range(cfg.steps)
    if progress is not None:
        steps = progress(steps, total=cfg.steps, desc=desc)
    for step in steps:
        starts = torch.randint(0, tokens.numel() - cfg.seq_len, (cfg.batch_size,), generator=generator)
        batch = tokens[starts[:, None] + offsets].to(device)
        lr = learning_rate(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        out = model(input_ids=batch, labels=batch)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            rows.append({
                "step": step + 1,
                "tokens": (step + 1) * cfg.batch_size * cfg.seq_len,
                "loss": out.loss.item(),
                "ce": out.ce_loss.item(),
                "max_logit": out.max_logit.item(),
                "grad_norm": grad_norm.item(),
                "lr": lr,
                "wall_s": time.perf_counter() - start,
            })
    model.eval()
    return pd.DataFrame(rows)


@torch.no_grad()
def validation_loss(
    model: torch.nn.Module, tokens: torch.Tensor, seq_len: int, max_windows: int = 64, batch_size: int = 16,
) -> float:
    """Mean next-token cross-entropy over consecutive, non-overlapping windows of ``tokens`` (deterministic)."""
    _check_stream(tokens, seq_len)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    windows = tokens[: (tokens.numel() // seq_len) * seq_len].view(-1, seq_len)[:max_windows]
    total, count = 0.0, 0
    for chunk in windows.split(batch_size):
        chunk = chunk.to(device)
        out = model(input_ids=chunk, labels=chunk)
        predicted = chunk.shape[0] * (seq_len - 1)
        total += out.ce_loss.item() * predicted
        count += predicted
    model.train(was_training)
    return total / count
