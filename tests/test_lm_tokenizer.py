"""The Baichuan-style tokenizer: exact round trips, digit splitting, whitespace runs, token length limit."""

import pytest
from transformers import PreTrainedTokenizerFast

from alignbook.lm.tokenizer import BYTE_TOKENS, bytes_per_token, train_tokenizer

TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "def add(a, b):\n    return a + b\n\n        indented   spaces\n",
    "In 2023 the model saw 2600000000000 tokens; 12 + 30 = 42.",
    "supercalifragilisticexpialidocious " * 20,
] * 5


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=420, max_token_length=8)


@pytest.mark.parametrize("text", [
    "plain words and  double  spaces",
    "中文文本：你好，世界！",
    "emoji 😀👍🏽 and a flag 🇫🇷",
    "control \x00\x01\x1b[0m\x7f chars\r\n\ttab",
    "trailing spaces   \n\n\n",
    "",
])
def test_any_utf8_text_round_trips_exactly(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.unk_token_id is None or tokenizer.unk_token_id not in ids


def test_unseen_characters_fall_back_to_utf8_bytes(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("你", add_special_tokens=False)["input_ids"])
    assert tokens == ["<0xE4>", "<0xBD>", "<0xA0>"]  # "你" is E4 BD A0 in UTF-8
    assert set(BYTE_TOKENS) <= set(tokenizer.get_vocab())


def test_numbers_are_split_into_single_digits(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("2600000000000 and 42", add_special_tokens=False)["input_ids"])
    digits = [t for t in tokens if any(c.isdigit() for c in t)]
    assert "".join(digits) == "260000000000042"
    assert all(len(t) == 1 for t in digits)


def test_without_digit_splitting_numbers_merge():
    merged = train_tokenizer(TEXTS, vocab_size=420, split_digits=False)
    tokens = merged.convert_ids_to_tokens(merged("2600000000000", add_special_tokens=False)["input_ids"])
    assert len(tokens) < 13


def test_whitespace_runs_are_tokens_and_length_is_capped(tokenizer):
    vocab = tokenizer.get_vocab()
    eight = tokenizer.convert_ids_to_tokens(tokenizer("\n        return", add_special_tokens=False)["input_ids"])
    assert "        " in eight  # the indentation is one token, however rare it was in training
    learned = [t for t in vocab if t not in BYTE_TOKENS and not t.startswith("<") and t.strip()]
    assert max(len(t) for t in learned) <= 8
    assert "supercalifragilisticexpialidocious" not in vocab


def test_save_and_load_with_transformers(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    text = "12 + 30 = 42, 你好"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.decode(loaded(text, add_special_tokens=False)["input_ids"]) == text
    assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (0, 1, 2)


def test_training_is_deterministic_and_compresses(tokenizer):
    again = train_tokenizer(TEXTS, vocab_size=420, max_token_length=8)
    assert again.get_vocab() == tokenizer.get_vocab()
    assert bytes_per_token(tokenizer, TEXTS) > 1.5  # merges beat one byte per token


def test_empty_training_text_is_refused():
    with pytest.raises(ValueError, match="empty text"):
        train_tokenizer(["", ""], vocab_size=420)
    with pytest.raises(ValueError, match="must exceed"):
        train_tokenizer(TEXTS, vocab_size=200)
