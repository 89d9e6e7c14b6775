"""Steps per second of one alignbook.envs task under random actions, beside the raw MuJoCo ceiling.

usage: python benchmarks/env_throughput.py --task SafetyPointGoal1-v0 --seconds 5 [--num-envs 8 [--workers 2]]
                                          [--vision] [--multi-agent Safety2x3HalfCheetahVelocity-v0]

Prints human-readable lines, then one JSON object as the last line:
{"task": ..., "steps_per_s": ..., "num_envs": ..., "mujoco_steps_per_s": ..., ["vision_fps": ...]}
``mujoco_steps_per_s`` is the same compiled model stepped by MuJoCo alone (ten physics steps per environment
step, no Python around it): the ceiling any wrapper can reach. ``--vision`` also measures the Vision variant
with a 64x64 image rendered every step (MUJOCO_GL=egl on a headless machine). ``--multi-agent TASK`` also
measures a multi-agent velocity task (joint steps per second, and agent steps = joint steps x agents) beside
the single-agent velocity task on the same robot and Gymnasium's own ``-v5`` environment, all in this run.
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
    """The multi-agent task, the single-agent velocity task on its robot, and Gymnasium's own environment."""
    from alignbook.envs.multi_velocity import MULTI_VELOCITY_TASKS

    robot, partition, _ = MULTI_VELOCITY_TASKS[task_id]
    joint = multi_agent_rate(task_id, seconds)
    single = env_rate(f"Safety{robot}Velocity-v1", seconds)
    gym = gymnasium_rate(robot, seconds)
    print(f"{task_id}: {joint:,.0f} joint steps/s = {joint * len(partition):,.0f} agent steps/s "
          f"({len(partition)} agents)")
    print(f"Safety{robot}Velocity-v1 (single agent, same robot): {single:,.0f} steps/s")
    print(f"Gymnasium {robot}-v5 alone: {gym:,.0f} steps/s -> single-agent task at {single / gym:.2f}x, "
          f"multi-agent at {joint / gym:.2f}x of it")
    return {"multi_agent_task": task_id, "multi_agent_joint_steps_per_s": round(joint, 1),
            "multi_agent_agent_steps_per_s": round(joint * len(partition), 1),
            "single_agent_steps_per_s": round(single, 1), "gymnasium_steps_per_s": round(gym, 1)}


if __name__ == "__main__":
    main()
