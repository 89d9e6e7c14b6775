"""The training loss of ``alignbook.lm.model`` (cross-entropy plus max-z) in one pass over the logits, with a
hand-written backward: an accelerator beside the model file's plain ``F.cross_entropy`` version, tested equal
to it in value and gradient (``tests/test_lm_model.py``). ``accelerate(model)`` makes a model use it.
"""

from __future__ import annotations

import torch

from alignbook.lm.model import BaichuanForCausalLM


class CrossEntropyMaxZ(torch.autograd.Function):
    """Cross-entropy and the max-z term in one pass over the logits, with a hand-written backward.

    For the rows whose target is not -100 (n of them): CE = mean(logsumexp - logit of the target) and
    z = weight * mean(max logit ^ 2); also the largest logit (for the log; not differentiable). The row maximum
    serves both the softmax's stability shift and the z term, and the exponentials of the forward are kept for
    the backward: d CE / d logits = (softmax - onehot(target)) / n, d z / d logits = 2 weight max / n at the
    maximum (one index per row, as autograd's max does). Autograd would run a log-softmax and its backward, and
    scatter the max's gradient into a zero tensor the size of the logits: at the book's sizes (vocabulary 1024,
    a few thousand tokens per batch, d = 32-128) those passes over the largest tensor are a good part of a step.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor, weight: float):
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        mask = targets != -100
        n = mask.sum().clamp(min=1)
        top = logits.amax(dim=-1)
        exps = torch.sub(logits, top[:, None]).exp_()
        total = exps.sum(dim=-1)
        safe = torch.where(mask, targets, 0)[:, None]
        ce = torch.where(mask, top + total.log() - logits.gather(1, safe).squeeze(1), 0.0).sum() / n
        top = torch.where(mask, top, 0.0)
        z = weight * top.square().sum() / n
        max_logit = top.masked_fill(~mask, float("-inf")).max()
        ctx.save_for_backward(exps, total, safe, row_argmax(logits), mask, top, n)
        ctx.weight = weight
        ctx.mark_non_differentiable(max_logit)
        return ce, z, max_logit

    @staticmethod
    def backward(ctx, grad_ce, grad_z, _grad_max):
        exps, total, safe, argmax, mask, top, n = ctx.saved_tensors
        row = (grad_ce / n) * mask  # each predicted row's share of the mean; 0 for ignored rows
        grad = exps * (row / total)[:, None]  # softmax, scaled per row
        grad.scatter_add_(1, safe, -row[:, None])
        grad.scatter_add_(1, argmax[:, None], ((2 * ctx.weight / n) * grad_z * top)[:, None])
        return grad, None, None


def row_argmax(x: torch.Tensor) -> torch.Tensor:
    """The first index of each row's maximum. On the CPU through NumPy: torch's CPU argmax and max(dim) have no
    vectorised kernel, NumPy's is an order of magnitude faster (``benchmarks/lm_throughput.py`` times a step)."""
    if x.device.type == "cpu" and x.dtype == torch.float32:
        return torch.from_numpy(x.detach().cpu().numpy().argmax(axis=-1))
    return x.argmax(dim=-1)


def ce_and_max_z(logits: torch.Tensor, targets: torch.Tensor, weight: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``alignbook.lm.model.ce_and_max_z`` (same arguments, values and gradients), in one pass."""
    return CrossEntropyMaxZ.apply(logits, targets, float(weight))


def accelerate(model: BaichuanForCausalLM) -> BaichuanForCausalLM:
    """Make ``model``'s forward compute its loss with the fused version (training does this)."""
    model.loss_terms = ce_and_max_z
    return model
