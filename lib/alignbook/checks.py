"""Argument checks shared by the whole library: one message for one mistake, naming the argument."""

from __future__ import annotations

import numbers
from typing import Any


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a whole number >= 1 (a bool is not); else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)
