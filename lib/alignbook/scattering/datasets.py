"""Data sets of scatterers and their wideband data: generated deterministically, in parallel, cached on disk.

Each medium is drawn from its own random stream ``default_rng([seed, split, index])``, so a data set does not
depend on how many processes generated it or in which order. The three families follow the paper:

- ``squares``: overlapping squares of a fixed side (10 h at n = 80), contrast 0.2 each, centres uniform in a
  disc of radius 0.35; overlaps add up;
- ``triangles``: overlapping triangles of three sizes (3, 5 and 10 h at n = 80), random orientation;
- ``shepp_logan``: random ellipses of mixed sign, smoothed, scaled to max |eta| = 1 and windowed by a bump of
  radius 0.48 (Shepp-Logan-type phantoms).

Sizes are physical (fractions of the domain) so that a family looks the same at every resolution. The data
use the sharp medium; the learning target is then blurred by a Gaussian of 0.5 pixel, as in the paper.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from alignbook.cache import cached
from alignbook.scattering.helmholtz import Geometry, forward
from alignbook.workers import map_in_workers

PAPER_H = 1.0 / 79  # the paper's grid step (n = 80): family sizes are given in its pixels
SPLITS = {"train": 0, "test": 1}
SOURCES = (Path(__file__), Path(__file__).parent / "helmholtz.py")  # the code a cached data set depends on


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(-0.5, 0.5, n)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return xx, yy


def _centres(rng: np.random.Generator, count: int, radius: float) -> np.ndarray:
    """Uniform in a disc (sqrt of a uniform radius, so that area, not radius, is uniform)."""
    r = radius * np.sqrt(rng.uniform(size=count))
    phi = rng.uniform(0, 2 * np.pi, size=count)
    return np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)


def squares(rng: np.random.Generator, n: int, count: int = 20, side: float = 10 * PAPER_H,
            contrast: float = 0.2, radius: float = 0.35) -> np.ndarray:
    xx, yy = _grid(n)
    eta = np.zeros((n, n))
    for cx, cy in _centres(rng, count, radius):
        eta += contrast * ((np.abs(xx - cx) <= side / 2) & (np.abs(yy - cy) <= side / 2))
    return eta


def triangles(rng: np.random.Generator, n: int, count: int = 12, sides: tuple[float, ...] = (3, 5, 10),
              contrast: float = 0.2, radius: float = 0.35) -> np.ndarray:
    xx, yy = _grid(n)
    eta = np.zeros((n, n))
    for cx, cy in _centres(rng, count, radius):
        side = rng.choice(sides) * PAPER_H
        turn = rng.uniform(0, 2 * np.pi)
        corners = [(cx + side / np.sqrt(3) * np.cos(turn + k * 2 * np.pi / 3),
                    cy + side / np.sqrt(3) * np.sin(turn + k * 2 * np.pi / 3)) for k in range(3)]
        inside = np.ones_like(xx, dtype=bool)
        # A point is inside an anticlockwise triangle when it is left of all three edges.
        for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
            inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
        eta += contrast * inside
    return eta


def shepp_logan(rng: np.random.Generator, n: int, count: int = 10, window: float = 0.48,
                smoothing: float = 0.01) -> np.ndarray:
    xx, yy = _grid(n)
    eta = np.zeros((n, n))
    for cx, cy in _centres(rng, count, 0.3):
        a, b = rng.uniform(0.03, 0.2, size=2)
        turn = rng.uniform(0, np.pi)
        u = (xx - cx) * np.cos(turn) + (yy - cy) * np.sin(turn)
        v = -(xx - cx) * np.sin(turn) + (yy - cy) * np.cos(turn)
        eta += rng.uniform(-1, 1) * ((u / a) ** 2 + (v / b) ** 2 <= 1)
    eta = gaussian_filter(eta, smoothing * (n - 1))
    r2 = (xx**2 + yy**2) / window**2
    bump = np.where(r2 < 1, np.exp(1 - 1 / np.maximum(1 - r2, 1e-12)), 0.0)
    eta *= bump
    peak = np.abs(eta).max()
    return eta / peak if peak > 0 else eta


FAMILIES: dict[str, Callable[..., np.ndarray]] = {
    "squares": squares,
    "triangles": triangles,
    "shepp_logan": shepp_logan,
}


def medium(family: str, n: int, seed: int, split: str, index: int, **options) -> np.ndarray:
    """The ``index``-th medium of a family and split: the same array whoever asks, in whatever order."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; valid families are: {', '.join(FAMILIES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are: {', '.join(SPLITS)}")
    rng = np.random.default_rng([seed, SPLITS[split], index])
    return FAMILIES[family](rng, n, **options)


@dataclass(frozen=True)
class DataSpec:
    """What defines a data set; its fields are the cache key (with the library's version)."""

    family: str
    n: int
    frequencies: tuple[float, ...]
    n_angles: int
    order: int
    count: int
    split: str
    seed: int
    blur: float = 0.5

    def geometry(self) -> Geometry:
        return Geometry(n=self.n, frequencies=self.frequencies, n_sources=self.n_angles,
                        n_receivers=self.n_angles, order=self.order)


def _generate_chunk(spec: DataSpec, indices: range) -> tuple[np.ndarray, np.ndarray]:
    geom = spec.geometry()
    media = np.stack([medium(spec.family, spec.n, spec.seed, spec.split, i) for i in indices])
    data = np.stack([forward(eta, geom) for eta in media])
    return media, data


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity API
        return os.cpu_count() or 1


def generate(spec: DataSpec, workers: int | None = None, chunk: int = 25) -> dict[str, np.ndarray]:
    """Media (sharp and blurred) and data for ``spec``; solves are spread over processes in chunks."""
    spec.geometry()  # validate before starting any process
    workers = workers or _workers()
    chunks = [range(start, min(start + chunk, spec.count)) for start in range(0, spec.count, chunk)]
    if workers > 1 and len(chunks) > 1:
        # The workers import this module alone (NumPy and SciPy, no torch): they start in a fraction of a second.
        parts = map_in_workers("alignbook.scattering.datasets:_generate_chunk", [(spec, c) for c in chunks], workers)
    else:
        parts = [_generate_chunk(spec, c) for c in chunks]
    media = np.concatenate([p[0] for p in parts])
    data = np.concatenate([p[1] for p in parts])
    target = np.stack([gaussian_filter(m, spec.blur) for m in media]) if spec.blur > 0 else media
    return {"medium": media.astype(np.float32), "target": target.astype(np.float32),
            "data": data.astype(np.complex64)}


def load(spec: DataSpec, workers: int | None = None) -> dict[str, np.ndarray]:
    """The data set for ``spec`` from the on-disk cache, generating (and caching atomically) if missing."""

    def build(folder: Path) -> None:
        for key, value in generate(spec, workers).items():
            np.save(folder / f"{key}.npy", value, allow_pickle=False)

    folder = cached("wbpd-data", asdict(spec), build, sources=SOURCES)
    return {key: np.load(folder / f"{key}.npy", allow_pickle=False) for key in ("medium", "target", "data")}
