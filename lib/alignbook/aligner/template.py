"""The Aligner's input format (upstream aligner/datasets/raw/correction.py, in the safe-rlhf conversation
format) and its encoding: the model sees question and answer, and is trained to write the correction only."""

from __future__ import annotations

from alignbook.rlhf.data import PROMPT_TEMPLATE

CORRECTION_PROMPT = "##Question: {question}\n##Answer: {answer}\n##Correction: "


def aligner_prompt(question: str, answer: str) -> str:
    """The text the Aligner reads before writing its correction."""
    return PROMPT_TEMPLATE.format(prompt=CORRECTION_PROMPT.format(question=question, answer=answer))


def encode_prefix(tokenizer, question: str, answer: str, limit: int) -> tuple[list[int], bool]:
    """``<s>`` and the template; an answer too long for ``limit`` tokens is cut from its end (the question is
    never cut: a cut question asks something else). Returns the ids and whether the answer was cut."""
    ids = [tokenizer.bos_token_id] + tokenizer(aligner_prompt(question, answer), add_special_tokens=False)["input_ids"]
    if len(ids) <= limit:
        return ids, False
    words = tokenizer(answer, add_special_tokens=False)["input_ids"]
    bare = len(ids) - len(words)  # roughly the template and question; the loop below makes it exact
    keep = max(0, limit - bare)
    while True:
        cut = tokenizer.decode(words[:keep]).strip()
        ids = [tokenizer.bos_token_id] + tokenizer(aligner_prompt(question, cut), add_special_tokens=False)["input_ids"]
        if len(ids) <= limit:
            return ids, True
        if keep == 0:
            raise ValueError(f"question {question[:40]!r}... alone is {len(ids)} tokens, over the limit of {limit}")
        keep -= 1


def encode_target(tokenizer, correction: str) -> list[int]:
    return tokenizer(" " + correction, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def encode_example(tokenizer, question: str, answer: str, correction: str, limit: int
                   ) -> tuple[list[int], list[int]]:
    """Input ids and labels of one training example: labels are -100 (no loss) on the question and answer
    and equal the ids on the correction and its ``</s>``."""
    prefix, _ = encode_prefix(tokenizer, question, answer, limit)
    target = encode_target(tokenizer, correction)
    return prefix + target, [-100] * len(prefix) + target
