"""Worker processes, started one way for the whole library (vectorised environments, the safe-RL update's
second process, the scattering data generation).

A worker is a fresh Python interpreter (``subprocess`` with the same ``sys.path``: a spawn that, unlike
multiprocessing's, never re-imports the caller's main script and inherits none of its threads or open renderer
contexts) that runs ``serve(channel, *args)`` for a function named ``"module:function"``. The two talk through
a ``Channel`` of two pipes of their own, so nothing the worker prints can corrupt a message.

- An exception raised in the worker reaches the parent: the next ``recv`` raises it, with the worker's
  traceback in its message (a built-in type as itself, any other as ``WorkerError``; ``WorkerError`` too when
  the worker died without a word). A worker that answers errors and carries on sends ``failure(error)``.
- A worker exits with its parent: on Linux the kernel kills it when the parent dies (``PR_SET_PDEATHSIG``),
  and everywhere a worker waiting for a message ends when its pipe closes.
"""

from __future__ import annotations

import builtins
import ctypes
import importlib
import os
import pickle
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from alignbook import threads


class WorkerError(RuntimeError):
    """An exception raised inside a worker process (or its death), with the worker's traceback in its message."""


class _Failure:
    """What a worker sends up instead of a reply when its function raised (``failure``)."""

    def __init__(self, kind: str, message: str, trace: str):
        self.kind, self.message, self.trace = kind, message, trace

    def exception(self, target: str) -> Exception:
        """A built-in exception type is raised as itself (a ValueError stays a ValueError), any other as
        ``WorkerError``; the message carries the worker's traceback."""
        text = f"{self.message}\n(in worker {target}: {self.kind}; its traceback:)\n{self.trace}"
        kind = getattr(builtins, self.kind, None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                return kind(text)
            except TypeError:  # a built-in whose constructor wants other arguments
                pass
        return WorkerError(text)


def failure(error: BaseException) -> _Failure:
    """The message a worker sends in place of a reply when handling a request raised ``error`` (for workers
    that answer an error and carry on; an exception that leaves the served function is sent up by itself)."""
    return _Failure(type(error).__name__, str(error), traceback.format_exc())


class Channel:
    """Both directions of a worker's pipes: ``send`` one way, ``recv`` the other."""

    def __init__(self, incoming: Connection, outgoing: Connection):
        self.incoming, self.outgoing = incoming, outgoing

    def send(self, message: Any) -> None:
        self.outgoing.send(message)

    def recv(self) -> Any:
        return self.incoming.recv()

    def close(self) -> None:
        self.incoming.close()
        self.outgoing.close()


class Worker:
    """``serve(channel, *args)`` running in a worker process; ``target`` is ``"module:function"``."""

    def __init__(self, target: str, *args: Any):
        module, _, function = target.partition(":")
        if not module or not function:
            raise ValueError(f"target must be 'module:function', got {target!r}")
        self.target = target
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        # The book's thread policy travels in the environment: one intra-op thread per worker by default.
        env = threads.worker_environment({**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        code = "from alignbook.workers import _main; _main()"
        self.process = subprocess.Popen([sys.executable, "-c", code, str(down_r), str(up_w), str(os.getpid())],
                                        pass_fds=(down_r, up_w), env=env)
        os.close(down_r)
        os.close(up_w)
        self.channel = Channel(Connection(up_r, writable=False), Connection(down_w, readable=False))
        self.channel.send((target, args))

    def send(self, message: Any) -> None:
        try:
            self.channel.send(message)
        except (BrokenPipeError, OSError) as error:
            raise self._died() from error

    def recv(self) -> Any:
        """The worker's next message; ``WorkerError`` if it raised (with its traceback) or died."""
        try:
            message = self.channel.recv()
        except (EOFError, OSError) as error:
            raise self._died() from error
        if isinstance(message, _Failure):
            raise message.exception(self.target)
        return message

    def _died(self) -> WorkerError:
        code = self.process.wait(timeout=5)
        return WorkerError(f"worker {self.target} exited with status {code} before replying")

    def close(self, timeout: float = 5.0) -> None:
        """Close the pipes (a waiting worker then returns) and wait for the worker to exit."""
        if self.process.poll() is None:
            try:
                self.channel.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.channel.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __del__(self):
        if getattr(self, "process", None) is not None and self.process.poll() is None:
            self.close()


def serve_calls(channel: Channel, target: str) -> None:
    """A worker that calls ``target`` ("module:function") on each message's arguments and replies with the
    result, until the parent sends ``None``."""
    function = _resolve(target)
    while (message := channel.recv()) is not None:
        channel.send(function(*message))


def map_in_workers(target: str, jobs: Sequence[tuple], workers: int) -> list[Any]:
    """``[target(*job) for job in jobs]`` over ``workers`` worker processes, in the order of ``jobs``. A worker
    that replies gets the next job at once, whatever the others are doing (jobs of very different lengths,
    such as chapters, keep every worker busy)."""
    pool = [Worker("alignbook.workers:serve_calls", target) for _ in range(min(workers, len(jobs)))]
    try:
        results: list[Any] = [None] * len(jobs)
        pending = list(enumerate(jobs))
        busy: dict[int, int] = {}  # worker index -> job index
        for w in range(len(pool)):
            index, job = pending.pop(0)
            pool[w].send(job)
            busy[w] = index
        while busy:
            ready = wait([pool[w].channel.incoming for w in busy])
            for w in [w for w in busy if pool[w].channel.incoming in ready]:
                results[busy.pop(w)] = pool[w].recv()
                if pending:
                    index, job = pending.pop(0)
                    pool[w].send(job)
                    busy[w] = index
        return results
    finally:
        for worker in pool:
            worker.close()


def _call_pickled(target: str, blob: bytes) -> bytes:
    return pickle.dumps(_resolve(target)(*pickle.loads(blob)))


def map_pickled(target: str, jobs: Sequence[tuple], workers: int) -> list[Any]:
    """``map_in_workers`` for jobs and results that hold tensors: both cross the pipes as plain pickled bytes,
    since the pipe's own pickler would send tensors as shared-memory handles, which a worker started as its own
    interpreter cannot open."""
    replies = map_in_workers("alignbook.workers:_call_pickled", [(target, pickle.dumps(job)) for job in jobs], workers)
    return [pickle.loads(reply) for reply in replies]


def _resolve(target: str) -> Callable[..., Any]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _exit_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        # PR_SET_PDEATHSIG: the kernel kills this process when its parent dies -- strictly, when the parent's
        # thread that started it ends, so workers are started from a thread that outlives them (the main one).
        libc.prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _main() -> None:
    """The worker side: read the target, run it, send any exception up before exiting."""
    reader = Connection(int(sys.argv[1]), writable=False)
    writer = Connection(int(sys.argv[2]), readable=False)
    _exit_with_parent(int(sys.argv[3]))
    channel = Channel(reader, writer)
    try:
        target, args = channel.recv()
        _resolve(target)(channel, *args)
    except EOFError:  # the parent closed the pipe: nothing is waiting for an answer
        pass
    except BaseException as error:  # sent up, then this worker ends
        try:
            channel.send(failure(error))
        except (BrokenPipeError, OSError):
            pass
        sys.exit(1)

