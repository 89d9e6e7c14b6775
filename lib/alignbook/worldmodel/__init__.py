"""Safe DreamerV3: a world model with reward and cost heads, constrained planning and safe imagination.

Where things live (read them in this order):

- ``dist``       symlog, two-hot heads, unimix categoricals with straight-through samples, KL balancing
- ``model``      the world model: vector or 64x64 image encoder/decoder, the RSSM, reward and cost heads
- ``behaviour``  imagination actor-critic: lambda-returns, percentile return scale, reward and cost critics
- ``planner``    OSRP / OSRP-Lag: the constrained cross-entropy planner
- ``train``      the loop for the four algorithms (``dreamer``, ``osrp``, ``osrp_lag``, ``bsrp_lag``), and
                   independent runs in worker processes
- ``evaluate``   open-loop imagination against real rollouts, and cost-event precision and recall

BSRP-Lag's augmented Lagrangian lives beside the other multipliers in ``alignbook.saferl.augmented``.
"""

from alignbook.worldmodel.dist import TwoHot, kl_balance, symexp, symlog
from alignbook.worldmodel.model import WorldModel, WorldModelConfig
from alignbook.worldmodel.planner import ConstrainedCEM, PlannerConfig
from alignbook.worldmodel.train import ALGORITHMS, Agent, make_config, train, train_in_workers

__all__ = ["ALGORITHMS", "Agent", "ConstrainedCEM", "PlannerConfig", "TwoHot", "WorldModel", "WorldModelConfig",
           "kl_balance", "make_config", "symexp", "symlog", "train", "train_in_workers"]
