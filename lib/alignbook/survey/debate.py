"""Scalable oversight in miniature: a debate game in which a weak judge supervises stronger debaters.

The question: what is the sum of a list of ``n`` digits? Two debaters can read the whole list; the judge can
read *one* digit. One debater (honest) claims the true sum, the other (the liar) a wrong one. In each round
both split their claim about the current segment into claims about its two halves, which must add up (the
judge checks that, it costs no reading); the judge then follows a half on which they disagree. After log2(n)
rounds the segment is one digit, the judge reads it, and the debater whose claim matches wins the debate. A
lie about a sum must be a lie about at least one half, so a liar facing a correct honest debater is always
followed into a half where it is wrong: the judge checks one digit and is never fooled (Irving et al. 2018's
argument that debate lets a weak judge decide questions far beyond its own reach).

Two things break it, and the game measures both:

- a fallible honest debater: with probability ``slip`` at each split it misstates its halves (keeping them
  consistent with its claim); the liar, who knows the truth, then tells the truth about that half and hides its
  lie in the other, and the judge, choosing at random between two disputed halves, may follow the honest
  debater into its own mistake;
- the baseline: a judge alone, who reads ``reads`` random digits and picks the claim nearer to n times their mean.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _check(n: int, digits: int) -> None:
    if n < 2 or n & (n - 1):
        raise ValueError(f"the list length n must be a power of two >= 2 (the debate halves it), got {n}")
    if digits < 2:
        raise ValueError(f"digits must be >= 2, got {digits}")


def debate(values: np.ndarray, lie: int, slip: float, rng: np.random.Generator) -> bool:
    """Play one debate; True when the honest debater wins (the judge answers correctly)."""
    lo, hi = 0, len(values)
    honest, liar = int(values.sum()), int(values.sum()) + lie
    while hi - lo > 1:
        mid = (lo + hi) // 2
        true_left = int(values[lo:mid].sum())
        # the honest debater carries any earlier mistake into its left half, and may slip again here
        honest_left = true_left + (honest - int(values[lo:hi].sum()))
        if rng.random() < slip:
            honest_left += int(rng.choice([-1, 1])) * int(rng.integers(1, 4))
        honest_halves = (honest_left, honest - honest_left)
        true_halves = (true_left, int(values[mid:hi].sum()))
        wrong = [i for i in (0, 1) if honest_halves[i] != true_halves[i]]
        # the liar is truthful on a half where the honest debater is wrong (or on a random half) and puts the
        # whole difference into the other half, so its halves still add up to its claim
        truthful = wrong[int(rng.integers(len(wrong)))] if wrong else int(rng.integers(2))
        liar_halves = [0, 0]
        liar_halves[truthful] = true_halves[truthful]
        liar_halves[1 - truthful] = liar - true_halves[truthful]
        disputed = [i for i in (0, 1) if honest_halves[i] != liar_halves[i]]
        if not disputed:  # both make the same claims about both halves: cannot happen while honest != liar
            raise AssertionError("the debaters' claims differ but none of their halves do")
        side = disputed[int(rng.integers(len(disputed)))]
        honest, liar = honest_halves[side], liar_halves[side]
        lo, hi = (lo, mid) if side == 0 else (mid, hi)
    digit = int(values[lo])
    if honest == digit:
        return True
    if liar == digit:
        return False
    return bool(rng.random() < 0.5)  # neither matches: the judge can only guess


def judge_alone(values: np.ndarray, lie: int, reads: int, rng: np.random.Generator) -> bool:
    """A judge who reads ``reads`` random digits; True when it picks the true sum."""
    estimate = len(values) * values[rng.choice(len(values), size=reads, replace=False)].mean()
    truth = int(values.sum())
    error_true, error_lie = abs(estimate - truth), abs(estimate - (truth + lie))
    if error_true == error_lie:
        return bool(rng.random() < 0.5)
    return bool(error_true < error_lie)


def play(lengths, slips, games: int, seeds: int, digits: int = 10, max_lie: int = 10) -> pd.DataFrame:
    """Accuracy of the judge per (seed, n, slip) with debate, and alone with as many reads as debate rounds + 1."""
    rows = []
    for seed in range(seeds):
        for n in lengths:
            _check(n, digits)
            rounds = int(math.log2(n))
            for slip in slips:
                rng = np.random.default_rng([4000, seed, n, int(1000 * slip)])
                wins_debate = wins_alone = 0
                for _ in range(games):
                    values = rng.integers(digits, size=n)
                    lie = int(rng.choice([-1, 1])) * int(rng.integers(1, max_lie + 1))
                    wins_debate += debate(values, lie, slip, rng)
                    wins_alone += judge_alone(values, lie, rounds + 1, rng)
                rows.append({"seed": seed, "n": n, "slip": slip, "rounds": rounds,
                             "debate": wins_debate / games, "alone": wins_alone / games})
    return pd.DataFrame(rows)
