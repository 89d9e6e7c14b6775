"""A run is a directory: ``config.json`` (the algorithm, the task and the resolved settings), ``progress.csv``
(one row per epoch, written as the run goes) and safetensors checkpoints.

``train_run(algo, task, run_dir, **overrides)`` trains into ``run_dir``; called again on a directory that holds
a checkpoint of the same algorithm, task and settings, it resumes from the last completed epoch.

Resuming is exact for the off-policy family: the checkpoint (``checkpoint.safetensors``, written after every
epoch) holds every network, both optimisers' moments, the replay buffer, the multiplier's state, the episode
counters and the random generators, so a resumed run reaches the same numbers as an uninterrupted one --
provided the epoch ended between episodes (the toy, whose epochs hold whole episodes): a simulator's
mid-episode state is not saved, and the resumed run starts a fresh episode. The on-policy family writes the
same config and progress table and a final ``model.safetensors``, and restarts from scratch (not resumed).
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from alignbook.saferl.config import algorithm_class, canonical_name, make_config
from alignbook.saferl.offpolicy.base import Run

CONFIG, PROGRESS, CHECKPOINT, MODEL = "config.json", "progress.csv", "checkpoint.safetensors", "model.safetensors"
SIMMER_STATE = ("budget", "_error_ema", "_previous", "_errors")  # what Simmer's controller carries across epochs


def _jsonable(state: dict) -> dict:
    return {k: list(v) if isinstance(v, deque) else v for k, v in state.items()}


def _optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{prefix}.{index}.{key}"] = torch.as_tensor(value).clone()
    return out


def _load_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    full = optimizer.state_dict()
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1:].split(".")
            state.setdefault(int(index), {})[key] = value
    full["state"] = state
    optimizer.load_state_dict(full)


def save_checkpoint(run: Run, path: Path) -> None:
    algo = run.algo
    tensors = {f"{name}.{k}": v.contiguous() for name, module in algo.modules().items()
               for k, v in module.state_dict().items()}
    tensors.update(_optimizer_tensors("opt.actor", algo.actor_optimizer))
    tensors.update(_optimizer_tensors("opt.critic", algo.critic_optimizer))
    tensors.update({f"buffer.{k}": v for k, v in run.buffer.state_dict().items()})
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "algo": algo.name, "task": run.task_id, "epoch": str(run.epoch), "steps": str(run.steps),
        "updates": str(algo.updates), "obs": json.dumps(run.obs.tolist()),
        "episode": json.dumps([run.ep_return, run.ep_cost, run.ep_length, list(run.recent_costs)]),
        "rng.numpy": json.dumps(run.rng.bit_generator.state),
        "multiplier": json.dumps(_jsonable(vars(algo.lagrange_multiplier)) if algo.lagrange_multiplier else None),
        "env": json.dumps({k: _jsonable(vars(run.env))[k] for k in SIMMER_STATE if hasattr(run.env, k)}),
    }
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)  # a run killed while writing keeps its previous checkpoint


def load_checkpoint(run: Run, path: Path) -> None:
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    algo = run.algo
    for name, module in algo.modules().items():
        module.load_state_dict({k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")})
    _load_optimizer("opt.actor", algo.actor_optimizer, tensors)
    _load_optimizer("opt.critic", algo.critic_optimizer, tensors)
    run.buffer.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("buffer.")})
    torch.set_rng_state(tensors["rng.torch"])
    run.rng.bit_generator.state = json.loads(meta["rng.numpy"])
    run.epoch, run.steps, algo.updates = int(meta["epoch"]), int(meta["steps"]), int(meta["updates"])
    run.obs = np.asarray(json.loads(meta["obs"]))
    run.ep_return, run.ep_cost, run.ep_length, recent = json.loads(meta["episode"])
    run.recent_costs.extend(recent)
    multiplier = json.loads(meta["multiplier"])
    if multiplier is not None:
        for key, value in multiplier.items():
            current = getattr(algo.lagrange_multiplier, key)
            setattr(algo.lagrange_multiplier, key, deque(value, maxlen=current.maxlen)
                    if isinstance(current, deque) else value)
    env_state = json.loads(meta["env"])
    if env_state:
        for key, value in env_state.items():
            current = getattr(run.env, key)
            setattr(run.env, key, deque(value, maxlen=current.maxlen) if isinstance(current, deque) else value)


def resolved(algo: str, task: str, overrides: dict) -> dict:
    name = canonical_name(algo)
    cfg = make_config(name, task, **overrides)
    return {"algo": name, "task": task, "overrides": overrides, "config": dataclasses.asdict(cfg)}


def train_run(algo: str, task: str, run_dir: str | Path, callback=None, stop_after_epoch: int | None = None,
              **overrides) -> pd.DataFrame:
    """Train into ``run_dir`` (resuming when it holds a checkpoint of this same run); returns the progress table.
    ``stop_after_epoch`` ends the call after that many epochs in total (to test resumption)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = resolved(algo, task, overrides)
    config_path = run_dir / CONFIG
    if config_path.exists():
        saved = json.loads(config_path.read_text())
        if (saved["algo"], saved["task"], saved["config"]) != (spec["algo"], task, json.loads(json.dumps(
                spec["config"]))):
            raise ValueError(f"{run_dir} holds a different run ({saved['algo']} on {saved['task']}); "
                             "give a new directory")
    config_path.write_text(json.dumps(spec, indent=1))
    cls = algorithm_class(spec["algo"])
    cfg = make_config(spec["algo"], task, **overrides)
    if cls.family != "off-policy":
        from alignbook.saferl.train import train

        agent, log = train(spec["algo"], task, callback=callback, **overrides)
        log.to_csv(run_dir / PROGRESS, index=False)
        agent.save(run_dir / MODEL)
        return log
    torch.set_num_threads(cfg.threads)
    run = Run(cls, task, cfg)
    progress = run_dir / PROGRESS
    if (run_dir / CHECKPOINT).exists():
        load_checkpoint(run, run_dir / CHECKPOINT)
        run.rows = pd.read_csv(progress).head(run.epoch).to_dict("records")
    while run.epoch < run.epochs and (stop_after_epoch is None or run.epoch < stop_after_epoch):
        row = run.run_epoch()
        pd.DataFrame(run.rows).to_csv(progress, index=False)
        save_checkpoint(run, run_dir / CHECKPOINT)
        if callback is not None:
            callback(row)
    run.env.close()
    return run.log()


def load_agent(run_dir: str | Path, algo: str | None = None):
    """The trained policy of a run directory (for ``evaluate``); ``algo``, when given, must be the run's."""
    spec, _ = load_run(run_dir)
    if algo is not None and canonical_name(algo) != spec["algo"]:
        raise ValueError(f"{run_dir} is a run of {spec['algo']!r}, not {canonical_name(algo)!r}; "
                         f"evaluate it as {spec['algo']!r} or give a run directory of {canonical_name(algo)!r}")
    run_dir = Path(run_dir)
    cls = algorithm_class(spec["algo"])
    if cls.family != "off-policy":
        from alignbook.saferl.train import Agent

        return spec, Agent.load(run_dir / MODEL)
    run = Run(cls, spec["task"], make_config(spec["algo"], spec["task"], **spec["overrides"]))
    load_checkpoint(run, run_dir / CHECKPOINT)
    run.env.close()
    return spec, run.agent


def load_run(run_dir: str | Path) -> tuple[dict, pd.DataFrame]:
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).exists():
        raise ValueError(f"{run_dir} is not a run directory (no {CONFIG}); train one with "
                         "`python -m alignbook.saferl train ALGO TASK --dir DIR`")
    return json.loads((run_dir / CONFIG).read_text()), pd.read_csv(run_dir / PROGRESS)
