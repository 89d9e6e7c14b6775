import pytest
import torch

import alignbook
from alignbook.chapter import resolve_device


def test_chapter_sets_up_a_run():
    ch = alignbook.chapter("survey", scale="smoke", seed=3, device="cpu")
    assert (ch.name, ch.scale, ch.seed, ch.device) == ("survey", "smoke", 3, torch.device("cpu"))
    assert ch.cfg.bt_items == alignbook.scales.get("survey", "smoke").bt_items
    assert ch.report.chapter == "survey" and ch.report.claims == []


def test_same_seed_same_numbers():
    alignbook.chapter("survey", scale="smoke", seed=7, device="cpu")
    first = torch.rand(3)
    alignbook.chapter("survey", scale="smoke", seed=7, device="cpu")
    assert torch.equal(first, torch.rand(3))


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        alignbook.chapter("survey", scale="smoke", seed=seed, device="cpu")


def test_bad_scale_and_device_are_refused_before_work():
    with pytest.raises(ValueError, match="valid scales are"):
        alignbook.chapter("survey", scale="tiny")
    with pytest.raises(ValueError, match="valid values are: auto, cpu"):
        resolve_device("gpu")


def test_auto_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
