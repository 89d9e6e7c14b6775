"""A device audit that runs on a CPU-only machine: would this code keep its tensors on the chosen device?

On a machine without a GPU every tensor lives on the CPU, so a chapter that forgets ``.to(device)`` works
there and fails (or silently runs on the CPU) on a GPU. ``DeviceAudit`` finds those places without a GPU by
*taint tracking*: it is a ``torch.overrides.TorchFunctionMode``, so it sees every torch call made from Python
(functions, tensor methods, attribute reads such as ``.grad``), and it labels each tensor it sees come out of
one as

- **on** the device: made by a factory given ``device=`` the chosen device, moved by ``.to(device)`` or
  ``.cuda()``, or computed from on-device tensors;
- **off** the device: made by a factory without a device (``torch.zeros``, ``torch.randn``, ``torch.tensor``,
  ``torch.from_numpy`` ...), brought back by ``.cpu()``, or computed from off-device tensors only.

A violation is what a GPU would reject or waste:

1. an op that mixes an off-device tensor of one or more dimensions with an on-device one (a GPU raises
   "Expected all tensors to be on the same device"); 0-dim CPU tensors are allowed, CUDA accepts them, and
   torch's optimizers keep their step counters that way;
2. an off-device tensor that takes part in autograd (``requires_grad``): a model, or a trainable tensor, that
   was never moved, so its training would run on the CPU;
3. ``.numpy()`` of an on-device tensor (a CUDA tensor must come back with ``.cpu()`` first).

Why this technique rather than the alternatives. The meta device and ``FakeTensorMode`` answer "which device
would this tensor be on", but a chapter's torch code cannot run on them: it reads values back (``.item()``,
NumPy round trips, early stopping, data-dependent shapes), which fake tensors cannot give. Taint tracking
runs the real computation on the CPU, so every number stays what it was (the audit never changes a result),
and only adds a label per tensor. Its blind spots, and how they are handled:

- ``.to(cpu)`` on the CPU returns the very same tensor, so the label comes from the call, not from the
  result: ``.to(device)`` and ``.cpu()`` return a fresh alias (a view of the same storage, so every number is
  unchanged) labelled on or off, and the tensor they were called on keeps its own label, as it would on a GPU.
  A parameter is the exception: ``module.to(device)`` moves it in place, so its own label becomes on.
- ``nn.Parameter(data)``, ``torch.from_numpy`` and ``torch.frombuffer`` do not pass through the mode, so the
  audit wraps them while it is active: a parameter takes the label of its data (``nn.Linear`` makes its
  weight with ``torch.empty(..., device=None)``: off until the module is moved), the other two make off.
- Tensors the mode never saw made (made in C++ code, loaded by safetensors, made before the audit began) carry
  no label and count as neither on nor off; they take a label as soon as Python code moves or combines them.
- On a CPU-only machine a literal ``device="cpu"`` cannot be told from ``device=ch.device``; the audit
  treats both as the chosen device. Code that pins work to the CPU on purpose should say so in a comment.
- Work done in other processes (spawned workers) is not audited; forked workers inherit the mode.

Use it as a context manager around code (``with DeviceAudit(torch.device("cpu")): ...``), or let
``alignbook.chapter`` enter it, strict, for the whole kernel when the environment variable
``ALIGNBOOK_DEVICE_AUDIT`` is ``1`` (tests/test_book.py sets it for the smoke runs of every chapter).
"""

from __future__ import annotations

import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

ON, OFF = True, False

# Factories that put their result wherever ``device=`` says, the CPU when it is missing. Called with a tensor
# argument (``as_tensor(t)``, ``normal(mean, std)``), or as ``*_like``, they follow it, like any other op.
_FACTORIES = frozenset({
    "zeros", "ones", "empty", "full", "rand", "randn", "randint", "randperm", "arange", "range", "linspace",
    "logspace", "eye", "tensor", "as_tensor", "asarray", "empty_strided", "scalar_tensor", "normal",
    "tril_indices", "triu_indices",
})
_MOVES = frozenset({"to", "cuda"})
_TO_HOST = frozenset({"cpu"})
_TO_NUMPY = frozenset({"numpy", "__array__"})
_SPECIAL = _FACTORIES | _MOVES | _TO_HOST | _TO_NUMPY | {"copy_"}  # every other op only combines labels
_STDLIB = sysconfig.get_paths()["stdlib"]
_SHOWN_FRAMES = 4  # a short stack: the library and notebook frames nearest to the violation


class DeviceViolation(RuntimeError):
    """A tensor would be off the chosen device on a GPU."""


@dataclass(frozen=True)
class Violation:
    what: str
    where: tuple[str, ...]  # "file:line in function", innermost last

    def __str__(self) -> str:
        return self.what + "".join(f"\n    at {frame}" for frame in self.where)


def _outputs(result):
    """The tensors in a value: itself, or those one level into a list or tuple (``torch.cat``, ``_foreach_*``)."""
    if isinstance(result, torch.Tensor):
        yield result
    elif isinstance(result, (list, tuple)):
        for item in result:
            if isinstance(item, torch.Tensor):
                yield item


def _tensors(args, kwargs):
    """The tensors among a call's arguments."""
    for value in (*args, *kwargs.values()):
        yield from _outputs(value)


def _requested_device(args, kwargs) -> torch.device | None:
    """The device a ``.to(...)``/``.cuda(...)`` call asks for, if it names one."""
    for value in (*args[1:], kwargs.get("device")):
        if isinstance(value, (str, torch.device)):
            return torch.device(value)
        if isinstance(value, torch.Tensor):
            return value.device
    return None


def _user_frames() -> tuple[str, ...]:
    """The innermost frames of the project's code (the library, a notebook cell, a test), not those of torch,
    of other installed packages or of the standard library."""
    frames = []
    for frame in traceback.extract_stack():
        path = frame.filename
        if not (path.startswith((_STDLIB, "<frozen")) or "site-packages" in path or path == __file__):
            frames.append(f"{_short(path)}:{frame.lineno} in {frame.name}")
    return tuple(frames[-_SHOWN_FRAMES:])


def _short(path: str) -> str:
    """``lib/alignbook/rlhf/ppo.py`` rather than the whole path; a notebook cell's temporary file as it is."""
    parts = Path(path).parts
    for anchor in ("lib", "tests"):
        if anchor in parts:
            return str(Path(*parts[len(parts) - parts[::-1].index(anchor) - 1:]))
    return path


class DeviceAudit(TorchFunctionMode):
    """Label tensors on or off ``device`` as they are made and moved; report ops a GPU would reject.

    ``strict`` raises ``DeviceViolation`` at the first violation (the kernel-wide audit, so the failing cell
    shows where); otherwise the first ``limit`` distinct violations are collected in ``violations`` and
    ``__exit__`` raises one error that lists them all.
    """

    def __init__(self, device: torch.device | str, strict: bool = False, limit: int = 5):
        super().__init__()
        self.device = torch.device(device)
        self.strict, self.limit = strict, limit
        self.violations: list[Violation] = []
        # The label lives on the tensor itself, under a name of this audit's own: it dies with the tensor,
        # travels with ``copy.deepcopy``, and costs a dict look-up (a weak-keyed table cost several times more).
        self._key = f"_device_audit_{id(self)}"
        self._patched: list[tuple[object, str, object]] = []

    # --- labels ---------------------------------------------------------------------------------------
    def _is_target(self, device) -> bool:
        device = torch.device(device)
        return device.type == self.device.type and (device.index is None or self.device.index is None
                                                   or device.index == self.device.index)

    def label(self, tensor: torch.Tensor) -> bool | None:
        """ON, OFF, or None for a tensor the audit never saw made."""
        return tensor.__dict__.get(self._key)

    def _set(self, result, value: bool | None) -> None:
        if value is None:
            return
        for tensor in _outputs(result):
            tensor.__dict__[self._key] = value

    # --- the mode -------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name not in _SPECIAL:  # the common case first, kept short: it runs for every op of the kernel
            result = func(*args, **kwargs)
            if isinstance(result, (torch.Tensor, list, tuple)):  # .shape, .dim(), .item(): nothing to label
                self._set(result, self._combine(name, list(_tensors(args, kwargs)), result))
            return result
        inputs = list(_tensors(args, kwargs))
        if name in _TO_HOST and inputs:
            # On the CPU ``.cpu()`` returns its input itself; an alias keeps the input's own label.
            result = func(*args, **kwargs)
            result = result.view_as(result) if result is inputs[0] else result
            self._set(result, OFF)
            return result
        if name in _TO_NUMPY and inputs and self.label(inputs[0]) is ON:
            # Flagged on the CPU too: the audit stands in for a GPU run, where this raises.
            self._violation(f"{name}() of a tensor on {self.device}: a GPU tensor needs .cpu() first")
        result = func(*args, **kwargs)
        if not isinstance(result, (torch.Tensor, list, tuple)):
            return result
        if name in _MOVES and inputs and inputs[0] is args[0]:
            target = _requested_device(args, kwargs) if name == "to" else torch.device("cuda")
            if target is not None:
                if result is inputs[0] and not isinstance(result, torch.nn.Parameter):
                    result = result.view_as(result)  # an alias: ``x`` itself keeps its label, as on a GPU
                self._set(result, ON if self._is_target(target) else OFF)
                return result
        if name == "copy_" and len(inputs) == 2:
            # A copy between devices is legal (it is how ``load_state_dict`` fills a moved model): the
            # destination keeps its label.
            self._set(result, self.label(inputs[0]) if self.label(inputs[0]) is not None else self.label(inputs[1]))
            return result
        if name in _FACTORIES and not inputs:
            device = kwargs.get("device")
            self._set(result, OFF if device is None else self._is_target(device))
            return result
        self._set(result, self._combine(name, inputs, result))
        return result

    def _combine(self, name: str, inputs: list[torch.Tensor], result) -> bool | None:
        """The label of an op's output, reporting the op if its inputs disagree or a trainable input is off."""
        on = off_wide = off_any = False
        key = self._key
        for tensor in inputs:
            label = tensor.__dict__.get(key)
            if label is ON:
                on = True
            elif label is OFF:
                off_any = True
                if tensor.dim() > 0:
                    off_wide = True
                # Autograd took part when the op recorded a graph node (attribute reads and updates under
                # no_grad do not): an off-device trainable tensor in it is a model never moved.
                if tensor.requires_grad and any(t.grad_fn is not None for t in _outputs(result)):
                    self._violation(f"{name}: a tensor of shape {tuple(tensor.shape)} that requires grad is not "
                                    f"on {self.device} (a model or parameter never moved there)")
        if on and off_wide:
            shapes = [tuple(t.shape) for t in inputs if self.label(t) is OFF and t.dim() > 0]
            self._violation(f"{name}: mixes tensors on the chosen device ({self.device}) with tensors never moved "
                            f"there (shapes {shapes}); move them with .to(device) or make them with device=")
        if on:
            return ON
        return OFF if off_any else None

    def _violation(self, what: str) -> None:
        found = Violation(what, _user_frames())
        if self.strict:
            raise DeviceViolation(f"device audit: {found}")
        if len(self.violations) < self.limit and all(v.where != found.where for v in self.violations):
            self.violations.append(found)

    # --- entering and leaving -------------------------------------------------------------------------
    def __enter__(self):
        audit = self
        parameter_new = torch.nn.Parameter.__new__

        def labelled_parameter(cls, data=None, requires_grad=True):
            parameter = parameter_new(cls, data, requires_grad)
            if data is not None and audit.label(data) is not None:
                parameter.__dict__[audit._key] = audit.label(data)
            return parameter

        def made_off(make):
            def wrapper(*args, **kwargs):
                tensor = make(*args, **kwargs)
                tensor.__dict__[audit._key] = OFF
                return tensor
            return wrapper

        # Made in C++ without passing through the mode: wrapped while the audit is active, restored after.
        self._patched = [(torch.nn.Parameter, "__new__", vars(torch.nn.Parameter)["__new__"]),
                         (torch, "from_numpy", torch.from_numpy), (torch, "frombuffer", torch.frombuffer)]
        torch.nn.Parameter.__new__ = staticmethod(labelled_parameter)
        torch.from_numpy, torch.frombuffer = made_off(torch.from_numpy), made_off(torch.frombuffer)
        return super().__enter__()

    def __exit__(self, kind, value, trace):
        for owner, name, original in self._patched:
            setattr(owner, name, original)
        super().__exit__(kind, value, trace)
        if kind is None and self.violations:
            raise DeviceViolation(self.report())

    def report(self) -> str:
        listed = "\n".join(f"  {i + 1}. {v}" for i, v in enumerate(self.violations))
        return f"device audit on {self.device}: {len(self.violations)} violation(s), the first:\n{listed}"


_KERNEL_AUDIT: list[DeviceAudit] = []


def audit_kernel(device: torch.device) -> DeviceAudit:
    """Enter a strict audit for the rest of this process (the notebook's kernel); once, whatever the calls."""
    if not _KERNEL_AUDIT:
        audit = DeviceAudit(device, strict=True)
        audit.__enter__()
        _KERNEL_AUDIT.append(audit)
    return _KERNEL_AUDIT[0]


def device_key(device: torch.device) -> dict[str, str]:
    """The part of a cache key that names the device: nothing on the CPU (its caches keep their keys), the
    device type elsewhere (a GPU rounds differently, so its results are not the CPU's)."""
    return {} if device.type == "cpu" else {"device": device.type}


def device_of(module: torch.nn.Module) -> torch.device:
    """Where a model's parameters live: functions handed a model put their batches there, so they need no
    ``device`` argument of their own."""
    return next(module.parameters()).device
