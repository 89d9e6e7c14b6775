"""Run the scripts in ``benchmarks/`` and keep the JSON object each prints as its last line.

The results live in ``_build/benchmarks.json`` (one entry per script, the latest run) and appear in the
site's "Benchmarks" appendix, with the machine they were measured on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from alignbook.book.chapters import BookError
from alignbook.book.runner import build_dir, machine_label, write_atomic


def results_path(root: Path) -> Path:
    return build_dir(root) / "benchmarks.json"


def load_results(root: Path) -> dict:
    path = results_path(root)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def scripts(root: Path, names: list[str] | None = None) -> list[Path]:
    found = sorted((root / "benchmarks").glob("*.py"))
    if not names:
        return found
    by_name = {p.stem: p for p in found}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise BookError(f"unknown benchmark(s) {', '.join(map(repr, unknown))}; valid: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def run(root: Path, chosen: list[Path], log=None) -> dict:
    """Run each script with its defaults; a script that fails or prints no JSON last line is an error."""
    log = log or (lambda message: print(message, flush=True))
    results = load_results(root)
    for script in chosen:
        log(f"[alignbook] benchmark {script.stem}: running")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise BookError(f"benchmark {script.stem} failed:\n{done.stderr[-4000:]}")
        lines = done.stdout.strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            raise BookError(f"benchmark {script.stem} did not print a JSON object as its last line") from None
        results[script.stem] = {
            "result": result,
            "wall_s": round(time.perf_counter() - start, 1),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_label(),
        }
        log(f"[alignbook] benchmark {script.stem}: {lines[-1]}")
        write_atomic(results_path(root), json.dumps(results, indent=1))  # keep each script's key order
    return results
