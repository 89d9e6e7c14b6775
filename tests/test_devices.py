"""The device audit on small cases: a correct loop passes, each kind of forgotten move is caught, on a CPU."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from alignbook.devices import DeviceAudit, DeviceViolation

CPU = torch.device("cpu")


def train(move_batch=True, move_model=True, optimizer=torch.optim.Adam, steps=3):
    """A small classifier's training loop, as a chapter writes one; the flags drop one move each."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))
    if move_model:
        model = model.to(CPU)
    opt = optimizer(model.parameters(), lr=1e-2)
    features, labels = torch.randn(16, 4), torch.randint(0, 3, (16,))
    for _ in range(steps):
        x, y = (features.to(CPU), labels.to(CPU)) if move_batch else (features, labels)
        loss = F.cross_entropy(model(x), y) + 0.01 * F.mse_loss(model(x).softmax(-1), F.one_hot(y, 3).float())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return loss.item()


@pytest.mark.parametrize("optimizer", [torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD])
def test_a_correct_loop_passes_and_gives_the_same_numbers(optimizer):
    plain = train(optimizer=optimizer)
    with DeviceAudit(CPU) as audit:
        audited = train(optimizer=optimizer)
    assert audit.violations == []
    assert audited == plain  # the audit labels tensors, it never changes a result


def test_a_batch_left_on_the_cpu_fails_and_says_where():
    with pytest.raises(DeviceViolation) as error:
        with DeviceAudit(CPU):
            train(move_batch=False)
    message = str(error.value)
    assert "mixes tensors on the chosen device (cpu) with tensors never moved there" in message
    assert "(16, 4)" in message  # the batch's shape
    assert "tests/test_devices.py:" in message and "in train" in message  # where the batch is used


def test_a_model_never_moved_fails():
    with pytest.raises(DeviceViolation, match="requires grad is not on cpu"):
        with DeviceAudit(CPU):
            train(move_batch=False, move_model=False)


def test_strict_raises_at_the_first_violation():
    audit = DeviceAudit(CPU, strict=True)
    with pytest.raises(DeviceViolation, match="device audit: add"), audit:
        on = torch.ones(3, device=CPU)
        on + torch.ones(3)
    assert audit.violations == []


def test_labels_follow_factories_moves_and_ops():
    with DeviceAudit(CPU) as audit:
        off = torch.zeros(2, 3)
        on = torch.zeros(2, 3, device=CPU)
        assert audit.label(off) is False and audit.label(on) is True
        assert audit.label(torch.zeros_like(on)) is True and audit.label(torch.zeros_like(off)) is False
        assert audit.label(on * 2 + torch.tensor(1.0)) is True  # a 0-dim CPU scalar is allowed
        moved = off.to(CPU)
        assert audit.label(moved) is True
        host = on.cpu()
        assert audit.label(host) is False and audit.label(on) is True  # .cpu() does not relabel its input
        assert audit.label(torch.from_numpy(host.numpy())) is False
        linear = nn.Linear(3, 2, device=CPU)  # a parameter takes its data's label
        assert audit.label(linear.weight) is True
        assert audit.label(nn.Linear(3, 2).weight) is False
    assert audit.violations == []


def test_numpy_of_a_device_tensor_needs_cpu_first():
    with pytest.raises(DeviceViolation, match=r"numpy\(\) of a tensor on cpu"):
        with DeviceAudit(CPU):
            torch.ones(2, device=CPU).numpy()
    with DeviceAudit(CPU) as audit:
        torch.ones(2, device=CPU).cpu().numpy()
    assert audit.violations == []


def test_the_audit_leaves_parameter_creation_as_it_was():
    before = vars(nn.Parameter)["__new__"]
    with DeviceAudit(CPU):
        nn.Parameter(torch.zeros(1))
    assert vars(nn.Parameter)["__new__"] is before
    assert isinstance(nn.Parameter(torch.zeros(1)), nn.Parameter)


def test_copying_between_devices_is_a_move_not_a_violation():
    with DeviceAudit(CPU) as audit:
        model = nn.Linear(3, 2).to(CPU)
        model.load_state_dict(nn.Linear(3, 2).state_dict())  # a CPU state dict into a moved model
        assert audit.label(model.weight) is True
    assert audit.violations == []


def test_moving_a_tensor_leaves_the_original_off():
    with DeviceAudit(CPU) as audit:
        batch = torch.randn(4, 3)
        moved = batch.to(CPU)
        assert audit.label(moved) is True and audit.label(batch) is False  # as on a GPU: a copy moved
    with pytest.raises(DeviceViolation, match=r"shapes \[\(4, 3\)\]"):
        with DeviceAudit(CPU):
            batch = torch.randn(4, 3)
            batch.to(CPU) + batch


# The safe-RL learners train in worker processes in their chapters, out of the kernel's audit: audited here,
# one learner per family, on the toy task at a tiny budget.
SAFERL_TINY = dict(total_steps=300, steps_per_epoch=150, update_iters=2, batch_size=50, hidden=(8, 8))


@pytest.mark.parametrize("algo, engine", [("ppo_lag", "autograd"), ("ppo_lag", None), ("cpo", None)])
def test_on_policy_learners_follow_the_device(algo, engine):
    from alignbook.saferl import TOY_TASK, train

    with DeviceAudit(CPU) as audit:
        agent, _ = train(algo, TOY_TASK, engine=engine, device="cpu", **SAFERL_TINY)
        assert audit.label(agent.algo.ac.actor.log_std) is True


def test_off_policy_and_multi_agent_learners_follow_the_device():
    from alignbook.saferl import MA_TOY_TASK, TOY_TASK, train, train_multi

    with DeviceAudit(CPU):
        train("sac_lag", TOY_TASK, total_steps=400, steps_per_epoch=200, start_learning_steps=100, batch_size=32,
              hidden=(8, 8), device="cpu")
        train_multi("mappo_lag", MA_TOY_TASK, device="cpu", **SAFERL_TINY)


def test_off_the_cpu_the_autograd_engine_runs():
    from alignbook.saferl.config import algorithm_class, make_config
    from alignbook.saferl.engines import Autograd, make_engine

    # The meta device stands in for a GPU here: tensors with shapes and no data, on any machine.
    algo = algorithm_class("ppo_lag")(3, 2, make_config("ppo_lag", device="meta"))
    assert isinstance(make_engine(algo), Autograd)
    with pytest.raises(ValueError, match="engine 'numpy' does not support"):
        make_engine(algo, "numpy")
    assert type(make_engine(algorithm_class("ppo_lag")(3, 2, make_config("ppo_lag")))).__name__ == "NumpyEngine"


@pytest.mark.parametrize("audit", ["0", "1"])
def test_the_chapter_enters_the_audit_for_the_kernel_when_asked(audit):
    """A model never moved: a chapter run with ALIGNBOOK_DEVICE_AUDIT=1 fails on it, without it runs."""
    import os
    import subprocess
    import sys

    code = ("import alignbook, torch\n"
            "ch = alignbook.chapter('survey', scale='smoke', device='cpu')\n"
            "torch.nn.Linear(2, 2)(torch.ones(1, 2)).sum().backward()\n")
    env = {**os.environ, "ALIGNBOOK_DEVICE_AUDIT": audit}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if audit == "1":
        assert done.returncode != 0 and "DeviceViolation: device audit: linear" in done.stderr, done.stderr
    else:
        assert done.returncode == 0, done.stderr


def test_the_world_model_agent_and_its_replay_follow_the_device():
    from test_worldmodel import SMALL_RUN

    from alignbook.worldmodel import train

    with DeviceAudit(CPU):  # the chapter trains these in worker processes, out of the kernel's audit
        train("osrp_lag", "SafetyPointCircle1-v0", seed=1, **dict(SMALL_RUN, episode_steps=40, pid_start=0),
              device="cpu")
