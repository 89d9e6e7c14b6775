"""The chapter's language models, built one way: text -> tokenizer -> packed streams -> a decoder of a given
size trained with one recipe. ``base_model(...)`` is the largest model of the scaling ladder; the feedback
chapters fine-tune it, and get it from the cache when this chapter (or another) has trained it before.

``prepare_text`` and ``train_model`` read their settings by attribute from ``settings`` (a chapter's ``ch.cfg``,
or any object with the fields named in ``TEXT_SETTINGS`` and ``RECIPE_SETTINGS``); ``base_model`` takes them
as plain keywords.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import torch
from transformers import PreTrainedTokenizerFast

from alignbook.cache import cached
from alignbook.lm.corpus import corpus_fingerprint, load_corpus, pack, split_documents
from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM
from alignbook.lm.scaling import compute_flops
from alignbook.lm.tokenizer import train_tokenizer
from alignbook.lm.train import Progress, TrainConfig, train, validation_loss

HEAD_DIM = 32  # every model of the chapter uses 32-dimensional heads; width sets the number of heads
TEXT_SETTINGS = ("corpus", "corpus_files", "corpus_max_documents", "valid_fraction", "vocab_size")
RECIPE_SETTINGS = ("batch_size", "seq_len", "lr", "warmup_fraction", "grad_clip", "valid_windows")
# The code a trained base model depends on: a change to any of these files retrains it.
BASE_MODEL_SOURCES = tuple(Path(__file__).parent / name
                           for name in ("base.py", "corpus.py", "fused.py", "model.py", "tokenizer.py", "train.py"))


@dataclass(frozen=True)
class TextData:
    tokenizer: PreTrainedTokenizerFast
    train: torch.Tensor
    valid: torch.Tensor
    fingerprint: str
    train_documents: tuple[str, ...] = ()
    valid_documents: tuple[str, ...] = ()


def prepare_text(cfg: Any, seed: int = 0) -> TextData:
    """The corpus split into training and validation documents, its tokenizer, and both streams
    (``cfg``: the fields of ``TEXT_SETTINGS``)."""
    documents = load_corpus(cfg.corpus, cfg.corpus_files, cfg.corpus_max_documents)
    train_docs, valid_docs = split_documents(documents, cfg.valid_fraction, seed)
    tokenizer = train_tokenizer(train_docs, cfg.vocab_size)
    return TextData(tokenizer, pack(tokenizer, train_docs), pack(tokenizer, valid_docs),
                    corpus_fingerprint(documents), tuple(train_docs), tuple(valid_docs))


def model_config(hidden: int, layers: int, vocab_size: int, **switches) -> BaichuanConfig:
    return BaichuanConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                          num_attention_heads=max(1, hidden // HEAD_DIM), multiple_of=16, **switches)


def matmul_parameters(config: BaichuanConfig) -> int:
    """Per-token multiply-add parameters: attention and FFN matrices of every block, and the output head."""
    d, f = config.hidden_size, config.intermediate_size
    return config.num_hidden_layers * (4 * d * d + 3 * d * f) + d * config.vocab_size


@dataclass
class TrainedModel:
    model: BaichuanForCausalLM
    log: pd.DataFrame
    valid_loss: float
    matmul_params: int
    tokens: int

    @property
    def compute(self) -> float:
        return compute_flops(self.matmul_params, self.tokens)


def train_model(
    cfg: Any, data: TextData, hidden: int, layers: int, steps: int, seed: int = 0,
    device: torch.device | str = "cpu", progress: Progress | None = None, lr: float | None = None,
    seq_len: int | None = None, **switches,
) -> TrainedModel:
    """Train one decoder with the recipe in ``cfg`` (the fields of ``RECIPE_SETTINGS``); ``switches`` go to
    BaichuanConfig (position_embedding, ...)."""
    torch.manual_seed(seed)  # the initial weights depend on the seed alone
    config = model_config(hidden, layers, len(data.tokenizer), **switches)
    model = BaichuanForCausalLM(config)
    recipe = TrainConfig(steps=steps, batch_size=cfg.batch_size, seq_len=seq_len or cfg.seq_len,
                         lr=lr or cfg.lr, warmup_steps=max(1, round(cfg.warmup_fraction * steps)),
                         grad_clip=cfg.grad_clip, seed=seed, log_every=max(1, steps // 100))
    log = train(model, data.train, recipe, device=device, progress=progress, desc=f"d={hidden}, L={layers}")
    loss = validation_loss(model, data.valid, recipe.seq_len, max_windows=cfg.valid_windows)
    return TrainedModel(model, log, loss, matmul_parameters(config), steps * recipe.batch_size * recipe.seq_len)


def base_model(*, hidden: int, layers: int, steps: int, vocab_size: int, seq_len: int, batch_size: int, lr: float,
               warmup_fraction: float = 0.1, grad_clip: float = 0.5, valid_windows: int = 8,
               corpus: str = "default", corpus_files: str = "*", corpus_max_documents: int = 0,
               valid_fraction: float = 0.1, seed: int = 0, device: torch.device | str = "cpu",
               progress: Progress | None = None) -> tuple[BaichuanForCausalLM, PreTrainedTokenizerFast, Path]:
    """The book's base language model: a decoder of width ``hidden`` (heads of ``HEAD_DIM``) and ``layers``
    blocks, trained for ``steps`` steps of ``batch_size`` windows of ``seq_len`` tokens at peak learning rate
    ``lr`` (linear warm-up over ``warmup_fraction`` of the steps, gradients clipped to ``grad_clip``), with a
    tokenizer of ``vocab_size`` trained on the corpus ``corpus`` (``corpus_files``, at most
    ``corpus_max_documents`` documents, 0 for all; ``valid_fraction`` held out, ``valid_windows`` of it scored).

    Trained here, or loaded from the cache when the same values, the same corpus and the same code
    (``BASE_MODEL_SOURCES``) were trained before. Returns the model (in eval mode, on ``device``), its tokenizer
    and the cache folder (``log.csv`` holds the training log, ``metrics.json`` the validation loss)."""
    settings = dict(vocab_size=vocab_size, seq_len=seq_len, batch_size=batch_size, lr=lr,
                    warmup_fraction=warmup_fraction, grad_clip=grad_clip, valid_windows=valid_windows, corpus=corpus,
                    corpus_files=corpus_files, corpus_max_documents=corpus_max_documents,
                    valid_fraction=valid_fraction)
    cfg = SimpleNamespace(**settings)
    documents = load_corpus(corpus, corpus_files, corpus_max_documents)
    key = {"model": "baichuan2-base", "hidden": hidden, "layers": layers, "steps": steps, **settings, "seed": seed,
           "corpus_fingerprint": corpus_fingerprint(documents)}

    def build(folder: Path) -> None:
        data = prepare_text(cfg, seed)
        trained = train_model(cfg, data, hidden, layers, steps, seed=seed, device=device, progress=progress)
        trained.model.save_pretrained(folder / "model")  # safetensors
        data.tokenizer.save_pretrained(folder / "tokenizer")
        trained.log.to_csv(folder / "log.csv", index=False)
        (folder / "metrics.json").write_text(pd.Series({
            "valid_loss": trained.valid_loss, "matmul_params": trained.matmul_params, "tokens": trained.tokens,
        }).to_json())

    folder = cached("lm-base", key, build, sources=BASE_MODEL_SOURCES)
    model = BaichuanForCausalLM.from_pretrained(folder / "model").to(device).eval()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder / "tokenizer")
    return model, tokenizer, folder
