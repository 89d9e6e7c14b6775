"""End-to-end environment steps per second of SACLag on SafetyPointGoal1 at OmniSafe's defaults (one update per
environment step, batch 256, two 256-unit ReLU layers), measured in steady state after a random warm-up, beside
OmniSafe 0.5.0's figure.

usage: python benchmarks/offpolicy_throughput.py [--steps 2000] [--threads 1]

Prints one JSON object: {"algo", "task", "steps_per_s", "omnisafe_steps_per_s", "omnisafe_source", "speedup"}.
OmniSafe is not installed here (it pins old gymnasium and torch); its figure is the one measured on this kind
of machine (2 cores) given in the anchors: 25.8 steps/s (6,000 steps in 232.9 s, 2 torch threads).
"""

from __future__ import annotations

import argparse
import json
import time

OMNISAFE_MEASURED = 25.8  # steps/s, OmniSafe 0.5.0 SACLag on SafetyPointGoal1-v0, 2 cores (the anchor)
WARM_UP = 1_000  # random actions to fill the buffer before measuring (OmniSafe's is 10,000; not measured)


def steps_per_second(task: str, steps: int, threads: int) -> float:
    import torch

    from alignbook.saferl import make_config
    from alignbook.saferl.config import algorithm_class
    from alignbook.saferl.offpolicy.base import Run

    torch.set_num_threads(threads)
    # OmniSafe's defaults and the task's section; only the warm-up length and the epoch (the measured stretch)
    # differ.
    cfg = make_config("sac_lag", task, start_learning_steps=WARM_UP, steps_per_epoch=WARM_UP,
                      total_steps=WARM_UP + steps, threads=threads)
    run = Run(algorithm_class("sac_lag"), task, cfg)
    run.run_epoch()  # the random warm-up: no updates
    run.cfg = cfg.__class__(**{**cfg.__dict__, "steps_per_epoch": steps})
    start = time.perf_counter()
    run.run_epoch()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description="SACLag end-to-end throughput")
    parser.add_argument("--task", default="SafetyPointGoal1-v0")
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=1)  # small networks: one thread is fastest
    args = parser.parse_args()
    rate = steps_per_second(args.task, args.steps, args.threads)
    print(json.dumps({"algo": "SACLag", "task": args.task, "steps_per_s": round(rate, 1),
                      "omnisafe_steps_per_s": OMNISAFE_MEASURED, "omnisafe_source": "anchor (2 cores, 2026-11-30)",
                      "speedup": round(rate / OMNISAFE_MEASURED, 2)}))


if __name__ == "__main__":
    main()
