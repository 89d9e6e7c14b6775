"""benchmarks/shared_machine.py: the busy core it makes and the way it alternates the two arms."""

import importlib.util
import os

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("shared_machine", ROOT / "benchmarks" / "shared_machine.py")
shared_machine = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shared_machine)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs Linux's affinity calls")
def test_the_busy_process_is_pinned_to_one_core_and_paused_between_busy_arms():
    busy = shared_machine.BusyCore()
    try:
        pid = busy.process.pid
        assert os.sched_getaffinity(pid) == {busy.core} and busy.core in os.sched_getaffinity(0)
        assert busy.state() == "T"  # stopped: the quiet arm really is quiet
        busy.busy()
        assert busy.state() in ("R", "S")
        busy.quiet()
        assert busy.state() == "T"
    finally:
        busy.close()
    assert busy.process.poll() is not None


def test_the_arms_alternate_and_each_reports_its_median(monkeypatch):
    events = []

    class FakeBusy:
        def busy(self):
            events.append("on")

        def quiet(self):
            events.append("off")

    times = iter([1.0, 5.0, 7.0, 2.0, 3.0, 6.0])  # in the order the arms run: q b b q q b
    monkeypatch.setattr(shared_machine, "timed", lambda call: next(times))
    calls = []
    quiet, busy = shared_machine.measure(lambda: calls.append(1), FakeBusy(), repeats=3)
    assert calls == [1]  # the warm-up call, untimed (the timed ones went through the patched clock)
    assert events == ["on", "off", "on", "off", "on", "off"]
    assert (quiet, busy) == (2.0, 6.0)  # medians of (1, 2, 3) and (5, 7, 6)
