"""Multi-agent safe RL: SafePO's MAPPO, MAPPO-Lag, HAPPO and MACPO (one file each, registered in the same
``ALGORITHMS`` as the single-agent family), their training loop and a two-agent toy CMDP.

- ``base``       ``MultiAgent``: one single-agent learner per agent (actor, reward and cost critics, its own
                 multiplier) and the joint update -- simultaneous, or sequential in a random order with the
                 running product of the updated agents' ratios (HAPPO's and MACPO's factor)
- ``toy``        ``TwoAgentToy``: a cooperative two-agent constrained problem with a closed-form optimum
- ``train``      ``train_multi(algo, task_id, **overrides)`` -> (algorithm, per-epoch log)
- ``mappo``, ``mappo_lag``, ``happo``, ``macpo``: the four algorithms
"""

from alignbook.saferl.multi_agent import happo, macpo, mappo, mappo_lag  # noqa: F401 -- register them
from alignbook.saferl.multi_agent.base import MultiAgent
from alignbook.saferl.multi_agent.toy import MA_TOY_TASK, TwoAgentToy, two_agent_optimum
from alignbook.saferl.multi_agent.train import train_multi

__all__ = ["MA_TOY_TASK", "MultiAgent", "TwoAgentToy", "train_multi", "two_agent_optimum"]
