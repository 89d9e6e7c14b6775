"""Execute one notebook with papermill; run by the runner as a subprocess of its own.

A process per chapter keeps chapters from sharing state. When the run ends this writes the peak memory of
the notebook's kernel to USAGE_JSON (``{"kernel_peak_rss_mb": ...}``). On a failure it also writes a JSON
description of the failing cell to FAILURE_JSON, then exits with status 1. SIGTERM or SIGINT (the runner's
time-out, a Ctrl-C) stops the run the same way: the kernel is shut down, the partly executed notebook is saved
with the reason in its metadata (``alignbook.stopped``) and the cell that was running is reported as the
failing one.

Usage: python -m alignbook.book.execute SOURCE DESTINATION PARAMETERS_JSON FAILURE_JSON USAGE_JSON
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import traceback
from pathlib import Path

# The kernel's own log goes to this process's stderr, the runner's log: at its default level it says that a
# kernel on the loopback interface runs "over TCP without encryption" at every start and that it caught the
# KeyboardInterrupt jupyter_client sends at every shutdown. Neither is news; a chapter's errors reach the
# notebook and the runner through papermill, not through this log.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


class Stopped(Exception):
    """A signal asked this run to stop (the runner's time-out, a Ctrl-C, a kill)."""


def _stop(signum, frame) -> None:
    for kind in (signal.SIGTERM, signal.SIGINT):  # one stop is enough: let the clean-up below finish
        signal.signal(kind, signal.SIG_IGN)
    raise Stopped(f"stopped by {signal.Signals(signum).name}")


def mark_stopped(path: Path, reason: str) -> dict:
    """Write ``reason`` into the metadata of the partly executed notebook at ``path`` (``alignbook.stopped``)
    and return the failure of the stopped run: the cell that was running (the last one started) and the
    reason."""
    import nbformat

    info = {"cell_index": None, "execution_count": None, "source": "", "ename": "Stopped", "evalue": reason,
            "traceback": []}
    if not path.exists():
        return info
    nb = nbformat.read(path, as_version=4)
    started = [i for i, cell in enumerate(nb.cells) if cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    if started:
        cell = nb.cells[started[-1]]
        info.update(cell_index=started[-1], execution_count=cell.get("execution_count"), source=cell.source)
    nb.metadata.setdefault("alignbook", {})["stopped"] = reason
    nbformat.write(nb, path)
    return info


def kernel_peak_rss_mb() -> float:
    """The peak resident memory of the largest process this one started and reaped: the notebook's kernel
    (jupyter_client waits for it at shutdown), or one of the workers the kernel reaped if that grew larger.

    Not this process's own figure, nor the runner's view of it: on Linux a process started by fork or vfork
    and exec keeps its parent's peak as a floor, so the runner (a pytest or CLI process that imported torch)
    would lend its own size to every chapter. The kernel starts from this small process, so its floor is the
    few tens of MB that papermill occupies."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports kilobytes


def main(argv: list[str]) -> int:
    source, destination, parameters, failure, usage = argv
    try:
        return _run(source, destination, parameters, failure)
    finally:
        Path(usage).write_text(json.dumps({"kernel_peak_rss_mb": round(kernel_peak_rss_mb(), 1)}), encoding="utf-8")


def _run(source: str, destination: str, parameters: str, failure: str) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            source,
            destination,
            parameters=json.loads(parameters),
            kernel_name="python3",
            cwd=str(Path(source).parent),
            progress_bar=False,
            log_output=False,
            extra_arguments=KERNEL_ARGUMENTS,
        )
    except PapermillExecutionError as error:
        info = {
            "cell_index": error.cell_index,
            "execution_count": error.exec_count,
            "source": error.source,
            "ename": error.ename,
            "evalue": error.evalue,
            "traceback": error.traceback,
        }
    except Stopped as error:
        info = mark_stopped(Path(destination), str(error))
    except Exception as error:  # the kernel died, the notebook was unreadable, ...
        info = {
            "cell_index": None,
            "execution_count": None,
            "source": "",
            "ename": type(error).__name__,
            "evalue": str(error),
            "traceback": traceback.format_exc().splitlines(),
        }
    else:
        return 0
    Path(failure).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
