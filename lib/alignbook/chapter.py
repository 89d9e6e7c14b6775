"""What every notebook calls first: validate the parameters cell, seed everything, choose the device.

A chapter begins with::

    ch = alignbook.chapter("survey", scale=scale, seed=seed, device=device)
    cfg = ch.cfg            # the sizes for this scale, from alignbook.scales
    ...
    ch.report.claim(...)    # the reproduction report, shown with ch.report.show() at the end
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from alignbook import scales, threads
from alignbook.report import Report

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

# The runner sets this in the kernel's environment: progress bars would only flood the executed notebook.
RUNNER_ENV = "ALIGNBOOK_RUNNER"
# Set to 1, every torch call of the kernel runs under alignbook.devices.DeviceAudit (kept here, light to import).
AUDIT_ENV = "ALIGNBOOK_DEVICE_AUDIT"
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that a chapter gives the same numbers on the same CPU."""
    import torch  # here, not at the top: ``import alignbook`` stays light for processes that never use torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- libraries that still use the global NumPy state
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; anything else must name a device this machine has."""
    import torch

    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ValueError(f"unknown device {device!r}; valid values are: auto, cpu, cuda, cuda:N, mps")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but this machine has no CUDA device; use 'cpu' or 'auto'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for but is not available here; use 'cpu' or 'auto'")
    return torch.device(device)


def progress(iterable: Iterable[T], total: int | None = None, desc: str | None = None) -> Iterator[T]:
    """A tqdm bar for interactive readers, silent when the book's runner executes the chapter."""
    if os.environ.get(RUNNER_ENV):
        return iter(iterable)
    from tqdm.auto import tqdm  # its "IProgress not found" warning is filtered in alignbook/__init__.py

    return iter(tqdm(iterable, total=total, desc=desc, leave=False))


@dataclass
class Chapter:
    """One chapter's run: its name, validated parameters, sizes and reproduction report."""

    name: str
    scale: str
    seed: int
    device: torch.device
    cfg: scales.Config
    report: Report = field(repr=False)

    def __str__(self) -> str:
        return f"chapter {self.name!r} at scale {self.scale!r}, seed {self.seed}, on {self.device}"


def chapter(name: str, scale: str = "book", seed: int = 0, device: str = "auto") -> Chapter:
    """Validate a notebook's parameters before any work and set up its run."""
    cfg = scales.get(name, scale)  # validates both the chapter name and the scale
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    resolved = resolve_device(device)
    threads.apply(scale)  # the book's one thread policy (alignbook.threads)
    if os.environ.get(AUDIT_ENV) == "1":  # the smoke tests check that the chapter's tensors follow ``device``
        from alignbook import devices

        devices.audit_kernel(resolved)
    seed_everything(seed)
    return Chapter(name, scale, seed, resolved, cfg, Report(name, scale))
