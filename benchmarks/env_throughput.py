"""Steps per second of one alignbook.envs task under random actions, beside the raw MuJoCo ceiling.

usage: python benchmarks/env_throughput.py --task SafetyPointGoal1-v0 --seconds 5 [--num-envs 8 [--workers 2]]
                                          [--vision] [--multi-agent Safety2x3HalfCheetahVelocity-v0]

Prints human-readable lines, then one JSON object as the last line:
{"task": ..., "steps_per_s": ..., "num_envs": ..., "mujoco_steps_per_s": ..., ["vision_fps": ...]}
``mujoco_steps_per_s`` is the same compiled model stepped by MuJoCo alone (ten physics steps per environment
step, no Python around it): the ceiling any wrapper can reach. ``--vision`` also measures the Vision variant
with a 64x64 image rendered every step (MUJOCO_GL=egl on a headless machine). ``--multi-agent TASK`` also
measures a multi-agent velocity task (joint steps per second, and agent steps = joint steps x agents), then
steps its robot side by side in this run: Gymnasium's own ``-v5`` environment (the class, and as
``gymnasium.make`` builds it), the single-agent velocity task and the multi-agent task take turns step by step
from the same states with the same random actions, and their median per-step times are printed as fractions of
Gymnasium's speed (the velocity tasks' target: within 10%).
"""

from __future__ import annotations

import argparse
import json

from alignbook.envs.benchmark import (
    ORIGINAL_STEPS_PER_S,
    env_rate,
    gymnasium_rate,
    mujoco_rate,
    multi_agent_rate,
    velocity_side_by_side,
    vision_rate,
)


def main() -> None:
    parser = argparse.ArgumentParser(description="alignbook.envs throughput")
    parser.add_argument("--task", default="SafetyPointGoal1-v0")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--num-envs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the batch (make_vec's workers)")
    parser.add_argument("--vision", action="store_true", help="also measure 64x64 vision steps per second")
    parser.add_argument("--multi-agent", default=None, metavar="TASK",
                        help="also measure this multi-agent velocity task beside its single-agent robot")
    args = parser.parse_args()
    rate = env_rate(args.task, args.seconds, args.num_envs, workers=args.workers)
    print(f"{args.task}: {rate:,.0f} random-action steps/s with {args.num_envs} environment(s) "
          f"in {args.workers} process(es)")
    original = ORIGINAL_STEPS_PER_S.get(args.task)
    if original:
        print(f"  original safety-gymnasium 1.0.0 (one environment): {original:,} steps/s -> {rate / original:.1f}x")
    ceiling = mujoco_rate(args.task, max(1.0, args.seconds / 2))
    print(f"{args.task}: {ceiling:,.0f} steps/s for MuJoCo alone on the same model (the ceiling)")
    result = {"task": args.task, "steps_per_s": round(rate, 1), "num_envs": args.num_envs, "workers": args.workers,
              "mujoco_steps_per_s": round(ceiling, 1)}
    if original:  # the reference machine's figure travels with the result, for the Benchmarks appendix
        result["original_steps_per_s"] = original
    if args.vision and "Velocity" not in args.task:
        fps = vision_rate(args.task, max(1.0, args.seconds / 2))
        print(f"{args.task}: {fps:,.0f} vision steps/s (64x64 RGB observation rendered every step)")
        result["vision_fps"] = round(fps, 1)
    if args.multi_agent:
        result.update(compare_multi_agent(args.multi_agent, args.seconds))
    print(json.dumps(result))


def compare_multi_agent(task_id: str, seconds: float) -> dict:
    """The multi-agent task's throughput, then its robot side by side: Gymnasium's own environment, the
    single-agent velocity task and the multi-agent task, stepped in turns on the same physics (see
    ``velocity_side_by_side``), each as a per-step time and as a fraction of Gymnasium's speed."""
    from alignbook.envs.multi_velocity import MULTI_VELOCITY_TASKS

    robot, partition, _ = MULTI_VELOCITY_TASKS[task_id]
    joint = multi_agent_rate(task_id, seconds)
    print(f"{task_id}: {joint:,.0f} joint steps/s = {joint * len(partition):,.0f} agent steps/s "
          f"({len(partition)} agents)")
    # About ``seconds`` of side-by-side stepping: four environments per step, ~1000 steps per episode.
    episodes = max(1, round(seconds / (4 * 1000 * 1e-6 * gymnasium_step_us(robot))))
    side = velocity_side_by_side(task_id, episodes=episodes)
    reference = side[f"Gymnasium {robot}-v5 (the class)"]["median_us"]
    print(f"side by side, {robot}, same physics, median per-step time ({episodes} episode(s); means include the "
          "pauses of a shared machine):")
    for name, t in side.items():
        print(f"  {name:<42} {t['median_us']:8.1f} us (mean {t['mean_us']:7.1f})  "
              f"{reference / t['median_us']:.2f}x Gymnasium's speed")
    single, multi = side[f"Safety{robot}Velocity-v1"]["median_us"], side[task_id]["median_us"]
    return {"multi_agent_task": task_id, "multi_agent_joint_steps_per_s": round(joint, 1),
            "multi_agent_agent_steps_per_s": round(joint * len(partition), 1),
            "gymnasium_step_us": round(reference, 2), "single_agent_step_us": round(single, 2),
            "multi_agent_step_us": round(multi, 2),
            "single_agent_vs_gymnasium": round(reference / single, 3),
            "multi_agent_vs_gymnasium": round(reference / multi, 3)}


def gymnasium_step_us(robot: str) -> float:
    """A rough per-step time of Gymnasium's robot, to size the side-by-side run."""
    return 1e6 / gymnasium_rate(robot, 0.2)


if __name__ == "__main__":
    main()
