"""Grids: cells from a grid file, local worker processes, a failing cell reported while the others finish,
finished cells skipped on a re-run, bad grid keys and a dead Ray address refused quickly."""

from __future__ import annotations

import time

import pytest

from alignbook.saferl import TOY_TASK
from alignbook.saferl.grid import cells, load_grid, run_grid


def _grid(tmp_path, **extra):
    return {"out": str(tmp_path), "algos": ["TD3Lag"], "tasks": [TOY_TASK], "seeds": [0, 1],
            "set": {"total_steps": 200}, **extra}


def test_cells_are_the_product_of_the_grid(tmp_path):
    found = cells(_grid(tmp_path, sweep={"cost_limit": [15, 25]}))
    assert len(found) == 4
    assert {(c[3]["seed"], c[3]["cost_limit"]) for c in found} == {(0, 15), (0, 25), (1, 15), (1, 25)}
    assert found[0][0] == "td3_lag" and found[0][2].endswith("td3_lag/ToyConstraint-v0/seed0-cost_limit=15")


def test_a_failed_cell_is_reported_the_others_finish_and_a_rerun_skips_them(tmp_path):
    grid = _grid(tmp_path, sweep={"polyak": [0.02, 7.0]})  # polyak 7 is refused by the config: that cell fails
    results = run_grid(grid, workers=2)
    status = {(r["run_dir"].rsplit("/", 1)[1]): r["status"] for r in results}
    assert status == {"seed0-polyak=0.02": "finished", "seed0-polyak=7.0": "failed",
                      "seed1-polyak=0.02": "finished", "seed1-polyak=7.0": "failed"}
    failed = next(r for r in results if r["status"] == "failed")
    assert "Traceback" in failed["traceback"] and "polyak must lie in [0, 1]" in failed["traceback"]
    again = run_grid(grid, workers=2)
    assert [r["status"] for r in again if "0.02" in r["run_dir"]] == ["skipped", "skipped"]
    finished = [r for r in results if r["status"] == "finished"]
    assert [r["episode_cost"] for r in again if r["status"] == "skipped"] == [r["episode_cost"] for r in finished]


def test_bad_grids_and_dead_ray_addresses_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown grid key 'seed' \(did you mean 'seeds'\?\)"):
        load_grid({"out": "x", "algos": ["ppo"], "tasks": [TOY_TASK], "seed": [0]})
    with pytest.raises(ValueError, match="workers must be a non-negative int"):
        run_grid(_grid(tmp_path), workers=-1)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="does not answer"):
        run_grid(_grid(tmp_path), ray_address="127.0.0.1:9")
    assert time.perf_counter() - start < 10


def test_the_ray_backend_gives_the_local_numbers(tmp_path):
    """A local Ray instance (2 CPUs) started here; its address given to the grid as a cluster's would be."""
    ray = pytest.importorskip("ray")
    from pathlib import Path

    lib = str(Path(__file__).resolve().parents[1] / "lib")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": lib}})
    try:
        address = ray.get_runtime_context().gcs_address
        on_ray = run_grid(_grid(tmp_path / "ray"), ray_address=address)
    finally:
        ray.shutdown()
    local = run_grid(_grid(tmp_path / "local"), workers=2)
    in_process = run_grid(_grid(tmp_path / "here"), workers=0)
    assert [r["status"] for r in on_ray] == ["finished", "finished"]
    assert [(r["episode_return"], r["episode_cost"]) for r in on_ray] == \
        [(r["episode_return"], r["episode_cost"]) for r in local] == \
        [(r["episode_return"], r["episode_cost"]) for r in in_process]
