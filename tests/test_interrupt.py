"""A chapter stopped by a signal or a time-out fails like a chapter whose cell raised: its partial notebook is
kept in _build/SCALE/failed/ with the reason, and its temporary folders (the runner's and the chapter's own)
are gone. The runner's log and the notebooks stay free of the kernel's and tqdm's noise."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from alignbook.book import chapters, runner
from conftest import PARAMETERS, write_notebook

NOISE = ("Kernel is running over TCP without encryption", "KeyboardInterrupt caught in kernel", "IProgress not found")


def _sleepy_book(root: Path, marker: Path) -> Path:
    """A chapter that makes an omnisafe-style temporary folder, names it in ``marker``, then sleeps."""
    write_notebook(root / "notebooks" / "sleepy.ipynb", [
        ("code", PARAMETERS, ["parameters"]),
        ("code", "import pathlib, tempfile\n"
                 f"pathlib.Path({str(marker)!r}).write_text(tempfile.mkdtemp(prefix='omnisafe-'))\n"
                 "print('started')", []),
        ("code", "import time\ntime.sleep(600)", []),
        ("code", "print('never reached')", []),
    ])
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    return root


def _leftovers() -> list[str]:
    return [p.name for p in Path(tempfile.gettempdir()).glob("alignbook-sleepy-*")]


def _check_kept(root: Path, reason: str) -> None:
    kept = runner.failed_path(root, "sleepy", "smoke")
    assert kept.exists() and not runner.executed_path(root, "sleepy", "smoke").exists()
    nb = json.loads(kept.read_text())
    assert nb["metadata"]["alignbook"]["stopped"] == reason
    outputs = ["".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])]
    assert any("started" in text for text in outputs)  # the cells before the stop kept their outputs
    assert not any("never reached" in text for text in outputs)


@pytest.mark.parametrize("how", ["SIGTERM to the runner", "SIGINT to its process group (Ctrl-C)"])
def test_a_signal_stops_the_run_keeps_the_partial_notebook_and_removes_the_temporary_folders(tmp_path, how):
    marker = tmp_path / "made.txt"
    root = _sleepy_book(tmp_path / "book", marker)
    before = set(_leftovers())
    process = subprocess.Popen([sys.executable, "-m", "alignbook", "--root", str(root), "run", "sleepy",
                                "--scale", "smoke"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 180
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), "the chapter never reached its second cell"
    time.sleep(0.5)  # into the sleeping cell
    if how.startswith("SIGTERM"):
        process.send_signal(signal.SIGTERM)
    else:  # a terminal's Ctrl-C reaches the runner and the process executing the notebook alike
        os.killpg(process.pid, signal.SIGINT)
    reason = f"stopped by {how.split()[0]}"
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert f"Stopped: {reason}" in err and "time.sleep(600)" in err  # the reason and the cell
    _check_kept(root, reason)
    assert not Path(marker.read_text()).exists()  # the chapter's own omnisafe-* folder went too
    assert set(_leftovers()) <= before
    assert not [line for line in (out + err).splitlines() if any(noise in line for noise in NOISE)]


def test_a_time_out_stops_the_chapter_like_a_failing_cell(tmp_path):
    root = _sleepy_book(tmp_path / "book", tmp_path / "made.txt")
    before = set(_leftovers())
    with pytest.raises(runner.ChapterFailed, match="Stopped: timed out after 30 s"):
        runner.run(root, chapters.select(root, ["sleepy"]), "smoke", timeout=30, log=lambda _: None)
    _check_kept(root, "timed out after 30 s")
    assert set(_leftovers()) <= before


@pytest.mark.parametrize("timeout", [0, -1.0, "10", True])
def test_a_bad_time_out_is_refused_before_any_work(tiny_book, timeout):
    with pytest.raises(chapters.BookError, match="timeout must be a positive number of seconds"):
        runner.run(tiny_book, chapters.select(tiny_book, ["hello"]), "smoke", timeout=timeout)
    assert not (tiny_book / "_build").exists()


def test_the_runner_log_and_the_executed_notebook_carry_no_kernel_or_tqdm_noise(tiny_book):
    write_notebook(tiny_book / "notebooks" / "bars.ipynb", [
        ("code", PARAMETERS, ["parameters"]),
        ("code", "import tqdm.auto\nimport alignbook\nprint(sum(alignbook.progress(range(3))))", []),
    ])
    done = subprocess.run([sys.executable, "-m", "alignbook", "--root", str(tiny_book), "run", "bars", "--scale",
                           "smoke"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    log = done.stdout + done.stderr
    assert "bars: done" in log
    executed = runner.executed_path(tiny_book, "bars", "smoke").read_text()
    assert not [noise for noise in NOISE if noise in log or noise in executed]


def _in_a_fake_kernel(code: str) -> str:
    """stderr of ``code`` run where tqdm.auto believes it is in a Jupyter kernel (as a chapter opened in
    Jupyter, outside the runner), with warnings shown."""
    setup = "import sys, types, IPython; sys.modules['ipykernel.zmqshell'] = types.ModuleType('ipykernel.zmqshell')\n"
    env = {k: v for k, v in os.environ.items() if k not in ("ALIGNBOOK_RUNNER", "PYTHONWARNINGS", "TQDM_DISABLE")}
    return subprocess.run([sys.executable, "-W", "default", "-c", setup + code], capture_output=True, text=True,
                          env=env, check=True).stderr


def test_progress_outside_the_runner_does_not_warn_about_ipywidgets():
    assert "IProgress not found" in _in_a_fake_kernel("import tqdm.auto")  # what a reader saw before
    assert "IProgress not found" not in _in_a_fake_kernel("import alignbook\nlist(alignbook.progress(range(3)))")
