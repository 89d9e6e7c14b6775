"""``train(algo, task_id, **overrides)``: the on-policy loop shared by every algorithm, and ``evaluate``.

Each epoch: collect ``steps_per_epoch`` steps from ``num_envs`` environments with the current policy (NumPy
forward, observation normalisation, actions rescaled from [-1, 1] to the task's action box), compute
both GAEs, update the multiplier from the epoch's mean episode cost, then update the networks. The log has one
row per epoch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from alignbook.checks import positive_int
from alignbook.envs import make_vec
from alignbook.saferl import algorithms, toy  # noqa: F401 -- register the algorithms and the toy task
from alignbook.saferl.adapters import adapt
from alignbook.saferl.buffer import RolloutBuffer
from alignbook.saferl.config import ALGORITHMS, algorithm_class, canonical_name, make_config
from alignbook.saferl.engines import make_engine
from alignbook.saferl.normalise import RunningNormaliser


class Agent:
    """A trained policy: the algorithm's networks, the observation normaliser and the action rescaling."""

    def __init__(self, algo, normaliser: RunningNormaliser | None, low: np.ndarray, high: np.ndarray):
        self.algo, self.normaliser = algo, normaliser
        self.low, self.high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)

    @property
    def cfg(self):
        return self.algo.cfg

    def normalise(self, obs: np.ndarray, update: bool) -> np.ndarray:
        return obs if self.normaliser is None else self.normaliser(obs, update=update)

    def env_action(self, raw: np.ndarray) -> np.ndarray:
        """The policy acts in [-1, 1]; map linearly to the task's box (OmniSafe's action scaling). Clipping to
        the box is the environment's job (the suite's tasks clip, as upstream)."""
        return self.low + (raw + 1.0) * 0.5 * (self.high - self.low)

    def act(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Actions for a batch of raw observations: the policy's mean, or a sample when ``rng`` is given."""
        return self.env_action(self.algo.ac.actor.act(self.normalise(np.atleast_2d(obs), update=False), rng))

    def save(self, path: str | Path) -> None:
        """Weights in safetensors; the configuration and the normaliser's statistics alongside."""
        tensors = {f"ac.{k}": v.contiguous() for k, v in self.algo.ac.state_dict().items()}
        if self.normaliser is not None:
            tensors.update({f"norm.{k}": torch.as_tensor(v) for k, v in self.normaliser.state_dict().items()})
        tensors["action.low"], tensors["action.high"] = torch.as_tensor(self.low), torch.as_tensor(self.high)
        meta = {"algo": self.algo.name, "config": json.dumps(asdict(self.cfg))}
        save_file(tensors, str(path), metadata=meta)

    @classmethod
    def load(cls, path: str | Path) -> Agent:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata()
        tensors = load_file(str(path))
        config = json.loads(meta["config"])
        config["hidden"] = tuple(config["hidden"])
        cfg = make_config(meta["algo"], **config)
        obs_dim = tensors["ac.reward_critic.0.weight"].shape[1]
        act_dim = tensors["ac.actor.log_std"].shape[0]
        algo = algorithm_class(meta["algo"])(obs_dim, act_dim, cfg)
        algo.ac.load_state_dict({k[3:]: v for k, v in tensors.items() if k.startswith("ac.")})
        algo.ac.actor.sync()
        normaliser = None
        if cfg.normalise_obs:
            normaliser = RunningNormaliser((obs_dim,))
            normaliser.load_state_dict({k[5:]: v.cpu().numpy() for k, v in tensors.items() if k.startswith("norm.")})
        return cls(algo, normaliser, tensors["action.low"].cpu().numpy(), tensors["action.high"].cpu().numpy())


def train(algo: str, task_id: str, *, engine: str | None = None, callback: Callable[[dict], None] | None = None,
          **overrides) -> tuple[Agent, pd.DataFrame]:
    """Train ``algo`` (a name in ``ALGORITHMS``) on ``task_id`` with its defaults and ``overrides``.

    ``engine`` runs the updates (``alignbook.saferl.engines``): "autograd" (the reference, the algorithm file's
    own loss), "numpy" (an accelerator for the minibatch family), or None for the fastest that supports ``algo``.

    Returns the agent and a per-epoch log with columns epoch, steps, episode_return, episode_cost,
    episode_length, episodes, lambda, kl, wall_time (seconds spent in the epochs so far) and algorithm-specific
    statistics.
    ``callback(row)`` is called after each epoch (progress bars).
    """
    algo = canonical_name(algo)
    cfg = make_config(algo, task_id, **overrides)
    cls = ALGORITHMS[algo]
    if cls.family == "off-policy":  # its own run: a replay buffer, one update per step
        from alignbook.saferl.offpolicy.base import Run

        run = Run(cls, task_id, cfg)
    else:
        run = OnPolicyRun(algo, task_id, cfg, engine)
    while run.epoch < run.epochs:
        row = run.run_epoch()
        if callback is not None:
            callback(row)
    run.env.close()
    return run.agent, run.log()


class OnPolicyRun:
    """The on-policy loop's state between epochs, so that a run can stop at an epoch boundary and resume
    (``alignbook.saferl.runs`` saves and restores every attribute that changes)."""

    def __init__(self, algo_name: str, task_id: str, cfg, engine_name: str | None = None):
        torch.manual_seed(cfg.seed)
        self.algo_name, self.task_id, self.cfg = algo_name, task_id, cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.env = adapt(make_vec(task_id, cfg.num_envs), algorithm_class(algo_name), cfg)
        self.obs_dim = int(np.prod(self.env.single_observation_space.shape))
        self.act_dim = int(np.prod(self.env.single_action_space.shape))
        self.algo = algorithm_class(algo_name)(self.obs_dim, self.act_dim, cfg)
        self.engine = make_engine(self.algo, engine_name)
        normaliser = RunningNormaliser((self.obs_dim,)) if cfg.normalise_obs else None
        space = self.env.single_action_space
        self.agent = Agent(self.algo, normaliser, space.low, space.high)
        n = cfg.num_envs
        self.per_env = cfg.steps_per_epoch // n
        self.epochs = max(1, -(-cfg.total_steps // cfg.steps_per_epoch))  # ceil: never train on less than asked
        raw, _ = self.env.reset(seed=cfg.seed)
        self.obs = self.agent.normalise(raw, update=True)
        self.ep_return, self.ep_cost, self.ep_length = np.zeros(n), np.zeros(n), np.zeros(n, dtype=int)
        self.last_mean_cost = 0.0
        self.epoch, self.rows, self.elapsed = 0, [], 0.0  # elapsed: wall time of the epochs run so far

    def run_epoch(self) -> dict:
        """Collect ``steps_per_epoch`` steps, update the multiplier and the networks; the epoch's log row."""
        cfg, algo, agent, env = self.cfg, self.algo, self.agent, self.env
        start = time.perf_counter()
        n, obs = cfg.num_envs, self.obs
        ep_return, ep_cost, ep_length = self.ep_return, self.ep_cost, self.ep_length
        algo.set_progress(self.epoch / self.epochs)
        buffer = RolloutBuffer(self.per_env, n, self.obs_dim, self.act_dim)
        finished_returns, finished_costs, finished_lengths = [], [], []
        for _ in range(self.per_env):
            action = algo.ac.actor.act(obs, self.rng)
            raw, reward, cost, terminated, truncated, info = env.step(agent.env_action(action))
            next_obs = agent.normalise(raw, update=True)
            buffer.add(obs, action, reward, cost, terminated, truncated)
            ep_return += reward
            ep_cost += cost
            ep_length += 1
            ended = np.logical_or(terminated, truncated)
            if ended.any():
                t = buffer.t - 1
                for i in np.flatnonzero(ended):
                    if truncated[i] and not terminated[i]:
                        final = np.asarray(info["final_observation"][i], dtype=np.float64)
                        buffer.bootstrap_obs[t, i] = agent.normalise(final, update=False)
                    finished_returns.append(ep_return[i])
                    finished_costs.append(ep_cost[i])
                    finished_lengths.append(ep_length[i])
                ep_return[ended], ep_cost[ended], ep_length[ended] = 0.0, 0.0, 0
            obs = next_obs
        self.obs = obs
        if finished_costs:
            mean_cost = float(np.mean(finished_costs))
        elif ep_length.max() > 0:
            # No episode ended this epoch (budgets below one episode): extrapolate the running ones' cost rate.
            mean_cost = float(np.mean(ep_cost / np.maximum(ep_length, 1)) * env.max_episode_steps)
        else:
            mean_cost = self.last_mean_cost
        self.last_mean_cost = mean_cost
        if hasattr(env, "end_epoch"):  # Simmer moves its budget once per epoch
            env.end_epoch(mean_cost)
        batch = buffer.finish(algo.ac, obs, cfg.gamma, cfg.lam, cfg.lam_c)
        stats = self.engine.update(batch, mean_cost)
        self.elapsed += time.perf_counter() - start
        row = {
            "epoch": self.epoch, "steps": (self.epoch + 1) * cfg.steps_per_epoch,
            "episode_return": float(np.mean(finished_returns)) if finished_returns else np.nan,
            "episode_cost": float(np.mean(finished_costs)) if finished_costs else np.nan,
            "episode_length": float(np.mean(finished_lengths)) if finished_lengths else np.nan,
            "episodes": len(finished_returns), **stats,
            "wall_time": self.elapsed,
        }
        self.rows.append(row)
        self.epoch += 1
        return row

    def log(self) -> pd.DataFrame:
        log = pd.DataFrame(self.rows)
        log.insert(0, "algo", self.algo_name)
        return log


def evaluate(agent: Agent, task_id: str, episodes: int = 10, seed: int = 0) -> pd.DataFrame:
    """Run ``episodes`` episodes with the policy's mean action; one row per episode (return, cost, length)."""
    positive_int(episodes, "episodes")
    env = make_vec(task_id, 1)
    raw, _ = env.reset(seed=seed)
    rows, ret, cost, length = [], 0.0, 0.0, 0
    while len(rows) < episodes:
        raw, reward, c, terminated, truncated, _ = env.step(agent.act(raw))
        ret, cost, length = ret + float(reward[0]), cost + float(c[0]), length + 1
        if terminated[0] or truncated[0]:
            rows.append({"episode": len(rows), "return": ret, "cost": cost, "length": length})
            ret, cost, length = 0.0, 0.0, 0
    env.close()
    return pd.DataFrame(rows)
