"""Score models, Safe RLHF's losses and metrics, the log-space multiplier, and PPO's pieces."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM
from alignbook.rlhf.models import cost_loss, reward_loss, score_model, sign_accuracy
from alignbook.rlhf.ppo import PPOConfig, gae
from alignbook.saferl import Lagrange

CONFIG = BaichuanConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, multiple_of=8)


def test_end_score_reads_the_last_non_pad_token_and_ignores_right_padding():
    torch.manual_seed(0)
    model = score_model(CONFIG).eval()
    ids = torch.tensor([[1, 5, 6, 7, 0, 0], [1, 5, 6, 7, 9, 2]])
    per_token, end = model(ids, lengths=torch.tensor([4, 6]))
    alone = model(ids[:1, :4])[1]
    assert torch.allclose(end[0], alone[0], atol=1e-6)  # causal attention: the pads after it never matter
    assert torch.allclose(end[1], per_token[1, 5]) and per_token.shape == (2, 6, 1)


def test_score_model_starts_from_the_given_decoder():
    body = BaichuanForCausalLM(CONFIG)
    model = score_model(CONFIG, score_dim=23, body=body)
    assert torch.equal(model.decoder.embed.weight, body.embed.weight)
    assert model(torch.tensor([[1, 2, 3]]))[1].shape == (1, 23)


def test_reward_loss_is_bradley_terry_plus_the_score_regulariser():
    better, worse = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    expected = -(F.logsigmoid(torch.tensor(1.0)) + F.logsigmoid(torch.tensor(-1.0))) / 2 + 1e-3 * (4 + 0 + 1 + 1) / 4
    assert reward_loss(better, worse).item() == pytest.approx(expected.item())


def test_cost_loss_sign_terms_push_safe_below_zero_and_unsafe_above():
    safer, unsafer = torch.tensor([-3.0]), torch.tensor([3.0])
    right = cost_loss(safer, unsafer, torch.tensor([True]), torch.tensor([False]), regularisation=0.0)
    wrong_sign = cost_loss(safer + 6, unsafer + 6, torch.tensor([True]), torch.tensor([False]), regularisation=0.0)
    assert right.item() < 0.2 and wrong_sign.item() > 3  # same difference, but the safe answer costs > 0
    # both unsafe: the sign terms want both costs above zero
    both = cost_loss(torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([False]), torch.tensor([False]), 0.0)
    expected = -(F.logsigmoid(torch.tensor(1.0)) + F.logsigmoid(torch.tensor(1.0)) + F.logsigmoid(torch.tensor(2.0)))
    assert both.item() == pytest.approx(expected.item())
    assert sign_accuracy(torch.tensor([-1.0, 0.0, 2.0, -0.5]), torch.tensor([True, True, False, False])) == 0.75


def test_log_space_lagrange_is_safe_rlhfs_rule():
    lam = Lagrange(0.0, init=1.0, lr=0.1, upper_bound=5.0, log_space=True)
    # d/dlog(lam) of -(J_c - d) exp(log lam) is -(J_c - d) lam: one SGD step adds lr * (J_c - d) * lam
    assert lam.update(2.0) == pytest.approx(math.exp(0.2))
    assert lam.update(-1.0) == pytest.approx(math.exp(0.2 - 0.1 * math.exp(0.2)))
    for _ in range(50):
        lam.update(10.0)
    assert lam.value == pytest.approx(5.0)  # capped at lambda_max
    with pytest.raises(ValueError, match="cost_limit"):
        Lagrange(-0.1, log_space=True)
    with pytest.raises(ValueError, match="init"):
        Lagrange(0.0, init=0.0, log_space=True)


def test_gae_with_gamma_one_and_lambda_one_is_the_return_minus_the_value():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.2, 0.1, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # the last column is padding: its value must not leak in
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert torch.allclose(returns[0, :3], torch.ones(3))
    assert torch.allclose(advantages[0, :3], torch.tensor([0.5, 0.8, 0.9]))
    assert advantages[0, 3] == 0


def test_ppo_config_rejects_bad_settings_by_name():
    with pytest.raises(ValueError, match="kl_coeff"):
        PPOConfig(kl_coeff=-0.1)
    with pytest.raises(ValueError, match="threshold"):
        PPOConfig(threshold=-1.0)
    with pytest.raises(ValueError, match="unknown method"):
        PPOConfig(method="dpo")


def test_the_stack_and_one_safe_rlhf_run_end_to_end(tmp_path, monkeypatch):
    """Tiny sizes: SFT policy, data, score models, two PPO iterations; lambda moves as Safe RLHF's rule says,
    and the result is deterministic."""
    from alignbook.rlhf import world
    from alignbook.rlhf.data import validate_rows
    from alignbook.rlhf.pipeline import Stack, build_stack, run_ppo
    from alignbook.rlhf.policies import Sizes

    monkeypatch.setenv("ALIGNBOOK_CACHE", str(tmp_path))
    stack = Stack(sizes=Sizes(hidden=16, layers=1, heads=2, vocab=400, max_response=12), sft_steps=3,
                  pairs_per_prompt=1, score_steps=2, score_batch=4)
    built = build_stack(stack)
    assert validate_rows(built.train_rows + built.test_rows) == []
    from alignbook.rlhf.scoring import encode_rows, evaluate_moderation, evaluate_score_model

    test = encode_rows(built.tokenizer, built.test_rows)
    metrics = evaluate_score_model(built.models["cost"], test, "cost")
    assert set(metrics) == {"accuracy", "sign_accuracy"} and 0 <= metrics["sign_accuracy"] <= 1
    per_category, per_severity = evaluate_moderation(built.models["moderation"], test)
    assert len(per_category) == 19 and per_severity.severity.tolist() == [0, 1, 2, 3]
    assert per_severity.support.sum() == 2 * len(built.test_rows)
    cfg = PPOConfig(method="safe_rlhf", iterations=2, batch=4, max_new=12, window=4)
    log, truth, policy = run_ppo(built, cfg, eval_samples=1)
    assert len(log) == 2 and set(truth) >= {"helpfulness", "harmful_rate", "safe_helpfulness"}
    # lambda's first step: log lambda += lr * (mean cost - threshold) * lambda, from lambda_init = 1
    assert log["lambda"][0] == pytest.approx(math.exp(0.1 * log["cost"][0]), rel=1e-5)
    again, _, _ = run_ppo(built_again := build_stack(stack), cfg, eval_samples=1)
    assert built_again.train_rows == built.train_rows
    assert again.drop(columns="wall_s").equals(log.drop(columns="wall_s"))  # same seed, same numbers
    assert not any(torch.equal(a, b) for a, b in zip(policy.parameters(), built.policy.parameters(), strict=True))
    assert 0 <= truth["harmful_rate"] <= 1 and len(world.all_prompts()) == 114


def test_a_prompt_longer_than_the_limit_is_refused_with_the_limit_named():
    from alignbook.lm.tokenizer import train_tokenizer
    from alignbook.rlhf.policies import encode_prompt

    tokenizer = train_tokenizer(["how do i bake a cake?"], 300)
    with pytest.raises(ValueError, match="longer than the limit of 16"):
        encode_prompt(tokenizer, "how do i bake a cake? " * 10, limit=16)


def test_gae_matches_the_recursion_on_responses_of_different_lengths():
    torch.manual_seed(0)
    rewards, values = torch.randn(6, 9), torch.randn(6, 9)
    lengths = torch.tensor([1, 3, 9, 5, 2, 9])
    mask = (torch.arange(9)[None] < lengths[:, None]).float()
    advantages, returns = gae(rewards, values, mask, gamma=0.9, lam=0.8)
    for i, n in enumerate(lengths.tolist()):
        expected, running = torch.zeros(9), 0.0
        for t in reversed(range(n)):  # delta_t = r_t + gamma V_{t+1} - V_t, with V = 0 after the last token
            next_value = values[i, t + 1] if t + 1 < n else 0.0
            running = rewards[i, t] + 0.9 * next_value - values[i, t] + 0.9 * 0.8 * running
            expected[t] = running
        assert torch.allclose(advantages[i], expected, atol=1e-5)
    assert torch.allclose(returns, advantages + values)


def test_draw_follows_the_probabilities_and_never_picks_a_token_without_mass():
    from alignbook.rlhf.policies import draw

    probs = torch.tensor([[0.0, 0.5, 0.0, 0.3, 0.2, 0.0]]).repeat(20_000, 1)
    tokens = draw(probs, torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=6).float() / len(tokens)
    assert counts[[0, 2, 5]].sum() == 0
    assert torch.allclose(counts, probs[0], atol=0.015)
    again = draw(probs, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)


def test_sampling_with_the_kv_buffer_matches_full_forwards():
    """At a temperature near 0 sampling is greedy: the cached decode must pick what a full forward of the
    whole (left-padded) sequence picks at every step."""
    from alignbook.rlhf.policies import left_pad, sample

    torch.manual_seed(0)
    model = BaichuanForCausalLM(CONFIG).eval()
    prompts = [[1, 5, 6, 7], [1, 9, 3], [1, 4, 4, 8, 12, 30]]
    responses = sample(model, prompts, 6, torch.Generator().manual_seed(0), temperature=1e-4)
    for prompt, response in zip(prompts, responses, strict=True):
        seq = list(prompt)
        for token in response:
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([seq])).logits[0, -1]
            assert token == int(logits.argmax())
            seq.append(token)
    ids, mask = left_pad(prompts, 0)  # the batch's padding must not change the first step's logits
    with torch.no_grad():
        batched = model(input_ids=ids, attention_mask=mask).logits[:, -1]
        alone = model(input_ids=torch.tensor([prompts[1]])).logits[0, -1]
    assert torch.allclose(batched[1], alone, atol=1e-5)


def test_rollout_log_probs_and_values_read_each_response_token():
    """The right-padded layout: log pi(y_t) from the trainer equals the log-softmax of a forward over that row
    alone, for every response token, and the critic's value is its score one position earlier."""
    from alignbook.lm.tokenizer import train_tokenizer
    from alignbook.rlhf.ppo import Rollout, SafeRLHF

    torch.manual_seed(0)
    policy = BaichuanForCausalLM(CONFIG).eval()
    tokenizer = train_tokenizer(["a b c"], 300)
    trainer = SafeRLHF(policy, tokenizer, score_model(CONFIG), score_model(CONFIG), PPOConfig(batch=2, max_new=4))
    prompts, responses = [[1, 5, 6], [1, 7, 8, 9, 10]], [[11, 12, 2], [13]]
    batch = Rollout.of(prompts, responses, 0)
    assert batch.mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    with torch.no_grad():
        logp = trainer.log_probs(trainer.reference, batch)
        values = trainer.values(trainer.reward_critic, batch)
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            seq = torch.tensor([p + r])
            alone = torch.log_softmax(trainer.reference(input_ids=seq).logits[0], -1)
            scores = trainer.reward_critic(seq)[0][0, :, 0]
            for t, token in enumerate(r):
                assert logp[i, t].item() == pytest.approx(alone[len(p) - 1 + t, token].item(), abs=1e-5)
                assert values[i, t].item() == pytest.approx(scores[len(p) - 1 + t].item(), abs=1e-5)


def test_truth_orderings_read_a_cost_upwards_and_a_reward_downwards_with_harm(monkeypatch):
    from alignbook.rlhf import pipeline

    # each "model" is a table of end scores by sequence
    monkeypatch.setattr(pipeline, "end_scores", lambda model, seqs: torch.tensor([[model[s]] for s in seqs]))
    data = {"seqs": [("x", "y"), ("y", "x"), ("x", "z")]}
    help_diff = np.array([0.5, -0.5, 0.0])  # x more helpful than y; x and z equally helpful
    harm_diff = np.array([0, 0, 2])  # x more harmful than z
    reward = {"x": 1.0, "y": 0.0, "z": 0.5}  # right on helpfulness, scores the harmful x above z
    assert pipeline.truth_orderings(reward, "reward", data, help_diff, harm_diff) == {
        "orders helpfulness": 1.0, "orders harm": 0.0}
    cost = {"x": 2.0, "y": 3.0, "z": 0.0}  # a cost rises with harm: right on both
    assert pipeline.truth_orderings(cost, "cost", data, help_diff, harm_diff) == {
        "orders helpfulness": 1.0, "orders harm": 1.0}
    no_difference = pipeline.truth_orderings(reward, "reward", data, np.zeros(3), harm_diff)
    assert np.isnan(no_difference["orders helpfulness"])


def test_decoupling_trains_one_single_model_per_weight_and_seed(tmp_path, monkeypatch):
    from alignbook.rlhf.pipeline import Stack, build_stack, decoupling
    from alignbook.rlhf.policies import Sizes

    monkeypatch.setenv("ALIGNBOOK_CACHE", str(tmp_path))
    built = build_stack(Stack(sizes=Sizes(hidden=16, layers=1, heads=2, vocab=400, max_response=12), sft_steps=3,
                              pairs_per_prompt=1, score_steps=2, score_batch=4))
    study = decoupling(built, (0.1, 3.0), [0, 1])
    assert study.model.tolist() == ["reward + cost models", "single, w = 0.1", "single, w = 3"] * 2
    assert study.seed.tolist() == [0, 0, 0, 1, 1, 1] and study.tradeoff.isna().sum() == 2
    shares = study[["orders helpfulness", "orders harm"]].to_numpy()
    assert (np.isnan(shares) | ((shares >= 0) & (shares <= 1))).all()  # NaN: no held-out pair differs (tiny data)
    signs = study["cost sign accuracy"]  # the dual rows' cost models only; seed 0's is the stack's own
    assert signs.notna().tolist() == [True, False, False] * 2 and ((signs.dropna() >= 0) & (signs.dropna() <= 1)).all()
    from alignbook.rlhf.scoring import encode_rows, evaluate_score_model
    own = evaluate_score_model(built.models["cost"], encode_rows(built.tokenizer, built.test_rows), "cost")
    assert signs.iloc[0] == own["sign_accuracy"]
    assert study.equals(decoupling(built, (0.1, 3.0), [0, 1]))  # same seeds, same models
    with pytest.raises(ValueError, match="at least one trade-off weight"):
        decoupling(built, (), [0])
