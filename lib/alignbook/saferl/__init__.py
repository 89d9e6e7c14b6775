"""Safe reinforcement learning: SafePO's single-agent on-policy family, fast enough for a laptop.

Where things live:

- ``lagrange``    the Lagrange multiplier (Adam on lambda) and the PID Lagrangian; no RL code, shared with Safe RLHF
- ``networks``    the actor (Gaussian MLP) and the reward and cost critics
- ``buffer``      the rollout buffer: reward and cost GAE, bootstrapping on truncation
- ``normalise``   running observation normalisation
- ``config``      a dataclass of defaults per algorithm, overrides validated by name, the registry ``ALGORITHMS``
- ``base``        the two update skeletons (minibatch first-order; trust region with conjugate gradient, the
                  natural step and the backtracking line search); the multipliers an algorithm can name
- ``algorithms``  one file per algorithm: pg, natural_pg, trpo, ppo, ppo_lag, trpo_lag, cpo, pcpo, focops,
                  cup, rcpo, cppo_pid; each declares its ``family``, ``loss`` and ``multiplier``
- ``offpolicy``   OmniSafe's off-policy family: ddpg, td3, sac and their ``_lag`` / ``_pid`` variants, one file
                  each over a shared skeleton (replay buffer, Q-critics, Polyak targets, policy delay)
- ``adapters``    Saute and Simmer: wrappers that append a budget state and replace the reward once it is spent;
                  ``adapted`` registers ppo_saute, sac_saute, ppo_simmer_pid and siblings
- ``engines``     who runs an update: ``autograd`` (the reference, the algorithm file's own loss) and ``numpy``
                  (the PG/PPO family in NumPy with a hand-written backward, tested equal to the reference)
- ``train``       ``train(algo, task_id, engine=None, **overrides)`` -> (agent, per-epoch log); ``evaluate``
- ``toy``         a constrained problem with a closed-form optimum, registered as the task ``ToyConstraint-v0``
- ``suite``       many runs over algorithms and seeds, and their final-performance summary
- ``multi_agent`` SafePO's multi-agent MAPPO, MAPPO-Lag, HAPPO and MACPO, ``train_multi``, a two-agent toy
- ``published``   OmniSafe's published numbers, for the chapters to compare against
"""

from alignbook.saferl import (  # noqa: F401 -- imported to register their algorithms
    adapted,
    algorithms,
    multi_agent,
    offpolicy,
)
from alignbook.saferl.algorithms import SAFEPO
from alignbook.saferl.config import ALGORITHMS, make_config
from alignbook.saferl.engines import ENGINES
from alignbook.saferl.lagrange import Lagrange, PIDLagrange
from alignbook.saferl.multi_agent import MA_TOY_TASK, train_multi, two_agent_optimum
from alignbook.saferl.suite import final_performance, run_suite
from alignbook.saferl.toy import TOY_TASK, TOY_TRAINING, toy_optimum
from alignbook.saferl.train import Agent, evaluate, train

__all__ = ["MA_TOY_TASK", "SAFEPO", "train_multi", "two_agent_optimum", "ALGORITHMS", "ENGINES", "TOY_TASK", "TOY_TRAINING", "Agent", "Lagrange", "PIDLagrange", "evaluate",
           "final_performance", "make_config", "run_suite", "toy_optimum", "train"]
