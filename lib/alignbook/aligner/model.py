"""Training the Aligner in two stages, caching it, and stacking it on any upstream model.

Stage 1 (identity warm-up): Q-A-A rows built from a ``warmup_fraction`` of the training triples teach the
model to copy; stage 2: Q-A-C rows teach the residual, the correction. Both stages count the loss on the
correction tokens only. The paper's Aligners start from pretrained models, which copy any word they read; a
corrector trained from scratch learns to copy only the words of its triples, and rewrites an object it never
saw as one it knows. So with ``copy_steps`` a stage 0 first trains the fresh decoder to copy answers made of
random words of the whole vocabulary (``data.copy_texts``): the pretrained start, one per size, shared by every
seed and warm-up fraction and cached on its own. ``correct`` takes any function from a list of questions to a list of answers (or
from one question to one answer), so the Aligner wraps a model whose weights nobody can see.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from alignbook.aligner.data import copy_texts
from alignbook.aligner.template import encode_example, encode_prefix
from alignbook.cache import cached
from alignbook.devices import device_key
from alignbook.lm.model import BaichuanForCausalLM
from alignbook.lm.train import TrainConfig
from alignbook.rlhf import policies, world
from alignbook.rlhf.policies import SFT_SOURCES, Sizes, decode_response, sample

_HERE = Path(__file__).resolve().parent
ALIGNER_SOURCES = (*SFT_SOURCES, *(_HERE / n for n in ("template.py", "data.py", "model.py")))
PAPER_WARMUP_FRACTIONS = (0.0, 0.02, 0.1, 0.2, 0.5)  # the fractions the paper tries (20% best)
PREFIX_LIMIT = 192  # tokens of template, question and answer; the correction fits in the rest of 256


def check_fraction(fraction) -> float:
    """A warm-up fraction must be a number in [0, 1): the share of the training triples copied as Q-A-A."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise TypeError(f"warmup_fraction must be a number in [0, 1), got {fraction!r} "
                        f"(the paper's values: {PAPER_WARMUP_FRACTIONS})")
    if not 0 <= fraction < 1 or fraction != fraction:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {fraction} "
                         f"(the paper's values: {PAPER_WARMUP_FRACTIONS})")
    return float(fraction)


@dataclass(frozen=True)
class AlignerConfig:
    sizes: Sizes = field(default_factory=Sizes)
    warmup_fraction: float = 0.2
    copy_steps: int = 0  # stage 0, copying random words: the pretrained start (0: a fresh decoder)
    copy_seed: int = 0  # the start's own seed: one start per size, shared by every seed of the later stages
    warmup_steps: int = 100
    steps: int = 300
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0

    def __post_init__(self):
        check_fraction(self.warmup_fraction)


def fit(model, examples: list[tuple[list[int], list[int]]], steps: int, batch: int, lr: float, seed: int,
        pad: int) -> list[float]:
    """Supervised steps on (ids, labels) examples; -100 labels carry no loss."""
    if steps == 0 or not examples:
        return []
    cfg = TrainConfig(steps=steps, batch_size=batch, seq_len=256, lr=lr, warmup_steps=steps // 10, seed=seed)
    return policies.fit(model, examples, cfg, pad)


def copier(tokenizer, cfg: AlignerConfig, device: torch.device | str = "cpu"):
    """The decoder after stage 0 (``cfg.copy_steps`` of copying random words), through the disk cache: it
    depends on the sizes, the stage's budget and ``cfg.copy_seed``, not on the triples, the warm-up or the
    later stages' seed (as one pretrained model serves every fine-tuning run). Returns (model, losses)."""
    device = torch.device(device)
    settings = {"sizes": asdict(cfg.sizes), "copy_steps": cfg.copy_steps, "batch": cfg.batch, "lr": cfg.lr,
                "seed": cfg.copy_seed, "world": world.fingerprint(), **device_key(device)}

    def build(folder: Path) -> None:
        torch.manual_seed(cfg.copy_seed)
        model = BaichuanForCausalLM(cfg.sizes.config()).to(device)
        texts = copy_texts(cfg.copy_steps * cfg.batch, seed=cfg.copy_seed + 7)  # each example seen about once
        losses = fit(model, [encode_example(tokenizer, q, a, a, PREFIX_LIMIT) for q, a in texts], cfg.copy_steps,
                     cfg.batch, cfg.lr, cfg.copy_seed + 2, tokenizer.pad_token_id)
        save_file(model.state_dict(), folder / "copier.safetensors")
        (folder / "losses.json").write_text(json.dumps(losses))

    folder = cached("aligner_copier", settings, build, sources=ALIGNER_SOURCES)
    model = BaichuanForCausalLM(cfg.sizes.config())
    model.load_state_dict(load_file(folder / "copier.safetensors"))
    return model.to(device), json.loads((folder / "losses.json").read_text())


def train_aligner(tokenizer, triples: list[dict], cfg: AlignerConfig, device: torch.device | str = "cpu"):
    """An Aligner trained on ``device`` from a fresh decoder (or, with ``copy_steps``, from ``copier``'s) in two
    stages; returns (model, {"copy": losses, "warmup": losses, "correction": losses})."""
    if cfg.copy_steps:
        model, copied = copier(tokenizer, cfg, device)
    else:
        torch.manual_seed(cfg.seed)
        model, copied = BaichuanForCausalLM(cfg.sizes.config()).to(device), []
    rng = np.random.default_rng(cfg.seed)
    n_copy = round(cfg.warmup_fraction * len(triples))
    copies = [triples[i] for i in rng.permutation(len(triples))[:n_copy]]
    enc = lambda rows, key: [encode_example(tokenizer, r["question"], r["answer"], r[key], PREFIX_LIMIT)  # noqa: E731
                             for r in rows]
    warm = fit(model, enc(copies, "answer"), cfg.warmup_steps if copies else 0, cfg.batch, cfg.lr, cfg.seed,
               tokenizer.pad_token_id)
    main = fit(model, enc(triples, "correction"), cfg.steps, cfg.batch, cfg.lr, cfg.seed + 1,
               tokenizer.pad_token_id)
    return model, {"copy": copied, "warmup": warm, "correction": main}


def cached_aligner(tokenizer, triples: list[dict], cfg: AlignerConfig, device: torch.device | str = "cpu"):
    """``train_aligner`` through the disk cache, keyed on the settings, the triples, the code and (off the
    CPU) the device type; the model comes back on ``device``."""
    device = torch.device(device)
    settings = {**asdict(cfg), "triples": triples, "world": world.fingerprint(), **device_key(device)}

    def build(folder: Path) -> None:
        start = time.perf_counter()
        model, logs = train_aligner(tokenizer, triples, cfg, device=device)
        logs["seconds"] = time.perf_counter() - start
        save_file(model.state_dict(), folder / "aligner.safetensors")
        (folder / "logs.json").write_text(json.dumps(logs))

    folder = cached("aligner", settings, build, sources=ALIGNER_SOURCES)
    model = BaichuanForCausalLM(cfg.sizes.config())
    model.load_state_dict(load_file(folder / "aligner.safetensors"))
    return model.to(device).eval(), json.loads((folder / "logs.json").read_text())


@dataclass
class Correction:
    question: str
    answer: str | None  # None when the upstream failed
    correction: str | None
    error: str | None = None  # why the upstream gave no answer, naming the question
    truncated: bool = False  # the answer was cut to fit the Aligner's context


def _answers(upstream_fn, questions: list[str]) -> list[tuple[str | None, str | None]]:
    """(answer, error) per question: batch call first; on failure (or a wrong-length/typed batch) one by one,
    so one bad question loses only its own answer."""
    try:
        batch = upstream_fn(list(questions))
        if isinstance(batch, list) and len(batch) == len(questions) and all(isinstance(a, str) for a in batch):
            return [(a, None) for a in batch]
    except Exception:  # noqa: BLE001  -- retried one by one below, where the failing question is named
        pass
    out = []
    for q in questions:
        try:
            a = upstream_fn(q)
        except Exception as e:  # noqa: BLE001
            out.append((None, f"upstream raised {type(e).__name__}: {e} on question {q!r}"))
            continue
        if isinstance(a, list) and len(a) == 1:
            a = a[0]
        out.append((a, None) if isinstance(a, str)
                   else (None, f"upstream returned {type(a).__name__}, not a string, on question {q!r}"))
    return out


@torch.no_grad()
def generate_corrections(aligner, tokenizer, questions: list[str], answers: list[str], max_new: int = 40,
                         batch: int = 64, seed: int = 0) -> list[tuple[str, bool]]:
    """Batched near-greedy decoding with the KV cache; (correction, answer was cut) per pair."""
    generator = torch.Generator().manual_seed(seed)
    prefixes = [encode_prefix(tokenizer, q, a, PREFIX_LIMIT) for q, a in zip(questions, answers, strict=True)]
    out = []
    for i in range(0, len(prefixes), batch):
        ids = sample(aligner, [p for p, _ in prefixes[i:i + batch]], max_new, generator, temperature=0.05)
        out += [decode_response(tokenizer, r) for r in ids]
    return [(c, cut) for c, (_, cut) in zip(out, prefixes, strict=True)]


def correct(aligner, tokenizer, upstream_fn, questions: list[str], max_new: int = 40, seed: int = 0
            ) -> list[Correction]:
    """Ask ``upstream_fn`` (any text-in, text-out function; it may also take the whole list) and correct every
    answer. A failed question keeps its place with ``error`` set; an empty answer is corrected like any other
    (the Aligner then writes an answer of its own)."""
    answered = _answers(upstream_fn, questions)
    good = [i for i, (a, _) in enumerate(answered) if a is not None]
    fixed = generate_corrections(aligner, tokenizer, [questions[i] for i in good], [answered[i][0] for i in good],
                                 max_new, seed=seed) if good else []
    result = [Correction(q, a, None, err) for q, (a, err) in zip(questions, answered, strict=True)]
    for i, (c, cut) in zip(good, fixed, strict=True):
        result[i].correction, result[i].truncated = c, cut
    return result


def win_rate(prompts, originals: list[str], corrected: list[str]) -> dict[str, float]:
    """(W - L) / (W + L + T) of the corrected over the original answers, by the judge: helpfulness (higher
    wins) and harmlessness (lower severity wins)."""
    h, s = [], []
    for p, a, c in zip(prompts, originals, corrected, strict=True):
        va, vc = world.judge(p, a), world.judge(p, c)
        h.append(np.sign(vc.helpfulness - va.helpfulness))
        s.append(np.sign(va.severity - vc.severity))
    return {"helpfulness": float(np.mean(h)), "harmlessness": float(np.mean(s))}
