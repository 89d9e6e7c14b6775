"""The twelve single-agent algorithms of SafePO, one file each; importing this package registers them."""

from alignbook.saferl.algorithms import (  # noqa: F401 -- imported for their @register side effect
    cpo,
    cppo_pid,
    cup,
    focops,
    natural_pg,
    pcpo,
    pg,
    ppo,
    ppo_lag,
    rcpo,
    trpo,
    trpo_lag,
)

# SafePO's single-agent benchmark is exactly this package; other registered algorithms (multi-agent, off-policy,
# adapted) belong to other chapters.
SAFEPO = ("pg", "natural_pg", "trpo", "ppo", "trpo_lag", "ppo_lag", "cpo", "pcpo", "focops", "cup", "rcpo",
          "cppo_pid")
