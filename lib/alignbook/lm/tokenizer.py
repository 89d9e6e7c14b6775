"""Baichuan 2's tokenizer recipe on Hugging Face ``tokenizers``, wrapped as a ``transformers`` fast tokenizer.

The report's choices (Sec. 2.2), each visible below:

- BPE with **byte fallback**: a character the vocabulary lacks becomes its UTF-8 bytes (``<0xE4>`` ...), so
  every string -- Chinese, emoji, control characters -- encodes without an unknown token and decodes exactly;
- **no normalisation** and no dummy prefix: the text is tokenised as written;
- **numbers split into single digits**, so that 2024 is 2 0 2 4 and arithmetic sees aligned digits;
- **whitespace runs** kept as their own tokens (code indentation compresses well);
- a **maximum token length** (32 in the report) so that no long rare string wastes a vocabulary slot.

``split_digits=False`` keeps runs of digits together, the baseline of the chapter's digit experiment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2, as BaichuanConfig expects
BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))
# Runs of 2..16 spaces are whole tokens whatever their frequency, as in Baichuan 2: indentation is common in
# code and should never cost one token per space.
WHITESPACE_TOKENS = tuple(" " * n for n in range(2, 17))

# A piece is: a word with at most one leading space; a run of punctuation with at most one leading space;
# ONE digit (or a run of digits); a whitespace run. Pieces never merge across these boundaries.
_WORD, _PUNCT, _SPACE = r" ?[^\s\p{N}\p{P}\p{S}]+", r" ?[\p{P}\p{S}]+", r"\s+"


def _pre_tokenizer(split_digits: bool) -> pre_tokenizers.PreTokenizer:
    number = r"\p{N}" if split_digits else r" ?\p{N}+"
    pattern = "|".join((_WORD, _PUNCT, number, _SPACE))
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    split_digits: bool = True,
    max_token_length: int = 32,
) -> PreTrainedTokenizerFast:
    """Train a byte-fallback BPE tokenizer on ``texts``; deterministic for the same texts and settings."""
    texts = list(texts)
    if not any(t for t in texts):
        raise ValueError("cannot train a tokenizer on empty text: pass at least one non-empty string")
    reserved = len(SPECIAL_TOKENS) + len(BYTE_TOKENS) + len(WHITESPACE_TOKENS)
    if vocab_size <= reserved:
        raise ValueError(f"vocab_size {vocab_size} must exceed the {reserved} special and byte tokens")
    tokenizer = Tokenizer(models.BPE(byte_fallback=True))
    tokenizer.pre_tokenizer = _pre_tokenizer(split_digits)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(BYTE_TOKENS) - len(WHITESPACE_TOKENS),
        special_tokens=list(SPECIAL_TOKENS),
        max_token_length=max_token_length,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer = _with_byte_tokens(tokenizer)
    # Added tokens are matched before the pre-tokenizer, longest first; not special, so decode keeps them.
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in WHITESPACE_TOKENS
                          if t not in tokenizer.get_vocab()])
    # ByteFallback turns <0xE4><0xBD><0xA0> back into bytes and then text; Fuse joins the pieces.
    tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    return wrap(tokenizer)


def _with_byte_tokens(tokenizer: Tokenizer) -> Tokenizer:
    """Append the 256 byte tokens to the trained vocabulary (the trainer only knows the characters it saw)."""
    spec = json.loads(tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    for token in BYTE_TOKENS:
        vocab.setdefault(token, len(vocab))
    return Tokenizer.from_str(json.dumps(spec))


def wrap(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    """The ``transformers`` face of the tokenizer: save_pretrained / from_pretrained, padding, batching."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        clean_up_tokenization_spaces=False,  # decoding must give back exactly the text that was encoded
        model_max_length=1_000_000,
    )


def bytes_per_token(tokenizer: PreTrainedTokenizerFast, texts: Iterable[str]) -> float:
    """UTF-8 bytes of the texts over the tokens they encode to: higher is better compression."""
    texts = list(texts)
    total_bytes = sum(len(t.encode("utf-8")) for t in texts)
    total_tokens = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return total_bytes / max(total_tokens, 1)
