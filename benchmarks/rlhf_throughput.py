"""Throughput of Safe RLHF's PPO-Lagrangian and of reward-model training at the PKU-SafeRLHF chapter's sizes.

usage: python benchmarks/rlhf_throughput.py [--hidden 64 --layers 2 --heads 2 --batch 32 --max-new 32
                                             --iterations 5 --threads 1]

Prints one JSON object: PPO-Lag tokens per second (generated response tokens, each also trained on), the
median iteration time, and the floor: the passes no PPO implementation can skip -- generation with the KV cache,
the six scoring forwards (policy, reference, two critics, reward and cost models) and the three backward passes
(actor, two critics) -- timed alone on the same batch, and their share of the iteration. Then reward-model
training pairs per second. Weights are untrained (throughput does not depend on them; an untrained policy
rarely stops early, so every response runs to ``max_new`` tokens).

When TRL is installed (it is not a dependency of the book), also TRL's RLOO trainer on the same shape: a
``LlamaForCausalLM`` of the same width, depth, heads, FFN width and vocabulary (TRL cannot build its reference
model from a custom config), the same prompts, batch and response length, rewarded by the same reward model.
TRL 1.x ships no PPO trainer; RLOO is on-policy and reward-only (no critics, no cost model), so it does less work
per token than PPO-Lag. Not measured: TRL's RewardTrainer.
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


def trl_rloo(sizes: Sizes, tokenizer, reward, batch: int, max_new: int, steps: int, folder: str) -> dict:
    """TRL RLOO's response tokens/s on the same shape (median step time over ``steps`` after one warm-up)."""
    import datasets
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import RLOOConfig, RLOOTrainer

    from alignbook.rlhf.data import PROMPT_TEMPLATE

    c = sizes.config()
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, tie_word_embeddings=False))
    tokenizer.padding_side = "left"
    llama.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    user = {PROMPT_TEMPLATE.format(prompt=p.text): p.text for p in world.all_prompts()}

    def reward_fn(prompts, completions, **_):
        seqs = [encode_prompt(tokenizer, user[p]) + tokenizer(c, add_special_tokens=False)["input_ids"]
                for p, c in zip(prompts, completions, strict=True)]
        ids, lengths = right_pad(seqs, 0)
        with torch.no_grad():
            return reward(ids, lengths=lengths)[1][:, 0].tolist()

    args = RLOOConfig(output_dir=folder, per_device_train_batch_size=batch, num_generations=2,
                      max_completion_length=max_new, max_steps=steps + 1, logging_steps=1, report_to=[],
                      save_strategy="no", use_cpu=True, bf16=False, learning_rate=1e-4, temperature=1.0,
                      disable_tqdm=True)
    data = datasets.Dataset.from_dict({"prompt": list(user) * (steps + 2)})
    trainer = RLOOTrainer(model=folder, reward_funcs=reward_fn, args=args, train_dataset=data,
                          processing_class=tokenizer)
    trainer.train()
    logs = [x for x in trainer.state.log_history if "step_time" in x][1:]
    step = statistics.median(x["step_time"] for x in logs)
    tokens = statistics.median(x["completions/mean_length"] for x in logs) * batch
    return {"rloo_tokens_per_s": tokens / step, "rloo_step_s": step}


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

    try:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            trl = trl_rloo(sizes, tokenizer, reward, args.batch, args.max_new, args.iterations, folder)
        trl["ppo_lag_over_rloo"] = (tokens / iteration) / trl["rloo_tokens_per_s"]
    except ImportError:
        trl = "not measured (TRL is not installed)"
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
        "trl": trl,
    }))


if __name__ == "__main__":
    main()
