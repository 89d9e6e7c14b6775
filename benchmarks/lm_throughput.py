"""Training and generation throughput of alignbook.lm's Baichuan-style decoder.

usage: python benchmarks/lm_throughput.py [--hidden 128 --layers 4 --batch 16 --seq-len 128 --steps 10 --threads 1]
                                          [--profile]

Training tokens/s of our decoder and of transformers' LlamaForCausalLM of the same size (same width, depth,
heads, FFN width, vocabulary, untied embeddings) on the same batches with the same AdamW step, steps of the
two interleaved and rates from the median step time; then greedy
generation tokens/s of our decoder with and without the KV cache. Prints human-readable lines, then one JSON
object as the last line. The default size is the book-scale base model's neighbourhood; on a CPU the default is
one thread, which is how the chapter trains its small models (and what keeps timings steady on a shared machine).

``--profile`` also splits each model's training step (torch.profiler, self time per operator) into matrix
multiplications, attention (SDPA) and everything else. Both models do the same matmuls and call the same
attention kernel, so the step time of the first two is a floor neither model can go under without another
kernel or device: ``llama step / (ours' matmul + attention)`` is the largest ratio any rewrite of the rest of our
decoder could reach, and it is printed as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM


def training_step(model):
    """One AdamW training step on a batch, as the chapter's loop takes it (betas 0.9/0.95, weight decay 0.1)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    model.train()

    def step(batch):
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(loss)

    return step


def training_rates(models: dict, batches, warmup: int = 2) -> dict[str, float]:
    """Training tokens/s of each model: their steps interleaved (ours, Llama, ours, ...) so that a shared
    machine's slow moments hit both alike, and each rate taken from the median step time."""
    steps, times = {}, {name: [] for name in models}
    for name, model in models.items():
        step = steps[name] = training_step(model)
        for batch in batches[:warmup]:  # first steps allocate and pick kernels: not what we measure
            step(batch)
    for batch in batches[warmup:]:
        for name, step in steps.items():
            start = time.perf_counter()
            step(batch)
            times[name].append(time.perf_counter() - start)
    return {name: batches[0].numel() / statistics.median(t) for name, t in times.items()}


# Operators by what they do (self time, so nested calls are not counted twice).
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::linear", "aten::matmul")


def profile_breakdown(models: dict, batch, steps: int = 4) -> dict[str, dict[str, float]]:
    """Milliseconds per training step of each model in matmuls, attention and the rest (self CPU time)."""
    from torch.profiler import ProfilerActivity, profile

    out = {}
    for name, model in models.items():
        step = training_step(model)
        step(batch)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if batch.is_cuda else [])
        with profile(activities=activities) as prof:
            for _ in range(steps):
                step(batch)
        parts = {"matmul": 0.0, "attention": 0.0, "other": 0.0}
        for event in prof.key_averages():
            micros = event.self_device_time_total if batch.is_cuda else event.self_cpu_time_total
            if event.key in MATMUL_OPS:
                parts["matmul"] += micros
            elif "scaled_dot_product" in event.key or "flash_attention" in event.key:
                parts["attention"] += micros
            else:
                parts["other"] += micros
        out[name] = {part: round(micros / 1000 / steps, 2) for part, micros in parts.items()}
    return out


def generation_rate(model, prompt, new_tokens: int, use_cache: bool) -> float:
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        out = model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             use_cache=use_cache, pad_token_id=0)
        sync(out)
    return (out.shape[1] - prompt.shape[1]) * out.shape[0] / (time.perf_counter() - start)


def sync(tensor: torch.Tensor) -> None:
    if tensor.is_cuda:
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description="alignbook.lm throughput")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model (after 2 warm-up steps)")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--profile", action="store_true", help="split each step into matmul / attention / rest")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)

    ours_config = BaichuanConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                                 num_attention_heads=args.heads)
    llama_config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                               num_attention_heads=args.heads, num_key_value_heads=args.heads,
                               intermediate_size=ours_config.intermediate_size, tie_word_embeddings=False,
                               max_position_embeddings=4 * args.seq_len, attn_implementation="sdpa")
    torch.manual_seed(0)
    ours = BaichuanForCausalLM(ours_config).to(device)
    llama = LlamaForCausalLM(llama_config).to(device)
    n_ours, n_llama = (sum(p.numel() for p in m.parameters()) for m in (ours, llama))
    batches = [torch.randint(3, args.vocab, (args.batch, args.seq_len), device=device) for _ in range(args.steps + 2)]

    rates = training_rates({"ours": ours, "llama": llama}, batches)
    ours_rate, llama_rate = rates["ours"], rates["llama"]
    print(f"{device}: d={args.hidden}, {args.layers} layers, {n_ours:,} parameters (Llama {n_llama:,}), "
          f"batch {args.batch}x{args.seq_len}")
    print(f"training: ours {ours_rate:,.0f} tokens/s, LlamaForCausalLM {llama_rate:,.0f} tokens/s "
          f"-> ratio {ours_rate / llama_rate:.2f} (ours also computes max-z loss and normalises the head)")

    breakdown = None
    if args.profile:
        breakdown = profile_breakdown({"ours": ours, "llama": llama}, batches[0])
        for name, parts in breakdown.items():
            total = sum(parts.values())
            print(f"profile {name}: {total:.1f} ms/step = matmul {parts['matmul']:.1f} + attention "
                  f"{parts['attention']:.1f} + rest {parts['other']:.1f} "
                  f"({(parts['matmul'] + parts['attention']) / total:.0%} in matmul and attention)")
        floor = breakdown["ours"]["matmul"] + breakdown["ours"]["attention"]
        bound = sum(breakdown["llama"].values()) / floor
        print(f"largest ratio reachable by rewriting everything but matmul and attention: {bound:.2f} "
              "(Llama's profiled step over our matmul + attention time)")
        breakdown["ratio_bound"] = round(bound, 3)

    prompt = batches[0][:1, :16]
    cached = generation_rate(ours, prompt, args.new_tokens, use_cache=True)
    uncached = generation_rate(ours, prompt, args.new_tokens, use_cache=False)
    print(f"generation (batch 1, {args.new_tokens} new tokens): {cached:,.0f} tokens/s with the KV cache, "
          f"{uncached:,.0f} without -> {cached / uncached:.1f}x")
    print(json.dumps({
        "device": str(device), "threads": torch.get_num_threads() if device.type == "cpu" else 0, "hidden": args.hidden, "layers": args.layers, "parameters": n_ours,
        "train_tokens_per_s": round(ours_rate, 1), "llama_train_tokens_per_s": round(llama_rate, 1),
        "train_ratio": round(ours_rate / llama_rate, 3),
        "generate_tokens_per_s_cache": round(cached, 1), "generate_tokens_per_s_no_cache": round(uncached, 1),
        **({"profile_ms_per_step": breakdown} if breakdown else {}),
    }))


if __name__ == "__main__":
    main()
