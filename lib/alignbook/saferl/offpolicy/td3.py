"""TD3 (Fujimoto et al. 2018): DDPG with its three fixes -- two reward critics and the minimum of their targets
(against Q over-estimation), the actor and the targets updated every second critic update (policy delay 2),
and target smoothing: a' = clip(mu'(s') + clip(N(0, 0.2), -0.5, 0.5), -1, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import task_sections
from alignbook.saferl.offpolicy.ddpg import DDPG, DDPGConfig


@dataclass(frozen=True)
class TD3Config(DDPGConfig):
    policy_delay: int = 2
    target_noise: float = 0.2
    target_noise_clip: float = 0.5


@register("td3")
class TD3(DDPG):
    Config = TD3Config
    task_overrides = task_sections(None)
    reward_critics = 2

    def target_action(self, next_obs):
        mean = self.target_actor(next_obs)
        noise = (torch.randn_like(mean) * self.cfg.target_noise).clamp(-self.cfg.target_noise_clip,
                                                                       self.cfg.target_noise_clip)
        return (mean + noise).clamp(-1.0, 1.0), torch.zeros(())
