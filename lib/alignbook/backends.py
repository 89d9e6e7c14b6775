"""Where independent jobs run: local worker processes (``alignbook.workers``) or Ray tasks on a cluster given
its address. One piece of code for both users: the safe-RL grid (a job is a grid cell) and the book's build (a
job is a chapter).

A job is ``target(*args)`` for a function named ``"module:function"``; its result comes back to the caller,
so whatever a job produces (a chapter's executed notebook, a cell's final numbers) is collected here whether or
not the machines share a file system. Ray workers import ``alignbook`` from where this process does: the
cluster's nodes see this checkout at the same path or have the same install.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignbook.workers import _resolve, map_in_workers


def check_ray_address(address: str, timeout: float = 3.0) -> None:
    """Refuse within seconds an address where nothing answers (ray.init would otherwise wait a long time)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as error:
        raise ValueError(f"the Ray address {address!r} does not answer ({error}); start a cluster with "
                         "`ray start --head` and pass the address it prints, or leave --ray-address out "
                         "to run in local worker processes") from None


def call(target: str, *args: Any) -> Any:
    """Run ``target(*args)`` (what a Ray task executes)."""
    return _resolve(target)(*args)


def map_jobs(target: str, jobs: Sequence[tuple], workers: int = 1, ray_address: str | None = None,
             num_gpus: float = 0) -> list[Any]:
    """``[target(*job) for job in jobs]``, in the order of ``jobs``: over ``workers`` local worker processes,
    or, given ``ray_address``, as Ray tasks of one CPU (and ``num_gpus`` GPUs) each on that cluster."""
    if ray_address is None:
        return map_in_workers(target, jobs, workers)
    check_ray_address(ray_address)
    try:
        import ray
    except ImportError:
        raise ImportError("--ray-address needs Ray, an optional extra: pip install 'alignbook[cluster]'") from None

    lib = str(Path(__file__).resolve().parents[1])
    ray.init(address=ray_address, ignore_reinit_error=True, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": lib}})
    available = ray.cluster_resources().get("GPU", 0)
    if num_gpus > available:  # such a task would wait for ever
        raise ValueError(f"each job asks for {num_gpus} GPU but the Ray cluster at {ray_address!r} has "
                         f"{available:g}; add GPU nodes or run a scale that needs none")
    remote = ray.remote(num_cpus=1, num_gpus=num_gpus)(call)
    return ray.get([remote.remote(target, *job) for job in jobs])
