"""The pieces of a training checkpoint that both families share: torch optimisers as flat tensors (for
safetensors), and small Python objects (a multiplier, an environment's counters) as JSON.

A checkpoint holds no pickle: tensors go to safetensors, everything else to its JSON metadata, so that loading
one executes nothing.
"""

from __future__ import annotations

from collections import deque

import torch


def optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Every per-parameter state tensor (Adam's moments and step) as ``prefix.index.key``."""
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{prefix}.{index}.{key}"] = torch.as_tensor(value).clone()
    return out


def load_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    full = optimizer.state_dict()
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1:].split(".")
            state.setdefault(int(index), {})[key] = value
    full["state"] = state
    optimizer.load_state_dict(full)


def object_state(obj) -> dict | None:
    """An object's attributes as JSON-able values (deques as lists); ``None`` for no object."""
    if obj is None:
        return None
    return {k: list(v) if isinstance(v, deque) else v for k, v in vars(obj).items()}


def load_object_state(obj, state: dict | None) -> None:
    """The inverse of ``object_state``: a deque attribute stays a deque of the same length."""
    for key, value in (state or {}).items():
        current = getattr(obj, key)
        setattr(obj, key, deque(value, maxlen=current.maxlen) if isinstance(current, deque) else value)
