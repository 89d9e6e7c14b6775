import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib import ticker
from matplotlib.collections import PolyCollection

from alignbook import plotting


def runs(n_seeds: int, noise: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"seed": s, "step": t, "cost": 0.2 + noise * rng.normal()}
                         for s in range(n_seeds) for t in range(10)])


def test_figure_is_the_column_wide_and_styled():
    fig, axes = plotting.figure(ncols=3)
    assert len(axes) == 3
    assert fig.get_size_inches()[0] * fig.dpi == pytest.approx(780)
    assert matplotlib.rcParams["font.size"] >= 10
    fig, _ = plotting.figure(width=0.5, height=2)
    assert tuple(fig.get_size_inches()) == pytest.approx((3.9, 2))
    with pytest.raises(ValueError, match="width"):
        plotting.figure(width=1.5)
    # a width computed as steps x (column / steps) rounds to 1.0000000000000002 for 15 steps (safedreamer at full)
    steps = 15
    fig, _ = plotting.figure(width=(plotting.COLUMN_INCHES / steps) * steps / plotting.COLUMN_INCHES, height=2)
    assert fig.get_size_inches()[0] == pytest.approx(plotting.COLUMN_INCHES)


def test_few_seeds_are_drawn_as_lines_around_the_mean():
    fig, ax = plotting.figure()
    frame = runs(3)
    line = plotting.seeds(ax, frame, x="step", y="cost", label="ppo")
    assert len(ax.lines) == 1 + 3 and not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert np.allclose(line.get_ydata(), frame.groupby("step").cost.mean().values)
    assert line.get_label() == "ppo"


def test_many_seeds_get_a_bootstrap_band_inside_the_quantitys_range():
    fig, ax = plotting.figure()
    plotting.seeds(ax, runs(8, noise=3.0), x="step", y="cost", bounds=(0, None))
    [band] = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert ys.min() >= 0.0 and len(ax.lines) == 1
    fig, ax = plotting.figure()
    plotting.seeds(ax, runs(8, noise=3.0), x="step", y="cost")  # unbounded: the same band dips below zero
    [band] = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert np.concatenate([p.vertices[:, 1] for p in band.get_paths()]).min() < 0.0


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_data():
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=6), rng.normal(size=600)
    lo, hi = plotting.bootstrap_interval(small)
    assert lo < small.mean() < hi
    lo2, hi2 = plotting.bootstrap_interval(large)
    assert hi2 - lo2 < hi - lo


def test_seeds_names_a_missing_column():
    fig, ax = plotting.figure()
    with pytest.raises(KeyError, match="'episode_cost'"):
        plotting.seeds(ax, runs(2), x="step", y="episode_cost")


def test_method_colors_are_distinct_and_stable():
    colors = plotting.method_colors(["ppo", "ppo_lag", "cpo", "ppo"])
    assert list(colors) == ["ppo", "ppo_lag", "cpo"] and len(set(colors.values())) == 3
    assert plotting.method_colors(["ppo", "ppo_lag", "cpo"]) == colors
    with pytest.raises(ValueError, match="distinct colours"):
        plotting.method_colors([f"m{i}" for i in range(len(plotting.PALETTE) + 1)])


def test_a_method_keeps_its_colour_across_chapters_and_no_list_repeats_one():
    safepo = plotting.method_colors(["ppo", "ppo_lag", "trpo_lag", "cppo_pid", "cpo", "pcpo", "focops", "cup"])
    omnisafe = plotting.method_colors(["sac", "td3", "cppo_pid", "ppo_lag", "ppo"])  # another order, other names
    assert all(omnisafe[m] == safepo[m] for m in ("ppo", "ppo_lag", "cppo_pid"))
    rlhf = plotting.method_colors(["SFT", "RLHF", "Safe RLHF", "shaping lambda=0.5"])
    # the same idea, the same colour: the unconstrained baseline and its Lagrangian version
    assert (rlhf["RLHF"], rlhf["Safe RLHF"]) == (safepo["ppo"], safepo["ppo_lag"])
    # a name outside the table takes a colour no table name of the list holds; two table names that share a
    # colour (ppo and RLHF) in one list: the first keeps it, the second gets a free one
    mixed = plotting.method_colors(["new method", "ppo", "RLHF"])
    assert mixed["ppo"] == safepo["ppo"] and len(set(mixed.values())) == 3
    assert plotting.method_colors(["cpo", "ppo"]) == {"cpo": safepo["cpo"], "ppo": safepo["ppo"]}
    styles = plotting.method_styles(["pg", "natural_pg", "trpo", "ppo", "trpo_lag", "ppo_lag", "cpo", "pcpo",
                                     "focops", "cup", "rcpo", "cppo_pid"])  # SafePO's twelve: past the palette
    assert len({(s["color"], s["linestyle"]) for s in styles.values()}) == 12
    assert all(styles[m]["color"] == safepo[m] for m in ("ppo", "ppo_lag", "cpo", "cppo_pid", "focops"))


def test_tidy_keeps_tick_labels_short_and_few():
    fig, (linear, log) = plotting.figure(ncols=2)
    linear.plot([0, 150_000], [0, 1])
    log.plot([64, 1024], [1, 2])
    log.set_xscale("log")
    plotting.tidy(fig)
    fig.canvas.draw()
    labels = [t.get_text().replace("$", "") for t in linear.get_xticklabels() if t.get_text()]
    assert len(labels) <= 6 and all(len(label) <= 5 for label in labels), labels  # "150k", not "150000"
    assert isinstance(log.xaxis.get_minor_formatter(), ticker.NullFormatter)
    # no two tick labels of one axis overlap
    renderer = fig.canvas.get_renderer()
    for ax in (linear, log):
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
        boxes = [b for b in boxes if ax.get_window_extent(renderer).x0 - 20 < b.x0 < ax.get_window_extent(renderer).x1 + 20]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_describe_says_what_is_drawn():
    assert plotting.describe(1) == "one seed"
    assert "thin line" in plotting.describe(3)
    assert "bootstrap" in plotting.describe(plotting.BOOTSTRAP_MIN)


def test_narrow_panels_and_short_log_ranges_stay_readable():
    fig, axes = plotting.figure(ncols=4)
    axes[0].imshow(np.zeros((4, 4)), extent=(-0.5, 0.5, -0.5, 0.5))  # a small image panel
    axes[1].plot([0.3, 2.0], [1, 2])
    axes[1].set_xscale("log")  # less than a decade: the powers of ten alone would leave it unlabelled
    plotting.tidy(fig)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in axes[:2]:
        lo, hi = ax.get_xlim()
        shown = [t for t, v in zip(ax.get_xticklabels(), ax.get_xticks(), strict=True)
                 if t.get_text() and min(lo, hi) <= v <= max(lo, hi)]
        assert len(shown) >= 2, [t.get_text() for t in shown]
        boxes = [t.get_window_extent(renderer) for t in shown]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert plotting._short(0.5) == "0.5" and plotting._short(2e6) == "$2\\times10^{6}$"


def test_category_axes_keep_one_tick_per_category():
    fig, ax = plotting.figure()
    ax.barh(["ours", "the original"], [2.0, 1.0])
    plotting.tidy(fig)
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ours", "the original"]


def test_settings_line_reads_like_prose_and_wraps_between_settings():
    values = {"steps_per_epoch": 2000, "hidden": (16, 16), "linear_lr_decay": False, "actor_lr": 0.003,
              "task": "SafetyPointGoal1-v0", "budget": None, "seeds": np.int64(3)}
    line = plotting.settings_line(values, width=200)
    assert line == ("steps per epoch 2,000 · hidden 16, 16 · linear lr decay no · actor lr 0.003 · "
                    "task SafetyPointGoal1-v0 · budget none · seeds 3")
    narrow = plotting.settings_line(values, width=40)
    assert narrow.splitlines() == ["steps per epoch 2,000 · hidden 16, 16", "linear lr decay no · actor lr 0.003",
                                   "task SafetyPointGoal1-v0 · budget none", "seeds 3"]
    assert all(len(row) <= 40 for row in narrow.splitlines())
    titled = plotting.settings_line(values, title="SafetyPointGoal1-v0", width=50).splitlines()
    assert titled[:2] == ["SafetyPointGoal1-v0: steps per epoch 2,000", "hidden 16, 16 · linear lr decay no"]
    assert max(map(len, plotting.settings_line(values).splitlines())) <= 80  # the default: the column's width
    with pytest.raises(TypeError, match="a mapping of names to values, got list"):
        plotting.settings_line([("hidden", 16)])


def test_settings_line_shows_a_chapters_config_without_counting_reads():
    from alignbook import scales

    reads: set = set()
    cfg = scales.Config("toy", "smoke", {"train_steps": 3, "width": 16}, reads=reads)
    assert plotting.settings_line(cfg) == "train steps 3 · width 16"
    assert reads == set()  # the rehearsal must not take the cell that shows the settings for a loop


def _lab(color) -> np.ndarray:
    """CIELAB coordinates of an sRGB colour (D65): distances there follow perceived difference."""
    rgb = np.array(matplotlib.colors.to_rgb(color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    f = np.cbrt(xyz / np.array([0.9505, 1.0, 1.089]))  # every palette colour is far above the linear toe
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _contrast_with_white(color) -> float:
    rgb = np.array(matplotlib.colors.to_rgb(color))
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return 1.05 / (float(linear @ [0.2126, 0.7152, 0.0722]) + 0.05)


def test_palette_colours_show_on_white_and_differ_from_each_other():
    assert _contrast_with_white("#F0E442") < 2.2 and _contrast_with_white("black") == pytest.approx(21)
    for color in plotting.PALETTE:
        assert _contrast_with_white(color) >= 2.2, color  # a thin yellow line (1.3) vanished on the page
    distances = [np.linalg.norm(_lab(a) - _lab(b))
                 for i, a in enumerate(plotting.PALETTE) for b in plotting.PALETTE[i + 1:]]
    assert min(distances) >= 25  # the old palette's yellow and olive were 16 apart


def test_method_styles_tell_twenty_methods_apart_and_keep_method_colors():
    names = [f"m{i}" for i in range(20)]
    styles = plotting.method_styles(names)
    pairs = {(s["color"], s["linestyle"]) for s in styles.values()}
    assert len(pairs) == 20
    few = names[:len(plotting.PALETTE)]
    assert {n: s["color"] for n, s in plotting.method_styles(few).items()} == plotting.method_colors(few)
    # neighbours differ in line style: one drawn over the other still shows
    assert all(styles[a]["linestyle"] != styles[b]["linestyle"] for a, b in zip(names[:-1], names[1:], strict=True))
    solid, dotted = (next(s for s in styles.values() if s["linestyle"] == ls) for ls in ("-", ":"))
    assert dotted["zorder"] > solid["zorder"]  # the gaps of a dotted line over a solid one show it
    with pytest.raises(ValueError, match="21 methods but only 20"):
        plotting.method_styles([f"m{i}" for i in range(21)])
    fig, ax = plotting.figure()
    line = plotting.seeds(ax, runs(3), x="step", y="cost", label="m1", **styles["m1"])
    assert line.get_linestyle() == "--" and line.get_linewidth() == pytest.approx(1.8)
    assert all(thin.get_linestyle() == "-" for thin in ax.lines[1:])  # the seeds stay plain


def _overlaps_any_axes(fig, legend) -> list:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    return [ax for ax in fig.axes if box.overlaps(ax.get_window_extent(renderer))]


def test_legend_outside_below_the_figure_sits_outside_every_axes():
    fig, axes = plotting.figure(ncols=2)
    for ax in axes:
        for i, name in enumerate(["ppo", "ppo_lag", "cppo_pid"]):
            ax.plot([0, 1], [i, i + 1], label=name)  # the data fill the axes: any legend inside covers it
    axes[0].axhline(1.0, color="black", ls="--", label="cost limit")
    axes[0].legend()  # a legend drawn earlier inside the data goes
    legend = plotting.legend_outside(fig)
    plotting.tidy(fig)
    fig.tight_layout()
    assert [t.get_text() for t in legend.get_texts()] == ["ppo", "ppo_lag", "cppo_pid", "cost limit"]
    assert axes[0].get_legend() is None and not _overlaps_any_axes(fig, legend)
    assert legend._ncols == 4  # short labels: one row under the column-wide figure
    many = plotting.figure()[1]
    for i in range(12):
        many.plot([0, 1], [0, i], label=f"a rather long method name {i}")
    assert plotting.legend_outside(many.figure)._ncols < 12  # long labels wrap into rows


def test_legend_outside_right_of_an_axes_keeps_the_figure_the_column_wide():
    fig, (left, right) = plotting.figure(ncols=2)
    left.plot([0, 1], [0, 1], label="left only")
    right.plot([0, 1], [0, 1], label="truth")
    right.plot([0, 1], [1, 0], label="filtered back-projection")
    legend = plotting.legend_outside(right, where="right")
    plotting.show(fig)
    assert [t.get_text() for t in legend.get_texts()] == ["truth", "filtered back-projection"]
    assert not _overlaps_any_axes(fig, legend)
    assert legend.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.bbox.x1 + 1


def test_legend_outside_below_one_axes_clears_its_x_label():
    fig, (left, right) = plotting.figure(ncols=2)
    left.hist([0.1, 0.2, 0.2, 0.9], label="safe (truth)")
    right.plot([0, 10], [1, 0], label="reward model")
    right.plot([0, 10], [0.5, 0.2], label="cost model")
    for ax in (left, right):
        ax.set(xlabel="a two-line\nx label")
    legends = [plotting.legend_outside(ax, where="below") for ax in (left, right)]
    plotting.show(fig)
    renderer = fig.canvas.get_renderer()
    assert [t.get_text() for t in legends[1].get_texts()] == ["reward model", "cost model"]
    for ax, legend in zip((left, right), legends, strict=True):
        box = legend.get_window_extent(renderer)
        assert not _overlaps_any_axes(fig, legend)
        assert box.y1 <= ax.xaxis.label.get_window_extent(renderer).y0  # under the label, not through it
        assert box.y0 >= fig.bbox.y0 - 1  # tight_layout made room inside the figure


def test_legend_outside_rejects_what_it_cannot_draw():
    fig, ax = plotting.figure()
    ax.plot([0, 1], [0, 1])  # no label
    with pytest.raises(ValueError, match="no labelled artists"):
        plotting.legend_outside(fig)
    ax.plot([0, 1], [1, 0], label="x")
    with pytest.raises(ValueError, match="'below' or 'right'"):
        plotting.legend_outside(fig, where="above")


def test_show_keeps_the_figure_title_clear_of_a_tall_grid_of_images():
    fig, axes = plotting.figure(ncols=5, nrows=12, height=(7.8 / 5 + 0.25) * 12 + 0.4, squeeze=False)
    for ax in axes.flat:  # the Safety-Gymnasium tour: 60 square frames, each titled
        ax.imshow(np.zeros((8, 8)))
        ax.set(title="RacecarButton2", xticks=[], yticks=[])
    fig.suptitle("Safety{Agent}{Task}{Level}-v0: the first layout of each")
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title.get_window_extent(renderer) for ax in axes[0]]
    assert any(fig._suptitle.get_window_extent(renderer).overlaps(t) for t in titles)  # what tight_layout leaves
    plotting.show(fig)
    fig.canvas.draw()
    title = fig._suptitle.get_window_extent(renderer)
    assert not any(title.overlaps(ax.title.get_window_extent(renderer)) for ax in axes[0])
    assert title.y1 <= fig.bbox.y1 + 1  # still inside the figure


def test_every_chapter_legend_goes_outside_the_data():
    import json
    import re
    from pathlib import Path

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 14
    inside = []
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                inside += [f"{path.stem}: {line.strip()}" for line in source.splitlines()
                           if re.search(r"\.legend\(", line)]  # ax.legend / fig.legend: placed by hand
    assert not inside, f"draw legends with plotting.legend_outside: {inside}"
