"""Score models (reward, cost, critics, moderation) on the book's decoder, and Safe RLHF's losses.

A score model is the Baichuan-style decoder with its hidden states read by a linear head instead of the
language-model head (Dai et al. 2024): ``end_scores`` are the head's output at the last non-pad token, the
score of the whole (prompt, response); the per-token scores serve the PPO critics. Right padding needs no
attention mask: attention is causal, so the pad tokens after a sequence never reach its last real token.

Losses (anchors: the upstream score-model trainers):

- reward: ``-log sigmoid(r_better - r_worse) + reg * mean(r^2)``;
- cost: ``-log sigmoid(c_unsafer - c_safer) - log sigmoid(s_safer c_safer) - log sigmoid(s_unsafer c_unsafer)
  + reg * mean(c^2)`` with s = +1 for an unsafe and -1 for a safe response, so that cost > 0 means unsafe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM
from alignbook.rlhf.data import HARM_CATEGORIES, SEVERITY_LEVELS
from alignbook.rlhf.preferences import bradley_terry_loss

MODERATION_OUTPUTS = len(HARM_CATEGORIES) + len(SEVERITY_LEVELS)  # 19 category logits, then 4 severity logits


def final_hidden_states(decoder: BaichuanForCausalLM, input_ids: torch.Tensor,
                        attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The decoder's final normed hidden states (batch, length, d), caught on their way to the LM head (which
    then runs on one position only)."""
    caught = []
    hook = decoder.norm.register_forward_hook(lambda _m, _i, out: caught.append(out))
    try:
        decoder(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=1)
    finally:
        hook.remove()
    return caught[0]


class ScoreModel(PreTrainedModel):
    """The decoder with a linear score head of ``score_dim`` outputs (1 for reward and cost models)."""

    config_class = BaichuanConfig
    base_model_prefix = "score"

    def __init__(self, config: BaichuanConfig):
        super().__init__(config)
        self.decoder = BaichuanForCausalLM(config)
        self.score_head = nn.Linear(config.hidden_size, getattr(config, "score_dim", 1))
        self.post_init()

    def _init_weights(self, module):
        if module is getattr(self, "score_head", None):
            nn.init.normal_(module.weight, std=self.config.initializer_range)
            nn.init.zeros_(module.bias)

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return final_hidden_states(self.decoder, input_ids, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token scores (batch, length, score_dim) and end scores (batch, score_dim) read at position
        ``lengths - 1`` (the last non-pad token; default the last position)."""
        scores = self.score_head(self.hidden_states(input_ids, attention_mask))
        if lengths is None:
            return scores, scores[:, -1]
        return scores, scores[torch.arange(len(scores), device=scores.device), lengths - 1]


def score_model(config: BaichuanConfig, score_dim: int = 1, body: BaichuanForCausalLM | None = None,
                device: torch.device | str = "cpu") -> ScoreModel:
    """A fresh score model on ``device``; with ``body`` its decoder starts from those weights (Safe RLHF
    initialises the reward and cost models from the SFT model)."""
    config = BaichuanConfig.from_dict({**config.to_dict(), "score_dim": score_dim})
    model = ScoreModel(config).to(device)
    if body is not None:
        model.decoder.load_state_dict(body.state_dict())
    return model


def reward_loss(better: torch.Tensor, worse: torch.Tensor, regularisation: float = 1e-3) -> torch.Tensor:
    return bradley_terry_loss(better, worse) + regularisation * torch.cat([better, worse]).square().mean()


def cost_loss(safer: torch.Tensor, unsafer: torch.Tensor, safer_is_safe: torch.Tensor,
              unsafer_is_safe: torch.Tensor, regularisation: float = 1e-3) -> torch.Tensor:
    """Pairwise term, plus the sign terms that put safe responses below 0 and unsafe ones above."""
    def sign(is_safe):  # +1 unsafe, -1 safe
        return 1.0 - 2.0 * is_safe.float()
    pairwise = bradley_terry_loss(unsafer, safer)
    signs = -F.logsigmoid(sign(safer_is_safe) * safer).mean() - F.logsigmoid(sign(unsafer_is_safe) * unsafer).mean()
    return pairwise + signs + regularisation * torch.cat([safer, unsafer]).square().mean()


def pairwise_accuracy(preferred: torch.Tensor, other: torch.Tensor) -> float:
    """Share of pairs in which the preferred response scores higher."""
    return (preferred > other).float().mean().item()


def sign_accuracy(costs: torch.Tensor, is_safe: torch.Tensor) -> float:
    """Share of responses whose cost sign matches the label (safe iff cost <= 0, as upstream's evaluation)."""
    return ((costs <= 0) == is_safe.bool()).float().mean().item()


def moderation_loss(logits: torch.Tensor, categories: torch.Tensor, severity: torch.Tensor,
                    positive_weight: float = float(len(HARM_CATEGORIES))) -> torch.Tensor:
    """Multi-label BCE over the 19 categories plus cross-entropy over the 4 severity levels. A harmful answer
    has one category of 19: without weighting its positive, "no category" is nearly optimal and nothing is
    ever flagged; ``positive_weight`` (default 19) balances one positive against the 18 negatives."""
    k = len(HARM_CATEGORIES)
    weight = torch.tensor(positive_weight, device=logits.device)
    return (F.binary_cross_entropy_with_logits(logits[:, :k], categories.float(), pos_weight=weight)
            + F.cross_entropy(logits[:, k:], severity))


def moderation_predict(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted categories (bool, batch x 19) and severity level (batch,)."""
    k = len(HARM_CATEGORIES)
    return logits[:, :k] > 0, logits[:, k:].argmax(-1)
