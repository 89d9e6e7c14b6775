"""The one way the library starts processes (alignbook.workers): errors reach the parent with the worker's
traceback, and workers never outlive their parent."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from alignbook.workers import Worker, WorkerError, map_in_workers


def _calls(target: str) -> Worker:
    return Worker("alignbook.workers:serve_calls", target)


def test_a_worker_that_raises_surfaces_its_message_and_traceback():
    worker = _calls("math:sqrt")
    try:
        worker.send((16.0,))
        assert worker.recv() == 4.0
        worker.send((-1.0,))
        with pytest.raises(ValueError, match="math domain error") as caught:  # a built-in type stays itself
            worker.recv()
        assert "Traceback" in str(caught.value) and "serve_calls" in str(caught.value)
    finally:
        worker.close()
    worker = _calls("json:loads")  # json.JSONDecodeError is not a built-in: it arrives as WorkerError
    try:
        worker.send(("{not json",))
        with pytest.raises(WorkerError, match="JSONDecodeError") as caught:
            worker.recv()
        assert "Expecting property name" in str(caught.value)
    finally:
        worker.close()


def test_a_worker_that_dies_without_a_word_is_reported():
    worker = _calls("os:_exit")
    worker.send((3,))
    with pytest.raises(WorkerError, match="exited with status 3"):
        worker.recv()
    worker.close()
    with pytest.raises(ValueError, match="module:function"):
        Worker("no_colon")


def test_map_in_workers_keeps_the_order_of_the_jobs():
    assert map_in_workers("operator:mul", [(i, i) for i in range(7)], workers=2) == [i * i for i in range(7)]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited (a zombie waits only for its new parent to reap it)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_parent_leaves_no_orphan():
    parent = textwrap.dedent("""
        import sys, time
        from alignbook.workers import Worker
        worker = Worker("alignbook.workers:serve_calls", "time:sleep")
        worker.send((120,))  # busy: it is not waiting on its pipe when the parent dies
        print(worker.process.pid, flush=True)
        time.sleep(120)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, env=env)
    child = int(proc.stdout.readline())
    time.sleep(0.5)
    assert not _gone(child)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
