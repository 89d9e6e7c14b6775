"""``python -m alignbook.saferl``: train, evaluate and plot runs (a run is a directory: ``alignbook.saferl.runs``).

    python -m alignbook.saferl train SACLag ToyConstraint-v0 --set total_steps=2000 --set cost_limit=20 --dir runs/x
    python -m alignbook.saferl eval runs/x [--episodes 10] [--algo SACLag]
    python -m alignbook.saferl plot runs/x runs/y --out curves.png
    python -m alignbook.saferl benchmark grid.yaml [--workers 2] [--ray-address HOST:PORT]

``--set key=value`` values are read as YAML (numbers, lists, booleans); the keys are checked against the
algorithm's settings, and the closest valid one is named on a typo.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml


def parse_sets(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes key=value, got {item!r}")
        parsed = yaml.safe_load(value)
        overrides[key.strip()] = tuple(parsed) if isinstance(parsed, list) else parsed
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignbook.saferl", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train ALGO on TASK into a run directory")
    t.add_argument("algo")
    t.add_argument("task")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    t.add_argument("--dir", help="run directory (default runs/ALGO-TASK-seedN)")
    e = sub.add_parser("eval", help="evaluate a run's policy (mean action)")
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--algo", help="refuse the directory unless it is a run of this algorithm")
    b = sub.add_parser("benchmark", help="run a grid of runs (GRID.yaml), skipping finished cells")
    b.add_argument("grid")
    b.add_argument("--workers", type=int, default=None)
    b.add_argument("--ray-address", default=None)
    p = sub.add_parser("plot", help="episode return and cost against steps, the cost limit drawn in")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", default="curves.png")
    args = parser.parse_args(argv)

    from alignbook import threads
    from alignbook.saferl import runs

    threads.apply()  # the book's thread policy, as a chapter applies it

    try:
        if args.command == "train":
            from tqdm import tqdm

            from alignbook.saferl.config import canonical_name

            overrides = parse_sets(args.set)
            seed = overrides.get("seed", 0)
            run_dir = args.dir or f"runs/{canonical_name(args.algo)}-{args.task}-seed{seed}"
            spec = runs.resolved(args.algo, args.task, overrides)
            total = -(-spec["config"]["total_steps"] // spec["config"]["steps_per_epoch"])
            with tqdm(total=total, desc=f"{spec['algo']} on {args.task}", unit="epoch") as bar:
                def progress(row):
                    bar.set_postfix(ret=f"{row['episode_return']:.1f}", cost=f"{row['episode_cost']:.1f}")
                    bar.update()
                log = runs.train_run(args.algo, args.task, run_dir, callback=progress, **overrides)
            print(json.dumps({"run_dir": run_dir, **log.iloc[-1][["steps", "episode_return", "episode_cost"]]
                              .astype(float).to_dict()}))
        elif args.command == "eval":
            from alignbook.saferl.train import evaluate

            spec, agent = runs.load_agent(args.run_dir, args.algo)
            episodes = evaluate(agent, spec["task"], episodes=args.episodes)
            print(json.dumps({"algo": spec["algo"], "task": spec["task"], "return": episodes["return"].mean(),
                              "cost": episodes.cost.mean(), "episodes": len(episodes)}))
        elif args.command == "benchmark":
            from alignbook.saferl.grid import run_grid

            results = run_grid(args.grid, args.workers, args.ray_address)
            for result in results:
                print(json.dumps({k: v for k, v in result.items() if k != "traceback"}))
                if result["status"] == "failed":
                    print(result["traceback"], file=sys.stderr)
            return 1 if any(r["status"] == "failed" for r in results) else 0
        else:
            plot_runs(args.run_dirs, args.out)
            print(args.out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def plot_runs(run_dirs: list[str], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alignbook.saferl import runs

    fig, (ax_r, ax_c) = plt.subplots(1, 2, figsize=(9, 3.2))
    limits = set()
    for run_dir in run_dirs:
        spec, log = runs.load_run(run_dir)
        label = f"{spec['algo']} ({Path(run_dir).name})"
        ax_r.plot(log.steps, log.episode_return, label=label)
        ax_c.plot(log.steps, log.episode_cost, label=label)
        limits.add(spec["config"]["cost_limit"])
    for limit in limits:
        ax_c.axhline(limit, color="k", ls="--", lw=1)
    ax_r.set(xlabel="environment steps", ylabel="episode return")
    ax_c.set(xlabel="environment steps", ylabel="episode cost")
    ax_r.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
