"""Each chapter's hottest loop, timed quiet and with a busy process pinned to one core, side by side.

usage: python benchmarks/shared_machine.py [--repeats 5] [--scale-work 1.0] [--threads N]

A reader's laptop, Colab's two shared vCPUs and a CI runner all have other programs on their cores. The
book's networks are small: with torch's default of one intra-op thread per core, a second thread waits at every
operation for a core another program holds (19x slower measured on 2 cores). The book runs them on one thread
(``alignbook.threads``); this script checks the outcome. For each loop it alternates a quiet arm and a busy arm
(a busy-looping process pinned with ``os.sched_setaffinity`` to one of the cores this process may use, paused
with SIGSTOP in the quiet arms), ``--repeats`` times each, and takes the median of each arm: interleaving keeps
slow drifts of the machine's other load out of the ratio. The goal is busy / quiet <= 2.0 for every loop with
one of two cores taken. ``--threads N`` runs the loops on N threads instead of the book's policy (N=2 shows
what the policy avoids). Absolute times on a machine shared with other work are noisy; ratios less so.

Prints one line per loop, then the JSON object {"threads", "cores", "repeats", "<loop>_quiet_s",
"<loop>_busy_s", "<loop>_ratio" for each loop, "worst_loop", "worst_ratio"} as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

GOAL = 2.0


def survey_gridworld(work: float) -> Callable[[], object]:
    from alignbook.survey import misgeneralisation

    updates = max(2, round(20 * work))  # the chapter's sizes (book scale), fewer updates per call
    return lambda: misgeneralisation.train(6, 0.0, updates, 64, 64, 0)


def rlhf_ppo_lag(work: float) -> Callable[[], object]:
    from alignbook.lm.model import BaichuanForCausalLM
    from alignbook.rlhf import world
    from alignbook.rlhf.models import score_model
    from alignbook.rlhf.policies import Sizes, world_tokenizer
    from alignbook.rlhf.ppo import PPOConfig, SafeRLHF

    torch.manual_seed(0)
    sizes = Sizes(hidden=64, layers=2, heads=2, vocab=640, max_response=32)  # the chapter's book sizes
    tokenizer = world_tokenizer(sizes.vocab)
    policy = BaichuanForCausalLM(sizes.config()).eval()
    reward, cost = score_model(sizes.config(), body=policy), score_model(sizes.config(), body=policy)
    batch = max(4, round(16 * work))
    trainer = SafeRLHF(policy, tokenizer, reward, cost, PPOConfig(batch=batch, max_new=sizes.max_response))
    prompts = world.all_prompts()[:batch]
    return lambda: trainer.step(prompts)


def aligner_training(work: float) -> Callable[[], object]:
    from alignbook.aligner.model import fit
    from alignbook.lm.model import BaichuanForCausalLM
    from alignbook.rlhf.policies import Sizes

    torch.manual_seed(0)
    model = BaichuanForCausalLM(Sizes(hidden=64, layers=2, heads=2, vocab=640).config())  # the chapter's size
    generator = torch.Generator().manual_seed(0)
    examples = []
    for _ in range(64):  # question-answer prefixes (no loss) followed by corrections (the loss)
        ids = torch.randint(4, 640, (72,), generator=generator).tolist()
        examples.append((ids, [-100] * 40 + ids[40:]))
    steps = max(1, round(4 * work))
    return lambda: fit(model, examples, steps, 32, 3e-3, 0, 0)


def _safedreamer(work: float):
    import alignbook.envs
    from alignbook import scales
    from alignbook.worldmodel import WorldModel, WorldModelConfig
    from alignbook.worldmodel.behaviour import ActorCritic
    from alignbook.worldmodel.planner import ConstrainedCEM, PlannerConfig

    torch.manual_seed(0)
    cfg = scales.get("safedreamer", "book")
    env = alignbook.envs.make(cfg.task)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    wm = WorldModel(obs_dim, act_dim, WorldModelConfig(**cfg.model))
    ac = ActorCritic(wm, cfg.imag_horizon, 1 - 1 / cfg.discount_horizon, 0.95, 3e-5)
    opt = torch.optim.Adam(wm.parameters(), lr=1e-4)
    batch = (torch.randn(cfg.batch, cfg.length, obs_dim), torch.rand(cfg.batch, cfg.length, act_dim) * 2 - 1,
             torch.randn(cfg.batch, cfg.length), (torch.rand(cfg.batch, cfg.length) < 0.1).float())
    updates = max(1, round(3 * work))

    def wm_update():
        for _ in range(updates):
            loss, _, hz = wm.loss(*batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return hz

    h, z = (x.flatten(0, 1)[:1].detach() for x in wm_update())
    planner_cfg = PlannerConfig(**cfg.planner)
    planner = ConstrainedCEM(wm, ac, planner_cfg, cost_limit=cfg.cost_limit,
                             cost_scale=cfg.episode_steps / 4 / planner_cfg.horizon)
    plans = max(1, round(2 * work))

    def plan():
        with torch.no_grad():
            for _ in range(plans):
                planner(h, z)

    return wm_update, plan


def safedreamer_world_model(work: float) -> Callable[[], object]:
    return _safedreamer(work)[0]


def safedreamer_planner(work: float) -> Callable[[], object]:
    return _safedreamer(work)[1]


def safepo_ppo_lag(work: float) -> Callable[[], object]:
    from alignbook import scales
    from alignbook.saferl import make_config
    from alignbook.saferl.train import OnPolicyRun

    cfg = scales.get("safepo", "book")
    steps = max(100, round(500 * work))  # an epoch of the chapter's task and update passes, shorter
    config = make_config("ppo_lag", cfg.task, steps_per_epoch=steps, total_steps=steps * 10_000,
                         update_iters=cfg.update_iters, num_envs=1)
    run = OnPolicyRun("ppo_lag", cfg.task, config)
    return run.run_epoch


def wbpd_equinet(work: float) -> Callable[[], object]:
    from alignbook import scales
    from alignbook.scattering.diffusion import ConditionalDenoiser
    from alignbook.scattering.equinet import BackProjectionLatents
    from alignbook.scattering.helmholtz import Geometry
    from alignbook.scattering.train import fit

    cfg = scales.get("wbpd", "book")
    geom = Geometry(n=cfg.n, frequencies=cfg.frequencies, n_sources=cfg.n, n_receivers=cfg.n, order=cfg.fd_order)
    model = ConditionalDenoiser(BackProjectionLatents(geom, n_radii=cfg.n, kind="equinet", seed=0),
                                width=cfg.width, blocks=cfg.blocks)
    generator = torch.Generator().manual_seed(0)
    items = 2 * cfg.batch
    data = torch.randn(items, len(cfg.frequencies), cfg.n, cfg.n, dtype=torch.complex64, generator=generator)
    target = torch.randn(items, 1, cfg.n, cfg.n, generator=generator)
    steps = max(1, round(3 * work))
    return lambda: fit(model, "diffusion", target, data, steps=steps, batch=cfg.batch, peak_lr=cfg.lr, seed=0)


def baichuan_decoder(work: float) -> Callable[[], object]:
    from alignbook import scales
    from alignbook.lm.base import model_config
    from alignbook.lm.model import BaichuanForCausalLM
    from alignbook.lm.train import TrainConfig, train

    cfg = scales.get("baichuan2", "book")
    hidden, layers, _ = cfg.scaling_sizes[-1]  # the largest decoder of the chapter's scaling ladder
    torch.manual_seed(0)
    model = BaichuanForCausalLM(model_config(hidden, layers, cfg.vocab_size))
    tokens = torch.randint(0, cfg.vocab_size, (20_000,), generator=torch.Generator().manual_seed(0))
    recipe = TrainConfig(steps=max(1, round(2 * work)), batch_size=cfg.batch_size, seq_len=cfg.seq_len,
                         lr=cfg.lr, warmup_steps=1)
    return lambda: train(model, tokens, recipe)


LOOPS = {
    "survey_gridworld": survey_gridworld,
    "rlhf_ppo_lag_step": rlhf_ppo_lag,
    "aligner_training": aligner_training,
    "safedreamer_world_model": safedreamer_world_model,
    "safedreamer_planner": safedreamer_planner,
    "safepo_ppo_lag_epoch": safepo_ppo_lag,
    "wbpd_equinet_step": wbpd_equinet,
    "baichuan_decoder_step": baichuan_decoder,
}


class BusyCore:
    """A process spinning on one of this process's cores; paused (SIGSTOP) until ``busy()``."""

    def __init__(self):
        cores = sorted(os.sched_getaffinity(0))
        self.core = cores[-1]
        # A session of its own, as another program has: with Linux's autogroup scheduling a child in this
        # session would take its core time from this process's share instead of the machine's.
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        os.sched_setaffinity(self.process.pid, {self.core})
        self.quiet()

    def busy(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        time.sleep(0.05)  # let it take its core before the clock starts

    def quiet(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 1.0
        while self.state() != "T" and time.monotonic() < deadline:  # the signal lands asynchronously
            time.sleep(0.001)

    def state(self) -> str:
        """The process's state letter from /proc (R running, S sleeping, T stopped)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(call: Callable[[], object], busy: BusyCore, repeats: int) -> tuple[float, float]:
    """Median seconds of one call quiet and busy, the arms alternated (and their order too, so that neither
    always follows the other)."""
    call()  # warm-up: first-call allocations and lazy imports
    quiet, loaded = [], []
    for r in range(repeats):
        for arm in ("quiet", "busy") if r % 2 == 0 else ("busy", "quiet"):
            if arm == "busy":
                busy.busy()
                loaded.append(timed(call))
                busy.quiet()
            else:
                quiet.append(timed(call))
    return statistics.median(quiet), statistics.median(loaded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="calls per arm and loop (medians are reported)")
    parser.add_argument("--scale-work", type=float, default=1.0, help="work per call, relative to the default")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the book's policy)")
    parser.add_argument("--loops", nargs="*", default=list(LOOPS), choices=list(LOOPS))
    args = parser.parse_args()
    if args.repeats < 1 or args.scale_work <= 0 or args.threads < 0:
        parser.error("--repeats must be >= 1, --scale-work > 0 and --threads >= 0")
    if args.threads:  # OMP_NUM_THREADS is what the policy, and the loops' worker processes, honour
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from alignbook import threads

    count = threads.apply()
    busy = BusyCore()
    result: dict[str, object] = {"threads": count, "cores": threads.available_cores(), "repeats": args.repeats}
    ratios = {}
    try:
        for name in args.loops:
            call = LOOPS[name](args.scale_work)
            quiet, loaded = measure(call, busy, args.repeats)
            ratios[name] = loaded / quiet
            result.update({f"{name}_quiet_s": round(quiet, 3), f"{name}_busy_s": round(loaded, 3),
                           f"{name}_ratio": round(ratios[name], 2)})
            print(f"{name:<26} quiet {quiet:7.3f} s   busy {loaded:7.3f} s   ratio {ratios[name]:5.2f}", flush=True)
    finally:
        busy.close()
    worst = max(ratios, key=ratios.get)
    result.update(worst_loop=worst, worst_ratio=round(ratios[worst], 2), goal=GOAL)
    print(f"worst: {worst} at {ratios[worst]:.2f} (goal <= {GOAL}) on {count} torch thread(s), "
          f"{result['cores']} cores", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
