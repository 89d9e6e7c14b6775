"""What every notebook calls first: validate the parameters cell, seed everything, choose the device.

A chapter begins with::

    ch = alignbook.chapter("survey", scale=scale, seed=seed, device=device)
    cfg = ch.cfg            # the sizes for this scale, from alignbook.scales
    ...
    ch.report.claim(...)    # the reproduction report, shown with ch.report.show() at the end
"""

from __future__ import annotations

import json
import os
import random
import re
import time
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
    rehearsing = scale == "full" and bool(os.environ.get(scales.REHEARSE_ENV))
    # The book's one thread policy (alignbook.threads); a rehearsal of full runs on a CPU that CI shares with other
    # jobs, so on the one thread of the small scales: its estimates are for one core, an upper bound for two.
    threads.apply(None if rehearsing else scale)
    if os.environ.get(AUDIT_ENV) == "1":  # the smoke tests check that the chapter's tensors follow ``device``
        from alignbook import devices

        devices.audit_kernel(resolved)
    seed_everything(seed)
    if rehearsing:
        cfg = _offline_corpus(cfg)
        _record_cells(os.environ[scales.REHEARSE_ENV])
        print(f"rehearsal of {name!r} at full: every loop cut to two iterations; the results are not judged")
    return Chapter(name, scale, seed, resolved, cfg, Report(name, scale))


def _offline_corpus(cfg: scales.Config) -> scales.Config:
    """A rehearsal never downloads: a corpus on the Hub ("hf:OWNER/NAME") is replaced by a local stand-in in the
    same layout (the embedded corpus as ``corpus_files``, documents separated as in TinyStories)."""
    source = cfg.get("corpus", "")
    if not source.startswith("hf:") or os.path.isdir(source[3:]):
        return cfg
    from alignbook.cache import cache_root
    from alignbook.lm.corpus import default_corpus

    folder = cache_root() / "rehearsal-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    name = cfg.corpus_files if "*" not in cfg.corpus_files else "stand-in.txt"
    documents = default_corpus()
    (folder / name).write_text("\n<|endoftext|>\n".join(documents), encoding="utf-8")
    print(f"rehearsal: the corpus {source[3:]!r} (on the Hub) is replaced by a local stand-in in the same "
          f"format: {len(documents)} documents of the embedded corpus in {folder / name}")
    values = {**cfg._values, "corpus": f"hf:{folder}", "corpus_files": name}  # _values: not counted as reads
    return scales.Config(cfg._chapter, cfg._scale, values, reads=cfg._reads)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker processes closed within a cell): unlike
    wall time, hardly moved by other programs on a shared machine."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _record_cells(log_path: str) -> None:
    """Append, after every cell, its execution count, wall time, CPU time, the (chapter, key) settings it read and
    the CUDA peak memory so far to the JSON list at ``log_path`` (read by alignbook.book.rehearsal)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("a rehearsal runs inside a notebook kernel (python -m alignbook run ... --rehearse)")
    cells: list[dict] = []
    # the current cell (this one first) began just before chapter() was called
    started, cpu_started = [time.perf_counter()], [_cpu_seconds()]

    def pre(_info) -> None:
        scales.READS.clear()
        started[0], cpu_started[0] = time.perf_counter(), _cpu_seconds()

    def post(result) -> None:
        import sys

        torch = sys.modules.get("torch")
        cuda = torch.cuda.max_memory_allocated() if torch is not None and torch.cuda.is_initialized() else 0
        cells.append({"execution_count": result.execution_count, "seconds": time.perf_counter() - started[0],
                      "cpu_seconds": _cpu_seconds() - cpu_started[0], "reads": sorted(scales.READS),
                      "cuda_peak_bytes": cuda})
        with open(log_path, "w", encoding="utf-8") as handle:
            json.dump(cells, handle)

    scales.READS.clear()
    shell.events.register("pre_run_cell", pre)
    shell.events.register("post_run_cell", post)
