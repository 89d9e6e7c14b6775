"""OmniSafe's off-policy family: DDPG, TD3, SAC and their Lagrangian and PID-Lagrangian variants, one file each
over the shared skeleton in ``base``; importing this package registers them."""

from alignbook.saferl.offpolicy import (  # noqa: F401 -- imported for their @register side effect
    ddpg,
    ddpg_lag,
    ddpg_pid,
    sac,
    sac_lag,
    sac_pid,
    td3,
    td3_lag,
    td3_pid,
)
