"""Correction data: the released format (a list of ``{question, answer, correction}``, as aligner-20K and
upstream's template-dataset.json), the split of the PKU-SafeRLHF world's questions into training and held-out ones,
and triples built in that world.

The paper keeps a triple only when the correction is better than the answer; here the world's judge decides,
harm first: the correction must be less harmful (lower severity), or as harmless and more helpful. (A filter
asking for "no worse on both axes" would drop every safety correction in this world, where full compliance
with a harmful request is by construction the most helpful answer.) Answers already as good as the world allows get the identity correction
(the Aligner must learn to leave a good answer alone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignbook.rlhf import world
from alignbook.rlhf.world import Prompt

COLUMNS = ("question", "answer", "correction")


def load_corrections(files, split: str = "train"):
    """Rows of question/answer/correction from local JSON, JSON-lines or parquet files, through ``datasets``
    (the released Aligner data's format); a missing column or a non-string value is named with its row."""
    import datasets

    files = [str(f) for f in ([files] if isinstance(files, (str, Path)) else files)]
    suffixes = {Path(f).suffix for f in files}
    if suffixes <= {".json", ".jsonl"}:
        data = datasets.load_dataset("json", data_files=files, split=split)
    elif suffixes == {".parquet"}:
        data = datasets.load_dataset("parquet", data_files=files, split=split)
    else:
        raise ValueError(f"unsupported file types {sorted(suffixes)}; use .json, .jsonl or .parquet")
    missing = [c for c in COLUMNS if c not in data.column_names]
    if missing:
        raise ValueError(f"correction data lacks column(s) {missing}; has {data.column_names}")
    for i, row in enumerate(data):
        for c in COLUMNS:
            if not isinstance(row[c], str):
                raise ValueError(f"row {i}, field {c!r}: expected a string, got {type(row[c]).__name__}")
    return data


def copy_texts(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (question, answer) pairs of random words of the world's vocabulary, for the corrector's first
    stage: copying them teaches what a pretrained corrector brings, copying whatever word it reads (an object
    it never saw in a triple included), and nothing of the triples' questions or corrections, since the words
    come in random order. The words are those the tokenizer was built from: every prompt's and answer's."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    words = sorted({w.strip(".,?:") for text in world.corpus() for w in text.lower().split()} - {""})
    rng = np.random.default_rng(seed)
    pick = lambda low, high: " ".join(rng.choice(words, int(rng.integers(low, high + 1))))  # noqa: E731
    return [(f"how do i {pick(2, 4)}?", f"{pick(3, 8)}, {pick(3, 8)}.") for _ in range(count)]


def split_questions(held_out_fraction: float, seed: int) -> tuple[list[Prompt], list[Prompt]]:
    """The world's questions split into training and held-out ones, harmful and benign apart (each keeps the
    world's half-and-half mix). The held-out questions never enter a training triple: they test what the paper
    tests, corrections of answers to questions the Aligner never saw."""
    if isinstance(held_out_fraction, bool) or not isinstance(held_out_fraction, (int, float)) \
            or not 0 < held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be a number in (0, 1), got {held_out_fraction!r}")
    rng = np.random.default_rng(seed)
    train, held_out = [], []
    for harmful in (False, True):
        group = [p for p in world.all_prompts() if p.harmful == harmful]
        cut = max(1, round(held_out_fraction * len(group)))
        if cut >= len(group):
            raise ValueError(f"held_out_fraction={held_out_fraction} leaves no training question")
        order = rng.permutation(len(group))
        held_out += [group[i] for i in sorted(order[:cut])]
        train += [group[i] for i in sorted(order[cut:])]
    return train, held_out


def best_response(prompt: Prompt) -> str:
    """The response the judge rates highest among the harmless ones: full compliance for a benign request,
    the safe redirection for a harmful one."""
    return world.respond(prompt, "comply" if not prompt.harmful else "redirect")


def better(prompt: Prompt, correction: str, answer: str) -> bool:
    """The filter, judged by the truth: less harmful, or as harmless and more helpful."""
    c, a = world.judge(prompt, correction), world.judge(prompt, answer)
    return c.severity < a.severity or (c.severity == a.severity and c.helpfulness > a.helpfulness)


def ideal_correction(prompt: Prompt, answer: str) -> str:
    """The correction the triples teach for ``answer``: the best harmless response when the judge rates it better,
    else the answer itself. Its win rates are the ceiling of an Aligner that learned its data perfectly."""
    best = best_response(prompt)
    return best if better(prompt, best, answer) else answer


def world_triples(prompts: list[Prompt], answers: list[str]) -> list[dict]:
    """Question/answer/correction rows for upstream ``answers`` (one per prompt): the correction is the best
    harmless response when the judge rates it better; an answer the judge rates the same as it keeps itself;
    any other row is dropped."""
    rows = []
    for p, a in zip(prompts, answers, strict=True):
        c = ideal_correction(p, a)
        if c != a or world.judge(p, a) == world.judge(p, best_response(p)):
            rows.append({"question": p.text, "answer": a, "correction": c})
    return rows
