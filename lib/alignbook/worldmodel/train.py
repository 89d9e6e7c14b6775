"""``train(algo, task_id, **overrides)``: one environment, a replay of sequences, the world model and the
behaviour learned together (Safe DreamerV3's loop), for the four algorithms of ``ALGORITHMS``.

Per decision the agent filters the new observation into its state (h, z), picks an action -- the actor's sample,
or the constrained planner's -- and repeats it ``action_repeat`` environment steps, summing reward and cost.
After ``prefill`` random environment steps, each decision adds ``train_ratio / (batch x length)`` updates
(fractions carried over); an update is one world-model step on a batch of replayed sequences and one
actor-critic step in imagination from all of that batch's posterior states.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
import torch

from alignbook.saferl import PIDLagrange
from alignbook.saferl.augmented import AugmentedLagrange
from alignbook.worldmodel.behaviour import ActorCritic
from alignbook.worldmodel.model import WorldModel, WorldModelConfig
from alignbook.worldmodel.planner import ConstrainedCEM, PlannerConfig


@dataclass(frozen=True)
class Algorithm:
    """What distinguishes the four agents: who acts and which multiplier enforces the constraint."""

    name: str
    plans: bool  # the constrained CEM planner acts (else the actor)
    multiplier: str | None  # None, "pid" (OSRP-Lag, in the planner's ranking), "augmented" (BSRP-Lag, actor loss)
    action_repeat: int


ALGORITHMS = {a.name: a for a in (
    Algorithm("dreamer", plans=False, multiplier=None, action_repeat=4),  # unconstrained DreamerV3 baseline
    Algorithm("osrp", plans=True, multiplier=None, action_repeat=5),
    Algorithm("osrp_lag", plans=True, multiplier="pid", action_repeat=4),
    Algorithm("bsrp_lag", plans=False, multiplier="augmented", action_repeat=4),
)}


@dataclass(frozen=True)
class Config:
    """Safe DreamerV3's settings (defaults); a scale passes smaller sizes as overrides."""

    seed: int = 0
    env_steps: int = 10_000_000
    cost_limit: float = 2.0  # per episode
    episode_steps: int | None = None  # None: the task's (1000; Circle 500); fewer truncate episodes earlier
    action_repeat: int | None = None  # None: the algorithm's own (OSRP 5, others 4)
    encoder: str = "auto"  # "vector", "image" (64x64 RGB of Vision tasks) or "auto" (from the task)
    prefill: int = 5000  # random environment steps before the first update
    batch: int = 16
    length: int = 64
    train_ratio: float = 512.0  # replayed steps per decision
    imag_horizon: int = 15
    discount_horizon: float = 333.0  # discount = 1 - 1 / discount_horizon
    lam: float = 0.95
    wm_lr: float = 1e-4
    ac_lr: float = 3e-5
    model: WorldModelConfig = field(default_factory=WorldModelConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    pid: dict = field(default_factory=lambda: dict(kp=0.1, ki=0.01, kd=0.01, d_delay=10, init=0.001))
    pid_start: int = 5000  # environment steps before the PID multiplier moves
    cost_ema: float = 0.99  # the PID's error is this EMA of the episode cost minus the limit
    augmented: dict = field(default_factory=lambda: dict(init=1e-6, penalty=5e-9, growth=1e-5, penalty_max=1.0))
    device: str = "cpu"  # where the networks run; the environment and the replay stay on the CPU

    def __post_init__(self):
        for name in ("env_steps", "prefill", "batch", "length", "imag_horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "prefill" else 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.episode_steps is not None and (not isinstance(self.episode_steps, int) or self.episode_steps < 1):
            raise ValueError(f"episode_steps must be a positive int or None, got {self.episode_steps!r}")
        if self.action_repeat is not None and (not isinstance(self.action_repeat, int) or self.action_repeat < 1):
            raise ValueError(f"action_repeat must be a positive int or None, got {self.action_repeat!r}")
        if self.encoder not in ("auto", "vector", "image"):
            raise ValueError(f"encoder must be 'auto', 'vector' or 'image', got {self.encoder!r}")
        if self.cost_limit < 0 or self.train_ratio <= 0 or self.discount_horizon <= 1 or not 0 <= self.lam <= 1:
            raise ValueError("need cost_limit >= 0, train_ratio > 0, discount_horizon > 1 and lam in [0, 1], got "
                             f"{self.cost_limit!r}, {self.train_ratio!r}, {self.discount_horizon!r}, {self.lam!r}")


def make_config(**overrides) -> Config:
    """Defaults with ``overrides``; ``model`` and ``planner`` accept dicts of their fields. Unknown names fail."""
    valid = {f.name for f in fields(Config)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; valid settings are: {', '.join(sorted(valid))}")
    base = Config()
    for key, cls in (("model", WorldModelConfig), ("planner", PlannerConfig)):
        if isinstance(overrides.get(key), dict):
            overrides[key] = replace(getattr(base, key), **overrides[key]) if overrides[key] else cls()
    return replace(base, **overrides)


def task_has_costs(env) -> bool:
    """Navigation tasks cost something from level 1 on; every velocity task has its speed cost."""
    spec = getattr(env, "spec", None)
    objects = getattr(spec, "objects", None)
    return objects is None or any(o.constrained for o in objects)


def check_observation(obs: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(obs)):
        raise ValueError(f"observation contains NaN or inf at indices {np.flatnonzero(~np.isfinite(obs))[:10]}")
    return obs


class Replay:
    """Decisions in arrival order (obs_t, a_{t-1}, r_t, c_t); sequences never cross an episode's start.
    Observations and actions move to ``device`` as they arrive, so that a training batch is gathered where the
    model trains (no host-to-device copy of images per update); rewards, costs and episode ids are scalars and
    stay on the host."""

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.obs, self.prev_action, self.reward, self.cost, self.episode = [], [], [], [], []

    def add(self, obs, prev_action, reward, cost, episode) -> None:
        obs = torch.as_tensor(obs)
        self.obs.append((obs if obs.dtype == torch.uint8 else obs.float()).to(self.device))
        self.prev_action.append(torch.as_tensor(prev_action, dtype=torch.float32).to(self.device))
        self.reward.append(reward)
        self.cost.append(cost)
        self.episode.append(episode)

    def sample(self, rng: np.random.Generator, batch: int, length: int):
        episode = np.asarray(self.episode)
        if len(episode) < length:
            return None
        starts = np.flatnonzero(episode[: len(episode) - length + 1] == episode[length - 1:])
        if len(starts) == 0:
            return None
        index = rng.choice(starts, batch)[:, None] + np.arange(length)
        gather = lambda xs: torch.stack([xs[i] for i in index.flat]).reshape(*index.shape, *xs[0].shape)  # noqa: E731
        scalars = lambda xs: torch.as_tensor(np.asarray(xs, dtype=np.float32)[index]).to(self.device)  # noqa: E731
        return gather(self.obs), gather(self.prev_action), scalars(self.reward), scalars(self.cost)


class Agent:
    """The world model, the actor-critic, and -- for OSRP and OSRP-Lag -- the planner, with the filter state."""

    def __init__(self, algo: Algorithm, cfg: Config, obs_space, act_dim: int, episode_steps: int):
        self.algo, self.cfg = algo, cfg
        self.wm = WorldModel(obs_space, act_dim, cfg.model).to(cfg.device)
        self.wm_opt = torch.optim.Adam(self.wm.parameters(), lr=cfg.wm_lr, eps=1e-8)
        self.ac = ActorCritic(self.wm, cfg.imag_horizon, 1 - 1 / cfg.discount_horizon, cfg.lam, cfg.ac_lr,
                              device=cfg.device)
        self.multiplier = None
        if algo.multiplier == "pid":
            self.multiplier = PIDLagrange(cfg.cost_limit, **cfg.pid)
        elif algo.multiplier == "augmented":
            # The cost lambda-return stands for the cost of the rest of an episode (as upstream: compared with
            # the per-episode limit directly).
            self.multiplier = AugmentedLagrange(cfg.cost_limit, **cfg.augmented)
        self.planner = None
        if algo.plans:
            decisions = episode_steps / self.action_repeat
            self.planner = ConstrainedCEM(self.wm, self.ac, cfg.planner, cfg.cost_limit,
                                          cost_scale=decisions / cfg.planner.horizon,
                                          multiplier=self.multiplier if algo.multiplier == "pid" else None)
        self.reset()

    @property
    def action_repeat(self) -> int:
        return self.cfg.action_repeat or self.algo.action_repeat

    def reset(self) -> None:
        self.h, self.z = self.wm.rssm.initial(1)
        if self.planner is not None:
            self.planner.reset()

    @torch.no_grad()
    def observe(self, obs: np.ndarray, prev_action: np.ndarray) -> None:
        obs = torch.as_tensor(obs[None]).to(self.cfg.device)
        embed = self.wm.coder.encode(obs if obs.dtype == torch.uint8 else obs.float())
        prev_action = torch.as_tensor(prev_action[None]).float().to(self.cfg.device)
        self.h, self.z = self.wm.rssm.filter(self.h, self.z, prev_action, embed)

    @torch.no_grad()
    def act(self, sample: bool = True) -> np.ndarray:
        if self.planner is not None:
            return self.planner(self.h, self.z).cpu().numpy()
        return self.ac.actor(torch.cat([self.h, self.z], -1), sample=sample)[0][0].cpu().numpy()

    def update(self, batch) -> dict[str, float]:
        loss, stats, (h, z) = self.wm.loss(*batch)
        self.wm_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.wm.parameters(), 1000.0)
        self.wm_opt.step()
        constraint = self.multiplier if self.algo.multiplier == "augmented" else None
        stats.update(self.ac.update(self.wm, h.flatten(0, 1), z.flatten(0, 1), constraint))
        return stats


def observation_of(obs, encoder: str) -> np.ndarray:
    return check_observation(np.asarray(obs["vision"]) if encoder == "image" else np.asarray(obs, np.float32))


def make_agent_env(algo: str, task_id: str, cfg: Config):
    """Check the algorithm, the task and the encoder together; returns (Algorithm, env, encoder)."""
    import alignbook.envs

    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; valid algorithms are: {', '.join(ALGORITHMS)}")
    env = alignbook.envs.make(task_id)
    if not task_has_costs(env):
        env.close()
        raise ValueError(f"task {task_id!r} has no cost (nothing constrained at its level): a safe agent needs one")
    vision = "vision" in getattr(env.observation_space, "spaces", {})
    encoder = cfg.encoder if cfg.encoder != "auto" else ("image" if vision else "vector")
    if vision != (encoder == "image"):
        env.close()
        raise ValueError(f"encoder={cfg.encoder!r} does not fit task {task_id!r}: "
                         + ("a Vision task needs encoder='image'" if vision else "it has no image; use 'vector'"))
    spec = ALGORITHMS[algo]
    decisions = min(cfg.episode_steps or env.max_episode_steps, env.max_episode_steps) / (cfg.action_repeat
                                                                                         or spec.action_repeat)
    if spec.plans and cfg.planner.horizon > decisions:
        env.close()  # a plan longer than the episode prices cost the episode can never pay
        raise ValueError(f"planner horizon ({cfg.planner.horizon} decisions) exceeds an episode of {task_id!r} "
                         f"({decisions:g} decisions of action_repeat steps); shorten it")
    return spec, env, encoder


def train(algo: str, task_id: str, *, callback: Callable[[dict], None] | None = None,
          **overrides) -> tuple[Agent, pd.DataFrame]:
    """Train ``algo`` on ``task_id``; returns the agent and a log with one row per finished episode
    (steps, episode_return, episode_cost, lambda, updates, wall_time and the last update's losses)."""
    cfg = make_config(**overrides)
    spec, env, encoder = make_agent_env(algo, task_id, cfg)
    try:
        return _train(spec, env, encoder, cfg, callback)
    finally:
        env.close()


def train_in_workers(jobs: list[tuple[str, str, dict]], workers: int = 1) -> list[tuple[Agent, pd.DataFrame]]:
    """``[train(algo, task_id, **overrides) for algo, task_id, overrides in jobs]``, over ``workers`` processes.
    Each run is seeded and single-threaded, so its result does not depend on where it runs; on a CPU machine
    independent runs in parallel use the cores far better than threads inside networks this small."""
    if workers <= 1:
        return [train(algo, task_id, **overrides) for algo, task_id, overrides in jobs]
    from alignbook.workers import map_pickled

    return [tuple(result) for result in map_pickled("alignbook.worldmodel.train:_train_job", jobs, workers)]


def _train_job(algo: str, task_id: str, overrides: dict) -> tuple[Agent, pd.DataFrame]:
    return train(algo, task_id, **overrides)


def _train(spec: Algorithm, env, encoder: str, cfg: Config, callback) -> tuple[Agent, pd.DataFrame]:
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    raw, _ = env.reset(seed=cfg.seed)
    obs = observation_of(raw, encoder)
    act_dim = env.action_space.shape[0]
    low, high = env.action_space.low, env.action_space.high
    episode_steps = min(cfg.episode_steps or env.max_episode_steps, env.max_episode_steps)
    agent = Agent(spec, cfg, "image" if encoder == "image" else obs.shape[0], act_dim, episode_steps)
    replay = Replay(cfg.device)
    prev_action = np.zeros(act_dim, np.float32)
    episode, steps, ep_steps, ep_return, ep_cost, owed, updates = 0, 0, 0, 0.0, 0.0, 0.0, 0
    cost_ema, rows, stats, start = None, [], {}, time.perf_counter()
    per_decision = cfg.train_ratio / (cfg.batch * cfg.length)
    replay.add(obs, prev_action, 0.0, 0.0, episode)
    agent.observe(obs, prev_action)
    while steps < cfg.env_steps:
        action = rng.uniform(-1, 1, act_dim).astype(np.float32) if steps < cfg.prefill else agent.act()
        reward = cost = 0.0
        for _ in range(agent.action_repeat):
            raw, r, c, terminated, truncated, _ = env.step(low + (action + 1) * 0.5 * (high - low))
            reward, cost, steps, ep_steps = reward + r, cost + c, steps + 1, ep_steps + 1
            truncated = truncated or ep_steps >= episode_steps
            if terminated or truncated:
                break
        obs = observation_of(raw, encoder)
        ep_return, ep_cost = ep_return + reward, ep_cost + cost
        replay.add(obs, action, reward, cost, episode)
        agent.observe(obs, action)
        if steps >= cfg.prefill:
            owed += per_decision
            while owed >= 1:
                batch = replay.sample(rng, cfg.batch, cfg.length)
                if batch is None:
                    break
                stats = agent.update(batch)
                owed, updates = owed - 1, updates + 1
        if terminated or truncated:
            cost_ema = ep_cost if cost_ema is None else cfg.cost_ema * cost_ema + (1 - cfg.cost_ema) * ep_cost
            if spec.multiplier == "pid" and steps > cfg.pid_start:
                agent.multiplier.update(cost_ema)
            row = {"episode": episode, "steps": steps, "episode_return": ep_return, "episode_cost": ep_cost,
                   "lambda": agent.multiplier.value if agent.multiplier is not None else 0.0,
                   "updates": updates, "wall_time": time.perf_counter() - start, **stats}
            rows.append(row)
            if callback is not None:
                callback(row)
            episode, ep_steps, ep_return, ep_cost = episode + 1, 0, 0.0, 0.0
            raw, _ = env.reset()
            obs, prev_action = observation_of(raw, encoder), np.zeros(act_dim, np.float32)
            agent.reset()
            replay.add(obs, prev_action, 0.0, 0.0, episode)
            agent.observe(obs, prev_action)
    log = pd.DataFrame(rows)
    log.insert(0, "algo", spec.name)
    return agent, log
