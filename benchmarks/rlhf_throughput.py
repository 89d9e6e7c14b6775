"""Throughput of Safe RLHF's PPO-Lagrangian and of reward-model training at the PKU-SafeRLHF chapter's sizes.

usage: python benchmarks/rlhf_throughput.py [--hidden 64 --layers 2 --heads 2 --batch 32 --max-new 32
                                             --iterations 5 --threads 1]

Prints one JSON object: PPO-Lag tokens per second (generated response tokens, each also trained on), the
median iteration time, and the floor: the passes no PPO implementation can skip -- generation with the KV cache,
the six scoring forwards (policy, reference, two critics, reward and cost models) and the three backward passes
(actor, two critics) -- timed alone on the same batch, and their share of the iteration. Then reward-model
training pairs per second. Weights are untrained (throughput does not depend on them; an untrained policy
rarely stops early, so every response runs to ``max_new`` tokens).

Not measured here: TRL's RLOO and Reward trainers on the same shapes (the comparison the chapter's issue asks for;
TRL is not a dependency of the book).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from alignbook.lm.model import BaichuanForCausalLM
from alignbook.lm.train import TrainConfig
from alignbook.rlhf import world
from alignbook.rlhf.models import score_model
from alignbook.rlhf.policies import Sizes, encode_prompt, left_pad, right_pad, sample, world_tokenizer
from alignbook.rlhf.ppo import PPOConfig, SafeRLHF
from alignbook.rlhf.scoring import encode_rows, train_score_model


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name, default in (("hidden", 64), ("layers", 2), ("heads", 2), ("batch", 32), ("max-new", 32),
                          ("iterations", 5), ("threads", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = Sizes(args.hidden, args.layers, args.heads, 640, args.max_new)
    tokenizer = world_tokenizer(sizes.vocab)
    policy = BaichuanForCausalLM(sizes.config()).eval()
    reward, cost = score_model(sizes.config(), body=policy), score_model(sizes.config(), body=policy)
    trainer = SafeRLHF(policy, tokenizer, reward, cost, PPOConfig(batch=args.batch, max_new=args.max_new))
    prompts = world.all_prompts()[: args.batch]
    trainer.step(prompts)  # warm-up
    iteration = timed(lambda: trainer.step(prompts), args.iterations)

    # the floor, part by part, on one batch of the same shape
    prompt_ids = [encode_prompt(tokenizer, p.text) for p in prompts]
    generator = torch.Generator().manual_seed(0)
    responses = sample(trainer.policy, prompt_ids, args.max_new, generator)
    tokens = sum(map(len, responses))
    generation = timed(lambda: sample(trainer.policy, prompt_ids, args.max_new, generator), args.iterations)
    p_ids, p_mask = left_pad(prompt_ids, 0)
    r_ids, lengths = right_pad(responses, 0)
    ids = torch.cat([p_ids, r_ids], 1)
    mask = torch.cat([p_mask, (r_ids != 0).long()], 1)

    def forwards():
        with torch.no_grad():
            for model in (trainer.policy, trainer.reference):
                model(input_ids=ids, attention_mask=mask)
            for model in (trainer.reward_critic, trainer.cost_critic, reward, cost):
                model(ids, attention_mask=mask)

    def backwards():
        trainer.policy(input_ids=ids, attention_mask=mask).logits.float().logsumexp(-1).mean().backward()
        for critic in (trainer.reward_critic, trainer.cost_critic):
            critic(ids, attention_mask=mask)[0].mean().backward()

    scoring, training = timed(forwards, args.iterations), timed(backwards, args.iterations)
    floor = generation + scoring + training

    rows = world.preference_rows(world.all_prompts(), 2, seed=0)
    data = encode_rows(tokenizer, rows)
    steps = max(args.iterations, 3)
    cfg = TrainConfig(steps=steps, batch_size=16, seq_len=64, threads=args.threads)
    start = time.perf_counter()
    train_score_model(score_model(sizes.config()), data, "reward", cfg)
    pairs_per_s = steps * 16 / (time.perf_counter() - start)

    print(f"PPO-Lag: {tokens / iteration:,.0f} response tokens/s, iteration {iteration:.3f} s, of which the floor "
          f"(generation {generation:.3f} + scoring {scoring:.3f} + backward {training:.3f}) is {floor / iteration:.0%}; "
          f"reward model: {pairs_per_s:,.0f} pairs/s")
    print(json.dumps({
        "sizes": vars(sizes), "batch": args.batch, "threads": args.threads,
        "ppo_lag_tokens_per_s": tokens / iteration, "iteration_s": iteration,
        "floor_s": {"generation": generation, "scoring_forwards": scoring, "backward_passes": training,
                    "total": floor},
        "floor_share_of_iteration": floor / iteration,
        "reward_model_pairs_per_s": pairs_per_s,
        "trl": "not measured (TRL is not installed with the book)",
    }))


if __name__ == "__main__":
    main()
