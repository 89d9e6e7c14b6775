"""Grids of runs (OmniSafe's experiment grid): algorithms x tasks x seeds x overrides, one run directory per
cell, in local worker processes (``alignbook.workers``) or as Ray tasks on a cluster given its address.

A grid file (YAML)::

    out: runs/grid           # where the cells' run directories go
    algos: [PPOLag, SACLag]
    tasks: [ToyConstraint-v0]
    seeds: [0, 1, 2]
    set: {total_steps: 2000} # settings for every cell
    sweep: {cost_limit: [15, 25]}  # each combination of these values is a cell

A cell that raises is reported with its traceback and the others finish; a finished cell (its ``done.json``)
is skipped when the grid is run again. The same seed gives the same numbers on either backend: a cell is a
deterministic function of its settings.
"""

from __future__ import annotations

import itertools
import json
import traceback
from pathlib import Path

import yaml

from alignbook.backends import check_ray_address, map_jobs  # noqa: F401 -- check_ray_address: public here too
from alignbook.saferl.config import canonical_name, did_you_mean

GRID_KEYS = ("out", "algos", "tasks", "seeds", "set", "sweep", "workers")


def load_grid(path_or_dict) -> dict:
    grid = path_or_dict if isinstance(path_or_dict, dict) else yaml.safe_load(Path(path_or_dict).read_text())
    unknown = sorted(set(grid) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"unknown grid key {unknown[0]!r}{did_you_mean(unknown[0], GRID_KEYS)}; "
                         f"valid keys: {', '.join(GRID_KEYS)}")
    for key in ("out", "algos", "tasks"):
        if key not in grid:
            raise ValueError(f"the grid needs {key!r}")
    return grid


def cells(grid: dict) -> list[tuple[str, str, str, dict]]:
    """(algorithm, task, run directory, overrides) for every cell."""
    sweep = grid.get("sweep", {}) or {}
    out = []
    for algo, task, seed in itertools.product(grid["algos"], grid["tasks"], grid.get("seeds", [0])):
        for values in itertools.product(*sweep.values()):
            chosen = dict(zip(sweep, values, strict=True))
            suffix = "".join(f"-{k}={v}" for k, v in chosen.items())
            run_dir = Path(grid["out"]) / canonical_name(algo) / task / f"seed{seed}{suffix}"
            out.append((canonical_name(algo), task, str(run_dir), {**(grid.get("set") or {}), **chosen, "seed": seed}))
    return out


def run_cell(algo: str, task: str, run_dir: str, overrides: dict) -> dict:
    """Train one cell; never raises: a failure comes back as its traceback."""
    done = Path(run_dir) / "done.json"
    if done.exists():
        return {**json.loads(done.read_text()), "status": "skipped"}
    try:
        from alignbook.saferl.runs import train_run

        log = train_run(algo, task, run_dir, **overrides)
        last = log.iloc[-1]
        result = {"algo": algo, "task": task, "run_dir": run_dir, "seed": overrides.get("seed", 0),
                  "episode_return": float(last.episode_return), "episode_cost": float(last.episode_cost),
                  "steps": int(last.steps)}
        done.write_text(json.dumps(result))
        return {**result, "status": "finished"}
    except Exception:  # noqa: BLE001 -- the grid goes on; the cell's traceback is its result
        return {"algo": algo, "task": task, "run_dir": run_dir, "status": "failed", "traceback": traceback.format_exc()}


def run_grid(grid, workers: int | None = None, ray_address: str | None = None) -> list[dict]:
    """Run every cell (skipping finished ones); one result dict per cell, in the grid's order. ``workers``
    (else the grid's ``workers``, else 2) local processes; 0 runs the cells one after another in this process."""
    grid = load_grid(grid)
    jobs = cells(grid)
    count = grid.get("workers", 2) if workers is None else workers
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"workers must be a non-negative int (0: run the cells in this process), got {count!r}")
    if count == 0 and ray_address is None:  # cells of seconds: fresh interpreters would cost more than they save
        return [run_cell(*job) for job in jobs]
    return map_jobs("alignbook.saferl.grid:run_cell", jobs, max(count, 1), ray_address)
