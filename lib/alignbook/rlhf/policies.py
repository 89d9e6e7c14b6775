"""The world's language models: one tokenizer, a decoder fine-tuned on mixed demonstrations (the SFT policy),
sampling with a KV cache, and the token bookkeeping that reward models and PPO share.

Sequences are ``<s> prompt-tokens response-tokens </s>``; the prompt and the response are tokenised apart so
that a sampled response and a demonstrated one meet the prompt at the same token boundary. Batches of prompts
are left-padded for generation (every prompt ends at the same column), batches for score models right-padded
(every sequence starts at column 0, and the end score is read at its last real token).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerFast

from alignbook.cache import cached
from alignbook.devices import device_key, device_of
from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM
from alignbook.lm.tokenizer import train_tokenizer
from alignbook.lm.train import TrainConfig, learning_rate, optimiser
from alignbook.rlhf import world
from alignbook.rlhf.data import PROMPT_TEMPLATE
from alignbook.rlhf.world import Prompt

_PACKAGE = Path(__file__).resolve().parents[1]
# The code a cached SFT policy depends on: a change to any of these files trains it anew.
SFT_SOURCES = tuple(_PACKAGE / name for name in (
    "rlhf/world.py", "rlhf/data.py", "rlhf/policies.py", "lm/model.py", "lm/fused.py", "lm/tokenizer.py",
    "lm/train.py"))


@dataclass(frozen=True)
class Sizes:
    """Explicit sizes of the chapter's decoders (policy, reward, cost, critics and moderation share them)."""

    hidden: int = 64
    layers: int = 2
    heads: int = 2
    vocab: int = 640
    max_response: int = 32

    def config(self) -> BaichuanConfig:
        if self.max_response < 8:
            raise ValueError(f"max_response must be at least 8 tokens, got {self.max_response}")
        return BaichuanConfig(vocab_size=self.vocab, hidden_size=self.hidden, num_hidden_layers=self.layers,
                              num_attention_heads=self.heads, multiple_of=16, max_position_embeddings=256)


def world_tokenizer(vocab: int) -> PreTrainedTokenizerFast:
    """Byte-fallback BPE (alignbook.lm) trained on every text the world can produce."""
    return train_tokenizer(world.corpus(), vocab)


def encode_prompt(tokenizer, prompt: str, limit: int = 128) -> list[int]:
    """``<s>`` and the user's ``prompt`` in the conversation format; a prompt over ``limit`` tokens is refused,
    not truncated: a cut prompt would ask a different question."""
    text = PROMPT_TEMPLATE.format(prompt=prompt)
    ids = [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) > limit:
        raise ValueError(f"prompt {prompt[:40]!r}... is {len(ids)} tokens, longer than the limit of {limit}")
    return ids


def encode_response(tokenizer, text: str) -> list[int]:
    return tokenizer(" " + text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def decode_response(tokenizer, ids: list[int]) -> str:
    if tokenizer.eos_token_id in ids:
        ids = ids[: ids.index(tokenizer.eos_token_id)]
    return tokenizer.decode([i for i in ids if i != tokenizer.pad_token_id]).strip()


def left_pad(rows: list[list[int]], pad: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and the attention mask (1 on real tokens), on ``device`` (default the CPU)."""
    width = max(map(len, rows))
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def right_pad(rows: list[list[int]], pad: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and each row's length, on ``device`` (default the CPU)."""
    width = max(map(len, rows))
    return (torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device),
            torch.tensor([len(r) for r in rows], device=device))


class KVBuffer:
    """A key-value cache written in place into buffers sized for the whole generation: no per-step
    concatenation of the cache (``DynamicCache`` concatenates every layer's keys and values at every token).
    It offers the two methods the model calls, ``get_seq_length`` and ``update``."""

    def __init__(self, config, batch: int, length: int, device: torch.device | None = None):
        shape = (config.num_hidden_layers, batch, config.num_attention_heads, length, config.head_dim)
        self.keys, self.values = torch.empty(shape, device=device), torch.empty(shape, device=device)
        self.filled, self.last_layer = 0, config.num_hidden_layers - 1

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.filled

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *_) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.filled + keys.shape[2]
        self.keys[layer_idx, :, :, self.filled:end] = keys
        self.values[layer_idx, :, :, self.filled:end] = values
        if layer_idx == self.last_layer:  # the model asks for the length once per forward, before layer 0
            self.filled = end
        return self.keys[layer_idx, :, :, :end], self.values[layer_idx, :, :, :end]


def draw(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row of ``probs`` by inverting its cumulative distribution at a uniform draw: one random
    number per row (``torch.multinomial`` draws one per vocabulary entry). The sum runs in float64 so that a
    draw never lands past the last entry with mass; tokens of zero probability are never chosen."""
    cdf = probs.double().cumsum(-1)
    # drawn by the (CPU) generator, then moved: the same numbers on every device
    u = torch.rand(len(probs), 1, generator=generator, dtype=torch.float64).to(probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp(max=probs.shape[1] - 1)


@torch.no_grad()
def sample(model: BaichuanForCausalLM, prompts: list[list[int]], max_new: int, generator: torch.Generator,
           temperature: float = 1.0) -> list[list[int]]:
    """Sample one response per prompt (with the KV cache); each response ends with </s> or at ``max_new``."""
    eos, pad = model.config.eos_token_id, model.config.pad_token_id
    device = device_of(model)
    ids, prompt_mask = left_pad(prompts, pad, device)
    width = ids.shape[1]
    mask = torch.cat([prompt_mask, torch.ones(len(prompts), max_new, dtype=prompt_mask.dtype, device=device)], dim=1)
    cache = KVBuffer(model.config, len(prompts), width + max_new, device)
    logits = model(input_ids=ids, attention_mask=prompt_mask, cache=cache, use_cache=True, logits_to_keep=1).logits
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    tokens = []
    for t in range(max_new):
        token = draw(torch.softmax(logits[:, -1].float() / temperature, dim=-1), generator)
        token = torch.where(done, pad, token)
        tokens.append(token)
        done |= token == eos
        if bool(done.all()) or t + 1 == max_new:
            break
        logits = model(input_ids=token[:, None], attention_mask=mask[:, : width + t + 1], cache=cache,
                       use_cache=True).logits
    stacked = torch.stack(tokens, dim=1).tolist()
    return [r[: r.index(eos) + 1] if eos in r else r for r in stacked]


def generate_text(model, tokenizer, prompts: list[Prompt], max_new: int, seed: int) -> list[str]:
    """One sampled answer per prompt, as text (one CPU thread by default: small models on a shared machine run
    faster on one thread than on two that wait for each other)."""
    generator = torch.Generator().manual_seed(seed)
    ids = sample(model, [encode_prompt(tokenizer, p.text) for p in prompts], max_new, generator)
    return [decode_response(tokenizer, r) for r in ids]


def descend(opt: torch.optim.Optimizer, model: torch.nn.Module, loss: torch.Tensor, step: int,
            cfg: TrainConfig) -> None:
    """One optimiser step on ``loss`` at the schedule's learning rate, gradients clipped as ``cfg`` says."""
    for group in opt.param_groups:
        group["lr"] = learning_rate(step, cfg)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()


def fit(model: BaichuanForCausalLM, examples: list[tuple[list[int], list[int]]], cfg: TrainConfig,
        pad: int) -> list[float]:
    """Supervised steps on (ids, labels) examples; a label of -100 carries no loss (prompt tokens, padding).
    The Aligner's two training stages run through here too."""
    generator = torch.Generator().manual_seed(cfg.seed)
    opt = optimiser(model, cfg)
    losses = []
    model.train()
    for step in range(cfg.steps):
        chosen = [examples[i] for i in torch.randint(len(examples), (cfg.batch_size,), generator=generator)]
        ids, _ = right_pad([x for x, _ in chosen], pad, device_of(model))
        labels, _ = right_pad([y for _, y in chosen], -100, device_of(model))
        loss = model(input_ids=ids, labels=labels).loss
        descend(opt, model, loss, step, cfg)
        losses.append(loss.item())
    model.eval()
    return losses


def sft(model: BaichuanForCausalLM, tokenizer, demos: list[tuple[Prompt, str]], cfg: TrainConfig) -> list[float]:
    """Supervised fine-tuning on (prompt, response) demonstrations; the loss counts response tokens only."""
    examples = []
    for prompt, response in demos:
        p, r = encode_prompt(tokenizer, prompt.text), encode_response(tokenizer, response)
        examples.append((p + r, [-100] * len(p) + r))
    return fit(model, examples, cfg, tokenizer.pad_token_id)


def sft_policy(sizes: Sizes, steps: int, batch: int = 32, lr: float = 3e-3, demos_per_prompt: int = 8,
               seed: int = 0, device: torch.device | str = "cpu",
               ) -> tuple[PreTrainedTokenizerFast, BaichuanForCausalLM]:
    """The world's tokenizer and its SFT policy on ``device``, trained on mixed demonstrations for every prompt
    of the world (cached on disk by sizes, steps, seed and, off the CPU, the device type: GPU arithmetic rounds
    differently)."""
    device = torch.device(device)
    settings = dict(sizes=vars(sizes), steps=steps, batch=batch, lr=lr, demos=demos_per_prompt, seed=seed,
                    world=world.fingerprint(), **device_key(device))

    def build(folder: Path) -> None:
        torch.manual_seed(seed)
        tokenizer = world_tokenizer(sizes.vocab)
        model = BaichuanForCausalLM(sizes.config()).to(device)
        cfg = TrainConfig(steps=steps, batch_size=batch, seq_len=64, lr=lr, warmup_steps=steps // 10, seed=seed)
        sft(model, tokenizer, world.demonstrations(world.all_prompts(), demos_per_prompt, seed), cfg)
        tokenizer.save_pretrained(folder)
        save_file(model.state_dict(), folder / "policy.safetensors")

    folder = cached("rlhf_sft", settings, build, sources=SFT_SOURCES)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    model = BaichuanForCausalLM(sizes.config())
    model.load_state_dict(load_file(folder / "policy.safetensors"))
    return tokenizer, model.to(device).eval()
