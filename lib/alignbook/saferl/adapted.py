"""Algorithms made safe by an environment adapter (``alignbook.saferl.adapters``): OmniSafe's PPOSaute,
SACSaute, PPOSimmerPID and their siblings. Each is its base algorithm unchanged, trained on the wrapped task;
the training loops wrap the task when the class names an ``adapter``. Importing this module registers them.

Each keeps its base algorithm's per-task sections and adds one for the book's toy (``alignbook.saferl.toy``):
there a safe policy earns -1 a step at the constrained optimum, so OmniSafe's ``unsafe_reward`` of -1 would pay
as much for a spent budget as for staying safe (-5 does not); and Simmer's integral gain is raised so that a
sustained error of 10 moves the budget by about half a unit per epoch within a run of tens of epochs (OmniSafe's
1e-5 is sized for hundreds).
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.adapters import SauteConfig, SimmerConfig
from alignbook.saferl.algorithms.ppo import PPO, PPOConfig
from alignbook.saferl.algorithms.trpo import TRPO
from alignbook.saferl.config import TrustRegionConfig, register
from alignbook.saferl.offpolicy.sac import SAC, SACConfig
from alignbook.saferl.offpolicy.td3 import TD3, TD3Config
from alignbook.saferl.toy import TOY_TASK

TOY_SECTIONS = {"saute": {"unsafe_reward": -5.0}, "simmer": {"unsafe_reward": -5.0, "simmer_ki": 5e-3}}


def _adapted(base, base_config, kind: str, name: str):
    extra = SauteConfig if kind == "saute" else SimmerConfig
    config = dataclass(frozen=True)(type(f"{base.__name__}{kind.title()}Config", (extra, base_config), {}))
    sections = {task: dict(section) for task, section in getattr(base, "task_overrides", {}).items()}
    sections[TOY_TASK] = {**sections.get(TOY_TASK, {}), **TOY_SECTIONS[kind]}
    cls = type(name, (base,), {"Config": config, "adapter": kind, "task_overrides": sections,
                               "__doc__": f"{base.__name__} on the {kind} wrapper of the task.", "__module__": __name__})
    return register(name)(cls)


PPOSaute = _adapted(PPO, PPOConfig, "saute", "ppo_saute")
TRPOSaute = _adapted(TRPO, TrustRegionConfig, "saute", "trpo_saute")
SACSaute = _adapted(SAC, SACConfig, "saute", "sac_saute")
TD3Saute = _adapted(TD3, TD3Config, "saute", "td3_saute")
PPOSimmerPID = _adapted(PPO, PPOConfig, "simmer", "ppo_simmer_pid")
SACSimmerPID = _adapted(SAC, SACConfig, "simmer", "sac_simmer_pid")
