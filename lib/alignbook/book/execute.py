"""Execute one notebook with papermill; run by the runner as a subprocess of its own.

A process per chapter keeps chapters from sharing state and lets the runner read the chapter's peak memory
from the operating system when the process ends. On a failure this writes a JSON description of the failing
cell to the path given, then exits with status 1.

Usage: python -m alignbook.book.execute SOURCE DESTINATION PARAMETERS_JSON FAILURE_JSON
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    source, destination, parameters, failure = argv
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
