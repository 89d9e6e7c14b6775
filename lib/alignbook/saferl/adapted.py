"""Algorithms made safe by an environment adapter (``alignbook.saferl.adapters``): OmniSafe's PPOSaute,
SACSaute, PPOSimmerPID and their siblings. Each is its base algorithm unchanged, trained on the wrapped task;
the training loops wrap the task when the class names an ``adapter``. Importing this module registers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignbook.saferl.adapters import SauteConfig, SimmerConfig
from alignbook.saferl.algorithms.ppo import PPO, PPOConfig
from alignbook.saferl.algorithms.trpo import TRPO
from alignbook.saferl.config import TrustRegionConfig, register
from alignbook.saferl.offpolicy.sac import SAC, SACConfig
from alignbook.saferl.offpolicy.td3 import TD3, TD3Config


def _adapted(base, base_config, kind: str, name: str):
    extra = SauteConfig if kind == "saute" else SimmerConfig
    config = dataclass(frozen=True)(type(f"{base.__name__}{kind.title()}Config", (extra, base_config), {}))
    cls = type(name, (base,), {"Config": config, "adapter": kind, "__doc__": f"{base.__name__} on the {kind} "
                               "wrapper of the task.", "__module__": __name__})
    return register(name)(cls)


PPOSaute = _adapted(PPO, PPOConfig, "saute", "ppo_saute")
TRPOSaute = _adapted(TRPO, TrustRegionConfig, "saute", "trpo_saute")
SACSaute = _adapted(SAC, SACConfig, "saute", "sac_saute")
TD3Saute = _adapted(TD3, TD3Config, "saute", "td3_saute")
PPOSimmerPID = _adapted(PPO, PPOConfig, "simmer", "ppo_simmer_pid")
SACSimmerPID = _adapted(SAC, SACConfig, "simmer", "sac_simmer_pid")
