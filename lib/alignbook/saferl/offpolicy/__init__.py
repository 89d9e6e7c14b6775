"""OmniSafe's off-policy family: DDPG, TD3 and SAC one file each over the shared skeleton in ``base``, and their
Lagrangian and PID-Lagrangian variants in ``constrained``; importing this package registers them."""

from alignbook.saferl.offpolicy import constrained, ddpg, sac, td3  # noqa: F401 -- imported to @register them
