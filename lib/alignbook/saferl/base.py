"""What every on-policy algorithm shares: the networks, their optimisers, the critics' regression, the KL
between the old and new policy, and the two update skeletons the algorithm files fill in:

- ``FirstOrder``: ``update_iters`` passes of minibatch SGD in which each minibatch updates the reward critic,
  the cost critic and the actor (``actor_loss``, defined per algorithm); early stop when KL > ``target_kl``;
- ``TrustRegion``: the critics regress for ``update_iters`` passes, then the actor takes one step
  (``actor_step``, per algorithm) built from the natural gradient F^{-1} g (conjugate gradient on
  Fisher-vector products).

A constrained algorithm names its ``multiplier`` ("lagrange" or "pid", ``alignbook.saferl.lagrange``); it is
updated once per epoch with the epoch's mean episode cost *before* the policy update, as SafePO and OmniSafe
do. How the update runs (the reference autograd path or an accelerator) is ``alignbook.saferl.engines``'s
business, not this module's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import torch

from alignbook.saferl.buffer import Batch
from alignbook.saferl.config import OnPolicyConfig
from alignbook.saferl.lagrange import Lagrange, PIDLagrange
from alignbook.saferl.networks import ActorCritic

MULTIPLIERS: dict[str, Callable[..., Lagrange | PIDLagrange]] = {
    "lagrange": lambda cfg: Lagrange(cfg.cost_limit, init=cfg.lambda_init, lr=cfg.lambda_lr),
    "pid": lambda cfg: PIDLagrange(cfg.cost_limit, kp=cfg.pid_kp, ki=cfg.pid_ki, kd=cfg.pid_kd,
                                   d_delay=cfg.pid_d_delay, p_ema=cfg.pid_p_ema, d_ema=cfg.pid_d_ema,
                                   penalty_max=cfg.penalty_max, init=cfg.lambda_init),
}


class OnPolicy:
    """What an algorithm declares as data: ``family`` (how the actor moves), ``loss`` (the name of the
    actor's objective, written out in the algorithm's file) and ``multiplier`` ("lagrange", "pid" or None)."""

    Config = OnPolicyConfig
    name = "base"
    family = "base"
    loss = "base"
    multiplier: str | None = None

    def __init__(self, obs_dim: int, act_dim: int, cfg):
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.ac = ActorCritic(obs_dim, act_dim, tuple(cfg.hidden), cfg.activation).to(self.device)
        self.actor_lr = cfg.actor_lr  # decays with set_progress
        self._optimizers: tuple[torch.optim.Adam, torch.optim.Adam] | None = None
        # Parameter lists fetched once: walking the modules on every minibatch step is measurable overhead.
        self.actor_parameters = list(self.ac.actor.parameters())
        self.critic_parameters = [list(self.ac.reward_critic.parameters()), list(self.ac.cost_critic.parameters())]
        self.lagrange_multiplier = MULTIPLIERS[self.multiplier](cfg) if self.multiplier else None
        self.generator = torch.Generator().manual_seed(cfg.seed)

    @property
    def penalty(self) -> float:
        return self.lagrange_multiplier.value if self.lagrange_multiplier is not None else 0.0

    # The torch optimisers are built on first use: an engine that keeps its own optimiser state never needs
    # them, and constructing a torch optimiser imports torch's compiler stack (seconds of start-up that would
    # count against every short training run).
    @property
    def actor_optimizer(self) -> torch.optim.Adam:
        return self._torch_optimizers()[0]

    @property
    def critic_optimizer(self) -> torch.optim.Adam:
        return self._torch_optimizers()[1]

    def _torch_optimizers(self) -> tuple[torch.optim.Adam, torch.optim.Adam]:
        if self._optimizers is None:
            actor = torch.optim.Adam(self.ac.actor.parameters(), lr=self.actor_lr, fused=True)
            # One Adam over both critics equals two separate ones (Adam's state is per parameter); the fused
            # kernel saves most of the per-parameter Python work that dominates with networks this small.
            critics = torch.optim.Adam([*self.ac.reward_critic.parameters(), *self.ac.cost_critic.parameters()],
                                       lr=self.cfg.critic_lr, fused=True)
            self._optimizers = actor, critics
        return self._optimizers

    def set_progress(self, fraction: float) -> None:
        """Linear decay of the actor's learning rate to 0 over training (OmniSafe's ``linear_lr_decay``)."""
        if self.cfg.linear_lr_decay:
            self.actor_lr = self.cfg.actor_lr * max(0.0, 1.0 - fraction)
            if self._optimizers is not None:
                for group in self._optimizers[0].param_groups:
                    group["lr"] = self.actor_lr

    def update_multiplier(self, mean_episode_cost: float) -> None:
        """Once per epoch, before the policy update, from the epoch's mean episode cost."""
        if self.lagrange_multiplier is not None:
            self.lagrange_multiplier.update(mean_episode_cost)

    def update_networks(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        raise NotImplementedError

    # -- pieces the algorithm files combine ---------------------------------------------------------------------
    def advantage(self, batch: Batch) -> torch.Tensor:
        """The advantage the actor ascends: the reward's, or with a multiplier the Lagrangian's
        (A_r - lambda A_c) / (1 + lambda), rescaled so that its size stays bounded as lambda grows (SafePO and
        OmniSafe)."""
        if self.lagrange_multiplier is None:
            return batch.adv_r
        lam = self.penalty
        return (batch.adv_r - lam * batch.adv_c) / (1.0 + lam)

    def critic_loss(self, mb: Batch) -> torch.Tensor:
        """Squared error of both critics to their GAE targets. OmniSafe adds ``critic_l2 * sum(w^2)`` to this
        loss; ``critic_step_gradients`` adds its gradient, 2 * critic_l2 * w, in one fused operation instead."""
        loss = (self.ac.reward_critic(mb.obs).squeeze(-1) - mb.target_r).pow(2).mean()
        return loss + (self.ac.cost_critic(mb.obs).squeeze(-1) - mb.target_c).pow(2).mean()

    def critic_step_gradients(self) -> None:
        """After backward: add the L2 penalty's gradient, then clip each critic's gradient norm."""
        params = [p for group in self.critic_parameters for p in group]
        # no_grad: the parameters require grad, and outside it autograd would record this in-place add on the
        # gradients -- a graph kept alive from step to step (memory that grows every epoch).
        with torch.no_grad():
            torch._foreach_add_([p.grad for p in params], params, alpha=2 * self.cfg.critic_l2)
        self.clip(*self.critic_parameters)

    def ratio(self, mb: Batch) -> torch.Tensor:
        return torch.exp(self.ac.actor.log_prob(mb.obs, mb.act) - mb.logp)

    def old_distribution(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return self.ac.actor.mean(batch.obs), self.ac.actor.log_std.detach().clone()

    def kl(self, obs: torch.Tensor, old: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Per-state KL(pi_old || pi_new) of the diagonal Gaussians, summed over action dimensions."""
        old_mean, old_log_std = old
        mean, log_std = self.ac.actor.mean(obs), self.ac.actor.log_std
        var_ratio = torch.exp(2 * (old_log_std - log_std))
        kl = log_std - old_log_std + 0.5 * (var_ratio + (old_mean - mean).pow(2) * torch.exp(-2 * log_std)) - 0.5
        return kl.sum(-1)

    def minibatches(self, batch: Batch):
        """One pass in a fresh random order: (minibatch, its indices into ``batch``). The batch is permuted
        once per pass, so each minibatch is a slice (a view) rather than seven gathers."""
        # drawn by the CPU generator (the same order on every device), then moved to the batch
        order = torch.randperm(len(batch), generator=self.generator).to(self.device)
        shuffled = batch.minibatch(order)
        size = self.cfg.batch_size
        for start in range(0, len(batch), size):
            yield shuffled.slice(start, start + size), order[start:start + size]

    def regress_critics(self, batch: Batch) -> float:
        loss = torch.zeros(())
        for _ in range(self.cfg.update_iters):
            for mb, _index in self.minibatches(batch):
                loss = self.critic_loss(mb)
                self.critic_optimizer.zero_grad()
                loss.backward()
                self.critic_step_gradients()
                self.critic_optimizer.step()
        return float(loss.detach())

    def clip(self, *parameter_groups: list[torch.Tensor]) -> None:
        """Clip each group's gradient to norm ``max_grad_norm`` (as torch's clip_grad_norm_ per network),
        with one fused norm over all of them."""
        grads = [[p.grad for p in params] for params in parameter_groups]
        norms = torch._foreach_norm([g for group in grads for g in group])
        offset = 0
        for group in grads:
            total = torch.linalg.vector_norm(torch.stack(norms[offset:offset + len(group)]))
            offset += len(group)
            torch._foreach_mul_(group, torch.clamp(self.cfg.max_grad_norm / (total + 1e-6), max=1.0))


class FirstOrder(OnPolicy):
    """Minibatch policy-gradient updates (PG, PPO and the methods built on PPO)."""

    family = "minibatch SGD"

    def actor_loss(self, mb: Batch, adv: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def update_networks(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        adv = self.advantage(batch)
        return self.minibatch_updates(batch, lambda mb, index: self.actor_loss(mb, adv[index]))

    def minibatch_updates(self, batch: Batch, actor_loss: Callable[[Batch, torch.Tensor], torch.Tensor],
                          critics: bool = True) -> dict[str, float]:
        """``update_iters`` passes of minibatch steps on ``actor_loss(minibatch, its indices)`` (and on the
        critics' loss unless ``critics`` is False); stop early once KL(policy at the start || now) exceeds
        ``target_kl``."""
        old = self.old_distribution(batch)
        kl, passes = 0.0, 0
        for passes in range(1, self.cfg.update_iters + 1):  # noqa: B007 -- the count is reported
            for mb, index in self.minibatches(batch):
                # The three losses touch disjoint parameters, so one backward pass gives each network the
                # same gradient as three separate ones would, at a third of the Python overhead.
                loss = actor_loss(mb, index)
                if critics:
                    loss = loss + self.critic_loss(mb)
                    self.critic_optimizer.zero_grad()
                self.actor_optimizer.zero_grad()
                loss.backward()
                self.clip(self.actor_parameters)
                self.actor_optimizer.step()
                if critics:
                    self.critic_step_gradients()
                    self.critic_optimizer.step()
            with torch.no_grad():
                kl = float(self.kl(batch.obs, old).mean())
            if self.cfg.kl_early_stop and kl > self.cfg.target_kl:
                break
        return {"kl": kl, "passes": float(passes)}


class TrustRegion(OnPolicy):
    """One natural-gradient step of the actor per epoch (NPG, TRPO, CPO, PCPO, RCPO and TRPO-Lag)."""

    family = "trust region"
    loss = "surrogate"

    def actor_step(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        raise NotImplementedError

    def update_networks(self, batch: Batch, mean_episode_cost: float) -> dict[str, float]:
        self.regress_critics(batch)
        return self.actor_step(batch, mean_episode_cost)

    # -- the trust-region toolbox -------------------------------------------------------------------------------
    def flat_grad(self, value: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        grads = torch.autograd.grad(value, self.actor_parameters, create_graph=create_graph)
        return torch.cat([g.reshape(-1) for g in grads])

    def get_flat(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.actor_parameters])

    def set_flat(self, flat: torch.Tensor) -> None:
        offset = 0
        with torch.no_grad():
            for p in self.actor_parameters:
                p.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()

    def fisher_vector_product(self, obs: torch.Tensor, old) -> Callable[[torch.Tensor], torch.Tensor]:
        """v -> (F + damping I) v, with F the Hessian of the mean KL at the current policy."""
        grad_kl = self.flat_grad(self.kl(obs, old).mean(), create_graph=True)

        def product(v: torch.Tensor) -> torch.Tensor:
            hv = torch.autograd.grad(grad_kl @ v, self.actor_parameters, retain_graph=True)
            return torch.cat([h.reshape(-1) for h in hv]) + self.cfg.cg_damping * v

        return product

    def surrogates(self, batch: Batch, adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The reward loss -E[ratio A] (to minimise) and the cost surrogate E[ratio A_c]."""
        ratio = self.ratio(batch)
        return -(ratio * adv).mean(), (ratio * batch.adv_c).mean()

    def natural_direction(self, batch: Batch, adv: torch.Tensor):
        """g (ascent direction of the reward surrogate), x = F^{-1} g, the FVP and the old policy."""
        old = self.old_distribution(batch)
        loss, _ = self.surrogates(batch, adv)
        g = -self.flat_grad(loss)
        fvp = self.fisher_vector_product(batch.obs, old)
        return g, conjugate_gradient(fvp, g, self.cfg.cg_iters), fvp, old

    def constraint_geometry(self, batch: Batch, adv: torch.Tensor) -> SimpleNamespace:
        """What CPO and PCPO share: x = F^-1 g, p = F^-1 b (b the cost surrogate's gradient) and the scalars
        q = g^T x, r = g^T p, s = b^T p and b^T b of their closed-form steps, plus the old policy."""
        g, x, fvp, old = self.natural_direction(batch, adv)
        _, cost_surrogate = self.surrogates(batch, adv)
        b = self.flat_grad(cost_surrogate)
        p = conjugate_gradient(fvp, b, self.cfg.cg_iters)
        return SimpleNamespace(x=x, p=p, q=float(g @ x), r=float(g @ p), s=float(b @ p), bb=float(b @ b), old=old)

    def evaluate_step(self, batch: Batch, adv: torch.Tensor, old, start: torch.Tensor):
        """A closure: step -> (reward loss, cost surrogate, KL) at parameters ``start + step``."""

        def evaluate(step: torch.Tensor) -> tuple[float, float, float]:
            self.set_flat(start + step)
            with torch.no_grad():
                loss_r, loss_c = self.surrogates(batch, adv)
                kl = self.kl(batch.obs, old).mean()
            return float(loss_r), float(loss_c), float(kl)

        return evaluate

    def natural_step(self, x: torch.Tensor, xfx: float) -> torch.Tensor:
        """sqrt(2 delta / x^T F x) x: the step along x = F^{-1} g whose quadratic KL model equals delta."""
        return math.sqrt(2 * self.cfg.target_kl / (xfx + 1e-8)) * x

    def move(self, batch: Batch, adv: torch.Tensor, old, step: torch.Tensor,
             test: Callable[[tuple[float, float, float], tuple[float, float, float]], bool] | None = None
             ) -> dict[str, float]:
        """Move the actor by ``step``; or, given ``test(before, after)`` on the (reward loss, cost surrogate,
        KL) before and after a trial step, by the first of step, decay step, decay^2 step, ... that passes it
        (a backtracking line search; no move when none does)."""
        evaluate = self.evaluate_step(batch, adv, old, self.get_flat())
        if test is None:
            return {"kl": evaluate(step)[2]}
        before = evaluate(torch.zeros_like(step))
        accepted, tries = backtracking_line_search(evaluate, step, lambda *after: test(before, after),
                                                   self.cfg.line_search_steps, self.cfg.line_search_decay)
        return {"kl": evaluate(accepted)[2], "line_search": float(tries)}


def conjugate_gradient(product: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int,
                       tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for symmetric positive definite A given only x -> A x."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        if rr < tol:
            break
        ap = product(p)
        alpha = rr / (p @ ap + 1e-12)
        x += alpha * p
        r -= alpha * ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def backtracking_line_search(evaluate: Callable[[torch.Tensor], tuple[float, float, float]], step: torch.Tensor,
                             accept: Callable[[float, float, float], bool], steps: int, decay: float
                             ) -> tuple[torch.Tensor, int]:
    """Try ``step * decay**j`` for j = 0, 1, ...; return the first accepted step and j (or a zero step and
    ``steps`` when none is accepted). ``accept(loss_r, loss_c, kl)`` sees the values ``evaluate`` returns."""
    for j in range(steps):
        trial = step * decay**j
        loss_r, loss_c, kl = evaluate(trial)
        if all(map(torch.isfinite, torch.tensor([loss_r, loss_c, kl]))) and accept(loss_r, loss_c, kl):
            return trial, j
    evaluate(torch.zeros_like(step))  # restore the old parameters
    return torch.zeros_like(step), steps
