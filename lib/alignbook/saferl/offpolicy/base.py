"""What DDPG, TD3 and SAC share (OmniSafe's off-policy family): a replay buffer, reward and cost Q-critics with
Polyak-averaged targets, the actor update every ``policy_delay`` critic updates, and the training loop.

One update per environment step (OmniSafe's ``update_cycle = update_iters = 1``) once ``start_learning_steps``
random actions have filled the buffer. The critics regress on one-step targets

    y_r = r + gamma (1 - terminated) Q'_r(s', a'),     y_c = c + gamma (1 - terminated) Q'_c(s', a'),

(a truncated episode bootstraps: the time limit is not part of the state), and the actor descends the
Lagrangian's loss ``(-Q_r(s, pi(s)) + lambda Q_c(s, pi(s))) / (1 + lambda)`` -- the same rescaling as the
on-policy family's advantage. ``lambda`` is one of the on-policy family's multipliers (``multiplier =
"lagrange"`` or ``"pid"``), updated after every update once ``warmup_epochs`` have passed, from the mean cost of
the last ``cost_window`` episodes (OmniSafe's windowed EpCost). The three members differ only in how the next
action a' and the actor's action are formed (``target_action``, ``actor_loss``); their files say how.

Not reproduced: OmniSafe's ``cost_normalize`` (a running scale on the cost critic's targets).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from alignbook.envs import make_vec
from alignbook.saferl.adapters import adapt
from alignbook.saferl.base import MULTIPLIERS
from alignbook.saferl.networks import mlp


@dataclass(frozen=True)
class OffPolicyConfig:
    """OmniSafe's off-policy defaults (configs/off-policy/*.yaml; the anchor lists them)."""

    total_steps: int = 1_000_000
    steps_per_epoch: int = 2_000
    num_envs: int = 1  # OmniSafe requires one environment for the off-policy family
    cost_limit: float = 25.0
    gamma: float = 0.99
    buffer_size: int = 1_000_000
    batch_size: int = 256
    update_iters: int = 1  # updates per environment step
    start_learning_steps: int = 25_000  # uniform random actions before the first update
    polyak: float = 0.005  # target <- (1 - polyak) target + polyak online
    policy_delay: int = 1
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    max_grad_norm: float = 40.0
    exploration_noise: float = 0.1  # DDPG/TD3: Gaussian noise on the action during collection
    warmup_epochs: int = 100  # epochs before the multiplier starts moving
    cost_window: int = 10  # episodes in the mean cost the multiplier sees
    normalise_obs: bool = False
    seed: int = 0
    device: str = "cpu"  # where the networks and the sampled minibatches live


@dataclass(frozen=True)
class OffPolicyLagrangeConfig:
    lambda_init: float = 0.001
    lambda_lr: float = 1e-5


@dataclass(frozen=True)
class OffPolicyPIDConfig:
    lambda_init: float = 0.001
    pid_kp: float = 1e-6
    pid_ki: float = 1e-7
    pid_kd: float = 1e-7
    pid_d_delay: int = 10
    pid_p_ema: float = 0.95
    pid_d_ema: float = 0.95
    penalty_max: float = 100.0
    actor_lr: float = 1e-4  # OmniSafe's PID variants use a smaller actor step


# Per-task settings. OmniSafe's env sections, identical across the six constrained members: these tasks' cost
# signal is sparse, so the actor and the multiplier move much more slowly. And the book's toy CMDP
# (alignbook.saferl.toy): 10-step episodes, so a short warm-up, small networks, large steps, and multipliers
# scaled to a few thousand updates (lambda* = 0.8 there).
SAFETY_NAVIGATION = ("SafetyPointGoal1-v0", "SafetyCarGoal1-v0", "SafetyPointCircle1-v0", "SafetyCarCircle1-v0")
TOY_TASK = "ToyConstraint-v0"


def task_sections(multiplier: str | None, sac: bool = False) -> dict[str, dict]:
    navigation: dict = {"actor_lr": 5e-6, "critic_lr": 1e-3}
    toy: dict = {"steps_per_epoch": 200, "start_learning_steps": 200, "batch_size": 64, "hidden": (32, 32),
                 "actor_lr": 3e-3, "critic_lr": 3e-3, "polyak": 0.02, "warmup_epochs": 1}
    if multiplier == "lagrange":
        navigation.update(lambda_init=0.0, lambda_lr=5e-7)
        toy.update(lambda_lr=2e-3)
    elif multiplier == "pid":
        navigation.update(pid_kp=5e-7, pid_ki=1e-8, pid_kd=1e-8)
        toy.update(pid_kp=0.01, pid_ki=5e-4, pid_kd=1e-3)
    if sac:
        navigation["alpha"] = 1e-5
        toy["alpha"] = 0.005  # entropy that keeps the policy near-deterministic at the toy's reward scale
    sections = {task: dict(navigation) for task in SAFETY_NAVIGATION} if multiplier else {}
    return {**sections, TOY_TASK: toy}


class ReplayBuffer:
    """A ring buffer of transitions (s, a, r, c, s', terminated), sampled uniformly with the run's generator."""

    def __init__(self, size: int, obs_dim: int, act_dim: int):
        self.size, self.n, self.i = int(size), 0, 0
        self.obs = np.zeros((self.size, obs_dim), np.float32)
        self.next_obs = np.zeros((self.size, obs_dim), np.float32)
        self.act = np.zeros((self.size, act_dim), np.float32)
        self.reward, self.cost, self.done = (np.zeros(self.size, np.float32) for _ in range(3))

    def add(self, obs, act, reward, cost, next_obs, terminated) -> None:
        i = self.i
        self.obs[i], self.act[i], self.next_obs[i] = obs, act, next_obs
        self.reward[i], self.cost[i], self.done[i] = reward, cost, terminated
        self.i, self.n = (i + 1) % self.size, min(self.n + 1, self.size)

    def sample(self, batch_size: int, rng: np.random.Generator, device: torch.device | None = None
               ) -> dict[str, torch.Tensor]:
        """A minibatch on ``device``: the buffer stays in (CPU) memory, only the sampled rows move."""
        idx = rng.integers(0, self.n, batch_size)
        return {k: torch.from_numpy(getattr(self, k)[idx]).to(device)
                for k in ("obs", "act", "reward", "cost", "next_obs", "done")}

    def state_dict(self) -> dict[str, torch.Tensor]:
        tensors = {k: torch.from_numpy(getattr(self, k)[: self.n].copy())
                   for k in ("obs", "act", "reward", "cost", "next_obs", "done")}
        tensors["position"] = torch.tensor([self.n, self.i])
        return tensors

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        self.n, self.i = (int(v) for v in tensors["position"])
        for k in ("obs", "act", "reward", "cost", "next_obs", "done"):
            getattr(self, k)[: self.n] = tensors[k].cpu().numpy()


class QCritic(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.net = mlp((obs_dim + act_dim, *hidden, 1), activation)

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, act], -1)).squeeze(-1)


class OffPolicy:
    """The skeleton; a member sets ``reward_critics`` (1 or 2), builds ``self.actor`` and defines
    ``act`` (collection), ``target_action`` (a' for the critics' targets, with its entropy term for SAC) and
    ``actor_objective`` (what the actor maximises before the cost term)."""

    Config = OffPolicyConfig
    name = "base"
    family = "off-policy"
    multiplier: str | None = None
    reward_critics = 1
    explores_with_noise = True  # DDPG/TD3 add Gaussian noise to a deterministic action; SAC samples
    task_overrides: dict[str, dict] = {}

    def __init__(self, obs_dim: int, act_dim: int, cfg):
        self.cfg, self.obs_dim, self.act_dim = cfg, obs_dim, act_dim
        hidden, activation = tuple(cfg.hidden), cfg.activation
        self.actor = self.build_actor(obs_dim, act_dim, hidden, activation)
        self.critics = nn.ModuleList([QCritic(obs_dim, act_dim, hidden, activation)
                                      for _ in range(self.reward_critics)])
        self.cost_critic = QCritic(obs_dim, act_dim, hidden, activation)
        self.device = torch.device(cfg.device)
        for module in (self.actor, self.critics, self.cost_critic):
            module.to(self.device)
        self.target_actor = copy.deepcopy(self.actor)
        self.target_critics = copy.deepcopy(self.critics)
        self.target_cost_critic = copy.deepcopy(self.cost_critic)
        for module in (self.target_actor, self.target_critics, self.target_cost_critic):
            module.requires_grad_(False)
        # Parameter lists fetched once: walking the modules on every update is measurable overhead here.
        self.actor_parameters = list(self.actor.parameters())
        self.critic_parameters = [*self.critics.parameters(), *self.cost_critic.parameters()]
        self.online = [*self.actor_parameters, *self.critic_parameters]
        self.targets = [*self.target_actor.parameters(), *self.target_critics.parameters(),
                        *self.target_cost_critic.parameters()]
        # fused: one kernel for the whole Adam step (on CPU too) instead of a handful of ops per parameter.
        self.actor_optimizer = torch.optim.Adam(self.actor_parameters, lr=cfg.actor_lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critic_parameters, lr=cfg.critic_lr, fused=True)
        self.lagrange_multiplier = MULTIPLIERS[self.multiplier](cfg) if self.multiplier else None
        self.updates = 0

    @property
    def penalty(self) -> float:
        return self.lagrange_multiplier.value if self.lagrange_multiplier is not None else 0.0

    def modules(self) -> dict[str, nn.Module]:
        return {"actor": self.actor, "critics": self.critics, "cost_critic": self.cost_critic,
                "target_actor": self.target_actor, "target_critics": self.target_critics,
                "target_cost_critic": self.target_cost_critic}

    # -- what a member defines ----------------------------------------------------------------------------------
    def build_actor(self, obs_dim, act_dim, hidden, activation) -> nn.Module:
        raise NotImplementedError

    def act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        raise NotImplementedError

    def target_action(self, next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a', the entropy bonus added to the reward target: zero except for SAC)."""
        raise NotImplementedError

    def actor_objective(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the per-state reward objective to maximise, Q_c(s, pi(s))), both differentiable in the actor."""
        raise NotImplementedError

    # -- the shared update ----------------------------------------------------------------------------------------
    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        obs, act, next_obs = batch["obs"], batch["act"], batch["next_obs"]
        with torch.no_grad():
            next_act, bonus = self.target_action(next_obs)
            q_next = torch.stack([q(next_obs, next_act) for q in self.target_critics]).min(0).values
            not_done = 1.0 - batch["done"]
            y_r = batch["reward"] + cfg.gamma * not_done * (q_next + bonus)
            y_c = batch["cost"] + cfg.gamma * not_done * self.target_cost_critic(next_obs, next_act)
        critic_loss = sum((q(obs, act) - y_r).pow(2).mean() for q in self.critics)
        critic_loss = critic_loss + (self.cost_critic(obs, act) - y_c).pow(2).mean()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        nn.utils.clip_grad_norm_(self.critic_parameters, cfg.max_grad_norm, foreach=True)
        self.critic_optimizer.step()
        stats = {"critic_loss": float(critic_loss.detach())}

        self.updates += 1
        if self.updates % cfg.policy_delay == 0:
            objective, q_c = self.actor_objective(obs)
            lam = self.penalty
            actor_loss = ((-objective + lam * q_c) / (1.0 + lam)).mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward(inputs=self.actor_parameters)  # the actor's step must not move the critics
            nn.utils.clip_grad_norm_(self.actor_parameters, cfg.max_grad_norm, foreach=True)
            self.actor_optimizer.step()
            self.polyak()
            stats["actor_loss"] = float(actor_loss.detach())
        return stats

    @torch.no_grad()
    def polyak(self) -> None:
        torch._foreach_lerp_(self.targets, self.online, self.cfg.polyak)  # target += polyak (online - target)


class OffPolicyAgent:
    """What ``evaluate`` needs: ``act(obs)`` maps raw observations to the task's action box (deterministic)."""

    def __init__(self, algo: OffPolicy, low: np.ndarray, high: np.ndarray):
        self.algo, self.low, self.high = algo, np.asarray(low, np.float64), np.asarray(high, np.float64)

    @property
    def cfg(self):
        return self.algo.cfg

    def env_action(self, raw: np.ndarray) -> np.ndarray:
        return self.low + (raw + 1.0) * 0.5 * (self.high - self.low)

    @torch.no_grad()
    def act(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        x = torch.as_tensor(np.atleast_2d(obs), dtype=torch.float32, device=self.algo.device)
        return self.env_action(self.algo.act(x, deterministic=True).double().cpu().numpy())


class Run:
    """The off-policy training loop's state, so that a run can stop at an epoch boundary and resume
    (``alignbook.saferl.runs`` saves and restores it)."""

    def __init__(self, algo_cls: type[OffPolicy], task_id: str, cfg):
        torch.manual_seed(cfg.seed)
        self.cfg, self.task_id = cfg, task_id
        self.rng = np.random.default_rng(cfg.seed)
        self.env = adapt(make_vec(task_id, 1), algo_cls, cfg)
        space = self.env.single_action_space
        self.obs_dim = int(np.prod(self.env.single_observation_space.shape))
        self.act_dim = int(np.prod(space.shape))
        self.algo = algo_cls(self.obs_dim, self.act_dim, cfg)
        self.agent = OffPolicyAgent(self.algo, space.low, space.high)
        self.buffer = ReplayBuffer(min(cfg.buffer_size, cfg.total_steps), self.obs_dim, self.act_dim)
        self.obs, _ = self.env.reset(seed=cfg.seed)
        self.ep_return = self.ep_cost = 0.0
        self.ep_length = 0
        self.recent_costs: deque[float] = deque(maxlen=cfg.cost_window)
        self.epoch, self.steps, self.rows = 0, 0, []
        self.epochs = max(1, -(-cfg.total_steps // cfg.steps_per_epoch))

    def collect_action(self) -> np.ndarray:
        if self.steps < self.cfg.start_learning_steps:
            return self.rng.uniform(-1.0, 1.0, (1, self.act_dim))
        with torch.no_grad():
            obs = torch.as_tensor(self.obs, dtype=torch.float32, device=self.algo.device)
            raw = self.algo.act(obs, deterministic=False).cpu().numpy()
        if self.algo.explores_with_noise:
            raw = np.clip(raw + self.cfg.exploration_noise * self.rng.standard_normal(raw.shape), -1.0, 1.0)
        return raw

    def run_epoch(self) -> dict:
        cfg, algo = self.cfg, self.algo
        returns, costs, lengths, stats = [], [], [], {}
        start = time.perf_counter()
        for _ in range(cfg.steps_per_epoch):
            action = self.collect_action()
            next_obs, reward, cost, terminated, truncated, info = self.env.step(self.agent.env_action(action))
            stored_next = next_obs[0]
            if truncated[0] and not terminated[0]:
                stored_next = np.asarray(info["final_observation"][0], np.float64)
            self.buffer.add(self.obs[0], action[0], reward[0], cost[0], stored_next, terminated[0])
            self.ep_return += float(reward[0])
            self.ep_cost += float(cost[0])
            self.ep_length += 1
            self.steps += 1
            if terminated[0] or truncated[0]:
                returns.append(self.ep_return)
                costs.append(self.ep_cost)
                lengths.append(self.ep_length)
                self.recent_costs.append(self.ep_cost)
                self.ep_return = self.ep_cost = 0.0
                self.ep_length = 0
            self.obs = next_obs
            if self.steps >= cfg.start_learning_steps:
                for _ in range(cfg.update_iters):
                    stats = algo.update(self.buffer.sample(cfg.batch_size, self.rng, algo.device))
                if algo.lagrange_multiplier is not None and self.epoch >= cfg.warmup_epochs and self.recent_costs:
                    algo.lagrange_multiplier.update(float(np.mean(self.recent_costs)))
        row = {"epoch": self.epoch, "steps": self.steps,
               "episode_return": float(np.mean(returns)) if returns else np.nan,
               "episode_cost": float(np.mean(costs)) if costs else np.nan,
               "episode_length": float(np.mean(lengths)) if lengths else np.nan,
               "episodes": len(returns), "lambda": algo.penalty, **stats,
               "epoch_time": time.perf_counter() - start}
        self.rows.append(row)
        self.epoch += 1
        if costs and hasattr(self.env, "end_epoch"):  # Simmer moves its budget once per epoch
            self.env.end_epoch(float(np.mean(costs)))
        return row

    def log(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)
