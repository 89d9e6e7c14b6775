"""Throughput of the Safe DreamerV3 pieces at the book's sizes (``alignbook.scales``, chapter "safedreamer").

usage: python benchmarks/worldmodel_throughput.py [--scale book] [--seconds 3] [--threads 1]

Measures, each for about ``--seconds``: world-model training steps per second (one batch of batch x length
replayed steps, loss, backward, Adam step), imagined steps per second of the actor-critic update (its start
states x horizon, forward and backward), and planner decisions per second (candidates x horizon x iterations
imagined steps, batched over the candidates). The floor of a planning call is the time of its matrix products
alone: every linear layer's and GRU's product is recorded once with the shapes it ran at, then replayed on
random matrices of those shapes; the rest of the wall time is per-operation overhead (softmax over the bins,
sampling, layer norms, Python). CPU seconds are reported beside wall seconds: on a shared machine they are the
more stable figure. Prints the JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

import alignbook.envs
from alignbook import scales
from alignbook.worldmodel import WorldModel, WorldModelConfig
from alignbook.worldmodel.behaviour import ActorCritic
from alignbook.worldmodel.planner import ConstrainedCEM, PlannerConfig


def rate(fn, seconds: float) -> tuple[float, float]:
    """(calls per wall second, calls per CPU second) of ``fn`` after one warm-up call."""
    fn()
    calls, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - start), calls / (time.process_time() - cpu)


def matmul_floor(call, modules: list[nn.Module], repeats: int = 5) -> float:
    """Seconds of the matrix products alone in one ``call()``, replayed at the shapes they ran with."""
    shapes: list[tuple[int, int, int]] = []  # (rows, inner, out) of each product

    def hook(module, args, _output):
        rows = args[0].reshape(-1, args[0].shape[-1]).shape[0]
        if isinstance(module, nn.GRUCell):
            shapes.append((rows, module.input_size, 3 * module.hidden_size))
            shapes.append((rows, module.hidden_size, 3 * module.hidden_size))
        else:
            shapes.append((rows, module.in_features, module.out_features))

    handles = [m.register_forward_hook(hook) for root in modules for m in root.modules()
               if isinstance(m, nn.Linear | nn.GRUCell)]
    call()
    for handle in handles:
        handle.remove()
    pairs = [(torch.randn(r, k), torch.randn(k, n)) for r, k, n in shapes]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for a, b in pairs:
            torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="book", choices=scales.SCALES)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = scales.get("safedreamer", args.scale)
    env = alignbook.envs.make(cfg.task)  # the book's task fixes the observation and action sizes
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    model = WorldModelConfig(**cfg.model)
    wm = WorldModel(obs_dim, act_dim, model)
    ac = ActorCritic(wm, cfg.imag_horizon, 1 - 1 / cfg.discount_horizon, 0.95, 3e-5)
    opt = torch.optim.Adam(wm.parameters(), lr=1e-4)
    batch = (torch.randn(cfg.batch, cfg.length, obs_dim), torch.rand(cfg.batch, cfg.length, act_dim) * 2 - 1,
             torch.randn(cfg.batch, cfg.length), (torch.rand(cfg.batch, cfg.length) < 0.1).float())
    state = {}

    def wm_step():
        loss, _, state["hz"] = wm.loss(*batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    wm_rate, wm_cpu_rate = rate(wm_step, args.seconds)
    h, z = (x.flatten(0, 1) for x in state["hz"])
    ac_rate, ac_cpu_rate = rate(lambda: ac.update(wm, h, z), args.seconds)
    imagined = h.shape[0] * cfg.imag_horizon

    planner_cfg = PlannerConfig(**cfg.planner)
    planner = ConstrainedCEM(wm, ac, planner_cfg, cost_limit=cfg.cost_limit, cost_scale=cfg.episode_steps / 4
                             / planner_cfg.horizon)
    start_h, start_z = h[:1], z[:1]
    plan_rate, plan_cpu_rate = rate(lambda: planner(start_h, start_z), args.seconds)
    floor = matmul_floor(lambda: planner(start_h, start_z), [wm, ac])
    result = {
        "scale": args.scale, "task": cfg.task, "threads": args.threads, "model": cfg.model, "planner": cfg.planner,
        "batch": cfg.batch, "length": cfg.length, "imag_horizon": cfg.imag_horizon,
        "wm_train_steps_per_s": round(wm_rate, 2), "wm_train_steps_per_cpu_s": round(wm_cpu_rate, 2),
        "imagined_steps_per_s": round(ac_rate * imagined), "imagined_steps_per_cpu_s": round(ac_cpu_rate * imagined),
        "planner_decisions_per_s": round(plan_rate, 2), "planner_decisions_per_cpu_s": round(plan_cpu_rate, 2),
        "planner_imagined_steps_per_decision": planner_cfg.candidates * planner_cfg.horizon * planner_cfg.iterations,
        "planning_call_s": round(1 / plan_rate, 4), "planning_matmul_floor_s": round(floor, 4),
        "planning_floor_fraction": round(floor * plan_rate, 3), "goal_decisions_per_s": 20,
        "goal_met": plan_rate >= 20, "goal_met_per_cpu_s": plan_cpu_rate >= 20,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
