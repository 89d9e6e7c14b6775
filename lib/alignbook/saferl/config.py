"""Configuration objects and the algorithm registry (OmniSafe's design, without YAML).

Every algorithm declares a dataclass of its defaults and, as a class attribute ``task_overrides``, the
per-task sections (task id -> settings). ``make_config(name, task=None, **overrides)`` resolves them in
OmniSafe's order -- defaults < the task's section < the user's overrides -- refusing any key the dataclass
does not have, naming the closest valid one (a typo must not silently train with the default), and any value
that cannot be right (a negative cost limit, a step budget that is not positive).

Names are accepted as OmniSafe and SafePO spell them (``PPOLag``, ``CPPOPID``, ``SACLag``, ``ppo_lag``): case,
``-``, ``_`` and spaces do not matter (``canonical_name``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from typing import Any

from alignbook.checks import positive_int

ALGORITHMS: dict[str, type] = {}


def register(name: str):
    """Class decorator: make an algorithm available to ``train`` under ``name``."""

    def add(cls: type) -> type:
        if name in ALGORITHMS:
            raise ValueError(f"algorithm {name!r} is registered twice")
        ALGORITHMS[name] = cls
        cls.name = name
        return cls

    return add


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def closest(word: str, valid) -> str | None:
    """The valid name nearest to ``word`` (difflib), or None when none is near."""
    match = difflib.get_close_matches(str(word), list(valid), n=1, cutoff=0.5)
    return match[0] if match else None


def did_you_mean(word: str, valid) -> str:
    match = closest(word, valid)
    return f" (did you mean {match!r}?)" if match else ""


def canonical_name(name: str) -> str:
    """The registered name of an algorithm however it is spelt: 'PPOLag', 'ppo-lag' and 'ppo_lag' are 'ppo_lag'."""
    if name in ALGORITHMS:
        return name
    folded = {_fold(key): key for key in ALGORITHMS}
    if _fold(name) in folded:
        return folded[_fold(name)]
    match = closest(_fold(name), folded)
    hint = f" (did you mean {folded[match]!r}?)" if match else ""
    raise ValueError(f"unknown algorithm {name!r}{hint}; registered algorithms: {', '.join(sorted(ALGORITHMS))}")


def algorithm_class(name: str) -> type:
    return ALGORITHMS[canonical_name(name)]


@dataclass(frozen=True)
class OnPolicyConfig:
    """Defaults shared by the on-policy family: SafePO / OmniSafe's PPO-Lag settings (their published configs)."""

    total_steps: int = 10_000_000  # the paper's protocol
    steps_per_epoch: int = 20_000
    num_envs: int = 1
    cost_limit: float = 25.0
    gamma: float = 0.99
    lam: float = 0.95  # GAE lambda of the reward
    lam_c: float = 0.95  # GAE lambda of the cost
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    linear_lr_decay: bool = True  # the actor's learning rate decays linearly to 0 over training
    update_iters: int = 40  # passes over the epoch's data
    batch_size: int = 64
    target_kl: float = 0.02
    kl_early_stop: bool = True
    max_grad_norm: float = 40.0
    critic_l2: float = 1e-3
    entropy_coef: float = 0.0
    normalise_obs: bool = True
    seed: int = 0
    device: str = "cpu"  # where the networks and the update's tensors live; off the CPU the autograd engine runs


@dataclass(frozen=True)
class TrustRegionConfig(OnPolicyConfig):
    """Second-order methods: the policy takes one natural-gradient step per epoch, the critics 10 passes."""

    update_iters: int = 10
    batch_size: int = 128
    target_kl: float = 0.01
    cg_iters: int = 15
    cg_damping: float = 0.1
    line_search_steps: int = 15
    line_search_decay: float = 0.8


@dataclass(frozen=True)
class LagrangeConfig:
    lambda_init: float = 0.001
    lambda_lr: float = 0.035


@dataclass(frozen=True)
class PIDConfig:
    lambda_init: float = 0.001
    pid_kp: float = 0.1
    pid_ki: float = 0.01
    pid_kd: float = 0.01
    pid_d_delay: int = 10
    pid_p_ema: float = 0.95
    pid_d_ema: float = 0.95
    penalty_max: float = 100.0


def _check_keys(name: str, fields, settings: dict, where: str) -> None:
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        hint = did_you_mean(unknown[0], fields)
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))} for {name!r} in {where}{hint}; "
                         f"valid settings: {', '.join(sorted(fields))}")


def make_config(name: str, task: str | None = None, **overrides: Any):
    """The settings of algorithm ``name``: its defaults < its section for ``task`` (if any) < ``overrides``,
    validated by name and value."""
    algo = algorithm_class(name)
    cls = algo.Config
    fields = {f.name: f for f in dataclasses.fields(cls)}
    section = dict(getattr(algo, "task_overrides", {}).get(task, {})) if task is not None else {}
    _check_keys(name, fields, section, f"the section for {task!r}")
    _check_keys(name, fields, overrides, "the overrides")
    cfg = dataclasses.replace(cls(), **{**section, **overrides})
    for key in ("total_steps", "steps_per_epoch", "num_envs", "update_iters", "batch_size"):
        if hasattr(cfg, key):
            positive_int(getattr(cfg, key), key)
    if not isinstance(cfg.cost_limit, int | float) or cfg.cost_limit < 0:
        raise ValueError(f"cost_limit must be a non-negative number, got {cfg.cost_limit!r}")
    if cfg.steps_per_epoch % cfg.num_envs:
        raise ValueError(f"steps_per_epoch ({cfg.steps_per_epoch}) must be a multiple of num_envs ({cfg.num_envs})")
    for key in ("gamma", "lam", "lam_c", "polyak"):
        if hasattr(cfg, key) and not 0 <= getattr(cfg, key) <= 1:
            raise ValueError(f"{key} must lie in [0, 1], got {getattr(cfg, key)!r}")
    return cfg
