"""Training and generation throughput of alignbook.lm's Baichuan-style decoder.

usage: python benchmarks/lm_throughput.py [--hidden 128 --layers 4 --batch 16 --seq-len 128 --steps 10 --threads 1]

Training tokens/s of our decoder and of transformers' LlamaForCausalLM of the same size (same width, depth,
heads, FFN width, vocabulary, untied embeddings) on the same batches with the same AdamW step, steps of the
two interleaved and rates from the median step time; then greedy
generation tokens/s of our decoder with and without the KV cache. Prints human-readable lines, then one JSON
object as the last line. The default size is the book-scale base model's neighbourhood; on a CPU the default is
one thread, which is how the chapter trains its small models (and what keeps timings steady on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM


def training_rates(models: dict, batches, warmup: int = 2) -> dict[str, float]:
    """Training tokens/s of each model: their steps interleaved (ours, Llama, ours, ...) so that a shared
    machine's slow moments hit both alike, and each rate taken from the median step time."""
    steps, times = {}, {name: [] for name in models}
    for name, model in models.items():
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
        model.train()

        def step(batch, model=model, opt=opt):
            loss = model(input_ids=batch, labels=batch).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync(loss)

        steps[name] = step
        for batch in batches[:warmup]:  # first steps allocate and pick kernels: not what we measure
            step(batch)
    for batch in batches[warmup:]:
        for name, step in steps.items():
            start = time.perf_counter()
            step(batch)
            times[name].append(time.perf_counter() - start)
    return {name: batches[0].numel() / statistics.median(t) for name, t in times.items()}


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
    }))


if __name__ == "__main__":
    main()
