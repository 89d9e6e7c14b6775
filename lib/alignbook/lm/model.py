"""The Baichuan 2 decoder in miniature, as a real ``transformers`` model.

One file a reader can hold in their head (nanoGPT style). What makes it Baichuan 2 rather than LLaMA
(Yang et al. 2023, Sec. 2.3-2.5):

- positions by RoPE (the 7B model) or ALiBi (the 13B model), chosen by ``config.position_embedding``;
- the query, key and value projections fused into one matrix (``W_pack`` upstream, ``qkv`` here);
- SwiGLU feed-forward of width 8/3 d, rounded up to a multiple of ``config.multiple_of``;
- RMSNorm before attention, before the FFN and before the head;
- **NormHead**: the output embedding's rows are L2-normalised on every forward pass, so the logit of a token is
  ``|h| cos(h, w_token)`` and a token's row norm can no longer drift and inflate its logits;
- **max-z loss**: ``CE + z_loss_weight * mean(max_logit^2)`` (the report's coefficient is 2e-4), which keeps the
  logits small so that low-precision inference and repetition penalties behave.

Attention is ``torch.nn.functional.scaled_dot_product_attention``; generation uses ``transformers``' DynamicCache.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import CausalLMOutputWithPast

POSITION_EMBEDDINGS = ("rope", "alibi")
# transformers 5.x calls the cache field "cache"; 4.x called it "past_key_values". Support both.
_OUTPUT_CACHE_FIELD = next(
    f.name for f in dataclasses.fields(CausalLMOutputWithPast) if f.name in ("cache", "past_key_values")
)


class BaichuanConfig(PretrainedConfig):
    """Sizes and switches of the decoder; invalid combinations fail here, before any weight exists."""

    model_type = "alignbook_baichuan"

    def __init__(
        self,
        vocab_size: int = 4096,
        hidden_size: int = 128,
        num_hidden_layers: int = 4,
        num_attention_heads: int = 4,
        intermediate_size: int | None = None,
        multiple_of: int = 32,
        max_position_embeddings: int = 4096,
        position_embedding: str = "rope",
        rope_theta: float = 10000.0,
        rms_norm_eps: float = 1e-6,
        norm_head: bool = True,
        z_loss_weight: float = 2e-4,
        initializer_range: float = 0.02,
        pad_token_id: int | None = 0,
        bos_token_id: int | None = 1,
        eos_token_id: int | None = 2,
        **kwargs,
    ):
        if hidden_size <= 0 or num_attention_heads <= 0 or hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size {hidden_size} must be a positive multiple of num_attention_heads "
                f"{num_attention_heads} (each head gets hidden_size / num_attention_heads dimensions)"
            )
        if (hidden_size // num_attention_heads) % 2:
            raise ValueError(f"the head dimension {hidden_size // num_attention_heads} must be even for RoPE")
        if position_embedding not in POSITION_EMBEDDINGS:
            raise ValueError(
                f"unknown position_embedding {position_embedding!r}; valid values are: {', '.join(POSITION_EMBEDDINGS)}"
            )
        if z_loss_weight < 0:
            raise ValueError(f"z_loss_weight must be >= 0, got {z_loss_weight}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.multiple_of = multiple_of
        # Baichuan 2: SwiGLU at 8/3 d keeps the FFN's parameter count equal to a 4d GELU FFN (three matrices).
        self.intermediate_size = intermediate_size or multiple_of * math.ceil(8 * hidden_size / 3 / multiple_of)
        self.max_position_embeddings = max_position_embeddings
        self.position_embedding = position_embedding
        self.rope_theta = rope_theta
        self.rms_norm_eps = rms_norm_eps
        self.norm_head = norm_head
        self.z_loss_weight = z_loss_weight
        self.initializer_range = initializer_range
        kwargs.setdefault("tie_word_embeddings", False)  # Baichuan 2 unties input and output embeddings
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """Press et al. (2022): head h of n gets slope 2^(-8h/n); for n not a power of two, the slopes of the
    nearest lower power of two, then every other slope of the next power of two."""

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return torch.tensor(power_of_two(num_heads))
    lower = 2 ** math.floor(math.log2(num_heads))
    extra = power_of_two(2 * lower)[0::2][: num_heads - lower]
    return torch.tensor(power_of_two(lower) + extra)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position * theta^(-2i/d) for each pair (i, i + d/2) of a head's dimensions."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    angles = positions.float()[:, None] * inv_freq[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair of dimensions by its angle; q.k then depends only on the difference of positions."""
    first, second = x.chunk(2, dim=-1)
    return (x * cos + torch.cat([-second, first], dim=-1) * sin).to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, config: BaichuanConfig, layer_idx: int):
        super().__init__()
        self.heads, self.head_dim, self.layer_idx = config.num_attention_heads, config.head_dim, layer_idx
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)  # fused: one matmul, not three
        self.out = nn.Linear(config.hidden_size, config.hidden_size, bias=False)

    def forward(self, x, rope, bias, is_causal, cache):
        batch, length, width = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:  # rotate queries and keys in one call: they come from the same fused matmul
            q, k = apply_rope(qkv[:2], *rope)
            v = qkv[2]
        else:
            q, k, v = qkv
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, is_causal=is_causal)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))


class SwiGLU(nn.Module):
    def __init__(self, config: BaichuanConfig):
        super().__init__()
        # gate and up projections fused into one matmul; silu(gate) * up is the SwiGLU of Shazeer (2020).
        self.gate_up = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.down = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, config: BaichuanConfig, layer_idx: int):
        super().__init__()
        self.attn_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attn = Attention(config, layer_idx)
        self.ffn_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.ffn = SwiGLU(config)

    def forward(self, x, rope, bias, is_causal, cache):
        x = x + self.attn(self.attn_norm(x), rope, bias, is_causal, cache)
        return x + self.ffn(self.ffn_norm(x))


class NormHead(nn.Module):
    """The output embedding with unit-norm rows: normalised on every forward, so the optimiser can change a
    row's direction but never its length (Baichuan 2, Sec. 2.5)."""

    def __init__(self, hidden_size: int, vocab_size: int, normalise: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, hidden_size))
        self.normalise = normalise

    def effective_weight(self) -> torch.Tensor:
        return F.normalize(self.weight, dim=-1) if self.normalise else self.weight

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.effective_weight())


@dataclasses.dataclass
class BaichuanOutput(CausalLMOutputWithPast):
    """``loss`` is CE + max-z; its two parts and the largest logit are kept for the training log."""

    ce_loss: torch.Tensor | None = None
    z_loss: torch.Tensor | None = None
    max_logit: torch.Tensor | None = None


def ce_and_max_z(logits: torch.Tensor, targets: torch.Tensor, weight: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy over the rows whose target is not -100, the max-z term weight * mean(max logit^2) over the
    same rows, and the largest logit of those rows (for the log); ``logits`` (rows, vocab), ``targets`` (rows,).
    ``alignbook.lm.fused`` computes the same values and gradients in one pass (what training uses)."""
    kept = targets != -100
    n = kept.sum().clamp(min=1)
    ce = F.cross_entropy(logits.float(), targets, ignore_index=-100, reduction="sum") / n
    top = logits.float().max(dim=-1).values[kept]
    return ce, weight * top.square().sum() / n, top.detach().max()


class BaichuanForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = BaichuanConfig
    base_model_prefix = "baichuan"
    _no_split_modules = ["Block"]
    _supports_sdpa = True

    # The loss of ``forward`` given labels: the reference above; ``alignbook.lm.fused.accelerate`` swaps in its
    # one-pass equal for training.
    loss_terms = staticmethod(ce_and_max_z)

    def __init__(self, config: BaichuanConfig):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.lm_head = NormHead(config.hidden_size, config.vocab_size, normalise=config.norm_head)
        self.register_buffer("slopes", alibi_slopes(config.num_attention_heads), persistent=False)
        self.post_init()

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear | nn.Embedding | NormHead):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)
        if isinstance(module, BaichuanForCausalLM):
            module.slopes.copy_(alibi_slopes(self.config.num_attention_heads))

    def get_input_embeddings(self):
        return self.embed

    def set_input_embeddings(self, value):
        self.embed = value

    def get_output_embeddings(self):
        return self.lm_head

    def _positional(self, past: int, length: int, attention_mask: torch.Tensor | None, device):
        """RoPE angles or the ALiBi bias, and whether SDPA can use its own causal mask (the fast path)."""
        total = past + length
        query_pos = torch.arange(past, total, device=device)
        key_pos = torch.arange(total, device=device)
        rope, bias = None, None
        if self.config.position_embedding == "rope":
            rope = rope_cos_sin(query_pos, self.config.head_dim, self.config.rope_theta)
        allowed = key_pos[None, :] <= query_pos[:, None]  # causal: a query sees itself and the past only
        if attention_mask is not None and not bool(attention_mask.all()):
            # padding: hide padded keys, but keep each query's own position so that no row is all -inf
            keep = attention_mask[:, None, None, -total:].bool()
            allowed = allowed[None, None] & (keep | (key_pos[None, :] == query_pos[:, None]))
        if self.config.position_embedding == "alibi":
            distance = (query_pos[:, None] - key_pos[None, :]).clamp(min=0).float()
            bias = -self.slopes.to(device)[:, None, None] * distance  # (heads, q, k): linear penalty with distance
            bias = bias.masked_fill(~allowed, float("-inf"))
            return rope, bias, False
        if allowed.dim() == 2 and past == 0:
            return rope, None, True
        return rope, allowed, False

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        past_key_values: Cache | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> BaichuanOutput:
        # Positions are implied by the cache length; RoPE and ALiBi depend only on relative positions, so
        # left padding needs no position_ids (accepted for generate's sake, not used).
        cache = cache if cache is not None else past_key_values
        x = self.embed(input_ids) if inputs_embeds is None else inputs_embeds
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        past = cache.get_seq_length() if cache is not None else 0
        rope, bias, is_causal = self._positional(past, x.shape[1], attention_mask, x.device)
        layer_cache = cache if use_cache or past else None
        for block in self.blocks:
            x = block(x, rope, bias, is_causal, layer_cache)
        h = self.norm(x)
        if logits_to_keep:
            h = h[:, -logits_to_keep:]
        logits = self.lm_head(h)

        loss = ce = z = max_logit = None
        if labels is not None:
            # position t predicts token t+1; the last position predicts nothing (-100, like any ignored label).
            # Shifting the labels rather than slicing the logits saves a copy of the largest tensor.
            targets = F.pad(labels[:, 1:], (0, 1), value=-100)
            ce, z, max_logit = self.loss_terms(logits.flatten(0, 1), targets.flatten(), self.config.z_loss_weight)
            loss = ce + z
        output = BaichuanOutput(loss=loss, logits=logits, ce_loss=ce, z_loss=z, max_logit=max_logit)
        setattr(output, _OUTPUT_CACHE_FIELD, cache if use_cache else None)
        return output


def count_parameters(model: nn.Module, embeddings: bool = False) -> int:
    """Parameters of the model; without the input and output embeddings unless asked (the scaling-law N)."""
    skip = () if embeddings else ("embed.weight", "lm_head.weight")
    return sum(p.numel() for name, p in model.named_parameters() if name not in skip)


# Let the Auto classes find the model, so that code written for any causal LM (AutoModelForCausalLM) loads it;
# no remote code is involved: the classes are this file's.
AutoConfig.register(BaichuanConfig.model_type, BaichuanConfig, exist_ok=True)
AutoModelForCausalLM.register(BaichuanConfig, BaichuanForCausalLM, exist_ok=True)
