"""The digit-splitting experiment's data and metric: addition problems as text, and exact-match accuracy of
greedy answers."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch


def problems(count: int, max_digits: int, seed: int) -> list[tuple[int, int]]:
    """Pairs (a, b) with a uniformly drawn number of digits (1..max_digits) each, from a seeded RNG; drawing the
    length first keeps short numbers as common as long ones."""
    rng = random.Random(seed)

    def number() -> int:
        digits = rng.randint(1, max_digits)
        return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)

    return [(number(), number()) for _ in range(count)]


def unseen_number_split(train: int, test: int, max_digits: int, seed: int, held_out_fraction: float = 0.2
                        ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Training and test problems such that every test problem has an operand that no training problem has.

    A seeded ``held_out_fraction`` of the numbers of each length is set aside: training problems use only the
    others, every test problem uses at least one set-aside number. A tokenizer that merges digits can learn a
    table entry for each operand it saw; on these test problems it must compose, as digit splitting does.
    """
    if not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must lie in (0, 1), got {held_out_fraction!r}")
    rng = random.Random(seed)
    held_out = set()
    for digits in range(1, max_digits + 1):
        numbers = list(range(10 ** (digits - 1) if digits > 1 else 0, 10**digits))
        held_out.update(rng.sample(numbers, max(1, round(held_out_fraction * len(numbers)))))
    kept = [p for p in problems(4 * train, max_digits, seed) if not held_out & set(p)][:train]
    fresh = [p for p in problems(20 * test, max_digits, seed + 1) if held_out & set(p)][:test]
    if len(kept) < train or len(fresh) < test:
        raise ValueError(f"cannot draw {train} training and {test} test problems of up to {max_digits} digits "
                         "with these held-out numbers; ask for fewer or allow more digits")
    return kept, fresh


def as_text(pairs: Sequence[tuple[int, int]]) -> list[str]:
    """One document per problem, ``"a+b=c"``."""
    return [f"{a}+{b}={a + b}" for a, b in pairs]


@torch.no_grad()
def accuracy(model, tokenizer, pairs: Sequence[tuple[int, int]], batch_size: int = 64) -> float:
    """Fraction of problems whose greedy completion of ``"a+b="`` is exactly the sum followed by end-of-text."""
    if not pairs:
        raise ValueError("no problems to evaluate")
    device = next(model.parameters()).device
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # generation continues on the right
    try:
        return _count_correct(model, tokenizer, pairs, batch_size, device) / len(pairs)
    finally:
        tokenizer.padding_side = side


def _count_correct(model, tokenizer, pairs, batch_size, device) -> int:
    correct = 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        enc = tokenizer([f"{a}+{b}=" for a, b in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        longest = max(len(str(a + b)) for a, b in chunk) + 2  # at most one token per digit, plus end-of-text
        out = model.generate(**enc.to(device), max_new_tokens=longest, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        answers = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=False)
        for (a, b), answer in zip(chunk, answers, strict=True):
            correct += answer.startswith(f"{a + b}{tokenizer.eos_token}")
    return correct
