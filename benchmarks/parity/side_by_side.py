"""alignbook.envs beside the original safety-gymnasium 1.0.0: spaces, episode lengths, costs and returns.

usage: python benchmarks/parity/side_by_side.py --upstream-python /tmp/sgref/bin/python [--tasks ID ...]
                                         [--episodes 5] [--seed 0] [--confirm N] [--keep-skybox]

The original cannot share an interpreter with this project (it pins gymnasium 0.28.1 and mujoco 2.3.3, and its
1.0.0 release needs a patch to import on Python 3.11), so this file runs twice as a probe -- ``--probe ours``
under this interpreter (``alignbook.envs.make``), ``--probe upstream`` under ``--upstream-python``
(``safety_gymnasium.make``), one after the other -- each probe prints one JSON object, and the parent compares
them. To reproduce the reference interpreter (a throwaway virtual environment outside the repository; pygame,
which upstream pins at a version without a 3.11 wheel, is only for human rendering and is left out):

    python3.11 -m venv /tmp/sgref
    /tmp/sgref/bin/pip install "numpy<2" mujoco==2.3.3 gymnasium==0.28.1 pettingzoo==1.23.1 \
        jinja2 xmltodict pyyaml imageio
    /tmp/sgref/bin/pip install --no-deps safety-gymnasium==1.0.0 gymnasium-robotics==1.2.2
    # then, in its site-packages only, turn the ndarray dataclass defaults that Python 3.11 refuses
    # (``color: np.array = COLOR[...]`` in safety_gymnasium/assets) into ``field(default_factory=...)``

Per task the probes record the observation shape, dtype and named blocks, the action box, the episode length,
every per-step cost value and info key seen, and, for two policies, the return, cost and goals reached of each
episode (episode i seeded ``seed + i``) and the steps per second of ``step`` alone:

- random: uniform actions from ``numpy.random.default_rng(seed)``;
- scripted: a controller that reads only the observation, so it runs unchanged on both suites. Navigation
  (Point, Car, Racecar): it turns towards the bearing of the strongest bin of one lidar block (goal: Goal,
  Button; push_box: Push) and drives when roughly facing it (the Racecar, which cannot turn on the spot,
  drives on at half speed while it steers); Circle: it keeps the circle's centre on its left at a distance of
  about 1 (inside the walls) to go round counter-clockwise. Legged robots (Doggo, Ant) and the velocity tasks:
  an open-loop sine gait of the step count (the same actions on both suites, so it compares their dynamics).

Layouts come from different random generators (and the velocity tasks run on Gymnasium's v5 models here, v4
upstream), so only statistics can agree: a mean is flagged when ours and upstream's differ by more than
3 combined standard errors and by more than 5% of the larger magnitude. With 5 episodes the standard errors
are rough and a few such flags in a full run are chance; ``--confirm N`` re-runs the flagged tasks with N
fresh episodes and keeps only the flags that persist. Spaces, lengths, cost values outside {0, 1} and info
keys are compared exactly; flags on the velocity tasks are marked as the documented v4/v5 deviation.

Upstream recompiles its scene at every reset, and decoding its PNG skybox takes ~1.4 s of each compile on a
2-core machine (most of its reset time and, over 300 resets, most of this script's run time); the upstream
probe swaps in a builtin skybox -- rendering only -- unless ``--keep-skybox``. The default run (every Point
and Car task, the level-1 tasks of the Doggo and the Racecar, the velocity tasks: 38 tasks, 5 episodes) takes
about 12 minutes on such a machine; ``--tasks`` picks others (the Ant's and the other Doggo and Racecar levels).
Last line: one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

AGENTS, NAV_TASKS, LEVELS = ("Point", "Car"), ("Goal", "Button", "Push", "Circle"), (0, 1, 2)
LEVEL1_AGENTS = ("Doggo", "Racecar")  # in the default run at level 1 only (a robot is the same at every level)
VELOCITY = ("HalfCheetah", "Hopper", "Swimmer", "Walker2d", "Ant", "Humanoid")
DEFAULT_TASKS = (
    [f"Safety{a}{t}{lv}-v0" for a in AGENTS for t in NAV_TASKS for lv in LEVELS]
    + [f"Safety{a}{t}1-v0" for a in LEVEL1_AGENTS for t in NAV_TASKS]
    + [f"Safety{r}Velocity-v1" for r in VELOCITY]
)
NAV_ID = re.compile(r"^Safety(?P<agent>[A-Z][a-z]+)(?:Goal|Button|Push|Circle)\d")
LEGGED = ("Doggo", "Ant")  # driven by the open-loop gait in the scripted policy
RACECAR_SPEED = 20.0  # the Racecar's top rear-axle speed (rad/s; wheel radius 0.05 m: 1 m/s)
RACECAR_STEER = 0.785  # its steering limit (rad)
BIN = 2 * math.pi / 16
CIRCLE_DISTANCE = 1.0  # the scripted Circle policy's distance to the centre (the walls stand at 1.125)


# -- probe: runs under either interpreter, so it imports only numpy and the suite being probed ---------------
def _plain_skybox() -> None:
    """Upstream recompiles its scene at every reset, and decoding its six skybox PNGs takes ~1.4 s of each
    compile here -- most of a reset, and most of this script's run time. Swap in a builtin gradient skybox
    (rendering only: physics, observations and costs are untouched) unless --keep-skybox."""
    import safety_gymnasium.world as world

    load = world.yaml.load
    if getattr(load, "plain_skybox", False):
        return

    def plain(*args, **kwargs):
        config = load(*args, **kwargs)
        if isinstance(config, dict) and "skybox" in config.get("textures", {}):
            config["textures"]["skybox"] = {"@type": "skybox", "@builtin": "gradient", "@width": "32",
                                            "@height": "32", "@rgb1": "0.5 0.6 0.8", "@rgb2": "0 0 0"}
        return config

    plain.plain_skybox = True
    world.yaml.load = plain


def _open(side: str, task_id: str, keep_skybox: bool = False):
    """The environment and its named observation blocks [(name, size)] in flat order."""
    if side == "ours":
        import alignbook.envs as suite

        env = suite.make(task_id)
        blocks = [(name, s.stop - s.start) for name, s in getattr(env, "obs_layout", [])]
    else:
        import gymnasium
        import safety_gymnasium as suite

        if not keep_skybox:
            _plain_skybox()
        env = suite.make(task_id)
        task = getattr(env.unwrapped, "task", None)
        spaces = task.obs_info.obs_space_dict.spaces.items() if task else []
        blocks = [(name, gymnasium.spaces.flatdim(space)) for name, space in spaces]
    return env, blocks or [("obs", int(env.observation_space.shape[0]))]


def _bearing(block) -> tuple[float, float] | None:
    """(angle in the agent frame, reading) of the strongest bin of a 16-bin lidar block, or None if empty.
    The reading spills ``alias * reading`` into the next bin, which locates the angle inside the bin."""
    b = max(range(16), key=block.__getitem__)
    peak = float(block[b])
    if peak <= 0.0:
        return None
    return (b + min(1.0, float(block[(b + 1) % 16]) / peak)) * BIN, peak


def _drive(agent: str, angle: float, forward: float) -> list[float]:
    """Action turning by ``angle`` (agent frame, counter-clockwise from the direction of travel)."""
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    if agent == "Car":  # the Car travels along its -y axis; its "left"-named wheel sits on its right side
        go, turn = (forward if abs(angle) < 0.6 else 0.0), max(-1.0, min(1.0, 2.0 * angle))
        return [max(-1.0, min(1.0, go + turn)), max(-1.0, min(1.0, go - turn))]
    if agent == "Racecar":  # action: rear-axle speed, steering angle (positive turns left); it travels along +x
        go = RACECAR_SPEED * forward * (1.0 if abs(angle) < 0.6 else 0.5)
        return [go, max(-RACECAR_STEER, min(RACECAR_STEER, 2.0 * angle))]
    return [forward if abs(angle) < 0.5 else 0.0, max(-1.0, min(1.0, 3.0 * angle))]


def scripted_action(task_id: str, obs, blocks, step: int, act_dim: int) -> list[float]:
    """The scripted policy of the module docstring: observation, named blocks and step count in, action out.
    (alignbook.envs.policies' scripted policy reads the simulator, so it cannot run upstream.)"""
    match = NAV_ID.match(task_id)
    agent = match["agent"] if match else None
    if agent is None or agent in LEGGED:  # an open-loop gait: the same on both suites
        return [0.8 * math.sin(2 * math.pi * step / 25 + 1.3 * j) for j in range(act_dim)]
    start = dict(zip([n for n, _ in blocks], _offsets(blocks), strict=True))
    front = -math.pi / 2 if agent == "Car" else 0.0  # bearing of the direction of travel in the lidar frame
    if "Circle" in task_id:
        seen = _bearing(obs[start["circle_lidar"]: start["circle_lidar"] + 16])
        if seen is None:
            return _drive(agent, 0.0, 1.0)
        angle, reading = seen
        distance = 6.0 * (1.0 - reading)
        # Keep the centre at 90 degrees to the left, a little more ahead when too far out.
        wanted = math.pi / 2 - max(-1.0, min(1.0, 2.0 * (distance - CIRCLE_DISTANCE)))
        return _drive(agent, angle - front - wanted, 1.0)
    target = "push_box_lidar" if "Push" in task_id else "goal_lidar"
    seen = _bearing(obs[start[target]: start[target] + 16])
    if seen is None:  # out of lidar range: drive in a wide spiral until it shows up
        return _drive(agent, 0.3, 1.0)
    return _drive(agent, seen[0] - front, 1.0)


def _offsets(blocks) -> list[int]:
    out, at = [], 0
    for _, size in blocks:
        out.append(at)
        at += size
    return out


def probe(side: str, tasks: list[str], episodes: int, seed: int, keep_skybox: bool = False) -> dict:
    import numpy as np

    out = {}
    for task_id in tasks:
        try:
            env, blocks = _open(side, task_id, keep_skybox)
        except Exception as error:  # noqa: BLE001 -- report a task that fails to build, go on with the rest
            out[task_id] = {"error": f"{type(error).__name__}: {error}"}
            continue
        space, act = env.observation_space, env.action_space
        result = {"obs_shape": list(space.shape), "obs_dtype": str(space.dtype), "obs_blocks": blocks,
                  "act_shape": list(act.shape), "act_dtype": str(act.dtype),
                  "act_low": act.low.tolist(), "act_high": act.high.tolist()}
        for policy in ("random", "scripted"):
            rng = np.random.default_rng(seed)
            rec = {"returns": [], "costs": [], "lengths": [], "terminated": [], "goals": []}
            values, keys, step_time, reset_time = set(), set(), 0.0, 0.0
            for episode in range(episodes):
                t0 = time.perf_counter()
                obs, _ = env.reset(seed=seed + episode)
                reset_time += time.perf_counter() - t0
                ret = cost = 0.0
                length = goals = 0
                while True:
                    if policy == "random":
                        action = rng.uniform(act.low, act.high).astype(act.dtype)
                    else:
                        action = scripted_action(task_id, obs, blocks, length, act.shape[0])
                        action = np.array(action, act.dtype)
                    t0 = time.perf_counter()
                    obs, r, c, terminated, truncated, info = env.step(action)
                    step_time += time.perf_counter() - t0
                    ret, cost, length = ret + float(r), cost + float(c), length + 1
                    goals += int(bool(info.get("goal_met", False)))
                    values.add(round(float(c), 6))
                    keys.update(info)
                    if terminated or truncated:
                        break
                for name, value in zip(rec, (ret, cost, length, bool(terminated), goals), strict=True):
                    rec[name].append(value)
            rec.update(cost_values=sorted(values), info_keys=sorted(keys),
                       steps_per_s=sum(rec["lengths"]) / step_time, reset_ms=1e3 * reset_time / episodes)
            result[policy] = rec
        env.close()
        out[task_id] = result
    return out


# -- parent: run both probes and compare -------------------------------------------------------------------
VELOCITY_NOTE = "documented: Gymnasium's v5 models here, v4 upstream (see alignbook.envs.velocity)"
MEAN_FLAGS = ("return", "cost", "goal")


def _run_probe(python: str, side: str, tasks: list[str], episodes: int, seed: int, keep_skybox: bool) -> dict:
    command = [python, os.path.abspath(__file__), "--probe", side, "--episodes", str(episodes),
               "--seed", str(seed), "--tasks", *tasks] + (["--keep-skybox"] if keep_skybox else [])
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.setdefault("MUJOCO_GL", "egl")
    if side == "ours":  # the probe imports alignbook from this checkout even without an installed package
        lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (lib, env.get("PYTHONPATH"))))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        sys.exit(f"the {side} probe failed:\n{done.stderr[-3000:]}")
    print(f"{side} probe: {len(tasks)} tasks x {episodes} episodes in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stats(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def _differs(a: tuple[float, float], b: tuple[float, float]) -> bool:
    (m1, s1), (m2, s2) = a, b
    return abs(m1 - m2) > 3 * math.hypot(s1, s2) and abs(m1 - m2) > 0.05 * max(abs(m1), abs(m2), 1e-9)


def compare(ours: dict, upstream: dict) -> list[dict]:
    """One row per task: what agrees exactly, the statistics of both policies, and a list of flags."""
    rows = []
    for task_id, mine in ours.items():
        theirs = upstream.get(task_id, {"error": "missing"})
        row = {"task": task_id, "flags": []}
        if "error" in mine or "error" in theirs:
            row["error"] = {"ours": mine.get("error"), "upstream": theirs.get("error")}
            row["flags"].append("error")
            rows.append(row)
            continue
        for key in ("obs_shape", "obs_dtype", "act_shape", "act_dtype", "act_low", "act_high"):
            row[key] = (mine[key], theirs[key])
            if mine[key] != theirs[key]:
                row["flags"].append(key)
        blocks = ([tuple(b) for b in mine["obs_blocks"]], [tuple(b) for b in theirs["obs_blocks"]])
        if blocks[0] != blocks[1] and len(blocks[0]) > 1:
            row["flags"].append("obs_blocks")
            row["obs_blocks"] = blocks
        for policy in ("random", "scripted"):
            a, b = mine[policy], theirs[policy]
            stats = {}
            for what in ("returns", "costs", "goals"):
                stats[what] = (_stats(a[what]), _stats(b[what]))
                if _differs(*stats[what]):
                    row["flags"].append(f"{policy} {what[:-1]}")
            # Episodes that ran to the time limit (not terminated) must have the same length.
            full = [sorted({n for n, t in zip(s["lengths"], s["terminated"], strict=True) if not t})
                    for s in (a, b)]
            if full[0] and full[1] and full[0] != full[1]:
                row["flags"].append(f"{policy} length")
            odd = [sorted(set(s["cost_values"]) - {0.0, 1.0}) for s in (a, b)]
            if odd[0] != odd[1]:
                row["flags"].append(f"{policy} cost values")
            row[policy] = {"stats": stats, "lengths": (a["lengths"], b["lengths"]),
                           "cost_values": (a["cost_values"], b["cost_values"]),
                           "steps_per_s": (round(a["steps_per_s"]), round(b["steps_per_s"])),
                           "reset_ms": (round(a["reset_ms"], 2), round(b["reset_ms"], 2))}
        # Info keys seen under either policy; "goal_met" appears only on the steps a goal is reached (the goal
        # counts compare it), so it is left out here.
        keys = [sorted((set(s["random"]["info_keys"]) | set(s["scripted"]["info_keys"])) - {"goal_met"})
                for s in (mine, theirs)]
        row["info_keys"] = keys
        if keys[0] != keys[1]:
            row["flags"].append("info keys")
        if "Velocity" in task_id and row["flags"]:
            row["note"] = VELOCITY_NOTE
        rows.append(row)
    return rows


def confirm(rows: list[dict], python: str, episodes: int, seed: int, keep_skybox: bool) -> None:
    """Re-run the tasks flagged on a mean (bar documented deviations) with ``episodes`` fresh episodes; keep
    the flags that persist."""
    tasks = [r["task"] for r in rows if "note" not in r and any(f.endswith(MEAN_FLAGS) for f in r["flags"])]
    if not tasks:
        return
    ours = _run_probe(sys.executable, "ours", tasks, episodes, seed, False)
    upstream = _run_probe(python, "upstream", tasks, episodes, seed, keep_skybox)
    again = {r["task"]: r for r in compare(ours, upstream)}
    for row in rows:
        if row["task"] in again:
            means = [f for f in row["flags"] if f.endswith(MEAN_FLAGS)]
            row["confirm"] = {"episodes": episodes, "seed": seed, "flags": again[row["task"]]["flags"],
                              "random": again[row["task"]]["random"]["stats"],
                              "scripted": again[row["task"]]["scripted"]["stats"]}
            row["flags"] = [f for f in row["flags"] if f not in means or f in again[row["task"]]["flags"]]
            row["not_confirmed"] = [f for f in means if f not in row["flags"]]


def _fmt(stat) -> str:
    (m1, s1), (m2, s2) = stat
    return f"{m1:8.2f}±{s1:<6.2f}|{m2:8.2f}±{s2:<6.2f}"


def report(rows: list[dict], episodes: int) -> None:
    print(f"{episodes} episodes per task and policy; each cell: ours | upstream (mean±s.e.; length: steps)")
    print(f"{'task':28s} {'policy':8s} {'return':31s} {'cost':31s} {'length':9s} {'obs':9s} steps/s")
    for row in rows:
        if "error" in row:
            error = row["error"]
            print(f"{row['task']:28s} ERROR ours: {error['ours']}; upstream: {error['upstream']}")
            continue
        shapes = row["obs_shape"]
        obs = str(shapes[0][0]) if shapes[0] == shapes[1] else f"{shapes[0][0]}|{shapes[1][0]}"
        for policy in ("random", "scripted"):
            p = row[policy]
            lengths = "|".join(str(round(sum(x) / len(x))) for x in p["lengths"])
            name = row["task"] if policy == "random" else ""
            print(f"{name:28s} {policy:8s} {_fmt(p['stats']['returns'])} {_fmt(p['stats']['costs'])} "
                  f"{lengths:9s} {obs:9s} {p['steps_per_s'][0]:>6d}|{p['steps_per_s'][1]:<6d}")
        if row.get("not_confirmed"):
            print(f"{'':28s} not confirmed with {row['confirm']['episodes']} more episodes: "
                  f"{', '.join(row['not_confirmed'])}")
        if row["flags"]:
            note = f" ({row['note']})" if "note" in row else ""
            print(f"{'':28s} DIFFERS: {', '.join(row['flags'])}{note}")
            if "info keys" in row["flags"]:
                ours, theirs = (set(k) for k in row["info_keys"])
                print(f"{'':28s}   info keys only ours: {sorted(ours - theirs)}; "
                      f"only upstream: {sorted(theirs - ours)}")


def main() -> None:
    parser = argparse.ArgumentParser(description="alignbook.envs beside safety-gymnasium 1.0.0")
    parser.add_argument("--upstream-python", help="an interpreter with safety-gymnasium 1.0.0 installed")
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--confirm", type=int, default=0, metavar="N",
                        help="re-run tasks flagged on a mean with N fresh episodes; keep flags that persist")
    parser.add_argument("--keep-skybox", action="store_true",
                        help="keep upstream's PNG skybox (~1.4 s more per upstream reset; rendering only)")
    parser.add_argument("--probe", choices=("ours", "upstream"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.tasks, args.episodes, args.seed, args.keep_skybox)))
        return
    if not args.upstream_python:
        parser.error("--upstream-python is required (see the module docstring for how to make one)")
    if args.episodes < 2 or args.confirm == 1:
        parser.error("--episodes and --confirm need at least 2 episodes (for the standard errors)")
    # One probe after the other: the timings must not compete for the CPU.
    ours = _run_probe(sys.executable, "ours", args.tasks, args.episodes, args.seed, False)
    upstream = _run_probe(args.upstream_python, "upstream", args.tasks, args.episodes, args.seed,
                          args.keep_skybox)
    rows = compare(ours, upstream)
    if args.confirm:
        confirm(rows, args.upstream_python, args.confirm, args.seed + 10_000, args.keep_skybox)
    report(rows, args.episodes)
    flagged = [r["task"] for r in rows if r["flags"]]
    documented = [r["task"] for r in rows if r["flags"] and "note" in r]
    print(f"{len(flagged)} of {len(rows)} tasks differ ({len(documented)} by a documented deviation). "
          "A mean is flagged when it differs by > 3 combined s.e. and > 5%; with few episodes some such "
          "flags are chance" + ("" if args.confirm else ": --confirm N re-runs them") + ".")
    print(json.dumps({"episodes": args.episodes, "seed": args.seed, "flagged": flagged, "rows": rows}))


if __name__ == "__main__":
    main()
