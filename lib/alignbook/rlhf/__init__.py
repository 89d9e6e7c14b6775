"""Learning from human feedback: preference models, reward and cost models, moderation, Safe RLHF.

- ``preferences``: the Bradley-Terry model of pairwise preferences and its loss
"""

from alignbook.rlhf.preferences import bradley_terry_loss, preference_probability

__all__ = ["bradley_terry_loss", "preference_probability"]
