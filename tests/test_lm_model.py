"""The Baichuan-style decoder: its defining equations and its transformers behaviour."""

import math

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from alignbook.lm.model import BaichuanConfig, BaichuanForCausalLM, alibi_slopes, apply_rope, rope_cos_sin


def tiny(position_embedding="rope", **overrides) -> BaichuanForCausalLM:
    torch.manual_seed(0)
    config = BaichuanConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            position_embedding=position_embedding, **overrides)
    return BaichuanForCausalLM(config)


def test_swiglu_width_is_eight_thirds_rounded_up():
    assert BaichuanConfig(hidden_size=4096, num_attention_heads=32, multiple_of=128).intermediate_size == 11008
    assert BaichuanConfig(hidden_size=96, num_attention_heads=3, multiple_of=16).intermediate_size == 256


def test_norm_head_rows_have_unit_norm_in_the_training_forward():
    model = tiny().train()
    with torch.no_grad():
        model.lm_head.weight.mul_(torch.linspace(0.1, 7.0, 50)[:, None])  # rows of very different lengths
    seen = {}
    model.lm_head.register_forward_hook(lambda m, args, out: seen.update(h=args[0], logits=out))
    ids = torch.randint(0, 50, (2, 6))
    model(ids, labels=ids).loss.backward()
    rows = model.lm_head.effective_weight()
    assert torch.allclose(rows.norm(dim=-1), torch.ones(50), atol=1e-6)
    assert torch.allclose(seen["logits"], seen["h"] @ rows.T, atol=1e-5)
    assert model.lm_head.weight.grad is not None  # the raw rows still learn (their direction)
    # Without NormHead the same weights give different logits: the switch really switches.
    plain = tiny(norm_head=False)
    plain.load_state_dict(model.state_dict())
    assert not torch.allclose(plain(ids).logits, model(ids).logits)


def test_max_z_term_equals_its_formula():
    model = tiny(z_loss_weight=2e-4)
    ids = torch.randint(0, 50, (3, 7))
    out = model(ids, labels=ids)
    logits = out.logits[:, :-1]
    expected_z = 2e-4 * logits.max(dim=-1).values.pow(2).mean()
    expected_ce = F.cross_entropy(logits.reshape(-1, 50), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.z_loss, expected_z, rtol=1e-5)
    assert torch.allclose(out.loss, expected_ce + expected_z, rtol=1e-5)
    assert math.isclose(out.max_logit.item(), logits.max().item(), rel_tol=1e-6)
    assert tiny(z_loss_weight=0.0)(ids, labels=ids).z_loss.item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])  # float32 on the CPU: NumPy's argmax
def test_fused_ce_and_max_z_gradient_equals_autograd_of_the_formula(dtype):
    from alignbook.lm.fused import ce_and_max_z

    torch.manual_seed(0)
    logits = (3 * torch.randn(40, 30, dtype=dtype)).requires_grad_()
    targets = torch.randint(0, 30, (40,))
    targets[::5] = -100  # ignored rows take no part in either mean
    ce, z, top = ce_and_max_z(logits, targets, 2e-4)
    (ce + 3.0 * z).backward()
    fused = logits.grad.clone()
    logits.grad = None
    kept = targets != -100
    ref_ce = F.cross_entropy(logits, targets, ignore_index=-100)
    ref_z = 2e-4 * logits.max(dim=-1).values[kept].pow(2).mean()
    (ref_ce + 3.0 * ref_z).backward()
    assert torch.allclose(ce, ref_ce) and torch.allclose(z, ref_z)
    assert top.item() == logits.detach()[kept].max().item()
    assert torch.allclose(fused, logits.grad, atol=1e-12 if dtype == torch.float64 else 1e-7)


def test_the_accelerated_model_gives_the_reference_loss_and_gradients():
    from alignbook.lm.fused import accelerate

    model, ids = tiny(), torch.randint(0, 50, (3, 12))
    results = []
    for fused in (False, True):
        if fused:
            accelerate(model)
        model.zero_grad()
        out = model(ids, labels=ids)
        out.loss.backward()
        results.append((out.loss.detach(), out.ce_loss.detach(), out.max_logit,
                        [p.grad.clone() for p in model.parameters()]))
    (loss, ce, top, grads), (f_loss, f_ce, f_top, f_grads) = results
    assert torch.allclose(loss, f_loss, rtol=1e-6) and torch.allclose(ce, f_ce, rtol=1e-6) and top == f_top
    assert loss > 0 and all(torch.allclose(a, b, rtol=1e-4, atol=1e-7) for a, b in zip(grads, f_grads, strict=True))


def test_row_argmax_is_the_first_maximum_like_torch():
    from alignbook.lm.fused import row_argmax

    x = torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, -1.0, 5.0, 5.0], [-2.0, -1.0, -3.0, -1.5]])
    assert row_argmax(x).tolist() == [1, 0, 1] == x.argmax(dim=-1).tolist()
    big = torch.randn(64, 1000)
    assert torch.equal(row_argmax(big), big.argmax(dim=-1))
    assert torch.equal(row_argmax(big.double()), big.double().argmax(dim=-1))


def test_alibi_slopes_match_the_standard_formula():
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    assert torch.allclose(alibi_slopes(4), torch.tensor([0.25, 0.0625, 0.015625, 0.00390625]))
    # 12 heads: the 8 slopes of 8 heads, then slopes 1, 3, 5, 7 of 16 heads (2^-0.5, 2^-1.5, ...)
    twelve = [2.0 ** -(i + 1) for i in range(8)] + [2.0 ** -(0.5 + i) for i in range(4)]
    assert torch.allclose(alibi_slopes(12), torch.tensor(twelve))


@pytest.mark.parametrize("position_embedding", ["rope", "alibi"])
def test_attention_is_causal(position_embedding):
    model = tiny(position_embedding).eval()
    ids = torch.randint(0, 50, (1, 10))
    changed = ids.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % 50
    before, after = model(ids).logits, model(changed).logits
    assert torch.allclose(before[:, :6], after[:, :6], atol=1e-6)
    assert not torch.allclose(before[:, 6:], after[:, 6:])


def test_rope_scores_depend_only_on_relative_position():
    torch.manual_seed(1)
    q, k = torch.randn(16), torch.randn(16)

    def score(m, n):
        cos, sin = rope_cos_sin(torch.tensor([m, n]), 16, 10000.0)
        return apply_rope(q, cos[0], sin[0]) @ apply_rope(k, cos[1], sin[1])

    assert torch.allclose(score(3, 1), score(103, 101), atol=1e-4)
    assert torch.allclose(score(7, 7), q @ k, atol=1e-4)  # same position: rotations cancel
    assert not torch.allclose(score(3, 1), score(3, 2), atol=1e-3)


@pytest.mark.parametrize("position_embedding", ["rope", "alibi"])
def test_save_load_round_trip_gives_identical_logits(position_embedding, tmp_path):
    model = tiny(position_embedding).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()  # no trust_remote_code needed
    assert isinstance(loaded, BaichuanForCausalLM)
    assert loaded.config.position_embedding == position_embedding
    ids = torch.randint(0, 50, (2, 9))
    assert torch.equal(model(ids).logits, loaded(ids).logits)


@pytest.mark.parametrize("position_embedding", ["rope", "alibi"])
def test_generate_with_and_without_cache_gives_the_same_tokens(position_embedding):
    model = tiny(position_embedding).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20)  # sharpen the distribution so greedy choices are not near-ties
    ids = torch.randint(3, 50, (2, 5))
    kwargs = dict(max_new_tokens=12, do_sample=False, pad_token_id=0, eos_token_id=None)
    cached = model.generate(ids, use_cache=True, **kwargs)
    uncached = model.generate(ids, use_cache=False, **kwargs)
    assert cached.shape == (2, 17)
    assert torch.equal(cached, uncached)


def test_left_padding_does_not_change_the_continuation():
    model = tiny("alibi").eval()
    ids = torch.randint(3, 50, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], dim=1)
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 6, dtype=torch.long)], dim=1)
    plain = model(ids).logits[:, -1]
    with_pad = model(padded, attention_mask=mask).logits[:, -1]
    assert torch.allclose(plain, with_pad, atol=1e-5)


def test_bad_configs_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="multiple of num_attention_heads"):
        BaichuanConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="unknown position_embedding 'learned'.*rope, alibi"):
        BaichuanConfig(position_embedding="learned")
