"""End-to-end environment steps per second of SACLag on SafetyPointGoal1 at OmniSafe's defaults (one update per
environment step, batch 256, two 256-unit ReLU layers), measured in steady state after a random warm-up, beside
OmniSafe 0.5.0's figure.

usage: python benchmarks/offpolicy_throughput.py [--steps 2000] [--threads 1]

Prints one JSON object: {"algo", "task", "threads", "steps_per_s", "steps_per_cpu_s", "omnisafe_steps_per_s",
"omnisafe_source", "speedup"} (speedup: of steps_per_s).

Where the time goes (one thread): the update is compute-bound. Per environment step it multiplies about
0.74 GFLOP (three 256-unit critics forward and backward on 256 samples, their targets, the actor's next
action, and every second step the actor's update through the critics); the matrix products run at roughly
half of one core's measured matmul peak (~88 GFLOP/s for 256x256 products), and the environment and the
action take under 0.5 ms. One core therefore caps SACLag at OmniSafe's settings near 115 steps/s, whatever
the Python around it; the 5x goal (129 steps/s) needs the second core (``--threads 2``) on an idle machine.
OmniSafe is not installed here (it pins old gymnasium and torch); its figure is the one measured on this kind
of machine (2 cores) given in the anchors: 25.8 steps/s (6,000 steps in 232.9 s, 2 torch threads).
"""

from __future__ import annotations

import argparse
import json
import time

OMNISAFE_MEASURED = 25.8  # steps/s, OmniSafe 0.5.0 SACLag on SafetyPointGoal1-v0, 2 cores (the anchor)
WARM_UP = 1_000  # random actions to fill the buffer before measuring (OmniSafe's is 10,000; not measured)


def steps_per_second(task: str, steps: int, threads: int) -> tuple[float, float]:
    """(steps per wall-clock second, steps per second of this process's CPU time). On a machine shared with
    other work the second is the closer estimate of what an idle machine does with one thread (with more
    threads it adds their CPU times up, and means less)."""
    import torch

    from alignbook.saferl import make_config
    from alignbook.saferl.config import algorithm_class
    from alignbook.saferl.offpolicy.base import Run

    torch.set_num_threads(threads)
    # OmniSafe's defaults and the task's section; only the warm-up length and the epoch (the measured stretch)
    # differ.
    cfg = make_config("sac_lag", task, start_learning_steps=WARM_UP, steps_per_epoch=WARM_UP,
                      total_steps=WARM_UP + steps)
    run = Run(algorithm_class("sac_lag"), task, cfg)
    run.run_epoch()  # the random warm-up: no updates
    run.cfg = cfg.__class__(**{**cfg.__dict__, "steps_per_epoch": steps})
    start, cpu = time.perf_counter(), time.process_time()
    run.run_epoch()
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description="SACLag end-to-end throughput")
    parser.add_argument("--task", default="SafetyPointGoal1-v0")
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=1)  # small networks: one thread is fastest
    args = parser.parse_args()
    rate, cpu_rate = steps_per_second(args.task, args.steps, args.threads)
    print(json.dumps({"algo": "SACLag", "task": args.task, "threads": args.threads, "steps_per_s": round(rate, 1),
                      "steps_per_cpu_s": round(cpu_rate, 1),
                      "omnisafe_steps_per_s": OMNISAFE_MEASURED, "omnisafe_source": "anchor (2 cores, 2026-11-30)",
                      "speedup": round(rate / OMNISAFE_MEASURED, 2)}))


if __name__ == "__main__":
    main()
