"""Figure helpers shared by the chapters."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def band(ax, frame: pd.DataFrame, x: str, y: str, label: str | None = None, color=None, level: float = 0.95):
    """Plot the mean of ``y`` over seeds against ``x`` with a Student-t confidence band of the mean."""
    grouped = frame.groupby(x)[y]
    mean, std, count = grouped.mean(), grouped.std(ddof=1).fillna(0.0), grouped.count()
    # With one seed there is no spread to show: the band collapses onto the line.
    half = np.where(count > 1, stats.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1)) * std / np.sqrt(count), 0.0)
    line = ax.plot(mean.index, mean.values, marker="o", ms=3, label=label, color=color)[0]
    ax.fill_between(mean.index, mean.values - half, mean.values + half, color=line.get_color(), alpha=0.2, lw=0)
    return line
