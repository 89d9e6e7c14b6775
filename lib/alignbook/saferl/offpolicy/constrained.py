"""The six constrained variants of the off-policy family: DDPGLag, TD3Lag, SACLag on the Lagrangian
(``alignbook.saferl.lagrange.Lagrange``, Adam on lambda) and DDPGPID, TD3PID, SACPID on the PID-Lagrangian
(``alignbook.saferl.lagrange.PIDLagrange``). Each is its base algorithm with the actor descending
(-Q_r + lambda Q_c) / (1 + lambda), lambda moved from the mean cost of the last 10 episodes after every update
past the warm-up, OmniSafe's multiplier defaults and its per-task sections for the Safety-Gymnasium navigation
tasks. They differ only in the base and the multiplier, so one function builds all six.
"""

from __future__ import annotations

from dataclasses import make_dataclass

from alignbook.saferl.config import register
from alignbook.saferl.offpolicy.base import OffPolicyLagrangeConfig, OffPolicyPIDConfig, task_sections
from alignbook.saferl.offpolicy.ddpg import DDPG
from alignbook.saferl.offpolicy.sac import SAC
from alignbook.saferl.offpolicy.td3 import TD3

MULTIPLIER_CONFIGS = {"lagrange": OffPolicyLagrangeConfig, "pid": OffPolicyPIDConfig}


def constrained(base: type, multiplier: str, name: str, **defaults) -> type:
    """Register ``name``: ``base`` with ``multiplier``'s settings; ``defaults`` overrides OmniSafe's own."""
    fields = [(key, type(value), value) for key, value in defaults.items()]
    config = make_dataclass(f"{name}Config", fields, bases=(MULTIPLIER_CONFIGS[multiplier], base.Config),
                            frozen=True)
    config.__module__ = __name__
    cls = type(name, (base,), {"__module__": __name__, "Config": config, "multiplier": multiplier,
                               "task_overrides": task_sections(multiplier, sac=issubclass(base, SAC))})
    globals()[config.__name__] = config  # module-level names, so both pickle by reference
    key = {"lagrange": "lag", "pid": "pid"}[multiplier]
    return register(f"{base.__name__.lower()}_{key}")(cls)


DDPGLag = constrained(DDPG, "lagrange", "DDPGLag")
TD3Lag = constrained(TD3, "lagrange", "TD3Lag")
SACLag = constrained(SAC, "lagrange", "SACLag")
DDPGPID = constrained(DDPG, "pid", "DDPGPID", lambda_init=0.0)  # OmniSafe's DDPGPID starts at 0, the others at 0.001
TD3PID = constrained(TD3, "pid", "TD3PID")
SACPID = constrained(SAC, "pid", "SACPID")
