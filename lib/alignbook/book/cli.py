"""``python -m alignbook``: list, run, build and report the book's chapters; run its benchmarks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alignbook import scales
from alignbook.book import bench, rehearsal, runner, site
from alignbook.book.chapters import BookError, all_chapters, find_root, select


def _scale(value: str) -> str:
    try:
        return scales.check_scale(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alignbook", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="the book's checkout (default: found from here)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="the chapters, their scales and their last recorded run times")

    run = commands.add_parser("run", help="execute chapters with papermill into _build/SCALE/executed/")
    run.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    build = commands.add_parser("build", help="run what is missing or stale, then build the site strictly")
    for sub in (run, build):
        sub.add_argument("--scale", type=_scale, default="book", help=f"one of {', '.join(scales.SCALES)}")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
        sub.add_argument("--jobs", type=int, default=1, help="chapters executed side by side (worker processes)")
        sub.add_argument("--ray-address", default=None,
                         help="execute the chapters as Ray tasks on this cluster (HOST:PORT), one chapter a task")
        sub.add_argument("--timeout", type=float, default=None,
                         help="stop a chapter after this many seconds (it fails, its partial notebook kept)")
    run.add_argument("--stale", action="store_true", help="skip chapters already executed with these inputs")
    run.add_argument("--rehearse", action="store_true",
                     help="with --scale full: every loop cut to two iterations; prints the extrapolated full time "
                          "per section and fails above 15 GB of memory (into _build/full-rehearsal/)")
    run.add_argument("--calibrate", action="store_true",
                     help="with --rehearse: rehearse again at four iterations per loop, so that fixed costs "
                          "are counted once in the estimate")

    benchmark = commands.add_parser("bench", help="run benchmarks/*.py and record their JSON results")
    benchmark.add_argument("scripts", nargs="*", help="benchmark names (default: all)")
    benchmark.add_argument("--quick", action="store_true",
                           help="the short form `make book` runs (seconds each), for the scripts the appendix shows")

    report = commands.add_parser("report", help="write the appendix pages (reproduction, run times, benchmarks)")
    report.add_argument("--scale", type=_scale, default="book")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        root = args.root.resolve() if args.root else find_root()
        if args.command == "list":
            history = runner.load_history(root)
            print(f"{'chapter':<22}" + "".join(f"{s:>16}" for s in scales.SCALES))
            for chapter in all_chapters(root):
                times = history.get(chapter.name, {})
                cells = [f"{times[s]['wall_s']:.0f} s" if s in times else "-" for s in scales.SCALES]
                print(f"{chapter.name:<22}" + "".join(f"{c:>16}" for c in cells))
            return 0
        if args.command == "run":
            chapters = select(root, args.chapters)
            if args.rehearse:
                if args.scale != "full":
                    raise BookError(f"--rehearse rehearses scale 'full'; got --scale {args.scale}")
                rehearsal.rehearse_all(root, chapters, args.seed, args.device, calibrate=args.calibrate,
                                       jobs=args.jobs)
                return 0
            runner.run(root, chapters, args.scale, args.seed, args.device, only_stale=args.stale, jobs=args.jobs,
                       ray_address=args.ray_address, timeout=args.timeout)
            return 0
        if args.command == "build":
            chapters = all_chapters(root)
            runner.run(root, chapters, args.scale, args.seed, args.device, only_stale=True, jobs=args.jobs,
                       ray_address=args.ray_address, timeout=args.timeout)
            site.build(root, args.scale)
            return 0
        if args.command == "bench":
            bench.run(root, bench.scripts(root, args.scripts), quick=args.quick)
            return 0
        if args.command == "report":
            for page in site.write_report_pages(root, args.scale):
                print(f"[alignbook] wrote {page}")
            return 0
    except (BookError, runner.ChapterFailed) as error:
        print(f"alignbook: {error}", file=sys.stderr)
        return 2 if isinstance(error, BookError) else 1
    return 0
