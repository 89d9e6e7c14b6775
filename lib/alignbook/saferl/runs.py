"""A run is a directory: ``config.json`` (the algorithm, the task and the resolved settings), ``progress.csv``
(one row per epoch, written as the run goes) and safetensors checkpoints.

``train_run(algo, task, run_dir, **overrides)`` trains into ``run_dir``; called again on a directory that holds
a checkpoint of the same algorithm, task and settings, it resumes from the last completed epoch.

Both families resume exactly: ``checkpoint.safetensors``, written after every epoch, holds every network, the
optimisers' moments (torch's or the NumPy engine's), the multiplier's state, the observation normaliser, the
episode counters, the current observation, the random generators (NumPy's, torch's global one and the
minibatch order's), the off-policy replay buffer, and the environment's state where the environment can give
it (``state_dict``: the toy's step counters, Saute's z and Simmer's controller). So a resumed run reaches the
same numbers as an uninterrupted one. A simulator's mid-episode state (MuJoCo) is not saved: there the resumed
run restarts the running episodes, and its numbers differ from that point on. ``load_agent`` reads the
off-policy family's last checkpoint, and the on-policy family's ``model.safetensors`` (written when the run
finishes).
Tensors go to safetensors, everything else to its JSON metadata: loading a checkpoint executes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from alignbook.saferl.checkpoint import load_object_state, load_optimizer, object_state, optimizer_tensors
from alignbook.saferl.config import algorithm_class, canonical_name, make_config
from alignbook.saferl.offpolicy.base import Run
from alignbook.saferl.train import Agent, OnPolicyRun

CONFIG, PROGRESS, CHECKPOINT, MODEL = "config.json", "progress.csv", "checkpoint.safetensors", "model.safetensors"


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def _family_state(run) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """What only one family carries: (tensors, JSON metadata)."""
    algo = run.algo
    if isinstance(run, Run):
        tensors = {f"{name}.{k}": v.contiguous() for name, module in algo.modules().items()
                   for k, v in module.state_dict().items()}
        tensors.update(optimizer_tensors("opt.actor", algo.actor_optimizer))
        tensors.update(optimizer_tensors("opt.critic", algo.critic_optimizer))
        tensors.update({f"buffer.{k}": v for k, v in run.buffer.state_dict().items()})
        meta = {"steps": str(run.steps), "updates": str(algo.updates),
                "episode": json.dumps([run.ep_return, run.ep_cost, run.ep_length, list(run.recent_costs)])}
        return tensors, meta
    tensors = {f"ac.{k}": v.contiguous() for k, v in algo.ac.state_dict().items()}
    tensors.update({f"engine.{k}": v for k, v in run.engine.state_dict().items()})
    tensors["rng.minibatch"] = algo.generator.get_state()
    if run.agent.normaliser is not None:
        tensors.update({f"norm.{k}": torch.as_tensor(v) for k, v in run.agent.normaliser.state_dict().items()})
    for name in ("ep_return", "ep_cost", "ep_length"):
        tensors[f"episode.{name}"] = torch.as_tensor(getattr(run, name))
    meta = {"last_mean_cost": repr(run.last_mean_cost), "elapsed": repr(run.elapsed)}
    return tensors, meta


def save_checkpoint(run, path: Path) -> None:
    """Everything ``run`` (an off-policy ``Run`` or an ``OnPolicyRun``) needs to continue, at an epoch boundary."""
    tensors, meta = _family_state(run)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["obs"] = torch.as_tensor(np.asarray(run.obs, np.float64))
    meta.update({
        "algo": run.algo.name, "task": run.task_id, "epoch": str(run.epoch),
        "rng.numpy": json.dumps(run.rng.bit_generator.state),
        "multiplier": json.dumps(object_state(run.algo.lagrange_multiplier)),
        "env": json.dumps(run.env.state_dict() if hasattr(run.env, "state_dict") else None),
    })
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)  # a run killed while writing keeps its previous checkpoint


def load_checkpoint(run, path: Path) -> None:
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    algo = run.algo
    if isinstance(run, Run):
        for name, module in algo.modules().items():
            module.load_state_dict(_prefixed(tensors, name))
        load_optimizer("opt.actor", algo.actor_optimizer, tensors)
        load_optimizer("opt.critic", algo.critic_optimizer, tensors)
        run.buffer.load_state_dict(_prefixed(tensors, "buffer"))
        run.steps, algo.updates = int(meta["steps"]), int(meta["updates"])
        run.ep_return, run.ep_cost, run.ep_length, recent = json.loads(meta["episode"])
        run.recent_costs.extend(recent)
    else:
        algo.ac.load_state_dict(_prefixed(tensors, "ac"))
        algo.ac.actor.sync()
        run.engine.load_state_dict(_prefixed(tensors, "engine"))
        algo.generator.set_state(tensors["rng.minibatch"])
        if run.agent.normaliser is not None:
            run.agent.normaliser.load_state_dict({k: v.cpu().numpy() for k, v in _prefixed(tensors, "norm").items()})
        for name in ("ep_return", "ep_cost", "ep_length"):
            setattr(run, name, tensors[f"episode.{name}"].cpu().numpy().copy())
        run.last_mean_cost, run.elapsed = float(meta["last_mean_cost"]), float(meta["elapsed"])
    torch.set_rng_state(tensors["rng.torch"])
    run.rng.bit_generator.state = json.loads(meta["rng.numpy"])
    run.epoch = int(meta["epoch"])
    run.obs = tensors["obs"].cpu().numpy().copy()
    load_object_state(algo.lagrange_multiplier, json.loads(meta["multiplier"]))
    env_state = json.loads(meta["env"])
    if env_state is not None:
        run.env.load_state_dict(env_state)


def resolved(algo: str, task: str, overrides: dict) -> dict:
    name = canonical_name(algo)
    cfg = make_config(name, task, **overrides)
    return {"algo": name, "task": task, "overrides": overrides, "config": dataclasses.asdict(cfg)}


# pandas 3 reads floats back exactly by default (and deprecates the option); 2.x needs Python's own parser.
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def read_progress(path: str | Path) -> pd.DataFrame:
    """A progress table as written, float for float: a resumed run continues from these numbers, so they must
    be the ones it wrote. ``to_csv`` writes each float's shortest round-trip text; pandas 2.x's default C parser
    can miss the last bit reading it (631 of 2000 random floats on pandas 2.2.3)."""
    return pd.read_csv(path, **_EXACT_FLOATS)


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
    run = Run(cls, task, cfg) if cls.family == "off-policy" else OnPolicyRun(spec["algo"], task, cfg)
    progress = run_dir / PROGRESS
    if (run_dir / CHECKPOINT).exists():
        load_checkpoint(run, run_dir / CHECKPOINT)
        done = read_progress(progress).head(run.epoch)
        run.rows = done.drop(columns="algo", errors="ignore").to_dict("records")
    while run.epoch < run.epochs and (stop_after_epoch is None or run.epoch < stop_after_epoch):
        row = run.run_epoch()
        run.log().to_csv(progress, index=False)
        save_checkpoint(run, run_dir / CHECKPOINT)
        if callback is not None:
            callback(row)
    run.env.close()
    if isinstance(run, OnPolicyRun) and run.epoch == run.epochs:
        run.agent.save(run_dir / MODEL)
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
    return json.loads((run_dir / CONFIG).read_text()), read_progress(run_dir / PROGRESS)
