"""The book's one figure style: sizes that read at the site's column width, ticks that cannot collide, one
colour per method, and uncertainty over seeds drawn honestly.

The whole API::

    from alignbook import plotting

    colors = plotting.method_colors(["ppo", "ppo_lag", "cpo"])   # once per chapter: one colour per method
    fig, axes = plotting.figure(ncols=2)                          # the site's column width, any grid
    for name in colors:
        plotting.seeds(axes[0], logs[logs.algo == name], x="steps", y="episode_cost", label=name,
                       color=colors[name], bounds=(0, None))      # a cost is never negative
    plotting.legend_outside(fig)                                  # one legend, below the panels
    plotting.show(fig)                                            # tidy the ticks, lay out, display

- ``figure(ncols=1, nrows=1, height=None, width=1.0, **subplots)`` makes a figure ``width`` times the column
  wide (``COLUMN_INCHES`` at ``DPI``: about 780 px, the width the site shows it at, so that 10-point text is as
  large as the body's small text) and applies the style. It returns ``(fig, axes)`` like ``plt.subplots``.
- ``seeds(ax, frame, x, y, label=None, color=None, bounds=(None, None), unit="seed")`` plots the mean of ``y``
  over the ``unit`` column at each ``x``. With fewer than ``BOOTSTRAP_MIN`` seeds it draws every seed as a thin
  line (an interval from two or three values would be a guess); with more, a percentile bootstrap interval of
  the mean. Nothing is drawn outside ``bounds``: a band is clipped to the quantity's range.
- ``describe(count)`` says what ``seeds`` draws for ``count`` seeds, for a title ("mean of 3 seeds, each seed a
  thin line").
- ``settings_line(values, title=None)`` writes a run's settings (a dict, a chapter's ``cfg``) for the reader, in
  place of a repr: ``toy runs: steps per epoch 200 · hidden 16, 16 · actor lr 0.003``, wrapped between settings.
- ``method_colors(names)`` maps each name to a distinct colour (the first six colour-blind-safe): a method the
  book compares in several chapters keeps its colour in all of them (``METHOD_COLORS``: an unconstrained
  baseline blue, its Lagrangian version orange), other names take the free colours in order;
  ``method_styles(names)`` maps each to a colour (the same) and a line style (``plot(..., **styles[name])``):
  overlapping curves stay visible, and up to 20 methods stay apart.
- ``legend_outside(fig_or_ax, where="below")`` gathers the labelled lines into one legend outside the data:
  below the figure (default), below one axes' x label, or to the right. Chapters draw no legend any other way.
- ``tidy(fig)`` gives every axis few ticks with short labels (``1.5k``, ``20M``, log decades without minor
  labels); ``show(fig)`` calls it, lays the figure out (a figure title clear of the panels' titles) and displays
  it. Figures that a library function returns call ``tidy`` themselves.
"""

from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib import ticker
from matplotlib.category import StrCategoryLocator
from matplotlib.figure import Figure

COLUMN_INCHES = 7.8  # the site's text column, in inches at DPI: 780 px
DPI = 100
ROW_INCHES = 3.0
BOOTSTRAP_MIN = 5  # from this many seeds on, a bootstrap interval; below it, the seeds themselves
BOOTSTRAP_DRAWS = 2000

# Okabe and Ito's palette, distinguishable with every common colour-vision deficiency (black left out: it is
# the colour of reference lines; yellow too: a thin yellow line vanishes on white), then tab10's grey, brown and
# purple and Tol's olive. Every colour stands out from white (contrast >= 2.2) and from every other one.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
           "#7f7f7f", "#8c564b", "#9467bd", "#999933")
# Line styles cycle independently of the colours: neighbours in a chapter's list differ in both, so a curve
# drawn over another of the same values still shows as a dash pattern, and colour and style together tell
# lcm(len(PALETTE), len(LINESTYLES)) = 20 methods apart.
LINESTYLES = ("-", "--", "-.", ":")
# The book's methods that appear in more than one chapter or figure, by palette index: a reader who has learnt
# that PPO-Lag is orange in SafePO finds it orange in OmniSafe, and Safe RLHF (the same Lagrangian idea) too.
METHOD_COLORS = {
    # unconstrained baselines: blue; their Lagrangian versions: orange
    "ppo": 0, "RLHF": 0, "mappo": 0, "dreamer": 0,
    "ppo_lag": 1, "Safe RLHF": 1, "mappo_lag": 1, "osrp_lag": 1,
    # the other constrained methods
    "cppo_pid": 2, "cpo": 3, "macpo": 3, "trpo": 4, "happo": 4, "trpo_lag": 5, "bsrp_lag": 5, "osrp": 2,
    "focops": 7, "pcpo": 8, "cup": 9, "ppo_saute": 8, "ppo_simmer_pid": 9, "sac": 4, "td3": 5,
    # language-model methods: the SFT start grey, DPO green
    "SFT": 6, "DPO": 2,
}

STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.formatter.use_mathtext": True,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's style to every figure made from now on (``figure`` does it for you)."""
    mpl.rcParams.update(STYLE)


def figure(ncols: int = 1, nrows: int = 1, height: float | None = None, width: float = 1.0, **subplots):
    """A figure ``width`` times the site's column wide with an ``nrows`` x ``ncols`` grid of axes.

    ``height`` is the figure's height in inches (default ``ROW_INCHES`` per row). Other keywords go to
    ``plt.subplots`` (``sharex``, ``squeeze``, ``subplot_kw``, ...).
    """
    if ncols < 1 or nrows < 1:
        raise ValueError(f"ncols and nrows must be at least 1, got ncols={ncols}, nrows={nrows}")
    if not 0 < width <= 1 + 1e-9:  # a width computed as k x (column / k) may round just above 1
        raise ValueError(f"width is a fraction of the column in (0, 1], got {width}")
    width = min(width, 1.0)
    use_style()
    size = (COLUMN_INCHES * width, height if height is not None else ROW_INCHES * nrows)
    return plt.subplots(nrows, ncols, figsize=size, **subplots)


def _palette_indices(names: list[str], styles: int = 1) -> list[int]:
    """A palette index per name: a name of ``METHOD_COLORS`` keeps its own while no earlier name in the list has
    taken it, the others take the free colours in order. With ``styles`` line styles (name i drawn in style
    i mod ``styles``), a colour may serve again once the palette is used up, never twice in the same style."""
    taken: set[tuple[int, int]] = set()  # (colour, line style) pairs given out
    out: list[int | None] = [None] * len(names)
    for i, name in enumerate(names):  # the book-wide colours first, so that no unknown name takes them
        own = METHOD_COLORS.get(name)
        if own is not None and all(k != own for k, _ in taken):
            out[i] = own
            taken.add((own, i % styles))
    for i in range(len(names)):
        if out[i] is None:
            uses = [sum(k == used for used, _ in taken) for k in range(len(PALETTE))]
            # a free colour first; past the palette, the least used one not yet drawn in this line style
            k = min((k for k in range(len(PALETTE)) if (k, i % styles) not in taken), key=lambda k: (uses[k], k))
            out[i] = k
            taken.add((k, i % styles))
    return out


def method_colors(names) -> dict[str, str]:
    """One distinct colour per name (the book-wide one for the methods of ``METHOD_COLORS``); call once per
    chapter and reuse the mapping."""
    names = list(dict.fromkeys(names))
    if len(names) > len(PALETTE):
        raise ValueError(f"{len(names)} methods but only {len(PALETTE)} distinct colours; group them, or use "
                         "method_styles (colour and line style)")
    return {name: PALETTE[k] for name, k in zip(names, _palette_indices(names), strict=True)}


def method_styles(names) -> dict[str, dict[str, str]]:
    """One distinct look per name, in the order given: ``{"color", "linestyle", "zorder"}`` to pass to ``plot``
    or ``seeds`` as keywords. Colours are ``method_colors``' for the same list (a method keeps its colour in
    figures drawn either way); the line style tells apart overlapping curves and lists longer than the palette.
    Sparser dash patterns lie above denser ones (a solid line drawn last would cover a dashed one exactly).
    """
    names = list(dict.fromkeys(names))
    limit = math.lcm(len(PALETTE), len(LINESTYLES))  # the pairs repeat after this many names
    if len(names) > limit:
        raise ValueError(f"{len(names)} methods but only {limit} distinct colour and line-style pairs; group them")
    indices = _palette_indices(names, styles=len(LINESTYLES))
    return {name: {"color": PALETTE[k], "linestyle": LINESTYLES[i % len(LINESTYLES)],
                   "zorder": 2 + 0.1 * (i % len(LINESTYLES))}  # 2: matplotlib's lines; the axes' spines at 2.5
            for i, (name, k) in enumerate(zip(names, indices, strict=True))}


def bootstrap_interval(values: np.ndarray, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP_DRAWS, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def seeds(ax, frame: pd.DataFrame, x: str, y: str, label: str | None = None, color=None,
          bounds: tuple[float | None, float | None] = (None, None), unit: str = "seed", level: float = 0.95,
          **line):
    """Mean of ``y`` over seeds against ``x``, with the seeds themselves (< BOOTSTRAP_MIN) or a bootstrap band.

    ``frame`` holds one row per (``unit``, ``x``). ``bounds`` is the quantity's range, e.g. ``(0, None)`` for a
    cost or ``(0, 1)`` for an accuracy: the band never leaves it. Other keywords (``linestyle``, ``marker``: a
    ``method_styles`` entry) style the mean's line; the seeds' thin lines stay solid. Returns the mean's line
    (for legends).
    """
    missing = [c for c in (x, y, unit) if c not in frame.columns]
    if missing:
        raise KeyError(f"seeds() needs columns {missing} in the frame; it has {list(frame.columns)}")
    low, high = (-np.inf if bounds[0] is None else bounds[0]), (np.inf if bounds[1] is None else bounds[1])
    table = frame.pivot_table(index=x, columns=unit, values=y, aggfunc="mean").sort_index()
    mean = table.mean(axis=1)
    if "linewidth" not in line:
        line = {"lw": 1.8, **line}
    line = ax.plot(mean.index, mean.values, **line, label=label, color=color)[0]
    color = line.get_color()
    count = table.shape[1]
    if count < BOOTSTRAP_MIN:
        if count > 1:
            for column in table.columns:
                ax.plot(table.index, table[column].values, lw=0.7, alpha=0.45, color=color)
    else:
        bands = np.array([bootstrap_interval(row.dropna().values, level) for _, row in table.iterrows()])
        ax.fill_between(table.index, np.clip(bands[:, 0], low, high), np.clip(bands[:, 1], low, high),
                        color=color, alpha=0.2, lw=0)
    return line


def describe(count: int) -> str:
    """What ``seeds`` draws around the mean for ``count`` seeds, for a figure's title or caption."""
    if count < 2:
        return "one seed"
    if count < BOOTSTRAP_MIN:
        return f"mean of {count} seeds, each seed a thin line"
    return f"mean of {count} seeds, 95% bootstrap interval"


def _setting(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_setting(v) for v in value)
    return "none" if value is None else str(value)


def settings_line(values, title: str | None = None, width: int = 80) -> str:
    """``values`` (a mapping: a dict of settings, a chapter's ``cfg``) as the reader reads them, after ``title``
    if given: each name in words, each value plain (``1,000``, ``0.003``, ``16, 16``, ``yes``), separated by
    middle dots, in lines of at most ``width`` characters (what a printed output shows in the site's column
    without scrolling) broken between settings, never inside one."""
    from alignbook.scales import Config

    if isinstance(values, Config):
        values = values._values  # shown, not used: reads through the mapping would tell the rehearsal otherwise
    if not hasattr(values, "items"):
        raise TypeError(f"settings_line takes a mapping of names to values, got {type(values).__name__}")
    lines, line = [], f"{title}:" if title else ""
    for name, value in values.items():
        item = f"{str(name).replace('_', ' ')} {_setting(value)}"
        separator = " " if line.endswith(":") else " · "
        if line and len(line) + len(separator) + len(item) > width:
            lines.append(line)
            line = item
        else:
            line = f"{line}{separator}{item}" if line else item
    return "\n".join([*lines, line])


LEGEND_CHAR_INCHES = 0.075  # the mean width of a character at legend.fontsize 9, in inches
LEGEND_HANDLE_INCHES = 0.6  # a legend entry's line sample and the gaps around it


def legend_outside(target, where: str = "below", ncols: int | None = None, **legend):
    """One legend for ``target`` (a figure: every axes' entries, each label once; or one axes) outside the data.

    ``where="below"``: under the whole figure (a figure legend; the inline display and
    ``savefig(bbox_inches="tight")`` grow the image to include it) or under one axes' x label (panels whose
    legends differ), in as many columns as the width holds. ``where="right"``: beside the axes (``tight_layout``
    narrows the axes to keep the figure the column wide) or beside the figure. Reference lines enter with their
    ``label``. Returns the legend.
    """
    if where not in ("below", "right"):
        raise ValueError(f"where is 'below' or 'right', got {where!r}")
    fig = target if isinstance(target, Figure) else target.figure
    axes = fig.axes if target is fig else [target]
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)  # the same method in two panels is one entry
        if ax.get_legend() is not None:
            ax.get_legend().remove()  # a legend drawn earlier inside the data would stay there
    if not entries:
        raise ValueError("legend_outside found no labelled artists: pass label= to plot, seeds or axhline")
    handles, labels = list(entries.values()), list(entries)
    if where == "right":
        if ncols is None:
            ncols = 1
        holder, anchor = (fig, (1.0, 0.5)) if target is fig else (target, (1.02, 0.5))
        return holder.legend(handles, labels, loc="center left", bbox_to_anchor=anchor, ncols=ncols, **legend)
    if ncols is None:
        room = fig.get_size_inches()[0] * (1 if target is fig else target.get_position().width)
        entry = LEGEND_HANDLE_INCHES + LEGEND_CHAR_INCHES * max(len(label) for label in labels)
        ncols = int(np.clip(room // entry, 1, len(labels)))
    if target is fig:
        return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=ncols, **legend)
    # Under the axes' tick labels and x label: their height in points does not change when the layout moves
    # the axes, so the anchor is the axes' bottom edge less that height, measured once here.
    renderer = fig.canvas.get_renderer()
    depth = (target.bbox.y0 - target.get_tightbbox(renderer).y0) * 72 / fig.dpi
    anchor = target.transAxes + mpl.transforms.ScaledTranslation(0, -(depth + 2) / 72, fig.dpi_scale_trans)
    return target.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=anchor,
                         ncols=ncols, **legend)


LABEL_INCHES = 0.6  # room one x tick label needs ("-0.25", "150k"): fewer ticks on a narrow panel


def _short(value: float, _position=None) -> str:
    """A log axis's label: plain digits from 0.001 to 9999 ("0.5", "200"), else a power of ten."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:g}"
    exponent = int(np.floor(np.log10(abs(value))))
    mantissa = value / 10**exponent
    return f"$10^{{{exponent}}}$" if np.isclose(mantissa, 1) else f"${mantissa:.2g}\\times10^{{{exponent}}}$"


def _tidy_axis(axis, scale: str, length_inches: float) -> None:
    nbins = int(np.clip(length_inches / LABEL_INCHES, 2, 5))
    if scale == "log":
        if not isinstance(axis.get_major_locator(), ticker.FixedLocator):
            low, high = sorted(abs(v) for v in axis.get_view_interval())
            decades = np.log10(high / low) if low > 0 else np.inf
            # within about a decade the powers of ten alone leave the axis unlabelled: add 2x and 5x
            subs = (1.0, 2.0, 5.0) if decades < 1.5 else (1.0,)
            axis.set_major_locator(ticker.LogLocator(subs=subs, numticks=nbins + 1))
            axis.set_major_formatter(ticker.FuncFormatter(_short))
        axis.set_minor_formatter(ticker.NullFormatter())  # minor labels ("6x10^1") collide with the major ones
        return
    if scale != "linear" or isinstance(axis.get_major_locator(), (ticker.FixedLocator, StrCategoryLocator)):
        return  # symlog and explicit ticks (categories, chosen values) are the author's choice
    axis.set_major_locator(ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    if isinstance(axis.get_major_formatter(), ticker.ScalarFormatter):
        low, high = axis.get_view_interval()
        if max(abs(low), abs(high)) >= 1e4:
            axis.set_major_formatter(ticker.EngFormatter(sep=""))  # 150k, not 150000 or an offset


def tidy(fig) -> None:
    """Few ticks with short labels on every axis of ``fig`` (see the module docstring)."""
    for ax in fig.axes:
        if not ax.axison:
            continue
        box = ax.get_position()
        width, height = fig.get_size_inches()
        _tidy_axis(ax.xaxis, ax.get_xscale(), box.width * width)
        _tidy_axis(ax.yaxis, ax.get_yscale(), 2 * box.height * height)  # y labels stack: they need less room


def _clear_suptitle(fig) -> None:
    """Move the axes down until the figure's title clears every panel's title and labels.

    ``tight_layout`` leaves a tall grid of fixed-aspect panels (images) under the title: the first row's panel
    titles then print through it."""
    title = getattr(fig, "_suptitle", None)
    if title is None or not title.get_text() or not fig.axes:
        return
    renderer = fig.canvas.get_renderer()
    panels = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    top = max(box.y1 for box in panels if box is not None)
    overlap = top - title.get_window_extent(renderer).y0 + 0.6 * title.get_fontsize()  # pixels, with a gap
    if overlap > 0:
        fig.subplots_adjust(top=fig.subplotpars.top - overlap / fig.bbox.height)


def show(fig) -> None:
    """Tidy the ticks, lay the figure out (its title clear of the panels) and display it (inline in a notebook)."""
    tidy(fig)
    fig.tight_layout()
    _clear_suptitle(fig)
    plt.show()
