"""The rehearsal of scale "full": ``python -m alignbook run NAME --scale full --rehearse``.

A chapter runs with its full configuration but every loop cut to its first two iterations
(``alignbook.scales.rehearsal``): models at full size, data at full shape, so that a full configuration that no
longer builds, or that needs more memory than a Colab-class GPU has, fails here on a CPU in seconds. The kernel
records, per cell, its wall time and which settings it read (``alignbook.chapter``); the loops among them fall
into phases that run one after another (``alignbook.scales.phases``). Without calibration a cell's full time is
bounded by its rehearsal time x (full / rehearsal iterations) of its largest phase: exact for a single loop, but
it multiplies fixed costs (model building, imports, evaluation) with the loops, which at two iterations dominate.

With ``--calibrate`` the chapter is rehearsed a second time with its inner loops (many cheap iterations: steps,
updates) at four iterations and its outer loops (seeds, sweeps, data counts: a costly piece of work repeated a few
times) still at two. The difference of the two runs is then the cost of the added inner iterations alone (read in
CPU time on the CPU, which other programs on a shared machine hardly move); the full time of a cell is its
rehearsal time plus that growth x (full - 2) / (4 - 2) inner iterations, all x the outer loops' full / rehearsal
ratio (``_cell_full``): fixed costs counted once per repetition, exact for a cell of one phase, a bound for a
cell of several phases (chapters put each expensive phase in a cell of its own). This is the estimate the full
sizes in ``alignbook.scales`` are planned with; timing noise in short cells can move it either way.

Everything goes to ``_build/full-rehearsal/`` (executed notebooks, estimates, failures), never mixed with a
real run's outputs; the results inside are not judged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from alignbook import scales
from alignbook.book import runner
from alignbook.book.chapters import Chapter

FOLDER = "full-rehearsal"
# The memory of a Colab-class GPU (T4: 15 GB), the cap for host and device peaks alike.
MEMORY_CAP_BYTES = 15 * 10**9
# Speed of a T4-class GPU against this machine's CPU for the book's models. None was measured (no GPU was lent);
# the book's networks are small and launch-bound, MuJoCo steps on the CPU, and Colab's 2 CPU cores match this
# machine's, so no speed-up is assumed: the extrapolation on the CPU (one thread, as the rehearsal runs) is also
# the plan for Colab, and a GPU can only shorten it.
GPU_SPEEDUP = 1.0
BUDGET_S = 3600.0  # what a full run may take on one Colab-class machine


@dataclass
class Section:
    heading: str
    measured_s: float
    per_iteration_s: float
    full_s: float  # the calibrated estimate where a calibration ran, else the upper bound
    loops: list[str]
    upper_s: float = 0.0  # rehearsal time x the product of the loops' ratios, fixed costs included


@dataclass
class Estimate:
    chapter: str
    wall_s: float
    measured_s: float
    full_s: float
    peak_rss_mb: float
    cuda_peak_mb: float
    sections: list[Section]
    calibrated: bool = False

    def over_memory(self) -> bool:
        return max(self.peak_rss_mb, self.cuda_peak_mb) * 2**20 > MEMORY_CAP_BYTES


def folder(root: Path) -> Path:
    return runner.build_dir(root) / FOLDER


def _cell_full(cell: dict, calibration: dict | None) -> tuple[float, float, float]:
    """A cell's time per iteration, its full time (calibrated when the second run is given) and the upper bound
    (its rehearsal time x the loops' ratios).

    Calibrated: a cell runs, per phase p, O_p repetitions (outer loops: seeds, sweeps) of I_p cheap iterations
    (inner loops: steps); the second run grows the inner loops alone (2 -> 4), so t4 - t2 = sum_p O2_p b_p
    (I4_p - I2_p) for b_p the cost of an inner iteration. At full the cell then takes at most
    t2 x max_p R_p + (t4 - t2) x max_p R_p (Ifull_p - I2_p) / (I4_p - I2_p), with R_p = Ofull_p / O2_p: the
    repetitions scale the whole rehearsal (fixed costs included, an overstatement for those outside the outer
    loops) and the measured growth scales with its phase's remaining iterations; exact for a cell of one phase
    without fixed costs, a bound for phases one after another."""
    reads = [tuple(pair) for pair in cell["reads"]]
    p2, p_full = scales.extrapolation(reads, 2)
    upper = cell["seconds"] * p_full / p2
    if calibration is None:
        return cell["seconds"] / p2, upper, upper
    t2, t4 = cell["seconds"], calibration["seconds"]
    phases = scales.phases(reads)
    if not phases:  # reads no loop: a fixed cost, counted once
        return 0.0, max(t2, t4), max(t2, t4)
    repeat, ratio, per = 1.0, 0.0, 0.0
    for phase in phases:
        o2, o_full = scales.iterations(phase, 2, scales.outer)
        (i2, i_full), (i4, _) = scales.iterations(phase, 2, scales.inner), scales.iterations(phase, 4, scales.inner)
        repeat = max(repeat, o_full / o2)
        if i4 > i2 and (o_full / o2) * (i_full - i2) / (i4 - i2) > ratio:
            ratio, per = (o_full / o2) * (i_full - i2) / (i4 - i2), (i4 - i2) * o2
    grown = max(0.0, t4 - t2)
    if "cpu_seconds" in cell and "cpu_seconds" in calibration and not cell["cuda_peak_bytes"]:
        # On the CPU the growth is read from CPU time (the kernel's and its finished workers'): what other
        # programs do to the wall clock is then not multiplied by the loops' ratio. Workers side by side count
        # their CPU time in full, so for them this overstates the wall time.
        grown = max(0.0, calibration["cpu_seconds"] - cell["cpu_seconds"])
    return (grown / per if per else 0.0), min(upper, repeat * t2 + grown * ratio), upper


def estimate(name: str, notebook: str, cells: list[dict], wall_s: float, peak_rss_mb: float,
             calibration: list[dict] | None = None) -> Estimate:
    """Group the cell log by the executed notebook's markdown headings and extrapolate each group (with the
    cell log of a 4-iteration run as ``calibration``: fixed costs once, see the module's docstring). Time
    outside the logged cells (kernel start, imports before ``chapter()``) is counted once, as measured."""
    by_count = {c["execution_count"]: c for c in cells}
    calibrated = {c["execution_count"]: c for c in calibration or []}
    sections: dict[str, list[dict]] = {}
    heading = "(opening)"
    for cell in nbformat.reads(notebook, as_version=4).cells:
        if cell.cell_type == "markdown":
            titles = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("##")]
            heading = titles[-1] if titles else heading
        elif cell.cell_type == "code" and cell.get("execution_count") in by_count:
            sections.setdefault(heading, []).append(by_count[cell.execution_count])
    rows = []
    for title, logged in sections.items():
        measured = full = per_iteration = upper = 0.0
        loops: set[str] = set()
        for cell in logged:
            if calibration is not None and cell["execution_count"] not in calibrated:
                raise ValueError(f"cell {cell['execution_count']} of {name!r} did not run in the calibration")
            cell_iteration, cell_full, cell_upper = _cell_full(
                cell, calibrated[cell["execution_count"]] if calibration is not None else None)
            measured += cell["seconds"]
            per_iteration += cell_iteration
            full += cell_full
            upper += cell_upper
            loops |= {k if c == name else f"{c}.{k}" for c, k in map(tuple, cell["reads"])
                      if k in scales.loop_counts(c)}
        rows.append(Section(title, measured, per_iteration, full / GPU_SPEEDUP, sorted(loops), upper / GPU_SPEEDUP))
    measured = sum(c["seconds"] for c in cells)
    unlogged = max(0.0, wall_s - measured)
    cuda = max((c.get("cuda_peak_bytes", 0) for c in cells), default=0) / 2**20
    return Estimate(name, wall_s, measured, unlogged + sum(r.full_s for r in rows), peak_rss_mb, cuda, rows,
                    calibration is not None)


def describe(est: Estimate) -> str:
    calibrated = est.calibrated
    lines = [f"rehearsal of {est.chapter!r} (full configuration, loops cut to two iterations; results not judged)",
             f"  {'section':<40}{'rehearsal':>10}{'per iter.':>11}{'full (est.)':>12}{'upper bound':>12}  loops read"]
    for s in est.sections:
        lines.append(f"  {s.heading[:39]:<40}{s.measured_s:>9.1f}s{s.per_iteration_s:>10.3g}s"
                     f"{_duration(s.full_s):>12}{_duration(s.upper_s):>12}  {', '.join(s.loops) or '-'}")
    how = ("calibrated: the cost of an inner iteration (steps) from this rehearsal and a second one at four, "
           "the outer loops (seeds, sweeps) scaling the rest; a bound where a cell runs several phases"
           if calibrated else "an upper bound: rehearsal time x the loops' ratios, fixed costs multiplied too")
    lines.append(f"  total: rehearsal {est.wall_s:.1f} s; full extrapolated on this machine {_duration(est.full_s)} "
                 f"({how}; GPU speed-up assumed {GPU_SPEEDUP:g}x, none measured)")
    memory = f"  peak memory: {est.peak_rss_mb:,.0f} MB host" + (
        f", {est.cuda_peak_mb:,.0f} MB CUDA" if est.cuda_peak_mb else "")
    lines.append(memory + f" (cap {MEMORY_CAP_BYTES / 1e9:.0f} GB: {'EXCEEDED' if est.over_memory() else 'ok'})")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min" if seconds < 7200 \
        else f"{seconds / 3600:.1f} h"


def _checked(root: Path, chapter: Chapter, result: dict) -> dict:
    """A kernel's result, or ChapterFailed with its partial notebook kept under ``failed/``."""
    if not result["ok"]:
        kept = folder(root) / "failed" / f"{chapter.name}.ipynb"
        if result["notebook"] is not None:
            runner.write_atomic(kept, result["notebook"])
        raise runner.ChapterFailed(runner._failure_message(chapter.name, result["failure"], kept, root))
    return result


def _finish(root: Path, chapter: Chapter, seed: int, device: str, result: dict, calibration: dict | None,
            log) -> Estimate:
    """Estimate from the rehearsal's (and the calibration's) results; write the executed notebook and record;
    raise ChapterFailed when a run failed or the peak memory exceeds the cap."""
    result = _checked(root, chapter, result)
    cells = _checked(root, chapter, calibration)["cells"] if calibration is not None else None
    est = estimate(chapter.name, result["notebook"], result["cells"], result["wall_s"], result["peak_rss_mb"], cells)
    out = folder(root)
    runner.write_atomic(out / "executed" / f"{chapter.name}.ipynb", result["notebook"])
    runner.write_atomic(out / "records" / f"{chapter.name}.json",
                        json.dumps({**asdict(est), "machine": result["machine"], "finished": result["finished"],
                                    "device": device, "seed": seed, "notebook_cells": result["cells"],
                                    "calibration_cells": cells}, indent=1))
    log(describe(est))
    if est.over_memory():
        raise runner.ChapterFailed(
            f"chapter {chapter.name!r} at full needs {max(est.peak_rss_mb, est.cuda_peak_mb):,.0f} MB, more than "
            f"the {MEMORY_CAP_BYTES / 1e9:.0f} GB of a Colab-class GPU")
    return est


def rehearse_each(root: Path, chapters: list[Chapter], seed: int = 0, device: str = "auto", log=print,
                  calibrate: bool = False, jobs: int = 1) -> dict[str, Estimate | runner.ChapterFailed]:
    """Rehearse every chapter (and, with ``calibrate``, again with the inner loops at four iterations), ``jobs``
    kernels side by side (each on one thread); write each executed notebook and estimate under
    ``_build/full-rehearsal/``. Returns, per chapter, its Estimate or the ChapterFailed that stopped it (a
    failed run, or a peak memory above the cap)."""
    runner.validate(chapters, "full", seed, device)
    runs = [(chapter, n) for chapter in chapters for n in ((2, 4) if calibrate else (2,))]
    calls = [(str(root), str(c.path), c.name, "full", seed, device, None, n) for c, n in runs]
    if jobs == 1:
        results = [runner.execute(*call) for call in calls]
    else:
        from alignbook.backends import map_jobs

        results = map_jobs("alignbook.book.runner:execute", calls, workers=jobs)
    by_run = {(c.name, n): r for (c, n), r in zip(runs, results, strict=True)}
    outcome: dict[str, Estimate | runner.ChapterFailed] = {}
    for chapter in chapters:
        try:
            outcome[chapter.name] = _finish(root, chapter, seed, device, by_run[chapter.name, 2],
                                            by_run.get((chapter.name, 4)), log)
        except runner.ChapterFailed as failure:
            outcome[chapter.name] = failure
    return outcome


def rehearse_all(root: Path, chapters: list[Chapter], seed: int = 0, device: str = "auto", log=print,
                 calibrate: bool = False, jobs: int = 1) -> list[Estimate]:
    """``rehearse_each``, raising the first chapter's failure after all have run."""
    outcome = rehearse_each(root, chapters, seed, device, log, calibrate, jobs)
    failures = [o for o in outcome.values() if isinstance(o, runner.ChapterFailed)]
    estimates = [o for o in outcome.values() if isinstance(o, Estimate)]
    if len(estimates) > 1:
        log(f"all {len(estimates)} rehearsals: {sum(e.wall_s for e in estimates):.0f} s; full extrapolated "
            f"{_duration(sum(e.full_s for e in estimates))}")
    if failures:
        raise failures[0]
    return estimates
