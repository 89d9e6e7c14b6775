"""The book's one thread policy (alignbook.threads): who sets it, what it chooses, what overrides it."""

import os
import subprocess
import sys

import pytest
import torch

import alignbook
from alignbook import threads
from alignbook.workers import map_in_workers


@pytest.fixture
def no_omp(monkeypatch):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_small_work_gets_one_thread_and_full_scale_the_available_cores(no_omp):
    assert threads.policy() == 1
    assert threads.policy("smoke") == threads.policy("book") == 1
    assert threads.policy("full") == len(os.sched_getaffinity(0))


def test_omp_num_threads_wins_when_set(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.policy() == threads.policy("full") == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2,1")  # OpenMP's per-level list: the outer level counts
    assert threads.policy() == 2


@pytest.mark.parametrize("value", ["zero", "0", "-2", "1.5"])
def test_a_bad_omp_num_threads_is_rejected_with_its_value(monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a positive integer"):
        threads.policy()


def test_available_cores_follow_the_affinity_mask_not_the_machine():
    code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); " \
           "from alignbook import threads; print(threads.available_cores(), threads.policy('full'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["1", "1"]


def test_a_chapter_applies_the_policy(no_omp):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        alignbook.chapter("survey", scale="smoke")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_worker_processes_run_on_the_policys_thread_count(no_omp):
    assert map_in_workers("torch:get_num_threads", [(), ()], workers=2) == [1, 1]


def test_worker_processes_keep_the_users_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert map_in_workers("torch:get_num_threads", [()], workers=1) == [2]

