"""Interpretability in miniature: a linear probe and activation patching on a tiny Baichuan-style decoder.

The task is *copy the first token*: a sequence of ``length`` random symbols, and the model must output the first
symbol at the last position. The answer is present in the residual stream at position 0 from the start, and
must be moved to the last position by attention. Two questions about the trained model:

- **Probing** (what does a layer know?): a linear classifier, trained on the residual stream at the last
  position after each layer, predicts the first symbol. Its test accuracy says where the answer is decodable.
- **Activation patching** (what matters?): run the model on a clean sequence (first symbol A) and a corrupted
  one (first symbol B, the rest the same); copy the residual stream at one (layer, position) from the clean
  run into the corrupted run, and measure how much of the clean logit difference logit(A) - logit(B) comes
  back. 1 means that activation carries everything the answer depends on, 0 means nothing.

"Layer" l is the residual stream entering block l (l = 0 is the embedding output, l = layers is the stream
after the last block).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from alignbook.devices import device_of
from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM

FIRST_SYMBOL = 3  # ids 0-2 are the config's pad, bos and eos


def make_sequences(count: int, length: int, symbols: int, generator: torch.Generator,
                   device: torch.device | None = None) -> torch.Tensor:
    """Drawn on the CPU generator, then moved to ``device`` (the same sequences on every device)."""
    if length < 2 or symbols < 2:
        raise ValueError(f"need length >= 2 and symbols >= 2, got length={length}, symbols={symbols}")
    return (FIRST_SYMBOL + torch.randint(symbols, (count, length), generator=generator)).to(device)


def make_model(symbols: int, hidden: int, layers: int, heads: int, length: int, seed: int,
               device: torch.device | str = "cpu") -> BaichuanForCausalLM:
    torch.manual_seed(seed)
    config = BaichuanConfig(vocab_size=FIRST_SYMBOL + symbols, hidden_size=hidden, num_hidden_layers=layers,
                            num_attention_heads=heads, max_position_embeddings=length, initializer_range=0.1)
    return BaichuanForCausalLM(config).to(device)


def last_logits(model: BaichuanForCausalLM, sequences: torch.Tensor) -> torch.Tensor:
    return model(input_ids=sequences).logits[:, -1]


def train_copy_first(model: BaichuanForCausalLM, symbols: int, length: int, steps: int, batch: int, lr: float,
                     generator: torch.Generator) -> list[float]:
    """Cross-entropy of the first symbol at the last position; returns the loss curve."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    model.train()
    for _ in range(steps):
        x = make_sequences(batch, length, symbols, generator, device_of(model))
        loss = F.cross_entropy(last_logits(model, x), x[:, 0])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    model.eval()
    return losses


def task_accuracy(model: BaichuanForCausalLM, sequences: torch.Tensor) -> float:
    with torch.no_grad():
        return float((last_logits(model, sequences).argmax(-1) == sequences[:, 0]).float().mean())


def _stream_modules(model: BaichuanForCausalLM) -> list[torch.nn.Module]:
    """The modules whose outputs are the residual stream at layers 0..layers."""
    return [model.get_input_embeddings(), *model.blocks]


@contextmanager
def _hooks(modules, hook):
    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def residual_streams(model: BaichuanForCausalLM, sequences: torch.Tensor) -> list[torch.Tensor]:
    """The residual stream at every layer, each (count, length, hidden)."""
    streams: dict[int, torch.Tensor] = {}

    def keep(i):
        def hook(_module, _inputs, output):
            streams[i] = output.detach()
        return hook

    with torch.no_grad(), _hooks(_stream_modules(model), keep):
        model(input_ids=sequences)
    return [streams[i] for i in range(len(streams))]


def probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                   classes: int, steps: int = 100, l2: float = 1e-3) -> float:
    """Test accuracy of a multinomial logistic-regression probe (standardised inputs, L-BFGS)."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    weights = torch.zeros(train_x.shape[1], classes, device=train_x.device, requires_grad=True)
    bias = torch.zeros(classes, device=train_x.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = F.cross_entropy(train_x @ weights + bias, train_y) + l2 * weights.square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        return float(((test_x @ weights + bias).argmax(-1) == test_y).float().mean())


def probe_layers(model: BaichuanForCausalLM, train: torch.Tensor, test: torch.Tensor, symbols: int,
                 position: int = -1) -> list[float]:
    """For every layer, how well a linear probe at ``position`` decodes the first symbol."""
    train_streams, test_streams = residual_streams(model, train), residual_streams(model, test)
    return [
        probe_accuracy(a[:, position], train[:, 0] - FIRST_SYMBOL, b[:, position], test[:, 0] - FIRST_SYMBOL, symbols)
        for a, b in zip(train_streams, test_streams, strict=True)
    ]


def corrupt_first(sequences: torch.Tensor, symbols: int, generator: torch.Generator) -> torch.Tensor:
    """The same sequences with a different first symbol."""
    shift = (1 + torch.randint(symbols - 1, (len(sequences),), generator=generator)).to(sequences.device)
    corrupted = sequences.clone()
    corrupted[:, 0] = FIRST_SYMBOL + (sequences[:, 0] - FIRST_SYMBOL + shift) % symbols
    return corrupted


def _logit_difference(logits: torch.Tensor, clean: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(len(logits), device=logits.device)
    return logits[rows, clean[:, 0]] - logits[rows, corrupted[:, 0]]


def activation_patching(model: BaichuanForCausalLM, clean: torch.Tensor, corrupted: torch.Tensor) -> np.ndarray:
    """(layers + 1, length) array: the fraction of the clean logit difference restored by patching each site."""
    clean_streams = residual_streams(model, clean)
    with torch.no_grad():
        clean_ld = _logit_difference(last_logits(model, clean), clean, corrupted).mean()
        corrupt_ld = _logit_difference(last_logits(model, corrupted), clean, corrupted).mean()
    modules = _stream_modules(model)
    restored = np.zeros((len(modules), clean.shape[1]))
    for layer, module in enumerate(modules):
        for position in range(clean.shape[1]):
            def patch(_module, _inputs, output, layer=layer, position=position):
                output = output.clone()
                output[:, position] = clean_streams[layer][:, position]
                return output

            handle = module.register_forward_hook(patch)
            try:
                with torch.no_grad():
                    patched_ld = _logit_difference(last_logits(model, corrupted), clean, corrupted).mean()
            finally:
                handle.remove()
            restored[layer, position] = float((patched_ld - corrupt_ld) / (clean_ld - corrupt_ld))
    return restored
