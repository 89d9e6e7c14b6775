"""Training loop, corpus, scaling fit and the base model's recipe."""

import json

import numpy as np
import pytest
import torch

from alignbook.lm import arithmetic
from alignbook.lm.corpus import default_corpus, load_corpus, load_text_dataset, pack, split_documents
from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM
from alignbook.lm.scaling import fit_power_law
from alignbook.lm.tokenizer import train_tokenizer
from alignbook.lm.train import TrainConfig, learning_rate, train, validation_loss


def small_model(seed=0) -> BaichuanForCausalLM:
    torch.manual_seed(seed)
    return BaichuanForCausalLM(BaichuanConfig(vocab_size=40, hidden_size=32, num_hidden_layers=1,
                                              num_attention_heads=2))


def test_schedule_warms_up_then_decays_to_a_tenth():
    cfg = TrainConfig(steps=100, batch_size=1, seq_len=4, lr=1.0, warmup_steps=10)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(9, cfg) == pytest.approx(1.0)
    assert learning_rate(99, cfg) == pytest.approx(0.1)
    lrs = [learning_rate(s, cfg) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_training_is_deterministic_logs_and_learns():
    tokens = torch.arange(3, 40).repeat(40)  # a periodic stream: easy to learn
    cfg = TrainConfig(steps=30, batch_size=4, seq_len=16, lr=1e-2, warmup_steps=3, seed=3)
    first, second = small_model(), small_model()
    log_a, log_b = train(first, tokens, cfg), train(second, tokens, cfg)
    assert list(log_a.columns) == ["step", "tokens", "loss", "ce", "max_logit", "grad_norm", "lr", "wall_s"]
    assert np.array_equal(log_a.loss.values, log_b.loss.values)
    assert log_a.tokens.iloc[-1] == 30 * 4 * 16
    assert log_a.ce.iloc[-1] < log_a.ce.iloc[0] - 1.0
    assert validation_loss(first, tokens, 16, max_windows=4) < log_a.ce.iloc[0]
    assert (log_a.loss >= log_a.ce).all()  # the max-z term is never negative


def test_optimiser_follows_the_report():
    from alignbook.lm.train import optimiser

    opt = optimiser(small_model(), TrainConfig(steps=1, batch_size=1, seq_len=2))
    assert opt.defaults["betas"] == (0.9, 0.95)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() == 1 for p in plain["params"])  # only the RMSNorm gains escape decay


def test_empty_or_too_short_training_data_is_refused():
    cfg = TrainConfig(steps=2, batch_size=1, seq_len=8)
    with pytest.raises(ValueError, match="training data is empty"):
        train(small_model(), torch.tensor([], dtype=torch.long), cfg)
    with pytest.raises(ValueError, match="fewer than one window"):
        train(small_model(), torch.arange(5), cfg)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        TrainConfig(steps=0, batch_size=1, seq_len=8)


def test_default_corpus_is_offline_real_text_and_stable():
    docs = default_corpus()
    assert len(docs) > 50 and sum(map(len, docs)) > 200_000
    assert docs == load_corpus("default")
    train_docs, valid_docs = split_documents(docs, 0.1, seed=0)
    assert not set(train_docs) & set(valid_docs) and len(valid_docs) == round(0.1 * len(docs))
    assert split_documents(docs, 0.1, seed=0) == (train_docs, valid_docs)
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("wikipedia")


def test_hugging_face_loader_reads_local_files_of_the_same_layout(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train-00000.jsonl").write_text(
        json.dumps({"text": "first document"}) + "\n" + json.dumps({"text": "  "}) + "\n"
        + json.dumps({"text": "second"}) + "\n")
    (tmp_path / "stories.txt").write_text("Once upon a time.<|endoftext|>\nThe end.\n<|endoftext|>")
    assert load_text_dataset(str(tmp_path), files="data/*.jsonl") == ["first document", "second"]
    assert load_text_dataset(str(tmp_path), files="*.txt") == ["Once upon a time.", "The end."]
    assert load_corpus(f"hf:{tmp_path}", files="data/*.jsonl", max_documents=1) == ["first document"]
    with pytest.raises(ValueError, match="no field 'content'"):
        load_text_dataset(str(tmp_path), text_field="content", files="data/*.jsonl")
    with pytest.raises(ValueError, match="no .txt/.jsonl/.json/.parquet files match"):
        load_text_dataset(str(tmp_path), files="*.csv")


def test_pack_appends_end_of_text_and_refuses_nothing():
    tokenizer = train_tokenizer(["abc abc abd"] * 5, vocab_size=300)
    stream = pack(tokenizer, ["abc", "abd"])
    assert (stream == tokenizer.eos_token_id).sum() == 2 and stream[-1] == tokenizer.eos_token_id
    with pytest.raises(ValueError, match="corpus is empty"):
        pack(tokenizer, ["", ""])


def test_arithmetic_text_and_exact_match_accuracy():
    pairs = arithmetic.problems(200, max_digits=3, seed=1)
    assert pairs == arithmetic.problems(200, max_digits=3, seed=1)
    assert all(0 <= a < 1000 and 0 <= b < 1000 for a, b in pairs)
    assert arithmetic.as_text([(12, 30)]) == ["12+30=42"]

    class Oracle(torch.nn.Module):
        """A 'model' whose generate writes the right answer: accuracy must be exactly 1."""

        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer, self.weight = tokenizer, torch.nn.Parameter(torch.zeros(1))

        def generate(self, input_ids, attention_mask, **kwargs):
            prompts = self.tokenizer.batch_decode(input_ids, skip_special_tokens=True)
            answers = [str(eval(p.rstrip("="))) + self.tokenizer.eos_token for p in prompts]
            side, self.tokenizer.padding_side = self.tokenizer.padding_side, "right"  # answers continue prompts
            ids = self.tokenizer(answers, add_special_tokens=False, padding=True, return_tensors="pt")["input_ids"]
            self.tokenizer.padding_side = side
            return torch.cat([input_ids, ids], dim=1)

    tokenizer = train_tokenizer(arithmetic.as_text(pairs), vocab_size=300)
    assert arithmetic.accuracy(Oracle(tokenizer), tokenizer, pairs[:20]) == 1.0
    assert arithmetic.accuracy(small_model().eval(), tokenizer, pairs[:8]) < 1.0
    assert tokenizer.padding_side == "right"  # accuracy restores the caller's padding side


def test_power_law_fit_recovers_known_parameters_and_predicts():
    compute = np.geomspace(1e10, 1e12, 6)
    loss = 3.0 * (compute / 1e10) ** -0.3 + 1.5
    law = fit_power_law(compute[:5], loss[:5])
    assert law.b == pytest.approx(-0.3, abs=1e-3) and law.l_inf == pytest.approx(1.5, abs=1e-2)
    assert law(compute[5]) == pytest.approx(loss[5], rel=1e-4)
    with pytest.raises(ValueError, match="at least three"):
        fit_power_law([1.0, 2.0], [3.0, 2.0])


def test_unseen_number_split_keeps_test_operands_out_of_training():
    train, test = arithmetic.unseen_number_split(400, 50, max_digits=2, seed=3)
    assert len(train) == 400 and len(test) == 50
    assert (train, test) == arithmetic.unseen_number_split(400, 50, max_digits=2, seed=3)
    seen = {n for pair in train for n in pair}
    assert all(set(pair) - seen for pair in test)  # every test problem has an operand training never showed
    assert max(max(p) for p in train + test) < 100
    with pytest.raises(ValueError, match="held_out_fraction"):
        arithmetic.unseen_number_split(10, 10, 2, 0, held_out_fraction=1.0)
    with pytest.raises(ValueError, match="cannot draw"):
        arithmetic.unseen_number_split(1000, 10, 1, 0, held_out_fraction=0.9)
