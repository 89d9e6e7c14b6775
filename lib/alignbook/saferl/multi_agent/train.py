"""``train_multi(algo, task_id, **overrides)``: the on-policy loop of the multi-agent algorithms.

Each epoch collects ``steps_per_epoch`` joint steps from ``num_envs`` copies of the task (environment k seeded
``seed + k`` at the start). As in SafePO's wrappers, agent i's actor and critics see the running-normalised
global state followed by a one-hot id of the agent. Per agent, both GAEs are computed from that agent's reward
and cost (shared by all agents in the velocity tasks, each robot's own in MultiGoal) by the single-agent
``RolloutBuffer`` (bootstrapping on truncation); each agent's mean episode cost of the epoch then drives its
multiplier, and ``MultiAgent.update`` the networks. The log has one row per epoch; its episode return and cost
are the means over agents (for a shared reward and cost, the shared values).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from alignbook.envs.registry import make_multi_agent
from alignbook.saferl.buffer import RolloutBuffer
from alignbook.saferl.config import algorithm_class, make_config
from alignbook.saferl.multi_agent.toy import MA_TOY_TASK, TwoAgentToy
from alignbook.saferl.normalise import RunningNormaliser


def make_task(task_id: str):
    return TwoAgentToy() if task_id == MA_TOY_TASK else make_multi_agent(task_id)


def train_multi(algo: str, task_id: str, **overrides):
    """Train multi-agent ``algo`` ("mappo", "mappo_lag", "happo", "macpo") on a multi-agent task; returns the
    algorithm (its ``agents``' actors act on [normalised state, one-hot id], ``joint_action``) and the per-epoch log (epoch, steps,
    episode_return, episode_cost, episode_length, episodes, lambda, wall_time)."""
    cls = algorithm_class(algo)
    if not getattr(cls, "multi_agent", False):
        raise ValueError(f"{algo!r} is a single-agent algorithm; use alignbook.saferl.train")
    cfg = make_config(algo, **overrides)
    return _train(cls, task_id, cfg)


def _train(cls, task_id: str, cfg):
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    envs = [make_task(task_id) for _ in range(cfg.num_envs)]
    agents = envs[0].agents
    n_agents, state_dim = len(agents), int(np.prod(envs[0].observation_spaces[agents[0]].shape))
    obs_dim = state_dim + n_agents
    act_dims = [int(np.prod(envs[0].action_spaces[a].shape)) for a in agents]
    lows = [np.asarray(envs[0].action_spaces[a].low, dtype=np.float64) for a in agents]
    highs = [np.asarray(envs[0].action_spaces[a].high, dtype=np.float64) for a in agents]
    algo = cls([obs_dim] * n_agents, act_dims, cfg)
    normaliser = RunningNormaliser((state_dim,)) if cfg.normalise_obs else None
    ids = np.eye(n_agents)
    algo.normaliser = normaliser  # the policies act on normalised states: keep the statistics with them

    def observe(states: np.ndarray, update: bool) -> list[np.ndarray]:
        z = normaliser(states, update=update) if normaliser is not None else states
        return [np.concatenate([z, np.repeat(ids[i][None], len(z), 0)], axis=1) for i in range(n_agents)]

    n, per_env = cfg.num_envs, cfg.steps_per_epoch // cfg.num_envs
    epochs = max(1, -(-cfg.total_steps // cfg.steps_per_epoch))
    states = np.stack([env.reset(seed=cfg.seed + k)[0][agents[0]] for k, env in enumerate(envs)])
    obs = observe(states, update=True)
    ep_return, ep_cost = np.zeros((n, n_agents)), np.zeros((n, n_agents))
    ep_length = np.zeros(n, dtype=int)
    last_mean_cost, rows, start = np.zeros(n_agents), [], time.perf_counter()
    for epoch in range(epochs):
        buffers = [RolloutBuffer(per_env, n, obs_dim, d) for d in act_dims]
        returns, costs, lengths = [], [], []
        for _ in range(per_env):
            raw = [algo.agents[i].ac.actor.act(obs[i], rng) for i in range(n_agents)]
            scaled = [lows[i] + (raw[i] + 1.0) * 0.5 * (highs[i] - lows[i]) for i in range(n_agents)]
            reward, cost = np.zeros((n, n_agents)), np.zeros((n, n_agents))
            terminated, truncated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
            next_states, finals = np.empty_like(states), {}
            for k, env in enumerate(envs):
                out = env.step({a: scaled[i][k] for i, a in enumerate(agents)})
                reward[k] = [out[1][a] for a in agents]
                cost[k] = [out[2][a] for a in agents]
                terminated[k], truncated[k] = out[3][agents[0]], out[4][agents[0]]
                next_states[k] = out[0][agents[0]]
                if terminated[k] or truncated[k]:
                    finals[k] = next_states[k].copy()
                    next_states[k] = env.reset()[0][agents[0]]
            for i in range(n_agents):
                buffers[i].add(obs[i], raw[i], reward[:, i], cost[:, i], terminated, truncated)
            ep_return += reward
            ep_cost += cost
            ep_length += 1
            for k, final in finals.items():
                if truncated[k] and not terminated[k]:
                    final_obs = observe(final[None], update=False)
                    for i in range(n_agents):
                        buffers[i].bootstrap_obs[buffers[i].t - 1, k] = final_obs[i][0]
                returns.append(ep_return[k].copy())
                costs.append(ep_cost[k].copy())
                lengths.append(ep_length[k])
                ep_return[k] = ep_cost[k] = ep_length[k] = 0
            states = next_states
            obs = observe(states, update=True)
        if costs:  # per agent
            mean_cost = np.mean(costs, axis=0)
        elif ep_length.max() > 0:
            mean_cost = np.mean(ep_cost / np.maximum(ep_length, 1)[:, None], axis=0) * envs[0].max_episode_steps
        else:
            mean_cost = last_mean_cost
        last_mean_cost = mean_cost
        batches = [buffers[i].finish(algo.agents[i].ac, obs[i], cfg.gamma, cfg.lam, cfg.lam_c)
                   for i in range(n_agents)]
        stats = algo.update(batches, mean_cost.tolist())
        rows.append({
            "epoch": epoch, "steps": (epoch + 1) * cfg.steps_per_epoch,
            "episode_return": float(np.mean(returns)) if returns else np.nan,
            "episode_cost": float(np.mean(costs)) if costs else np.nan,
            "episode_length": float(np.mean(lengths)) if lengths else np.nan,
            "episodes": len(returns), "lambda": stats["lambda"], "wall_time": time.perf_counter() - start,
        })
    for env in envs:
        env.close()
    log = pd.DataFrame(rows)
    log.insert(0, "algo", cls.name)
    return algo, log
