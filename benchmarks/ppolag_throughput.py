"""End-to-end training throughput of PPO-Lag on SafetyPointGoal1-v0 with OmniSafe's default hyper-parameters.

usage: python benchmarks/ppolag_throughput.py [--epochs 2] [--vec-envs 10] [--task SafetyPointGoal1-v0]

Trains alignbook.saferl's ppo_lag exactly as OmniSafe 0.5.0's PPOLag defaults (20,000 steps per epoch, 40
update passes with minibatch 64, 64x64 tanh networks, KL early stop at 0.02, observation normalisation) first
with 1 environment -- OmniSafe's default and the setting of its measured 176 steps/s on this kind of machine --
then with ``--vec-envs`` environments (SafePO's default is 10; 0 skips it). Both with the default engine (the
NumPy accelerator, whose actor side runs in a second process), then 1 environment with the reference engine
(``engine="autograd"``: the algorithm file's loss with torch's autograd). Steps per second count environment
steps over the whole run: rollout and updates together.

Prints one line per run, then the JSON object {"algo", "task", "steps_per_s", "steps_per_cpu_s", "vec_envs",
"vec_steps_per_s", "vec_steps_per_cpu_s", "autograd_steps_per_s", "autograd_steps_per_cpu_s",
"omnisafe_steps_per_s", "speedup"} as its last line. Steps per CPU second divide by the CPU time of this
process and of the second one: on a shared machine it is the more stable figure.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from alignbook.saferl import train
from alignbook.saferl.engines import numpy_minibatch

# OmniSafe 0.5.0 PPOLag, same task and defaults, 2 torch threads, 1 environment, measured on this project's
# 2-core reference machine (see the book's benchmarks appendix).
OMNISAFE_STEPS_PER_S = 176.0
STEPS_PER_EPOCH = 20_000


def cpu_seconds() -> float:
    """This process's CPU time plus that of the engine's second process (the process's one actor worker)."""
    seconds = time.process_time()
    worker = numpy_minibatch._actor_worker
    if worker is not None and worker.process.poll() is None:
        with open(f"/proc/{worker.process.pid}/stat") as stat:  # utime and stime, in clock ticks
            fields = stat.read().rsplit(")", 1)[1].split()
        seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def run(task: str, epochs: int, num_envs: int, engine: str | None = None) -> tuple[float, float]:
    start, cpu_start = time.perf_counter(), cpu_seconds()
    _, log = train("ppo_lag", task, total_steps=epochs * STEPS_PER_EPOCH, steps_per_epoch=STEPS_PER_EPOCH,
                   num_envs=num_envs, engine=engine)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    rate, cpu_rate = epochs * STEPS_PER_EPOCH / seconds, epochs * STEPS_PER_EPOCH / cpu
    passes = ", ".join(f"{p:.0f}" for p in log.passes)
    print(f"{task}, {num_envs} env(s), engine {engine or 'default'}: {epochs * STEPS_PER_EPOCH:,} steps in "
          f"{seconds:.1f} s -> {rate:,.0f} steps/s; {cpu:.1f} s of CPU -> {cpu_rate:,.0f} steps per CPU second "
          f"(update passes per epoch before the KL stop: {passes})")
    return rate, cpu_rate


def main() -> None:
    parser = argparse.ArgumentParser(description="PPO-Lag training throughput")
    parser.add_argument("--task", default="SafetyPointGoal1-v0")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--vec-envs", type=int, default=10)
    parser.add_argument("--autograd-epochs", type=int, default=1,
                        help="epochs of the reference engine's run (0 skips it)")
    args = parser.parse_args()
    single, single_cpu = run(args.task, args.epochs, 1)
    vec, vec_cpu = run(args.task, args.epochs, args.vec_envs) if args.vec_envs > 0 else (None, None)
    reference, reference_cpu = (run(args.task, args.autograd_epochs, 1, engine="autograd")
                                if args.autograd_epochs > 0 else (None, None))
    print(json.dumps({"algo": "ppo_lag", "task": args.task, "steps_per_s": round(single, 1),
                      "steps_per_cpu_s": round(single_cpu, 1), "vec_envs": args.vec_envs,
                      "vec_steps_per_s": None if vec is None else round(vec, 1),
                      "vec_steps_per_cpu_s": None if vec_cpu is None else round(vec_cpu, 1),
                      "autograd_steps_per_s": None if reference is None else round(reference, 1),
                      "autograd_steps_per_cpu_s": None if reference_cpu is None else round(reference_cpu, 1),
                      "omnisafe_steps_per_s": OMNISAFE_STEPS_PER_S,
                      "speedup": round(single / OMNISAFE_STEPS_PER_S, 1)}))


if __name__ == "__main__":
    main()
