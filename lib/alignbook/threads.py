"""The book's one thread policy: how many intra-op threads torch (and NumPy's BLAS) may use in a process.

Every network in the book is small: one forward-backward pass is a few hundred microseconds of work, too little
to split. Two threads on such work synchronise after every operation, and when another program holds one of the
cores the second thread waits for it at each of those barriers: the survey's gridworld training measured 19x
slower with torch's default of two threads on a 2-core machine with one core busy, against one thread. So a
chapter runs on one thread, and independent runs (seeds, grid cells, chapters) go to processes through
``alignbook.workers``, where each process again uses one thread.

The policy, applied by ``alignbook.chapter()`` and in every worker process:

- ``OMP_NUM_THREADS``, when set, is the user's choice and wins;
- otherwise one thread for the book's small networks (scales smoke and book), and the cores this process may
  actually run on (``os.sched_getaffinity``, not the machine's count) for the ``full`` scale, meant for a GPU
  or a dedicated machine, whose language models (d >= 256) are wide enough to split (the language-model
  chapters already ran on torch's default there); the CPU rehearsal of ``full`` (``run --rehearse``), a CI check
  on a shared machine, keeps the one thread of the small scales.

Intra-op threads reorder floating-point sums, so a given seed reproduces the same numbers only with the same
thread count: one more reason to fix it in one place.
"""

from __future__ import annotations

import os

SCALES_WITH_LARGE_WORK = ("full",)


def available_cores() -> int:
    """The cores this process may run on (its affinity mask), which can be fewer than the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _from_environment() -> int | None:
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not value:
        return None
    try:
        count = int(value.split(",")[0])  # OpenMP allows a list (one count per nesting level)
    except ValueError:
        raise ValueError(f"OMP_NUM_THREADS must be a positive integer, got {value!r}") from None
    if count < 1:
        raise ValueError(f"OMP_NUM_THREADS must be a positive integer, got {value!r}")
    return count


def policy(scale: str | None = None) -> int:
    """The intra-op thread count for work of ``scale`` (None: the book's small networks)."""
    chosen = _from_environment()
    if chosen is not None:
        return chosen
    return available_cores() if scale in SCALES_WITH_LARGE_WORK else 1


def apply(scale: str | None = None) -> int:
    """Set torch's and the BLAS libraries' thread counts in this process by ``policy``; returns the count."""
    import torch  # here: ``import alignbook`` stays light for processes that never use torch
    from threadpoolctl import threadpool_limits

    count = policy(scale)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    threadpool_limits(count)  # NumPy/SciPy's BLAS; applied at once, for the rest of the process
    return count


def worker_environment(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` for a worker process: one thread per worker (or the user's ``OMP_NUM_THREADS``), in the
    variables torch and the BLAS libraries read when they load -- nothing to import before the worker's work.
    Workers run independent jobs side by side, so the cores are used by processes, not threads."""
    count = environment.get("OMP_NUM_THREADS") or str(policy())
    return {**environment, **{name: environment.get(name) or count
                              for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
