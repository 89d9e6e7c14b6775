"""Random layouts by keepout rejection sampling, with upstream's rules.

Every object has a keepout radius. An object is drawn uniformly in its placement box shrunk by its keepout and
is rejected when it lies closer than ``keepout_i + keepout_j`` to an object placed before it; an object gets
100 draws, a layout 10,000 attempts (then ``ResamplingError``). Objects are placed in a fixed order: the agent
first, then the task's objects in their declared order.
"""

from __future__ import annotations

import numpy as np


class ResamplingError(RuntimeError):
    """No valid layout (or goal position) was found within the allowed number of attempts."""


def draw(rng: np.random.Generator, box: tuple[float, float, float, float], keepout: float, n: int) -> np.ndarray:
    """``n`` uniform candidates, shape (n, 2), in ``box`` shrunk by ``keepout``."""
    xmin, ymin, xmax, ymax = box
    return rng.uniform((xmin + keepout, ymin + keepout), (xmax - keepout, ymax - keepout), size=(n, 2))


def first_fit(candidates: np.ndarray, keepout: float, placed_xy: np.ndarray, placed_keepout: np.ndarray) -> int:
    """Index of the first candidate far enough from every placed object, or -1.

    Taking the first valid one of n independent draws is the same distribution as drawing one at a time until
    one fits (upstream's loop), so a whole batch is checked with a few NumPy operations.
    """
    if len(placed_xy) == 0:
        return 0
    dx = candidates[:, :1] - placed_xy[:, 0]
    dy = candidates[:, 1:] - placed_xy[:, 1]
    ok = (dx * dx + dy * dy >= (placed_keepout + keepout) ** 2).all(axis=1)
    k = int(ok.argmax())
    return k if ok[k] else -1


def sample_layout(
    rng: np.random.Generator,
    boxes: list[tuple[float, float, float, float]],
    keepouts: np.ndarray,
    tries_per_object: int = 100,
    layouts: int = 10_000,
) -> np.ndarray:
    """XY positions, shape (n, 2), for n objects with placement ``boxes`` and ``keepouts``, in order."""
    n = len(boxes)
    keepouts = np.asarray(keepouts, dtype=np.float64)
    shrunk = np.asarray(boxes, dtype=np.float64) + np.c_[keepouts, keepouts, -keepouts, -keepouts]
    low, span = shrunk[:, None, :2], shrunk[:, None, 2:] - shrunk[:, None, :2]
    xy = np.zeros((n, 2))
    for _ in range(layouts):
        # Every object's candidates for this attempt in one draw (cheaper than one call per object).
        candidates = low + span * rng.random((n, tries_per_object, 2))
        for i in range(n):
            k = first_fit(candidates[i], keepouts[i], xy[:i], keepouts[:i])
            if k < 0:
                break  # this object found no room in its tries: start the whole layout again
            xy[i] = candidates[i, k]
        else:
            return xy
    raise ResamplingError(f"failed to place {n} objects in {layouts} layout attempts")


def sample_one(
    rng: np.random.Generator,
    box: tuple[float, float, float, float],
    keepout: float,
    others_xy: np.ndarray,
    others_keepout: np.ndarray,
    tries: int = 10_000,
) -> np.ndarray:
    """A new position for one object (the goal, after it is reached) that respects every other object."""
    for _ in range(tries // 100):
        candidates = draw(rng, box, keepout, 100)
        k = first_fit(candidates, keepout, others_xy, others_keepout)
        if k >= 0:
            return candidates[k]
    raise ResamplingError(f"failed to place an object in {tries} attempts")
