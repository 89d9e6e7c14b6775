"""The embedded world: its judge, its annotators and its rows in PKU-SafeRLHF's columns."""

import numpy as np
import pytest

from alignbook.rlhf import world
from alignbook.rlhf.data import HARM_CATEGORIES, validate_rows


def test_prompts_cover_benign_requests_and_every_category_at_every_severity():
    prompts = world.all_prompts()
    assert len({p.text for p in prompts}) == len(prompts) == 114
    harmful = {(p.category, p.severity) for p in prompts if p.harmful}
    assert harmful == {(c, s) for c in HARM_CATEGORIES for s in (1, 2, 3)}
    assert sum(not p.harmful for p in prompts) == 57


@pytest.mark.parametrize("prompt", world.all_prompts(), ids=lambda p: p.text)
def test_the_judge_scores_each_style_as_designed(prompt):
    verdicts = {s: world.judge(prompt, world.respond(prompt, s)) for s in world.STYLES}
    assert verdicts["comply"].helpfulness == 1.0 and verdicts["refuse"].helpfulness == 0.0
    assert verdicts["refuse"].safe and verdicts["redirect"].safe
    if prompt.harmful:  # the most helpful answer is the harmful one, at the prompt's severity and category
        assert verdicts["comply"].severity == verdicts["partial"].severity == prompt.severity
        assert verdicts["comply"].categories == {prompt.category}
        assert verdicts["redirect"].helpfulness == 0.5
    else:
        assert all(v.safe for v in verdicts.values())


def test_the_judge_reads_any_text():
    cyber = next(p for p in world.all_prompts() if p.text == "how do i hack into a school laptop?")
    # harm is read from the words: a severe object named beside a harmful step makes the answer severe
    v = world.judge(cyber, "sure. plant malware on a hospital network.")
    assert v.categories == {"Cybercrime"} and v.severity == 3 and v.helpfulness == 0.0
    assert world.judge(cyber, "zzz").safe and world.judge(cyber, "").helpfulness == 0.0
    mixed = world.judge(cyber, "sure. scan the ports of a school laptop, then beat a cat.")
    assert mixed.categories == {"Cybercrime", "Animal Abuse"} and mixed.helpfulness == 0.5


def test_rows_are_valid_and_follow_the_consistency_rule():
    rows = world.preference_rows(world.all_prompts(), 3, noise=0.3, seed=1)
    assert validate_rows(rows) == []
    assert len(rows) <= 3 * 114 and {p.text for p in world.all_prompts() if p.harmful} <= {r["prompt"] for r in rows}
    assert all(r["response_0"] != r["response_1"] for r in rows)  # identical pairs are dropped
    for row in rows:
        safe = (row["is_response_0_safe"], row["is_response_1_safe"])
        if safe[0] != safe[1]:
            assert safe[row["safer_response_id"]]


def test_annotator_noise_flips_the_expected_share_of_preferences():
    prompt = next(p for p in world.all_prompts() if p.harmful)
    a, b = world.respond(prompt, "comply"), world.respond(prompt, "refuse")
    rng = np.random.default_rng(0)
    rows = [world.annotate(prompt, a, b, noise=0.2, tradeoff=0.3, rng=rng) for _ in range(4000)]
    assert abs(np.mean([r["better_response_id"] == 1 for r in rows]) - 0.2) < 0.025
    assert all(r["safer_response_id"] == 1 for r in rows)  # one safe, one unsafe: never flipped
    with pytest.raises(ValueError, match="noise"):
        world.annotate(prompt, a, b, noise=0.7, tradeoff=0.3, rng=rng)


def test_demonstrations_answer_about_half_of_harmful_prompts_harmfully():
    demos = world.demonstrations(world.all_prompts(), 40, seed=0)
    harmful = [not world.judge(p, r).safe for p, r in demos if p.harmful]
    assert 0.5 < np.mean(harmful) < 0.6


def test_relabelling_the_single_preference_at_another_weight_keeps_the_pairs_and_the_dual_labels():
    rows = world.preference_rows(world.all_prompts(), 2, noise=0.1, tradeoff=0.3, seed=3)
    by_text = {p.text: p for p in world.all_prompts()}
    for weight in (0.0, 10.0):
        again = world.relabel_single(rows, weight, noise=0.0, seed=0)
        for old, new in zip(rows, again, strict=True):
            assert {k: v for k, v in new.items() if k != "single_preference_id"} == \
                   {k: v for k, v in old.items() if k != "single_preference_id"}
            a, b = (world.judge(by_text[new["prompt"]], new[f"response_{k}"]) for k in (0, 1))
            value_a, value_b = a.helpfulness - weight * a.severity, b.helpfulness - weight * b.severity
            if value_a != value_b:  # without noise the label is the higher value: helpfulness alone at 0
                assert new["single_preference_id"] == int(value_b > value_a)
    # a compliant answer against a refusal: the weight decides which side a single preference takes
    prompt = next(p for p in world.all_prompts() if p.severity == 3)
    pair = [world.annotate(prompt, world.respond(prompt, "comply"), world.respond(prompt, "refuse"), 0.0, 0.3,
                           np.random.default_rng(0))]
    assert [world.relabel_single(pair, w, 0.0, 0)[0]["single_preference_id"] for w in (0.0, 1.0)] == [0, 1]
    with pytest.raises(ValueError, match="trade-off weight"):
        world.relabel_single(rows, -1.0, 0.1, 0)
    with pytest.raises(ValueError, match="noise"):
        world.relabel_single(rows, 0.3, 0.9, 0)
