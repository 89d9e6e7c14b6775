"""Published figures the safe-RL chapters compare against, transcribed once here (from OmniSafe's benchmark
tables, as collected in the project's anchor notes) so that notebooks read them rather than type them."""

from __future__ import annotations

import pandas as pd

# OmniSafe on-policy benchmark: 1e7 environment steps, cost limit 25; final (episode return, episode cost).
OMNISAFE_STEPS = 10_000_000
OMNISAFE_ON_POLICY = {
    "ppo": {"SafetyPointGoal1-v0": (25.44, 55.72), "SafetyCarGoal1-v0": (33.41, 58.06),
            "SafetyAntVelocity-v1": (5977.73, 958.13), "SafetyHalfCheetahVelocity-v1": (6921.83, 919.2)},
    "ppo_lag": {"SafetyPointGoal1-v0": (12.96, 25.80), "SafetyCarGoal1-v0": (13.27, 21.72),
                "SafetyAntVelocity-v1": (3261.87, 12.05), "SafetyHalfCheetahVelocity-v1": (2946.15, 3.44)},
    "trpo_lag": {"SafetyPointGoal1-v0": (18.51, 22.98), "SafetyCarGoal1-v0": (27.04, 26.80),
                 "SafetyAntVelocity-v1": (3041.89, 19.52), "SafetyHalfCheetahVelocity-v1": (2884.68, 9.04)},
    "cpo": {"SafetyPointGoal1-v0": (20.46, 28.84), "SafetyCarGoal1-v0": (25.52, 43.32),
            "SafetyAntVelocity-v1": (3098.54, 14.12), "SafetyHalfCheetahVelocity-v1": (2786.48, 4.70)},
    "cppo_pid": {"SafetyPointGoal1-v0": (8.43, 25.74), "SafetyCarGoal1-v0": (10.60, 30.66),
                 "SafetyAntVelocity-v1": (3213.36, 14.30), "SafetyHalfCheetahVelocity-v1": (2837.89, 8.06)},
}
# OmniSafe 0.5.0 PPOLag with its defaults on SafetyPointGoal1-v0, 1 environment, on this project's 2-core machine.
OMNISAFE_PPOLAG_STEPS_PER_S = 176.0


def omnisafe_table(task: str = "SafetyPointGoal1-v0") -> pd.DataFrame:
    """OmniSafe's published return and cost on ``task``, one row per algorithm that has them."""
    rows = [{"algo": algo, "return": per_task[task][0], "cost": per_task[task][1]}
            for algo, per_task in OMNISAFE_ON_POLICY.items() if task in per_task]
    return pd.DataFrame(rows).set_index("algo")
