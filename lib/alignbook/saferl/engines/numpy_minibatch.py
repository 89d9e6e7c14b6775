"""The ``numpy`` engine: the minibatch updates of PG, PPO, PPO-Lag and CPPO-PID in NumPy, with a hand-written
backward pass (the accelerator beside the reference ``autograd`` engine).

Why: OmniSafe's defaults make 40 passes of minibatch 64 over 20,000 steps, 12,500 optimiser steps per epoch
on three 64x64 networks. At that size each step is pure overhead in torch (autograd bookkeeping, module calls,
one kernel launch per tiny operation); the same arithmetic written out in NumPy runs much faster
(``benchmarks/ppolag_throughput.py`` prints the steps per second of both engines).

Two more observations make it faster still:

- networks of one shape are stored stacked (``MLPStack``): the rows of one float32 matrix, each layer a
  (k, fan_in, fan_out) view into it, so one call does a layer of both critics, and Adam and the per-network
  gradient clipping act on the whole matrix at once;
- the actor and the critics share no parameter, and every minibatch step of one depends only on its own
  earlier steps. So the actor's passes can run in a second process while this one runs the critics' passes
  over the same minibatches (``parallel=True``, the default on a machine with two cores or more): the two
  sides meet once per pass, where the KL early stop is decided. The result is the same number for number as
  running them one after the other (``tests/test_saferl_engines.py`` checks it). The second process
  (``alignbook.workers``) is started once and serves every engine of this process: a fresh interpreter takes
  seconds to import torch.

What it computes is exactly the reference engine's update (the tests check the gradients against autograd and
a whole update against the reference):

- actor: the clipped surrogate -E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)] (PPO) or -E[rho A] (PG), with
  rho = exp(log pi(a|s) - log pi_old(a|s)) for the diagonal Gaussian with state-independent log std;
- critics: E[(V(s) - target)^2] for reward and cost, plus the gradient 2 l2 w of OmniSafe's weight penalty;
- each network's gradient clipped to norm ``max_grad_norm``; then Adam (torch's formula and defaults);
- after each pass, KL(policy at the start of the update || now) over the whole batch; stop once it exceeds
  ``target_kl``.
"""

from __future__ import annotations

import atexit
import math
import os
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from alignbook.saferl.buffer import Batch
from alignbook.saferl.engines.reference import Engine
from alignbook.workers import Channel, Worker

_LOG_SQRT_2PI = np.float32(0.5 * math.log(2 * math.pi))


class MLPStack:
    """``k`` MLPs with the layer sizes ``sizes`` as the rows of one float32 matrix, with gradient and Adam state.

    A row holds ``lead`` free parameters (the actor's log std), then W (fan_in, fan_out) and b of each layer.
    """

    def __init__(self, k: int, sizes: tuple[int, ...], activation: str, lead: int = 0):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"the NumPy path knows tanh and relu, not {activation!r}")
        self.tanh = activation == "tanh"
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        width = lead + sum(fi * fo + fo for fi, fo in shapes)
        self.flat = np.zeros((k, width), dtype=np.float32)
        self.grad, self.m, self.v, self.tmp = (np.zeros_like(self.flat) for _ in range(4))
        self.t = 0
        self.weights, self.biases, self.weight_grads, self.bias_grads = [], [], [], []
        offset = lead
        for fi, fo in shapes:
            for params, grads, size, shape in ((self.weights, self.weight_grads, fi * fo, (k, fi, fo)),
                                               (self.biases, self.bias_grads, fo, (k, 1, fo))):
                params.append(self.flat[:, offset:offset + size].reshape(shape))
                grads.append(self.grad[:, offset:offset + size].reshape(shape))
                offset += size

    def _activate(self, h: np.ndarray) -> None:
        if self.tanh:
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0.0, out=h)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Every network on ``x`` (n, fan_in): outputs (k, n, out) and each layer's input."""
        inputs, h, last = [], x, len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            inputs.append(h)
            h = np.matmul(h, w)  # (n, in) @ (k, in, out) broadcasts to (k, n, out)
            h += b
            if i < last:
                self._activate(h)
        return h, inputs

    def forward_row(self, x: np.ndarray, row: int) -> np.ndarray:
        """One network on ``x``, without keeping the activations (whole-batch statistics)."""
        h, last = x, len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w[row]
            h += b[row, 0]
            if i < last:
                self._activate(h)
        return h

    def backward(self, d: np.ndarray, inputs: list[np.ndarray]) -> None:
        """Write every weight's and bias's gradient given dLoss/d(output), shape (k, n, out)."""
        for i in range(len(self.weights) - 1, -1, -1):
            x = inputs[i]
            np.matmul(x.T if i == 0 else x.transpose(0, 2, 1), d, out=self.weight_grads[i])
            np.sum(d, axis=1, keepdims=True, out=self.bias_grads[i])
            if i > 0:
                d = np.matmul(d, self.weights[i].transpose(0, 2, 1))
                # x = activation(previous pre-activation): tanh' = 1 - tanh^2, relu' = 1[x > 0]
                d *= (1.0 - x * x) if self.tanh else (x > 0)

    def adam_step(self, lr: float, max_norm: float, l2: float = 0.0) -> None:
        """Add the L2 penalty's gradient 2 l2 w, clip each row's gradient to ``max_norm`` (torch's
        clip_grad_norm_ per network), then one Adam step (betas 0.9, 0.999, eps 1e-8, bias corrections)."""
        flat, grad, tmp = self.flat, self.grad, self.tmp
        if l2:
            np.multiply(flat, 2 * l2, out=tmp)
            grad += tmp
        norms = np.sqrt(np.einsum("ij,ij->i", grad, grad))
        grad *= np.minimum(1.0, max_norm / (norms + 1e-6))[:, None]
        self.t += 1
        bias1, bias2 = 1 - 0.9**self.t, 1 - 0.999**self.t
        self.m *= 0.9
        np.multiply(grad, 0.1, out=tmp)
        self.m += tmp
        self.v *= 0.999
        np.multiply(grad, grad, out=tmp)
        tmp *= 0.001
        self.v += tmp
        np.sqrt(self.v, out=tmp)
        tmp *= 1.0 / math.sqrt(bias2)
        tmp += 1e-8
        np.divide(self.m, tmp, out=tmp)
        tmp *= lr / bias1
        flat -= tmp

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        return self.flat, self.m, self.v, self.t

    def load(self, state: tuple[np.ndarray, np.ndarray, np.ndarray, int]) -> None:
        """Copy a state in place, so that every view stays valid."""
        for mine, theirs in zip((self.flat, self.m, self.v), state[:3], strict=True):
            mine[...] = theirs
        self.t = state[3]


class ActorSide:
    """The Gaussian policy's update: its mean network as a one-row stack with the log std in front."""

    def __init__(self, sizes: tuple[int, ...], activation: str, clip: float | None, max_norm: float):
        self.act_dim = sizes[-1]
        self.stack = MLPStack(1, sizes, activation, lead=self.act_dim)
        self.log_std, self.log_std_grad = self.stack.flat[0, :self.act_dim], self.stack.grad[0, :self.act_dim]
        self.clip, self.max_norm = clip, max_norm

    def mean(self, obs: np.ndarray) -> np.ndarray:
        return self.stack.forward_row(obs, 0)

    def kl(self, obs: np.ndarray, old_mean: np.ndarray, old_log_std: np.ndarray) -> float:
        """Mean over states of KL(pi_old || pi_now), summed over action dimensions (``OnPolicy.kl``)."""
        # float64 for the log-std terms: for small KLs they are differences of numbers near 1.
        log_std, old_log_std = self.log_std.astype(np.float64), np.asarray(old_log_std, dtype=np.float64)
        per_dim = log_std - old_log_std + 0.5 * np.exp(2 * (old_log_std - log_std)) - 0.5
        spread = 0.5 * np.exp(-2 * log_std)
        return float(per_dim.sum() + (((old_mean - self.mean(obs)) ** 2) @ spread).mean())

    def gradients(self, obs, act, logp_old, adv) -> None:
        n = obs.shape[0]
        out, inputs = self.stack.forward(obs)
        log_std = self.log_std
        inv_std = np.exp(-log_std)
        z = (act - out[0]) * inv_std
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
        self.stack.backward((d_logp[:, None] * z * inv_std)[None], inputs)
        self.log_std_grad[...] = (d_logp[:, None] * (z**2 - 1.0)).sum(axis=0)

    def passes(self, arrays: list[np.ndarray], orders: np.ndarray, batch_size: int, lr: float,
               target_kl: float | None) -> Iterator[float]:
        """One pass per row of ``orders`` over (obs, act, logp, adv); yields the KL after each, and stops
        after the first one above ``target_kl``."""
        obs = arrays[0]
        old_mean, old_log_std = self.mean(obs), self.log_std.copy()
        for order in orders:
            shuffled = [a[order] for a in arrays]  # one gather per pass; minibatches are then slices
            for start in range(0, len(order), batch_size):
                self.gradients(*(a[start:start + batch_size] for a in shuffled))
                self.stack.adam_step(lr, self.max_norm)
            kl = self.kl(obs, old_mean, old_log_std)
            yield kl
            if target_kl is not None and kl > target_kl:
                return


class CriticSide:
    """Both critics as a two-row stack, regressed on their GAE targets."""

    def __init__(self, sizes: tuple[int, ...], activation: str, max_norm: float, l2: float):
        self.stack = MLPStack(2, sizes, activation)
        self.max_norm, self.l2 = max_norm, l2

    def gradients(self, obs: np.ndarray, targets: np.ndarray) -> None:
        """``targets`` (2, n): reward targets, then cost targets."""
        values, inputs = self.stack.forward(obs)
        # d mean((V - y)^2) / dV = 2 (V - y) / n
        self.stack.backward((values - targets[:, :, None]) * (2.0 / obs.shape[0]), inputs)

    def one_pass(self, obs: np.ndarray, targets: np.ndarray, order: np.ndarray, batch_size: int,
                 lr: float) -> None:
        obs, targets = obs[order], targets[:, order]
        for start in range(0, len(order), batch_size):
            self.gradients(obs[start:start + batch_size], targets[:, start:start + batch_size])
            self.stack.adam_step(lr, self.max_norm, self.l2)


def _linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


def _sizes(net: nn.Sequential) -> tuple[int, ...]:
    linears = _linears(net)
    return (linears[0].in_features, *(m.out_features for m in linears))


def serve_actor(channel: Channel) -> None:
    """The second process: run the actor's passes for each job, reporting the KL after every pass."""
    while (job := channel.recv()) is not None:
        spec, state, arrays, orders, batch_size, lr, target_kl = job
        actor = ActorSide(*spec)
        actor.stack.load(state)
        for kl in actor.passes(arrays, orders, batch_size, lr, target_kl):
            channel.send(kl)
        channel.send(actor.stack.state())


_actor_worker: Worker | None = None


def actor_worker() -> Worker:
    """The process's one actor worker, started on first use."""
    global _actor_worker
    if _actor_worker is None or _actor_worker.process.poll() is not None:
        _actor_worker = Worker("alignbook.saferl.engines.numpy_minibatch:serve_actor")
        atexit.register(_actor_worker.close)
    return _actor_worker


def _stop_actor_worker() -> None:
    """After a failed exchange the pipe may hold unread replies: the next update starts a fresh worker."""
    global _actor_worker
    if _actor_worker is not None:
        _actor_worker.close(timeout=1)
        _actor_worker = None


class NumpyEngine(Engine):
    """The whole minibatch update of one algorithm instance: actor and critics, in one or two processes."""

    name = "numpy"

    @classmethod
    def supports(cls, algo) -> bool:
        return (algo.family == "minibatch SGD" and algo.loss in ("surrogate", "clipped_surrogate")
                and not algo.cfg.entropy_coef and algo.device.type == "cpu")  # NumPy runs on the CPU only

    def __init__(self, algo, parallel: bool = True):
        super().__init__(algo)
        cfg, ac = algo.cfg, algo.ac
        clip = cfg.clip if algo.loss == "clipped_surrogate" else None
        self.actor_spec = (_sizes(ac.actor.mean), cfg.activation, clip, cfg.max_grad_norm)
        self.actor = ActorSide(*self.actor_spec)
        critic_sizes = _sizes(ac.reward_critic)
        if critic_sizes != _sizes(ac.cost_critic):
            raise ValueError("the reward and cost critics must have the same layer sizes")
        self.critics = CriticSide(critic_sizes, cfg.activation, cfg.max_grad_norm, cfg.critic_l2)
        # (torch tensor, NumPy view of its value, NumPy view of its gradient), nn.Linear's (out, in) weight
        # held as (in, out) so that the forward is x @ W.
        self.links: list[tuple[torch.Tensor, np.ndarray, np.ndarray]] = [
            (ac.actor.log_std, self.actor.log_std, self.actor.log_std_grad)]
        for stack, row, net in ((self.actor.stack, 0, ac.actor.mean), (self.critics.stack, 0, ac.reward_critic),
                                (self.critics.stack, 1, ac.cost_critic)):
            for i, linear in enumerate(_linears(net)):
                self.links += [(linear.weight, stack.weights[i][row], stack.weight_grads[i][row]),
                               (linear.bias, stack.biases[i][row, 0], stack.bias_grads[i][row, 0])]
        # A second process only helps with a second core. Started now, its start-up overlaps the first rollout.
        self.parallel = parallel and (os.cpu_count() or 1) > 1
        if self.parallel:
            actor_worker()
        self.pull()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Adam's moments and step count of both stacks (the parameters are pulled from torch each update)."""
        out = {}
        for side, stack in (("actor", self.actor.stack), ("critics", self.critics.stack)):
            flat, m, v, t = stack.state()
            out.update({f"{side}.m": torch.from_numpy(m.copy()), f"{side}.v": torch.from_numpy(v.copy()),
                        f"{side}.t": torch.tensor(t)})
        return out

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        for side, stack in (("actor", self.actor.stack), ("critics", self.critics.stack)):
            stack.m[...], stack.v[...] = tensors[f"{side}.m"].cpu().numpy(), tensors[f"{side}.v"].cpu().numpy()
            stack.t = int(tensors[f"{side}.t"])

    def update_networks(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        algo = self.algo
        adv = algo.advantage(batch)
        # Every pass's order drawn up front (the two sides of a parallel update need them all); the reference
        # draws the same orders one pass at a time, so both see the same minibatches.
        orders = np.stack([torch.randperm(len(batch), generator=algo.generator).cpu().numpy().astype(np.int32)
                           for _ in range(algo.cfg.update_iters)])
        arrays = [t.cpu().numpy() for t in (batch.obs, batch.act, batch.logp, adv, batch.target_r, batch.target_c)]
        kl, passes = self.passes(*arrays, orders)
        return {"kl": kl, "passes": float(passes)}

    def pull(self) -> None:
        """torch -> NumPy."""
        for tensor, view, _ in self.links:
            view[...] = tensor.detach().cpu().numpy().T

    def push(self) -> None:
        """NumPy -> torch."""
        with torch.no_grad():
            for tensor, view, _ in self.links:
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(view.T)))

    def gradients(self, obs, act, logp_old, adv, target_r, target_c) -> None:
        """Both sides' gradients on one minibatch (``links`` holds them per torch tensor)."""
        self.actor.gradients(obs, act, logp_old, adv)
        self.critics.gradients(obs, np.stack([target_r, target_c]))

    def passes(self, obs, act, logp_old, adv, target_r, target_c, orders: np.ndarray) -> tuple[float, int]:
        """Passes over the batch in the orders given (one row per pass, at most ``update_iters``) with the KL
        early stop; returns the last KL and the number of passes."""
        cfg = self.algo.cfg
        self.pull()
        arrays, targets = [obs, act, logp_old, adv], np.stack([target_r, target_c])
        target_kl = cfg.target_kl if cfg.kl_early_stop else None
        lr, size = self.algo.actor_lr, cfg.batch_size
        kl, passes = 0.0, 0
        if self.parallel:
            worker = actor_worker()
            try:
                worker.send((self.actor_spec, self.actor.stack.state(), arrays, orders, size, lr, target_kl))
                for order in orders:
                    self.critics.one_pass(obs, targets, order, size, cfg.critic_lr)
                    kl, passes = worker.recv(), passes + 1
                    if target_kl is not None and kl > target_kl:
                        break
                self.actor.stack.load(worker.recv())
            except BaseException:
                _stop_actor_worker()
                raise
        else:
            # zip stops when the actor stops (early stop): the critics make the same number of passes.
            for order, kl in zip(orders, self.actor.passes(arrays, orders, size, lr, target_kl), strict=False):  # noqa: B007
                self.critics.one_pass(obs, targets, order, size, cfg.critic_lr)
                passes += 1
        self.push()
        return kl, passes
