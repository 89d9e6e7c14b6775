"""Aligner corrections per second at the Aligner chapter's sizes: batched generation with the KV cache
(``alignbook.aligner.model.generate_corrections``) against one-by-one ``transformers`` ``generate`` on the same
model, the way a user would write it (greedy, one question-answer pair per call).

usage: python benchmarks/aligner_throughput.py [--hidden 64 --layers 2 --pairs 64 --max-new 40 --threads 1]

Prints one JSON object. Weights are untrained and both sides generate exactly ``max_new`` tokens per pair (no
early stop on either side), so the comparison counts the same work.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from alignbook.aligner.model import PREFIX_LIMIT, generate_corrections
from alignbook.aligner.template import encode_prefix
from alignbook.lm.model import BaichuanForCausalLM
from alignbook.rlhf import world
from alignbook.rlhf.policies import Sizes, world_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--max-new", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = Sizes(hidden=args.hidden, layers=args.layers, heads=2, vocab=640)
    tokenizer = world_tokenizer(sizes.vocab)
    config = sizes.config()
    config.eos_token_id = -1  # never stop early: both sides generate max_new tokens
    model = BaichuanForCausalLM(config).eval()
    prompts = (world.all_prompts() * (args.pairs // 114 + 1))[: args.pairs]
    questions = [p.text for p in prompts]
    answers = [world.respond(p, "comply") for p in prompts]

    start = time.perf_counter()
    generate_corrections(model, tokenizer, questions, answers, args.max_new, batch=args.pairs)
    batched = time.perf_counter() - start

    start = time.perf_counter()
    with torch.no_grad():
        for q, a in zip(questions, answers, strict=True):
            ids, _ = encode_prefix(tokenizer, q, a, PREFIX_LIMIT)
            model.generate(torch.tensor([ids]), max_new_tokens=args.max_new, min_new_tokens=args.max_new,
                           do_sample=False, pad_token_id=tokenizer.pad_token_id)
    one_by_one = time.perf_counter() - start
    print(json.dumps({"pairs": args.pairs, "max_new": args.max_new, "hidden": args.hidden, "layers": args.layers,
                      "threads": args.threads,
                      "batched_kv_corrections_per_s": args.pairs / batched,
                      "hf_generate_one_by_one_corrections_per_s": args.pairs / one_by_one,
                      "speedup": one_by_one / batched}))


if __name__ == "__main__":
    main()
