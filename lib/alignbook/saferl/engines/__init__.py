"""Engines: who carries out an algorithm's update. The algorithm file says *what* the update is (its loss, its
multiplier); an engine runs it.

- ``autograd``  the reference: runs the algorithm file's own ``update_networks`` (its ``actor_loss`` with
                torch's autograd). Every algorithm.
- ``numpy``     an accelerator for the minibatch family whose loss it knows (``surrogate`` and
                ``clipped_surrogate``: PG, PPO, PPO-Lag, CPPO-PID): the same update in NumPy with a
                hand-written backward pass, the actor's passes in a second process. Tested equal to the
                reference (``tests/test_saferl_engines.py``).

``train(..., engine=None)`` picks the fastest engine that supports the algorithm; off the CPU (``device`` in
the config) that is ``autograd``, whose tensors follow the networks to the device.
"""

from __future__ import annotations

from alignbook.saferl.engines.numpy_minibatch import NumpyEngine
from alignbook.saferl.engines.reference import Autograd, Engine

# Fastest first: with no name, ``make_engine`` takes the first that supports the algorithm.
ENGINES: dict[str, type[Engine]] = {"numpy": NumpyEngine, "autograd": Autograd}


def make_engine(algo, name: str | None = None) -> Engine:
    """The engine ``name`` for ``algo``; with ``None``, the fastest one that supports it (on a GPU: autograd)."""
    if name is None:
        return next(cls(algo) for cls in ENGINES.values() if cls.supports(algo))
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; valid engines: {', '.join(ENGINES)}")
    cls = ENGINES[name]
    if not cls.supports(algo):
        raise ValueError(f"engine {name!r} does not support {algo.name!r} with these settings "
                         f"(loss {algo.loss!r}); use engine='autograd'")
    return cls(algo)


__all__ = ["ENGINES", "Autograd", "Engine", "make_engine"]
