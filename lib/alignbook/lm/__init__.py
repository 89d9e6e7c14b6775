"""Language models in miniature, after Baichuan 2: the stack the Foundations chapter builds and the feedback
chapters fine-tune.

Where things live (one idea per file):

- ``tokenizer``  byte-fallback BPE with digit splitting, whitespace runs and a maximum token length, as a
                 ``transformers`` fast tokenizer (``train_tokenizer``, ``bytes_per_token``)
- ``model``      ``BaichuanConfig`` and ``BaichuanForCausalLM``: RMSNorm, SwiGLU, RoPE or ALiBi, fused QKV,
                 SDPA attention, NormHead, max-z loss, KV cache for ``generate``
- ``train``      the deterministic training loop (AdamW, warm-up then cosine, clipping) and validation loss
- ``corpus``     the embedded default corpus (CPython's reference topics), packing, the Hugging Face loader
- ``arithmetic`` addition problems as text and exact-match accuracy (the digit-splitting experiment)
- ``scaling``    C = 6ND and the fit L(C) = a C^b + L_inf
- ``base``       the chapter's recipe (text -> tokenizer -> trained decoder) and ``base_model(...)``, the
                 cached base model of the later chapters
"""

from alignbook.lm.base import base_model, prepare_text, train_model
from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM
from alignbook.lm.tokenizer import train_tokenizer
from alignbook.lm.train import TrainConfig, train, validation_loss

__all__ = [
    "BaichuanConfig",
    "BaichuanForCausalLM",
    "TrainConfig",
    "base_model",
    "prepare_text",
    "train",
    "train_model",
    "train_tokenizer",
    "validation_loss",
]
