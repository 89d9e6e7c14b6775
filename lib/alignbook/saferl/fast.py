"""The minibatch step of PG, PPO, PPO-Lag and CPPO-PID in NumPy, with a hand-written backward pass.

Why: OmniSafe's defaults make 40 passes of minibatch 64 over 20,000 steps, 12,500 optimiser steps per epoch
on three 64x64 networks. At that size each step is pure overhead in torch (autograd bookkeeping, module calls,
one kernel launch per tiny operation); the same arithmetic written out in NumPy on one flat parameter vector is
several times faster, which is what lets PPO-Lag train at thousands of steps per second on a laptop.

What it computes is exactly the torch path's step (``tests/test_saferl_fast.py`` checks the gradients against
autograd and a whole update against the torch update):

- actor: the clipped surrogate -E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)] (PPO) or -E[rho A] (PG), with
  rho = exp(log pi(a|s) - log pi_old(a|s)) for the diagonal Gaussian with state-independent log std;
- critics: E[(V(s) - target)^2] for reward and cost, plus the gradient 2 l2 w of OmniSafe's weight penalty;
- each network's gradient clipped to norm ``max_grad_norm``; then Adam (torch's formula and defaults).
"""

from __future__ import annotations

import math

import numpy as np
import torch

_LOG_SQRT_2PI = np.float32(0.5 * math.log(2 * math.pi))


class FlatParameters:
    """The actor's and both critics' parameters in one float32 vector, with NumPy views per tensor."""

    def __init__(self, ac):
        self.modules = [ac.actor, ac.reward_critic, ac.cost_critic]
        self.tensors = [list(m.parameters()) for m in self.modules]
        assert next(iter(ac.actor.named_parameters()))[0] == "log_std", "the actor's layout changed"
        sizes = [[p.numel() for p in group] for group in self.tensors]
        # float32, as torch trains: half the memory traffic of float64 in every matmul.
        self.flat = np.zeros(sum(map(sum, sizes)), dtype=np.float32)
        self.grad = np.zeros_like(self.flat)
        self.segments, self.views, self.grad_views, offset = [], [], [], 0
        for group in self.tensors:
            start = offset
            views, grads = [], []
            for p in group:
                n = p.numel()
                # nn.Linear stores (out, in); we keep (in, out) so that the forward is x @ W.
                shape = tuple(reversed(p.shape)) if p.dim() == 2 else tuple(p.shape)
                views.append(self.flat[offset:offset + n].reshape(shape))
                grads.append(self.grad[offset:offset + n].reshape(shape))
                offset += n
            self.segments.append(slice(start, offset))
            self.views.append(views)
            self.grad_views.append(grads)
        self.pull()

    def pull(self) -> None:
        """torch -> NumPy."""
        for group, views in zip(self.tensors, self.views, strict=True):
            for p, v in zip(group, views, strict=True):
                v[...] = p.detach().numpy().T if p.dim() == 2 else p.detach().numpy()

    def push(self) -> None:
        """NumPy -> torch."""
        with torch.no_grad():
            for group, views in zip(self.tensors, self.views, strict=True):
                for p, v in zip(group, views, strict=True):
                    p.copy_(torch.from_numpy(np.ascontiguousarray(v.T if p.dim() == 2 else v)))


def _mlp_forward(x: np.ndarray, layers: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """layers = [W1, b1, W2, b2, ...] (tanh between layers); returns the output and each layer's input."""
    inputs, h = [], x
    n = len(layers) // 2
    for i in range(n):
        inputs.append(h)
        h = h @ layers[2 * i] + layers[2 * i + 1]
        if i < n - 1:
            h = np.tanh(h)
    return h, inputs


def _mlp_backward(d_out: np.ndarray, layers: list[np.ndarray], inputs: list[np.ndarray],
                  grads: list[np.ndarray]) -> None:
    """Write dLoss/dW and dLoss/db into ``grads`` given dLoss/d(output)."""
    d = d_out
    for i in range(len(layers) // 2 - 1, -1, -1):
        grads[2 * i][...] = inputs[i].T @ d
        grads[2 * i + 1][...] = d.sum(axis=0)
        if i > 0:
            # inputs[i] = tanh(previous pre-activation): tanh' = 1 - tanh^2
            d = (d @ layers[2 * i].T) * (1.0 - inputs[i] ** 2)


class NumpyMinibatchStep:
    """Adam state and the fused step for one algorithm instance (first-order, clipped or plain surrogate)."""

    def __init__(self, algo, clip: float | None):
        self.algo, self.clip = algo, clip
        self.params = FlatParameters(algo.ac)
        self.m = np.zeros_like(self.params.flat)
        self.v = np.zeros_like(self.params.flat)
        self.t = 0
        self.lr = np.zeros_like(self.params.flat)

    def begin(self) -> None:
        """Before an update: take the current weights and learning rates from torch."""
        self.params.pull()
        cfg, actor = self.algo.cfg, self.params.segments[0]
        self.lr[actor] = self.algo.actor_optimizer.param_groups[0]["lr"]
        self.lr[self.params.segments[1].start:] = cfg.critic_lr

    def end(self) -> None:
        self.params.push()

    def gradients(self, obs, act, logp_old, adv, target_r, target_c) -> None:
        """Fill ``params.grad`` with the gradient of actor loss + critic losses on one minibatch."""
        (actor, reward, cost), (g_actor, g_reward, g_cost) = self.params.views, self.params.grad_views
        n = obs.shape[0]
        # torch lists a module's own parameters (log_std) before its submodules' (the mean network).
        log_std, mean_layers = actor[0], actor[1:]
        mean, inputs = _mlp_forward(obs, mean_layers)
        inv_std = np.exp(-log_std)
        z = (act - mean) * inv_std
        logp = (-0.5 * z**2 - log_std - _LOG_SQRT_2PI).sum(axis=1)
        ratio = np.exp(logp - logp_old)
        if self.clip is None:
            d_ratio = -adv / n
        else:
            # d/d rho of -min(rho A, clip(rho) A): -A where the unclipped term is the minimum or rho is inside
            # the clip range (there both terms are rho A), else 0.
            inside = (ratio >= 1 - self.clip) & (ratio <= 1 + self.clip)
            unclipped = ratio * adv < np.clip(ratio, 1 - self.clip, 1 + self.clip) * adv
            d_ratio = np.where(inside | unclipped, -adv / n, 0.0)
        d_logp = d_ratio * ratio
        # d log pi / d mean = z / std;  d log pi / d log_std = z^2 - 1
        _mlp_backward(d_logp[:, None] * z * inv_std, mean_layers, inputs, g_actor[1:])
        g_actor[0][...] = (d_logp[:, None] * (z**2 - 1.0)).sum(axis=0)
        for layers, grads, target in ((reward, g_reward, target_r), (cost, g_cost, target_c)):
            value, inputs = _mlp_forward(obs, layers)
            _mlp_backward(2.0 * (value - target[:, None]) / n, layers, inputs, grads)

    def step(self, obs, act, logp_old, adv, target_r, target_c) -> None:
        cfg, flat, grad = self.algo.cfg, self.params.flat, self.params.grad
        self.gradients(obs, act, logp_old, adv, target_r, target_c)
        critics = slice(self.params.segments[1].start, None)
        grad[critics] += 2 * cfg.critic_l2 * flat[critics]
        for segment in self.params.segments:
            norm = math.sqrt(float(grad[segment] @ grad[segment]))
            grad[segment] *= min(1.0, cfg.max_grad_norm / (norm + 1e-6))
        # Adam, as torch computes it (betas 0.9, 0.999, eps 1e-8, bias corrections).
        self.t += 1
        self.m *= 0.9
        self.m += 0.1 * grad
        self.v *= 0.999
        self.v += 0.001 * grad * grad
        bias1, bias2 = 1 - 0.9**self.t, 1 - 0.999**self.t
        flat -= (self.lr / bias1) * self.m / (np.sqrt(self.v) / math.sqrt(bias2) + 1e-8)
