"""Score models, Safe RLHF's losses and metrics, the log-space multiplier, and PPO's pieces."""

import math

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
