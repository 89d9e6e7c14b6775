"""A batch of environments stepped together, with autoreset (``alignbook.envs.make_vec``).

``step(actions)`` takes an array of shape (num_envs, *action_shape) and returns arrays with a leading batch
axis. When an episode ends (terminated or truncated), that environment is reset in the same call: the returned
observation is the first one of its new episode, and the last observation and info of the finished episode are
in ``info["final_observation"][i]`` and ``info["final_info"][i]``, with ``info["_final_observation"][i]`` True
(Gymnasium 0.29's convention, "same-step" autoreset). Bootstrapping code therefore reads the final observation
from the info, never from the returned batch.

``SafeVectorEnv`` steps its environments in this process, one after another. ``ProcessVectorEnv`` (what
``make_vec(..., workers=k)`` returns for k > 1) splits the batch over k processes -- this one and k - 1 workers,
each holding a ``SafeVectorEnv`` of its share -- and steps the shares at the same time. A round trip through a
worker's pipe costs a fraction of a millisecond, so it pays when each share's step costs more than that (a few
Car or Button environments per process, not a few Point ones); cores that share a memory bus also slow each
other down (``benchmarks/env_throughput.py --workers`` measures it). Same seeds, same results: environment i
gets seed ``seed + i`` whichever process holds it (a test checks both classes step for step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from alignbook.checks import positive_int
from alignbook.envs.core import SafeEnv
from alignbook.workers import Channel, Worker, failure


class _Batch:
    """What both batch classes share: the spaces of one environment tiled ``num_envs`` times, and the check of a
    batch of actions."""

    def _describe(self, env: SafeEnv, num_envs: int) -> None:
        self.num_envs = num_envs  # checked by the caller, before it builds anything
        self.task_id = env.task_id
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.action_space = spaces.Box(
            np.tile(env.action_space.low, (self.num_envs, 1)), np.tile(env.action_space.high, (self.num_envs, 1)),
            dtype=env.action_space.dtype,
        )
        self.max_episode_steps = env.max_episode_steps
        self.cost_terms = tuple(getattr(env, "cost_terms", ()))
        self._started = False

    def _actions(self, actions) -> np.ndarray:
        if not self._started:
            raise RuntimeError(f"{self.task_id}: call reset() on the vector environment before step()")
        actions = np.asarray(actions, dtype=np.float64)
        expected = (self.num_envs, *self.single_action_space.shape)
        if actions.shape != expected:
            raise ValueError(f"{self.task_id}: actions must have shape {expected}, got {actions.shape}")
        return actions


class SafeVectorEnv(_Batch):
    """``num_envs`` copies of one task behind a batched safe API."""

    def __init__(self, make_env: Callable[[], SafeEnv], num_envs: int):
        n = positive_int(num_envs, "num_envs")
        first = make_env()
        self._describe(first, n)
        self.envs = [first] + [make_env() for _ in range(self.num_envs - 1)]
        self._info_keys = self.cost_terms + ("cost_sum",)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        results = [
            env.reset(seed=None if seed is None else seed + i, options=options) for i, env in enumerate(self.envs)
        ]
        self._started = True
        return self._stack([obs for obs, _ in results]), {}

    def step(self, actions) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = self._actions(actions)
        n = self.num_envs
        observations: list[Any] = [None] * n
        rewards, costs = [0.0] * n, [0.0] * n
        terminated, truncated = [False] * n, [False] * n
        terms = {key: [0.0] * n for key in self._info_keys}
        finals: dict[int, tuple[Any, dict]] = {}
        for i, env in enumerate(self.envs):
            obs, rewards[i], costs[i], terminated[i], truncated[i], info = env.step(actions[i])
            for key, column in terms.items():
                column[i] = info.get(key, 0.0)
            if terminated[i] or truncated[i]:
                finals[i] = (obs, info)
                obs, _ = env.reset()
            observations[i] = obs
        cost_array = np.array(costs)
        infos: dict[str, Any] = {"cost": cost_array, **{key: np.array(col) for key, col in terms.items()}}
        if finals:
            ended = np.zeros(n, dtype=bool)
            ended[list(finals)] = True
            final_obs, final_info = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
            for i, (obs, info) in finals.items():
                final_obs[i], final_info[i] = obs, info
            infos.update(final_observation=final_obs, _final_observation=ended, final_info=final_info,
                         _final_info=ended)
        return (self._stack(observations), np.array(rewards), cost_array, np.array(terminated),
                np.array(truncated), infos)

    def render(self) -> list[np.ndarray]:
        return [env.render() for env in self.envs]

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _stack(self, observations: list[Any]) -> Any:
        if isinstance(observations[0], dict):
            return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
        return np.stack(observations)


class ProcessVectorEnv(_Batch):
    """``num_envs`` copies of ``task_id`` split over ``workers`` processes, this one included (it steps the first
    share while worker processes step the others); the same API as ``SafeVectorEnv``."""

    def __init__(self, task_id: str, num_envs: int, workers: int, **options: Any):
        from alignbook.envs.registry import make

        self._closed = True  # until the workers exist
        n, k = positive_int(num_envs, "num_envs"), positive_int(workers, "workers")
        if k > n:
            raise ValueError(f"workers must be an int between 1 and num_envs ({n}), got {workers!r}")
        # Contiguous shares, as even as possible: environment i lives in the process whose slice holds i.
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        self._slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        # This process's share first: a bad id or option fails here, before any worker starts.
        self._local = SafeVectorEnv(lambda: make(task_id, **options), self._slices[0].stop)
        self._describe(self._local.envs[0], n)
        # Each worker (alignbook.workers: a fresh interpreter, no fork) holds a SafeVectorEnv of its share.
        self._workers = [Worker("alignbook.envs.vector:serve_share", task_id, share.stop - share.start, options)
                         for share in self._slices[1:]]
        self._closed = False

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        results = self._call("reset", [(None if seed is None else seed + s.start, options) for s in self._slices])
        self._started = True
        return _concat([obs for obs, _ in results]), {}

    def step(self, actions) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = self._actions(actions)
        results = self._call("step", [actions[share] for share in self._slices])
        infos: dict[str, Any] = {}
        for key in results[0][5]:
            if not key.startswith(("final_", "_final_")):
                infos[key] = np.concatenate([r[5][key] for r in results])
        if any("final_observation" in r[5] for r in results):
            for key, fill in (("final_observation", None), ("final_info", None),
                              ("_final_observation", False), ("_final_info", False)):
                dtype = object if fill is None else bool
                infos[key] = np.concatenate([
                    r[5].get(key, np.full(share.stop - share.start, fill, dtype=dtype))
                    for r, share in zip(results, self._slices, strict=True)
                ])
        obs = _concat([r[0] for r in results])
        return (obs, *(np.concatenate([r[k] for r in results]) for k in range(1, 5)), infos)

    def render(self) -> list[np.ndarray]:
        return [frame for frames in self._call("render", [None] * len(self._slices)) for frame in frames]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._local.close()
        for worker in self._workers:
            worker.close()

    def __del__(self):
        self.close()

    def _call(self, command: str, payloads: list[Any]) -> list[Any]:
        """``command`` on every share at once: the workers' shares in their processes, the first one here. An
        error (here or in a worker, re-raised with the worker's traceback) is raised once every worker has
        answered, so that no reply is left unread."""
        for worker, payload in zip(self._workers, payloads[1:], strict=True):
            worker.send((command, payload))
        results, errors = [], []
        for answer in [lambda: _run(self._local, command, payloads[0]), *(w.recv for w in self._workers)]:
            try:
                results.append(answer())
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]
        return results


def _run(venv: SafeVectorEnv, command: str, payload: Any) -> Any:
    """One command on one share, in whichever process holds it."""
    if command == "reset":
        seed, options = payload
        return venv.reset(seed=seed, options=options)
    if command == "step":
        return venv.step(payload)
    if command == "render":
        return venv.render()
    raise ValueError(f"unknown command {command!r}")


def serve_share(channel: Channel, task_id: str, num_envs: int, options: dict[str, Any]) -> None:
    """A worker process: one in-process batch, driven by (command, payload) messages until the parent is done.
    An error in a command is sent up and the worker carries on, so that the batch stays usable (a NaN action is
    refused before the physics runs)."""
    from alignbook.envs.registry import make

    venv = SafeVectorEnv(lambda: make(task_id, **options), num_envs)
    try:
        while (message := channel.recv()) is not None:
            command, payload = message
            try:
                channel.send(_run(venv, command, payload))
            except Exception as error:
                channel.send(failure(error))
    finally:
        venv.close()


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], dict):
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return np.concatenate(parts)
