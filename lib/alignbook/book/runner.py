"""Run chapters: papermill in a subprocess per chapter, wall time and peak memory, staleness, failures.

Layout under the checkout's ``_build/``, one folder per scale so that a smoke run (``make test``) never
touches what a book build (``make book``) executed, and each scale's build re-runs only what is stale there:

- ``SCALE/executed/NAME.ipynb``  the executed chapter (what the site of that scale shows)
- ``SCALE/records/NAME.json``    how it was produced: scale, seed, device, the staleness key, time, memory
- ``SCALE/failed/NAME.ipynb``    a partly executed notebook kept for inspection after a failure (a chapter
                                 stopped by a time-out or a signal too, the reason in its metadata)
- ``runtimes.json``              the last run time of each chapter at each scale (``list``, "Run times")
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import alignbook
from alignbook import scales
from alignbook.book.chapters import BookError, Chapter, parameters_cell
from alignbook.book.execute import mark_stopped
from alignbook.cache import CACHE_ENV
from alignbook.chapter import RUNNER_ENV, resolve_device

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LIBRARY = Path(alignbook.__file__).resolve().parent


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; the message names the chapter, the failing cell and its traceback."""


@dataclass
class Record:
    chapter: str
    scale: str
    seed: int
    device: str
    key: str
    wall_s: float
    peak_rss_mb: float
    finished: str
    machine: str


def build_dir(root: Path) -> Path:
    return root / "_build"


def scale_dir(root: Path, scale: str) -> Path:
    """Everything one scale produces: its executed chapters, their records, its failures and its site."""
    return build_dir(root) / scales.check_scale(scale)


def executed_path(root: Path, name: str, scale: str) -> Path:
    return scale_dir(root, scale) / "executed" / f"{name}.ipynb"


def record_path(root: Path, name: str, scale: str) -> Path:
    return scale_dir(root, scale) / "records" / f"{name}.json"


def failed_path(root: Path, name: str, scale: str) -> Path:
    return scale_dir(root, scale) / "failed" / f"{name}.ipynb"


def history_path(root: Path) -> Path:
    return build_dir(root) / "runtimes.json"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def library_digest() -> str:
    """A hash of the library's source: any change to the code (scales included) makes every chapter stale."""
    digest = hashlib.sha256()
    for path in sorted(LIBRARY.rglob("*.py")):
        digest.update(str(path.relative_to(LIBRARY)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_key(chapter: Chapter, scale: str, seed: int, device: str) -> str:
    digest = hashlib.sha256()
    for part in (chapter.path.read_bytes(), library_digest().encode(), f"{scale}|{seed}|{device}".encode()):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def load_record(root: Path, name: str, scale: str) -> Record | None:
    path = record_path(root, name, scale)
    if not path.exists():
        return None
    try:
        return Record(**json.loads(path.read_text(encoding="utf-8")))
    except (TypeError, ValueError):
        return None  # an unreadable record means "run it again"


def stale_reason(root: Path, chapter: Chapter, scale: str, seed: int, device: str) -> str | None:
    """Why ``chapter`` must run again at these parameters, or None when its executed notebook is current."""
    record = load_record(root, chapter.name, scale)
    if record is None or not executed_path(root, chapter.name, scale).exists():
        return f"never executed at scale {scale!r}"
    if record.scale != scale:
        return f"the record in the {scale!r} folder says scale {record.scale!r}"
    if (record.seed, record.device) != (seed, device):
        return f"executed with seed {record.seed} on {record.device!r}, wanted seed {seed} on {device!r}"
    if record.key != run_key(chapter, scale, seed, device):
        return "the notebook or the library changed since it ran"
    return None


def validate(chapters: list[Chapter], scale: str, seed: int, device: str) -> None:
    """Refuse bad input before any chapter runs."""
    try:
        scales.check_scale(scale)
        resolve_device(device)
    except ValueError as error:
        raise BookError(str(error)) from None
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BookError(f"seed must be a non-negative integer, got {seed!r}")
    for chapter in chapters:
        parameters_cell(chapter.path)


def _failure_message(name: str, info: dict | None, kept: Path, root: Path) -> str:
    if info is None:
        return f"chapter {name!r} failed before papermill could report a cell (see the output above)"
    where = (
        f"in cell {info['cell_index']} (execution count {info['execution_count']})"
        if info["cell_index"] is not None
        else "outside any cell"
    )
    source = "\n".join("    " + line for line in info["source"].splitlines()[:15])
    trace = _ANSI.sub("", "\n".join(info["traceback"]))
    return (
        f"chapter {name!r} failed {where}: {info['ename']}: {info['evalue']}\n"
        f"--- failing cell ---\n{source}\n--- traceback ---\n{trace}\n"
        f"The partly executed notebook is kept at {kept.relative_to(root)}"
    )


def machine_label() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


# After asking a stopped chapter to end, how long its clean-up (kernel shutdown, saving the notebook) may take.
STOP_GRACE_S = 30.0


class _Signalled(Exception):
    """SIGTERM reached the runner while it waited for a chapter."""


def _raise_signalled(signum, frame) -> None:
    raise _Signalled(signal.Signals(signum).name)


def _wait(process: subprocess.Popen, timeout: float | None) -> tuple[int, os.struct_rusage | None, str | None]:
    """Wait for the chapter's process: its status, resource usage and, if it had to be stopped, why. A time-out
    or a signal to this process (SIGTERM, or SIGINT as KeyboardInterrupt) asks the chapter to stop with
    SIGTERM, so that it saves its partial notebook; it is killed if it has not ended ``STOP_GRACE_S`` later."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_signalled) if main_thread else None
    deadline = None if timeout is None else time.monotonic() + timeout
    reason, kill_at = None, None
    try:
        while True:
            try:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    return status, usage, reason
                if reason is None and deadline is not None and time.monotonic() > deadline:
                    reason = f"timed out after {timeout:g} s"
                time.sleep(0.05)
            except _Signalled as signalled:
                reason = reason or f"stopped by {signalled}"
            except KeyboardInterrupt:
                reason = reason or "stopped by SIGINT"
            if reason is not None and kill_at is None:
                process.send_signal(signal.SIGTERM)
                kill_at = time.monotonic() + STOP_GRACE_S
            elif kill_at is not None and time.monotonic() > kill_at:
                process.kill()
    finally:
        if main_thread:  # None: a handler installed outside Python, which cannot be put back from here
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def execute(root: str, source: str, name: str, scale: str, seed: int, device: str,
            timeout: float | None = None, rehearse: int = 0) -> dict:
    """Execute the notebook ``source`` in a subprocess of its own and return what came of it: the executed (or
    partly executed) notebook's text, the failure (None on success), wall time, peak memory and the machine.
    Writes nothing under ``root``: the caller files the result (``file_result``), so that this can run in a
    worker process or a Ray task on another machine.

    A chapter that runs past ``timeout`` seconds, or a signal to this process, stops the chapter: the result
    is a failure whose reason says so, with the notebook as far as it got. Either way the temporary folder
    goes, with whatever the chapter made in its temporary directory (``TMPDIR`` points into it).

    ``rehearse`` (scale full): the rehearsal of ``alignbook.book.rehearsal`` with that many iterations per loop,
    with empty caches so that every cost is measured, and the kernel's log of its cells under "cells"."""
    work = Path(tempfile.mkdtemp(prefix=f"alignbook-{name}-"))
    try:
        return _execute_in(work, root, source, name, scale, seed, device, timeout, rehearse)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _execute_in(work: Path, root: str, source: str, name: str, scale: str, seed: int, device: str,
                timeout: float | None, rehearse: int) -> dict:
    partial, failure, usage_file = work / f"{name}.ipynb", work / "failure.json", work / "usage.json"
    (work / "tmp").mkdir()
    env = {
        **os.environ,
        RUNNER_ENV: "1",
        "PYTHONHASHSEED": "0",
        # Progress bars of libraries (transformers, tqdm.auto) would only litter the published pages, and
        # tqdm.auto warns in a kernel without ipywidgets; the chapter's own progress is off under the runner too.
        "TQDM_DISABLE": "1",
        "PYTHONWARNINGS": "ignore:IProgress not found",
        "TMPDIR": str(work / "tmp"),  # the chapter's own temporary folders (omnisafe-*) go with this one
    }
    env.setdefault("MUJOCO_GL", "egl")
    cells = work / "cells.json"
    if rehearse:
        env.update({scales.REHEARSE_ENV: str(cells), scales.ITERATIONS_ENV: str(rehearse),
                    CACHE_ENV: str(work / "cache")})
    params = json.dumps({"scale": scale, "seed": seed, "device": device})
    command = [sys.executable, "-m", "alignbook.book.execute", source, str(partial), params, str(failure),
               str(usage_file)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=root)
    status, usage, stopped = _wait(process, timeout)
    wall = time.perf_counter() - start
    ok = os.waitstatus_to_exitcode(status) == 0 and stopped is None
    info = None if ok or not failure.exists() else json.loads(failure.read_text(encoding="utf-8"))
    if stopped is not None:  # the runner's reason (a time-out) is more telling than the signal it sent
        info = mark_stopped(partial, stopped)
    result = {
        "ok": ok,
        "notebook": partial.read_text(encoding="utf-8") if partial.exists() else None,
        "failure": info,
        "wall_s": round(wall, 2),
        "peak_rss_mb": _kernel_peak_rss_mb(usage_file, usage),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_label(),
    }
    if rehearse:
        result["cells"] = json.loads(cells.read_text(encoding="utf-8")) if cells.exists() else []
    return result


def _kernel_peak_rss_mb(usage_file: Path, usage: os.struct_rusage) -> float:
    """The chapter's kernel's peak memory, as the execute process measured it (``execute.kernel_peak_rss_mb``).
    Not ``wait4``'s figure for that process: it keeps this process's own peak as a floor (fork and exec), so
    every chapter would read as large as the runner. That figure stands in only when the execute process was
    killed before it could write its measure (or while writing it)."""
    try:
        return float(json.loads(usage_file.read_text(encoding="utf-8"))["kernel_peak_rss_mb"])
    except (OSError, ValueError, KeyError):
        return round(usage.ru_maxrss / 1024, 1)  # Linux reports kilobytes


def file_result(root: Path, chapter: Chapter, scale: str, seed: int, device: str, result: dict) -> Record:
    """Put an ``execute`` result where the book looks for it: the executed notebook and its record, or, after
    a failure, the partly executed notebook (then raise ChapterFailed with the failing cell's traceback)."""
    destination = executed_path(root, chapter.name, scale)
    kept = failed_path(root, chapter.name, scale)
    if not result["ok"]:
        if result["notebook"] is not None:
            write_atomic(kept, result["notebook"])
        destination.unlink(missing_ok=True)
        record_path(root, chapter.name, scale).unlink(missing_ok=True)
        raise ChapterFailed(_failure_message(chapter.name, result["failure"], kept, root))
    write_atomic(destination, result["notebook"])
    kept.unlink(missing_ok=True)
    record = Record(
        chapter=chapter.name,
        scale=scale,
        seed=seed,
        device=device,
        key=run_key(chapter, scale, seed, device),
        wall_s=result["wall_s"],
        peak_rss_mb=result["peak_rss_mb"],
        finished=result["finished"],
        machine=result["machine"],
    )
    write_atomic(record_path(root, chapter.name, scale), json.dumps(asdict(record), indent=1))
    _remember_runtime(root, record)
    return record


def run_chapter(root: Path, chapter: Chapter, scale: str, seed: int = 0, device: str = "auto",
                timeout: float | None = None) -> Record:
    """Execute one chapter; returns its record, or raises ChapterFailed with the failing cell's traceback."""
    result = execute(str(root), str(chapter.path), chapter.name, scale, seed, device, timeout)
    return file_result(root, chapter, scale, seed, device, result)


def _remember_runtime(root: Path, record: Record) -> None:
    history = load_history(root)
    history.setdefault(record.chapter, {})[record.scale] = {
        "wall_s": record.wall_s,
        "peak_rss_mb": record.peak_rss_mb,
        "finished": record.finished,
        "device": record.device,
        "machine": record.machine,
    }
    write_atomic(history_path(root), json.dumps(history, indent=1, sort_keys=True))


def load_history(root: Path) -> dict:
    path = history_path(root)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def run(
    root: Path,
    chapters: list[Chapter],
    scale: str,
    seed: int = 0,
    device: str = "auto",
    only_stale: bool = False,
    log=None,
    jobs: int = 1,
    ray_address: str | None = None,
    timeout: float | None = None,
) -> list[Record]:
    """Run the chapters (skipping current ones when ``only_stale``); a chapter still running after ``timeout``
    seconds is stopped and fails like a chapter whose cell raised.

    With ``jobs == 1`` and no ``ray_address``: one after another in this order, stopping at the first failure.
    Otherwise side by side (chapters are independent): in ``jobs`` local worker processes, or as Ray tasks on
    the cluster at ``ray_address`` (one chapter a task, with a GPU at scale "full"); every chapter runs, the
    results are filed here exactly as a one-by-one run files them, then the first failure is raised."""
    log = log or (lambda message: print(message, flush=True))
    validate(chapters, scale, seed, device)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise BookError(f"jobs must be a positive integer, got {jobs!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise BookError(f"timeout must be a positive number of seconds, got {timeout!r}")
    todo = []
    for chapter in chapters:
        reason = stale_reason(root, chapter, scale, seed, device)
        if only_stale and reason is None:
            log(f"[alignbook] {chapter.name}: up to date at scale {scale!r}")
            continue
        todo.append((chapter, f"running at scale {scale!r}" + (f" ({reason})" if only_stale else "")))
    if jobs == 1 and ray_address is None:
        records = []
        for chapter, doing in todo:
            log(f"[alignbook] {chapter.name}: {doing}")
            records.append(run_chapter(root, chapter, scale, seed, device, timeout))
            _log_done(log, records[-1])
        return records
    where = f"on the Ray cluster at {ray_address}" if ray_address else f"in {jobs} worker processes"
    for chapter, doing in todo:
        log(f"[alignbook] {chapter.name}: {doing}, {where}")
    outcome = run_each(root, [c for c, _ in todo], scale, seed, device, jobs, ray_address, timeout)
    records, failures = [], []
    for name, result in outcome.items():
        if isinstance(result, ChapterFailed):
            log(f"[alignbook] {name}: failed")
            failures.append(result)
        else:
            records.append(result)
            _log_done(log, result)
    if failures:
        raise failures[0]
    return records


def run_each(root: Path, chapters: list[Chapter], scale: str, seed: int = 0, device: str = "auto", jobs: int = 2,
             ray_address: str | None = None, timeout: float | None = None) -> dict[str, Record | ChapterFailed]:
    """Run every chapter side by side (``jobs`` worker processes, or Ray tasks at ``ray_address``) and file
    each result as a one-by-one run files it; per chapter, its Record or the ChapterFailed that stopped it."""
    from alignbook.backends import map_jobs

    try:
        results = map_jobs("alignbook.book.runner:execute",
                           [(str(root), str(c.path), c.name, scale, seed, device, timeout) for c in chapters],
                           workers=jobs, ray_address=ray_address, num_gpus=1 if scale == "full" else 0)
    except ValueError as error:  # a Ray address that does not answer, a cluster without GPUs
        raise BookError(str(error)) from None
    outcome: dict[str, Record | ChapterFailed] = {}
    for chapter, result in zip(chapters, results, strict=True):
        try:
            outcome[chapter.name] = file_result(root, chapter, scale, seed, device, result)
        except ChapterFailed as failure:
            outcome[chapter.name] = failure
    return outcome


def _log_done(log, record: Record) -> None:
    log(f"[alignbook] {record.chapter}: done in {record.wall_s:.1f} s, peak memory {record.peak_rss_mb:.0f} MB")
