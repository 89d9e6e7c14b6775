"""The alignment cycle of the survey, drawn by the book itself (home page and survey chapter).

Forward alignment produces a trained system (learning from feedback, learning under distribution shift);
backward alignment checks and governs it (assurance, governance) and feeds what it finds back into training.
The four RICE objectives -- robustness, interpretability, controllability, ethicality -- sit at the centre.

The home page shows the committed ``book/figures/alignment-cycle.svg``; after a change here, redraw it with
``python -m alignbook.survey.cycle book/figures/alignment-cycle.svg`` (a test checks that it is current).
"""

from __future__ import annotations

import sys

import matplotlib
import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from alignbook.plotting import figure as column_figure

FORWARD, BACKWARD = "#2f6db5", "#c8602a"

# (label, angle in degrees on the cycle, colour of the half it belongs to)
STAGES = (
    ("Learning from\nfeedback", 145, FORWARD),
    ("Learning under\ndistribution shift", 35, FORWARD),
    ("Assurance", -35, BACKWARD),
    ("Governance", -145, BACKWARD),
)
RICE = ("Robustness", "Interpretability", "Controllability", "Ethicality")


def draw_alignment_cycle(radius: float = 1.0) -> plt.Figure:
    figure, ax = column_figure(height=5.2)  # the book's column width: its text reads at the body's size
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_xlim(-2.0, 2.0)
    ax.set_ylim(-1.55, 1.55)

    # the cycle: an arrow from each stage to the next, clockwise, coloured by the half it starts in
    for (_, here, colour), (_, there, _) in zip(STAGES, STAGES[1:] + STAGES[:1], strict=True):
        there = there if there < here else there - 360
        p, q = np.deg2rad([here - 22, there + 22])
        ax.add_patch(FancyArrowPatch(
            (radius * 1.1 * np.cos(p), radius * np.sin(p)), (radius * 1.1 * np.cos(q), radius * np.sin(q)),
            connectionstyle="arc3,rad=-0.3", arrowstyle="-|>", mutation_scale=16, lw=2.2, color=colour,
        ))
    ax.text(1.55, 0, "deploy", ha="center", va="center", fontsize=10, style="italic")
    ax.text(-1.55, 0, "revise", ha="center", va="center", fontsize=10, style="italic")
    for label, angle, colour in STAGES:
        x, y = radius * 1.12 * np.cos(np.deg2rad(angle)), radius * 1.05 * np.sin(np.deg2rad(angle))
        ax.add_patch(FancyBboxPatch((x - 0.42, y - 0.17), 0.84, 0.34, boxstyle="round,pad=0.04",
                                    fc="white", ec=colour, lw=2))
        ax.text(x, y, label, ha="center", va="center", fontsize=10)
    ax.text(0, 1.4, "Forward alignment: make the system aligned", ha="center", color=FORWARD, fontsize=11,
            weight="bold")
    ax.text(0, -1.45, "Backward alignment: check and govern it, feed findings back", ha="center",
            color=BACKWARD, fontsize=11, weight="bold")
    ax.text(0, 0.3, "RICE objectives", ha="center", va="center", fontsize=11, weight="bold")
    for i, word in enumerate(RICE):
        ax.text(0, 0.08 - 0.2 * i, f"{word[0]}  {word}", ha="center", va="center", fontsize=10)
    figure.tight_layout()
    return figure


def save_alignment_cycle(path: str) -> None:
    """The figure as an SVG that is the same byte for byte on every run (no date, fixed element ids)."""
    with matplotlib.rc_context({"svg.hashsalt": "alignment-cycle"}):
        figure = draw_alignment_cycle()
        figure.savefig(path, bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)


if __name__ == "__main__":
    save_alignment_cycle(sys.argv[1])
