"""Benchmark helpers for the chapter: many (algorithm, seed) runs on one task, and their summaries."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from alignbook.saferl.train import evaluate, train


def run_suite(algos: Iterable[str], task: str, seeds: Iterable[int], eval_episodes: int = 0,
              progress: Callable | None = None, **overrides) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every algorithm with every seed; return the per-epoch logs (with ``seed``) and, when
    ``eval_episodes`` > 0, the deterministic evaluation of each final policy (one row per run)."""
    jobs = [(algo, seed) for algo in algos for seed in seeds]
    logs, finals = [], []
    for algo, seed in (progress(jobs, total=len(jobs), desc=task) if progress else jobs):
        agent, log = train(algo, task, seed=seed, **overrides)
        logs.append(log.assign(seed=seed))
        if eval_episodes > 0:
            episodes = evaluate(agent, task, episodes=eval_episodes, seed=10_000 + seed)
            finals.append({"algo": algo, "seed": seed, "eval_return": episodes["return"].mean(),
                           "eval_cost": episodes.cost.mean()})
    return pd.concat(logs, ignore_index=True), pd.DataFrame(finals)


def final_performance(logs: pd.DataFrame, fraction: float = 0.25) -> pd.DataFrame:
    """Per run: mean episode return and cost over the last ``fraction`` of its epochs (at least one), the
    spread (std) of the cost over them, and the final lambda and the run's throughput."""
    rows = []
    for (algo, seed), run in logs.groupby(["algo", "seed"], sort=False):
        tail = run.tail(max(1, int(np.ceil(len(run) * fraction))))
        rows.append({"algo": algo, "seed": seed, "return": tail.episode_return.mean(),
                     "cost": tail.episode_cost.mean(), "cost_std": tail.episode_cost.std(ddof=0),
                     "lambda": run["lambda"].iloc[-1],
                     "steps_per_s": run.steps.iloc[-1] / run.wall_time.iloc[-1]})
    return pd.DataFrame(rows)
