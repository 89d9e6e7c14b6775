"""What the world model predicts, checked against the real environment.

``record`` runs a trained agent and keeps every decision (observation, action, summed reward and cost);
``open_loop`` filters the first ``context`` decisions of a recorded window through the posterior and then
imagines ``horizon`` decisions with the real actions, never seeing another observation -- the predictions a
planner relies on. ``cost_events`` pools many such windows into the precision and recall of predicted cost
events (a predicted cost of at least ``threshold`` against a real cost above 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from alignbook.worldmodel.train import Agent, observation_of


def record(agent: Agent, task_id: str, episodes: int, seed: int, episode_steps: int | None = None,
           encoder: str = "vector") -> list[dict]:
    """Run ``agent`` (actor sample or planner) for ``episodes`` of at most ``episode_steps`` environment steps;
    per episode arrays obs, action (the previous decision's, zeros first), reward and cost, aligned by
    decision."""
    import alignbook.envs

    env = alignbook.envs.make(task_id)
    low, high = env.action_space.low, env.action_space.high
    out = []
    for i in range(episodes):
        raw, _ = env.reset(seed=seed + i)
        agent.reset()
        obs, action = observation_of(raw, encoder), np.zeros(env.action_space.shape[0], np.float32)
        trace = {"obs": [obs], "action": [action], "reward": [0.0], "cost": [0.0]}
        done, steps = False, 0
        while not done:
            agent.observe(obs, action)
            action = agent.act().astype(np.float32)
            reward = cost = 0.0
            for _ in range(agent.action_repeat):
                raw, r, c, terminated, truncated, _ = env.step(low + (action + 1) * 0.5 * (high - low))
                steps += 1
                reward, cost = reward + r, cost + c
                done = terminated or truncated or steps == episode_steps
                if done:
                    break
            obs = observation_of(raw, encoder)
            for key, value in zip(("obs", "action", "reward", "cost"), (obs, action, reward, cost), strict=True):
                trace[key].append(value)
        out.append({k: np.asarray(v, np.float32 if k != "obs" or v[0].dtype != np.uint8 else np.uint8)
                    for k, v in trace.items()})
    env.close()
    return out


@torch.no_grad()
def open_loop(agent: Agent, trace: dict, start: int, context: int, horizon: int) -> dict[str, np.ndarray]:
    """Imagined against real obs, reward and cost for decisions ``start + context`` onwards (``horizon`` of
    them), after filtering decisions ``start .. start + context - 1``."""
    wm, device = agent.wm, agent.cfg.device
    window = slice(start, start + context)
    obs = torch.as_tensor(trace["obs"][window][None]).to(device)
    prev = torch.as_tensor(trace["action"][window][None]).to(device)
    h, z, _, _ = wm.observe(obs if obs.dtype == torch.uint8 else obs.float(), prev)
    future = torch.as_tensor(trace["action"][start + context: start + context + horizon]).to(device)
    feats, _ = wm.imagine(h[:, -1], z[:, -1], len(future), lambda t, feat: future[t][None])
    real = slice(start + context, start + context + len(future))
    feats = feats[1:, 0]
    return {"pred_obs": wm.coder.decode(feats).cpu().numpy(), "obs": trace["obs"][real],
            "pred_reward": wm.reward(feats).cpu().numpy(), "reward": trace["reward"][real],
            "pred_cost": wm.cost(feats).cpu().numpy(), "cost": trace["cost"][real]}


def cost_events(agent: Agent, traces: list[dict], context: int, horizon: int, stride: int,
                threshold: float = 0.5) -> pd.Series:
    """Precision and recall of imagined cost events over windows every ``stride`` decisions of ``traces``."""
    pred, real = [], []
    for trace in traces:
        for start in range(0, len(trace["cost"]) - context - horizon + 1, stride):
            window = open_loop(agent, trace, start, context, horizon)
            pred.append(window["pred_cost"] >= threshold)
            real.append(window["cost"] > 0)
    pred, real = np.concatenate(pred), np.concatenate(real)
    hits = int((pred & real).sum())
    # With no predicted (or no real) event the ratio is undefined: NaN, never a flattering 0 or 1.
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    return pd.Series({"precision": ratio(hits, int(pred.sum())), "recall": ratio(hits, int(real.sum())),
                      "predicted_events": int(pred.sum()), "real_events": int(real.sum()), "steps": len(real)})
