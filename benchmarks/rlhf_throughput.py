"""Throughput of Safe RLHF's PPO-Lagrangian and of reward-model training at the PKU-SafeRLHF chapter's sizes,
against TRL on the same model shape, batch and data.

usage: python benchmarks/rlhf_throughput.py [--hidden 64 --layers 2 --heads 2 --batch 32 --max-new 32
                                             --iterations 6 --threads 1]

Prints one JSON object (and a summary line above it):

- PPO-Lag: response tokens per second (each token is generated, scored and trained on), the median iteration
  time, wall-clock and CPU time of this process (the second is what the iteration costs when other programs
  share the cores; the first is what a reader waits).
- The floor: the passes no PPO-Lag implementation can skip, timed alone on the same batch -- generation with a
  KV cache; the three scoring forwards (reference policy, reward model, cost model); the three trained passes,
  forward and backward (policy, reward critic, cost critic) -- and their share of the iteration. The old
  policy's log-probabilities and the old values are not separate passes: with the parameters unchanged since
  sampling, the first update's forwards give them. Also the ratio to TRL that this code would reach if it ran
  only RLOO's set of passes (generation, three forwards, the policy's trained pass): what the critics cost.
- TRL's RLOO trainer on the same shape (when TRL is installed; it is not a dependency of the book): a
  ``LlamaForCausalLM`` of the same width, depth, heads, FFN width and vocabulary (TRL cannot build its reference
  model from a custom config), the same prompts, batch and response length, rewarded by the same reward model
  reading TRL's completion ids. TRL 1.x ships no PPO trainer; RLOO is on-policy and reward-only (no critics, no
  cost model): it does less work per token than PPO-Lag (``passes``). Its steps and PPO-Lag's iterations
  alternate (a TRL step, then a PPO-Lag iteration), so both meet the same load on a shared machine; each TRL
  step is timed from its start to its end, optimiser step included.
- Reward-model training pairs per second: ``alignbook.rlhf.scoring.train_score_model`` against TRL's
  ``RewardTrainer`` on a ``LlamaForSequenceClassification`` of the same shape, the same token sequences and 16
  pairs a step (TRL's ``center_rewards_coefficient`` 1e-3 stands in for Safe RLHF's score regulariser).

Weights are untrained (throughput does not depend on them; an untrained policy rarely stops early, so nearly
every response runs to ``max_new`` tokens, on both sides).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

from alignbook.lm.model import BaichuanForCausalLM
from alignbook.lm.train import TrainConfig
from alignbook.rlhf import world
from alignbook.rlhf.models import score_model
from alignbook.rlhf.policies import Sizes, encode_prompt, right_pad, sample, world_tokenizer
from alignbook.rlhf.ppo import PPOConfig, Rollout, SafeRLHF
from alignbook.rlhf.scoring import KINDS, encode_rows, train_score_model


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def timed(fn, repeats: int) -> dict[str, float]:
    """Median wall-clock and CPU seconds of ``fn`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(since(start))
    return median(times)


def median(times: list[tuple[float, float]]) -> dict[str, float]:
    return {"wall_s": statistics.median(t[0] for t in times), "cpu_s": statistics.median(t[1] for t in times)}


def llama_config(sizes: Sizes, **extra):
    from transformers import LlamaConfig

    c = sizes.config()
    return LlamaConfig(vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_hidden_layers,
                       num_attention_heads=c.num_attention_heads, intermediate_size=c.intermediate_size,
                       pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, **extra)


def floor(trainer: SafeRLHF, prompts: list[world.Prompt], repeats: int) -> dict[str, dict[str, float]]:
    """The unavoidable passes of one iteration, each timed alone on one batch of the iteration's shape."""
    prompt_ids = [encode_prompt(trainer.tokenizer, p.text) for p in prompts]
    generator = torch.Generator().manual_seed(0)
    responses = sample(trainer.policy, prompt_ids, trainer.cfg.max_new, generator)
    batch = Rollout.of(prompt_ids, responses, trainer.tokenizer.pad_token_id)

    def scoring():
        with torch.no_grad():
            trainer.log_probs(trainer.reference, batch)
        trainer.end_scores(batch)

    def policy():
        trainer.log_probs(trainer.policy, batch).mean().backward()

    def critics():
        (trainer.values(trainer.reward_critic, batch).mean() + trainer.values(trainer.cost_critic, batch).mean()
         ).backward()

    parts = {"generation": timed(lambda: sample(trainer.policy, prompt_ids, trainer.cfg.max_new, generator),
                                 repeats),
             "scoring_forwards": timed(scoring, repeats), "policy_trained_pass": timed(policy, repeats),
             "critic_trained_passes": timed(critics, repeats)}
    for model in (trainer.policy, trainer.reward_critic, trainer.cost_critic):
        model.zero_grad(set_to_none=True)
    parts["total"] = {k: sum(p[k] for p in parts.values()) for k in ("wall_s", "cpu_s")}
    return parts


def ppo_iteration(trainer: SafeRLHF, prompts, log: list) -> None:
    """One PPO-Lag iteration; appends its (wall, CPU) time and its response tokens to ``log``."""
    start = clock()
    length = trainer.step(prompts)["length"]
    log.append((since(start), length * len(prompts)))


def with_trl_rloo(trainer: SafeRLHF, sizes: Sizes, prompts, iterations: int, folder: str) -> tuple[list, list]:
    """TRL RLOO steps and PPO-Lag iterations, alternating. Returns TRL's and PPO-Lag's [((wall, CPU), tokens)]
    per step, each without its first (warm-up) step."""
    import datasets
    from transformers import LlamaForCausalLM, TrainerCallback
    from trl import RLOOConfig, RLOOTrainer

    from alignbook.rlhf.data import PROMPT_TEMPLATE

    tokenizer, batch = trainer.tokenizer, trainer.cfg.batch
    tokenizer.padding_side = "left"
    LlamaForCausalLM(llama_config(sizes)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    prompt_ids = {PROMPT_TEMPLATE.format(prompt=p.text): encode_prompt(tokenizer, p.text) for p in world.all_prompts()}

    def reward_fn(prompts, completion_ids, **_):
        ids, lengths = right_pad([prompt_ids[p] + list(c) for p, c in zip(prompts, completion_ids, strict=True)], 0)
        with torch.no_grad():
            return trainer.reward_model(ids, lengths=lengths)[1][:, 0].tolist()

    trl_times, ppo_log = [], []

    class Alternate(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = clock()

        def on_step_end(self, args, state, control, **kwargs):
            trl_times.append(since(self.start))
            ppo_iteration(trainer, prompts, ppo_log)

    args = RLOOConfig(output_dir=folder, per_device_train_batch_size=batch, num_generations=2,
                      max_completion_length=trainer.cfg.max_new, max_steps=iterations + 1, logging_steps=1,
                      report_to=[], save_strategy="no", use_cpu=True, bf16=False, learning_rate=1e-4,
                      temperature=1.0, disable_tqdm=True)
    data = datasets.Dataset.from_dict({"prompt": list(prompt_ids) * (iterations + 2)})
    rloo = RLOOTrainer(model=folder, reward_funcs=reward_fn, args=args, train_dataset=data,
                       processing_class=tokenizer, callbacks=[Alternate()])
    rloo.train()
    tokens = [x["completions/mean_length"] * batch for x in rloo.state.log_history if "completions/mean_length" in x]
    return list(zip(trl_times, tokens, strict=True))[1:], ppo_log[1:]


def reward_training(sizes: Sizes, tokenizer, steps: int) -> dict:
    """Pairs per second of reward-model training, ours and (when installed) TRL's RewardTrainer."""
    rows = world.preference_rows(world.all_prompts(), 2, seed=0)
    data = encode_rows(tokenizer, rows)
    pairs = 16
    model = score_model(sizes.config())
    train_score_model(model, data, "reward", TrainConfig(steps=1, batch_size=pairs, seq_len=64))  # warm-up
    start = clock()
    train_score_model(model, data, "reward", TrainConfig(steps=steps, batch_size=pairs, seq_len=64))
    ours = since(start)
    out = {"pairs_per_step": pairs, "steps": steps, "ours_pairs_per_s": steps * pairs / ours[0],
           "ours_pairs_per_cpu_s": steps * pairs / ours[1]}
    try:
        import datasets
        from transformers import LlamaForSequenceClassification, TrainerCallback
        from trl import RewardConfig, RewardTrainer
    except ImportError:
        return {**out, "trl": "not measured (TRL is not installed)"}

    chosen = data[KINDS["reward"]]
    pairs_data = datasets.Dataset.from_dict({
        "chosen_ids": [s[c] for s, c in zip(data["seqs"], chosen, strict=True)],
        "rejected_ids": [s[1 - c] for s, c in zip(data["seqs"], chosen, strict=True)]})
    times = []

    class Time(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = clock()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(since(self.start))

    tokenizer.padding_side = "right"
    with tempfile.TemporaryDirectory() as folder:
        args = RewardConfig(output_dir=folder, per_device_train_batch_size=pairs, max_steps=steps + 1,
                            logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, bf16=False,
                            learning_rate=1e-3, center_rewards_coefficient=1e-3, disable_tqdm=True)
        RewardTrainer(model=LlamaForSequenceClassification(llama_config(sizes, num_labels=1)), args=args,
                      train_dataset=pairs_data, processing_class=tokenizer, callbacks=[Time()]).train()
    trl = median(times[1:])
    return {**out, "trl_pairs_per_s": pairs / trl["wall_s"], "trl_pairs_per_cpu_s": pairs / trl["cpu_s"],
            "ours_over_trl": out["ours_pairs_per_s"] / (pairs / trl["wall_s"]),
            "ours_over_trl_cpu": out["ours_pairs_per_cpu_s"] / (pairs / trl["cpu_s"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    for name, default in (("hidden", 64), ("layers", 2), ("heads", 2), ("batch", 32), ("max-new", 32),
                          ("iterations", 6), ("threads", 1)):
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
    try:
        with tempfile.TemporaryDirectory() as folder:
            trl_log, ppo_log = with_trl_rloo(trainer, sizes, prompts, args.iterations, folder)
        rloo, rloo_tokens = median([t for t, _ in trl_log]), statistics.median(n for _, n in trl_log)
    except ImportError:
        rloo, ppo_log = None, []
        for _ in range(args.iterations):
            ppo_iteration(trainer, prompts, ppo_log)
    iteration, tokens = median([t for t, _ in ppo_log]), statistics.median(n for _, n in ppo_log)
    passes = floor(trainer, prompts, args.iterations)
    out = {
        "sizes": vars(sizes), "batch": args.batch, "threads": args.threads, "iterations": len(ppo_log),
        "ppo_lag": {"tokens_per_iteration": tokens, "tokens_per_s": tokens / iteration["wall_s"],
                    "tokens_per_cpu_s": tokens / iteration["cpu_s"], **iteration},
        "floor": passes,
        "floor_share_of_iteration": {k: passes["total"][k] / iteration[k] for k in ("wall_s", "cpu_s")},
        "passes": {"ppo_lag": "generation; 3 forwards (reference, reward, cost); 3 forward+backward "
                              "(policy, reward critic, cost critic)",
                   "trl_rloo": "generation; 3 forwards (old policy, reference, reward); 1 forward+backward "
                               "(policy)"},
    }
    if rloo is None:
        out["trl_rloo"] = "not measured (TRL is not installed)"
    else:
        out["trl_rloo"] = {"tokens_per_step": rloo_tokens, "tokens_per_s": rloo_tokens / rloo["wall_s"],
                           "tokens_per_cpu_s": rloo_tokens / rloo["cpu_s"], **rloo}
        out["ppo_lag_over_rloo"] = out["ppo_lag"]["tokens_per_s"] / out["trl_rloo"]["tokens_per_s"]
        out["ppo_lag_over_rloo_cpu"] = out["ppo_lag"]["tokens_per_cpu_s"] / out["trl_rloo"]["tokens_per_cpu_s"]
        # the best ratios PPO-Lag could reach if its iteration cost no more than its floor, and if it needed
        # only RLOO's set of passes (no critics), each as fast as this implementation runs it
        rloo_set = sum(passes[k]["cpu_s"] for k in ("generation", "scoring_forwards", "policy_trained_pass"))
        out["floor_over_rloo_cpu"] = (tokens / passes["total"]["cpu_s"]) / out["trl_rloo"]["tokens_per_cpu_s"]
        out["rloo_pass_set_over_rloo_cpu"] = (tokens / rloo_set) / out["trl_rloo"]["tokens_per_cpu_s"]
    out["reward_model"] = reward_training(sizes, tokenizer, max(args.iterations, 5))

    ppo, f = out["ppo_lag"], out["floor"]
    summary = (f"PPO-Lag: {ppo['tokens_per_s']:,.0f} response tokens/s ({ppo['tokens_per_cpu_s']:,.0f} per CPU s), "
               f"iteration {ppo['wall_s']:.3f} s wall / {ppo['cpu_s']:.3f} s CPU; floor (CPU) generation "
               f"{f['generation']['cpu_s']:.3f} + scoring {f['scoring_forwards']['cpu_s']:.3f} + trained passes "
               f"{f['policy_trained_pass']['cpu_s']:.3f} (policy) + {f['critic_trained_passes']['cpu_s']:.3f} (critics)"
               f" = {out['floor_share_of_iteration']['cpu_s']:.0%} of the iteration")
    if rloo is not None:
        summary += (f"; TRL RLOO {out['trl_rloo']['tokens_per_s']:,.0f} tokens/s: ratio {out['ppo_lag_over_rloo']:.2f}x "
                    f"wall, {out['ppo_lag_over_rloo_cpu']:.2f}x CPU (RLOO's passes alone, run by this code: "
                    f"{out['rloo_pass_set_over_rloo_cpu']:.2f}x)")
    rm = out["reward_model"]
    summary += f"; reward model {rm['ours_pairs_per_s']:,.0f} pairs/s"
    if "trl_pairs_per_s" in rm:
        summary += f" vs TRL RewardTrainer {rm['trl_pairs_per_s']:,.0f} ({rm['ours_over_trl']:.2f}x)"
    print(summary)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
