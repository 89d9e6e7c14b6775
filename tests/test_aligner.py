import json

import pytest
import torch

from alignbook.aligner.data import best_response, better, ideal_correction, load_corrections, world_triples
from alignbook.aligner.model import (
    AlignerConfig,
    Correction,
    check_fraction,
    correct,
    fit,
    train_aligner,
    win_rate,
)
from alignbook.aligner.template import CORRECTION_PROMPT, aligner_prompt, encode_example, encode_prefix
from alignbook.rlhf import world
from alignbook.rlhf.policies import Sizes, world_tokenizer

TINY = Sizes(hidden=32, layers=1, heads=2, vocab=640, max_response=24)


@pytest.fixture(scope="module")
def tokenizer():
    return world_tokenizer(640)


def _prompt(text):
    return next(p for p in world.all_prompts() if p.text == text)


def test_template_is_upstream_format():
    text = aligner_prompt("how do i bake a cake?", "sure.")
    assert text == ("BEGINNING OF CONVERSATION: USER: ##Question: how do i bake a cake?\n##Answer: sure.\n"
                    "##Correction:  ASSISTANT:")
    assert CORRECTION_PROMPT.count("{") == 2


def test_loss_only_on_correction(tokenizer):
    ids, labels = encode_example(tokenizer, "how do i bake a cake?", "sorry, i cannot help with that.",
                                 "sure. mix flour for a cake.", 192)
    prefix, _ = encode_prefix(tokenizer, "how do i bake a cake?", "sorry, i cannot help with that.", 192)
    assert len(ids) == len(labels)
    assert labels[: len(prefix)] == [-100] * len(prefix)
    assert labels[len(prefix):] == ids[len(prefix):]
    assert labels[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[len(prefix):-1]).strip() == "sure. mix flour for a cake."


def test_masked_tokens_do_not_change_loss(tokenizer):
    torch.manual_seed(0)
    from alignbook.lm.model import BaichuanForCausalLM
    model = BaichuanForCausalLM(TINY.config()).eval()
    ids, labels = encode_example(tokenizer, "how do i bake a cake?", "x", "sure.", 192)
    ids2, labels2 = encode_example(tokenizer, "how do i bake a cake?", "x", "sure.", 192)
    a = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
    # the same labels with every position counted gives a different loss: the mask matters
    b = model(input_ids=torch.tensor([ids2]), labels=torch.tensor([ids2])).loss
    assert not torch.isclose(a, b)


def test_long_answer_is_cut_and_flagged(tokenizer):
    long = "sure. " + "mix flour for a cake, " * 80
    prefix, cut = encode_prefix(tokenizer, "how do i bake a cake?", long, 64)
    assert cut and len(prefix) <= 64
    assert "how do i bake a cake?" in tokenizer.decode(prefix)
    _, cut = encode_prefix(tokenizer, "how do i bake a cake?", "sure.", 64)
    assert not cut
    with pytest.raises(ValueError, match="question"):
        encode_prefix(tokenizer, "how do i bake a cake? " * 40, "sure.", 64)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2, float("nan")])
def test_warmup_fraction_out_of_range(bad):
    with pytest.raises(ValueError, match="warmup_fraction"):
        check_fraction(bad)
    with pytest.raises(ValueError, match="warmup_fraction"):
        AlignerConfig(warmup_fraction=bad)


@pytest.mark.parametrize("bad", ["20%", None, True])
def test_warmup_fraction_unknown_type(bad):
    with pytest.raises(TypeError, match="warmup_fraction"):
        check_fraction(bad)


def test_loader_json_and_parquet(tmp_path):
    import pandas as pd
    rows = [{"question": "q1", "answer": "a1", "correction": "c1"}, {"question": "q2", "answer": "", "correction": "c2"}]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
    for name in ("d.json", "d.parquet"):
        data = load_corrections(tmp_path / name)
        assert data.num_rows == 2 and data[1]["correction"] == "c2" and data[1]["answer"] == ""
    (tmp_path / "bad.json").write_text(json.dumps([{"question": "q", "answer": "a"}]))
    with pytest.raises(ValueError, match="correction"):
        load_corrections(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text(json.dumps([{"question": "q", "answer": 3, "correction": "c"}]))
    with pytest.raises(ValueError, match=r"row 0, field 'answer'"):
        load_corrections(tmp_path / "bad2.json")
    with pytest.raises(ValueError, match="unsupported"):
        load_corrections(tmp_path / "x.csv")


def test_world_triples_filter():
    harmful, benign = _prompt("how do i hack into a hospital network?"), _prompt("how do i bake a cake?")
    comply = world.respond(harmful, "comply")
    assert better(harmful, best_response(harmful), comply)  # harm first: less harmful though less helpful
    assert not better(harmful, comply, best_response(harmful))
    rows = world_triples([harmful, benign, benign], [world.REFUSAL, world.REFUSAL, best_response(benign)])
    assert rows[0]["correction"] == best_response(harmful)
    assert rows[1]["correction"] == best_response(benign)
    assert rows[2]["correction"] == rows[2]["answer"]  # already the best: identity
    assert ideal_correction(harmful, comply) == best_response(harmful)
    assert ideal_correction(benign, world.REFUSAL) == best_response(benign)
    assert ideal_correction(benign, "garbled text") == best_response(benign)
    assert ideal_correction(harmful, best_response(harmful)) == best_response(harmful)
    odd = best_response(benign) + " good luck."  # as good as the best: kept as it is
    assert ideal_correction(benign, odd) == odd


def test_world_triples_drop_non_improvements():
    benign = _prompt("how do i bake a cake?")
    # an answer the judge rates the same as the best, with other text, is neither improved nor copied
    odd = best_response(benign) + " good luck."
    assert world.judge(benign, odd) == world.judge(benign, best_response(benign))
    assert world_triples([benign], [odd])[0]["correction"] == odd
    # a benign answer that names a harmful step is worse; the correction is the best one
    bad = best_response(benign) + " plant malware on it."
    assert world_triples([benign], [bad])[0]["correction"] == best_response(benign)


def test_win_rate_known_values():
    benign = _prompt("how do i bake a cake?")
    harmful = _prompt("how do i hack into a hospital network?")
    out = win_rate([benign, harmful, benign], [world.REFUSAL, world.respond(harmful, "comply"), "x"],
                   [best_response(benign), best_response(harmful), "x"])
    assert out["helpfulness"] == pytest.approx((1 - 1 + 0) / 3)
    assert out["harmlessness"] == pytest.approx((0 + 1 + 0) / 3)


def test_upstream_failures_keep_other_results(tokenizer):
    torch.manual_seed(0)
    from alignbook.lm.model import BaichuanForCausalLM
    aligner = BaichuanForCausalLM(TINY.config()).eval()

    def upstream(q):
        if isinstance(q, list):
            raise RuntimeError("no batches")
        if "cake" in q:
            raise RuntimeError("server down")
        if "bike" in q:
            return 42
        if "loaf" in q:
            return ""
        return "sure."

    questions = ["how do i bake a cake?", "how do i fix a bike?", "how do i bake a loaf?", "how do i fix a door?"]
    out = correct(aligner, tokenizer, upstream, questions, max_new=4)
    assert [type(c) for c in out] == [Correction] * 4
    assert out[0].correction is None and "server down" in out[0].error and "cake" in out[0].error
    assert out[1].correction is None and "int" in out[1].error and "bike" in out[1].error
    assert out[2].error is None and out[2].answer == "" and isinstance(out[2].correction, str)
    assert out[3].error is None and out[3].answer == "sure." and isinstance(out[3].correction, str)


def test_long_upstream_answer_is_flagged(tokenizer):
    torch.manual_seed(0)
    from alignbook.lm.model import BaichuanForCausalLM
    aligner = BaichuanForCausalLM(TINY.config()).eval()
    out = correct(aligner, tokenizer, lambda qs: ["sure. " * 300 for _ in qs], ["how do i bake a cake?"], 4)
    assert out[0].truncated and out[0].error is None


def test_fit_zero_steps_is_noop():
    assert fit(None, [], 0, 4, 1e-3, 0, 0) == []


def test_tiny_end_to_end_learns_to_correct(tokenizer):
    prompts = world.all_prompts()
    answers = [world.REFUSAL if i % 2 else world.respond(p, "comply") for i, p in enumerate(prompts)]
    triples = world_triples(prompts, answers)
    cfg = AlignerConfig(sizes=TINY, warmup_fraction=0.2, warmup_steps=10, steps=200, batch=16, lr=1e-2)
    model, logs = train_aligner(tokenizer, triples, cfg)
    assert len(logs["warmup"]) == 10 and len(logs["correction"]) == 200
    assert sum(logs["correction"][-10:]) < sum(logs["correction"][:10])
    benign = [p for p in prompts if not p.harmful][:12]
    out = correct(model, tokenizer, lambda q: world.REFUSAL, [p.text for p in benign], max_new=24)
    rate = win_rate(benign, [world.REFUSAL] * len(benign), [c.correction for c in out])
    assert rate["helpfulness"] > 0  # corrections of refusals on benign prompts are more helpful on balance


def test_upstream_functions_and_triples(tokenizer):
    from alignbook.aligner.experiment import answered, policy_fn, scripted_fn, training_triples
    from alignbook.lm.model import BaichuanForCausalLM
    torch.manual_seed(0)
    fn = policy_fn(BaichuanForCausalLM(TINY.config()).eval(), tokenizer, 4, seed=0)
    one, many = fn("how do i bake a cake?"), fn(["how do i bake a cake?", "how do i fix a bike?"])
    assert isinstance(one, str) and len(many) == 2 and all(isinstance(a, str) for a in many)
    assert fn(["how do i bake a cake?", "how do i fix a bike?"]) == many  # seeded: deterministic
    comply = scripted_fn("comply")
    harmful = _prompt("how do i hack into a hospital network?")
    assert comply(harmful.text) == world.respond(harmful, "comply")
    rows = training_triples({"comply": comply, "refuse": scripted_fn("refuse")}, [harmful], samples=2)
    # comply on a harmful prompt -> redirect (less harmful); refuse -> redirect (as harmless, more helpful)
    assert len(rows) == 4 and {r["correction"] for r in rows} == {best_response(harmful)}
    frozen = answered({"policy": fn}, [_prompt("how do i bake a cake?"), _prompt("how do i fix a bike?")])["policy"]
    assert frozen(["how do i fix a bike?"]) == frozen(["how do i fix a bike?"]) == [frozen("how do i fix a bike?")]


def test_evaluate_names_failing_upstream(tokenizer):
    from alignbook.aligner.experiment import evaluate
    from alignbook.lm.model import BaichuanForCausalLM
    torch.manual_seed(0)
    model = BaichuanForCausalLM(TINY.config()).eval()
    with pytest.raises(RuntimeError, match="'broken'.*cake"):
        evaluate(model, tokenizer, {"broken": lambda q: None}, [_prompt("how do i bake a cake?")], 4)


def test_seed_reaches_answers_and_training(tokenizer):
    """The seed fixes the sampled training answers, the initialisation and the batches: the same seed gives the
    same triples and losses, another seed different ones."""
    from alignbook.aligner.experiment import training_triples, upstream_fns
    from alignbook.lm.model import BaichuanForCausalLM
    torch.manual_seed(0)
    models = {"policy": BaichuanForCausalLM(TINY.config()).eval(), "refuse": "refuse"}
    prompts = world.all_prompts()[:8]

    def run(seed):
        rows = training_triples(upstream_fns(models, tokenizer, 8, seed), prompts, samples=1)
        _, logs = train_aligner(tokenizer, rows, AlignerConfig(sizes=TINY, warmup_steps=2, steps=3, batch=4,
                                                                seed=seed))
        return rows, logs

    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first[0] != other[0] and first[1]["correction"] != other[1]["correction"]


def test_split_questions_holds_out_a_stratified_share():
    from alignbook.aligner.data import split_questions
    train, held = split_questions(0.25, seed=0)
    everything = world.all_prompts()
    assert sorted(p.text for p in train + held) == sorted(p.text for p in everything)
    assert not {p.text for p in train} & {p.text for p in held}
    n_harmful = sum(p.harmful for p in everything)
    # a quarter of each half: 57 harmful and 57 benign questions -> 14 of each held out
    assert sum(p.harmful for p in held) == sum(not p.harmful for p in held) == round(0.25 * n_harmful)
    assert split_questions(0.25, seed=0) == (train, held)  # seeded
    assert split_questions(0.25, seed=1)[1] != held
    # the triples built from the training questions never name a held-out question
    rows = world_triples(train, [world.REFUSAL] * len(train))
    assert {r["question"] for r in rows} <= {p.text for p in train}


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, "25%", None, True])
def test_split_questions_rejects_bad_fraction(bad):
    from alignbook.aligner.data import split_questions
    with pytest.raises(ValueError, match="held_out_fraction"):
        split_questions(bad, seed=0)


def test_weak_to_strong_measures_each_set(tokenizer):
    from alignbook.aligner.experiment import weak_to_strong
    from alignbook.lm.model import BaichuanForCausalLM
    torch.manual_seed(0)
    aligner, strong = BaichuanForCausalLM(TINY.config()).eval(), BaichuanForCausalLM(TINY.config()).eval()
    prompts = world.all_prompts()
    sets = {"seen": prompts[:3] + prompts[-3:], "held-out": prompts[3:5] + prompts[-5:-3]}
    out = weak_to_strong(aligner, tokenizer, strong, sets["seen"], samples=1, steps=2, lr=1e-3, max_new=4,
                         eval_samples=1, seed=0, eval_sets=sets)
    policies = ("strong policy", "fine-tuned on own answers", "fine-tuned on Aligner corrections")
    assert set(out) == {(p, s) for p in policies for s in sets}
    assert all(0 <= m["harmful_rate"] <= 1 for m in out.values())


def test_the_warm_up_teaches_copying_then_the_main_stage_teaches_corrections(tokenizer, monkeypatch):
    """Stage 1 trains on Q-A-A rows (the target is the answer itself) built from warmup_fraction of the triples,
    stage 2 on Q-A-C rows of all of them. Recorded at the fit() boundary, so that a warm-up dropped or trained on
    corrections fails here even though both still train a working corrector."""
    import alignbook.aligner.model as aligner_model
    from alignbook.aligner.template import encode_target

    prompts = world.all_prompts()[:10]
    triples = world_triples(prompts, [world.REFUSAL] * len(prompts))
    assert all(r["answer"] != r["correction"] for r in triples)
    stages = []
    monkeypatch.setattr(aligner_model, "fit", lambda model, examples, steps, *a: stages.append((examples, steps)))
    train_aligner(tokenizer, triples, AlignerConfig(sizes=TINY, warmup_fraction=0.2, warmup_steps=7, steps=5))
    (warm, warm_steps), (main, main_steps) = stages
    assert (warm_steps, main_steps) == (7, 5)

    def targets(examples):
        return [[t for t in labels if t != -100] for _, labels in examples]

    answers = [encode_target(tokenizer, r["answer"]) for r in triples]
    corrections = [encode_target(tokenizer, r["correction"]) for r in triples]
    assert len(warm) == 2 and all(t in answers for t in targets(warm))  # 20% of 10 triples, copied
    assert targets(main) == corrections


def test_copy_texts_draw_every_word_from_the_worlds_vocabulary_in_random_order():
    from alignbook.aligner.data import copy_texts

    vocabulary = {w.strip(".,?:") for text in world.corpus() for w in text.lower().split()}
    texts = copy_texts(200, seed=3)
    assert len(texts) == 200 and copy_texts(200, seed=3) == texts and copy_texts(200, seed=4) != texts
    words = [w.strip(".,?") for q, a in texts for w in (q.removeprefix("how do i ") + " " + a).split()]
    assert set(words) <= vocabulary and len(set(words)) > 0.5 * len(vocabulary)  # the held-out objects too
    questions = {p.text for p in world.all_prompts()}
    assert not any(q in questions for q, _ in texts)  # random words, not the world's questions
    assert copy_texts(0, seed=0) == []
    with pytest.raises(ValueError, match="non-negative integer"):
        copy_texts(-1, seed=0)


def test_stage_zero_copies_random_words_once_per_start_and_every_seed_reuses_it(tokenizer, monkeypatch, tmp_path):
    """With copy_steps, a stage 0 trains the fresh decoder on identity rows of random words before the
    warm-up and the corrections; the start is cached by copy_seed, so another seed of the later stages reads it
    instead of training it again."""
    import alignbook.aligner.model as aligner_model

    monkeypatch.setenv("ALIGNBOOK_CACHE", str(tmp_path))
    triples = world_triples(world.all_prompts()[:10], [world.REFUSAL] * 10)
    stages = []

    def record(model, examples, steps, *args):
        stages.append((examples, steps))
        return [0.0] * steps

    monkeypatch.setattr(aligner_model, "fit", record)
    for seed in (0, 1):
        train_aligner(tokenizer, triples, AlignerConfig(sizes=TINY, copy_steps=3, warmup_steps=2, steps=2,
                                                        batch=4, seed=seed))
    assert [steps for _, steps in stages] == [3, 2, 2, 2, 2]  # stage 0 once, then two stages per seed
    copies = stages[0][0]
    assert len(copies) == 3 * 4  # copy_steps x batch rows, each seen about once
    for ids, labels in copies:  # identity rows: the target is the answer the row reads
        target = [t for t in labels if t != -100]
        assert tokenizer.decode(target[:-1]).strip() in tokenizer.decode(ids[:len(ids) - len(target)])
    train_aligner(tokenizer, triples, AlignerConfig(sizes=TINY, copy_steps=3, copy_seed=5, warmup_steps=2,
                                                    steps=2, batch=4))
    assert stages[5][1] == 3  # another start: trained anew
