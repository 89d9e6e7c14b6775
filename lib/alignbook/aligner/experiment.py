"""The Aligner chapter's experiment on the PKU-SafeRLHF world: upstream models of different quality and
safety (each a plain text-in, text-out function), training triples from the base models' answers to the training
questions, win rates of the corrected over the original answers (fresh answers, on the held-out questions as the
paper measures and on the training questions beside them; five of the seven models never seen in training), and
the cost of one Aligner against per-model RLHF.

Everything the previous chapter built is read through ``build_stack`` and ``sft_policy`` (built when the cache
is empty); the PPO policies are cached here by their settings and code.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from alignbook.aligner.data import ideal_correction, world_triples
from alignbook.aligner.model import ALIGNER_SOURCES, correct, win_rate
from alignbook.cache import cached
from alignbook.devices import device_key, device_of
from alignbook.lm.model import BaichuanForCausalLM
from alignbook.rlhf import world
from alignbook.rlhf.pipeline import Built, run_ppo
from alignbook.rlhf.policies import decode_response, encode_prompt, sample, sft_policy
from alignbook.rlhf.ppo import PPOConfig

_RLHF = Path(__file__).resolve().parents[1] / "rlhf"
PPO_SOURCES = (*ALIGNER_SOURCES, *(_RLHF / n for n in ("models.py", "scoring.py", "pipeline.py", "ppo.py")))


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def policy_fn(model, tokenizer, max_new: int, seed: int):
    """A policy as a text-in, text-out function (batched: it takes the whole list of questions)."""
    def answer(questions):
        single = isinstance(questions, str)
        qs = [questions] if single else list(questions)
        generator = torch.Generator().manual_seed(seed)
        ids = sample(model, [encode_prompt(tokenizer, q) for q in qs], max_new, generator)
        out = [decode_response(tokenizer, r) for r in ids]
        return out[0] if single else out
    return answer


def scripted_fn(style: str):
    """An upstream that answers every question in one of the world's styles (e.g. always comply)."""
    by_text = {p.text: p for p in world.all_prompts()}

    def answer(questions):
        if isinstance(questions, str):
            return world.respond(by_text[questions], style)
        return [world.respond(by_text[q], style) for q in questions]
    return answer


def ppo_policy(built: Built, cfg: PPOConfig) -> tuple[BaichuanForCausalLM, dict]:
    """``run_ppo`` through the cache: the trained policy (on the SFT policy's device) and {seconds, parameters
    trained}."""
    device = device_of(built.policy)
    settings = {"stack": asdict(built.stack), "ppo": asdict(cfg), "world": world.fingerprint(), **device_key(device)}

    def build(folder: Path) -> None:
        start = time.perf_counter()
        _, _, policy = run_ppo(built, cfg, eval_samples=1)
        seconds = time.perf_counter() - start
        critics = 2 if cfg.method == "safe_rlhf" or cfg.method == "shaping" else 1
        trained = parameters(policy) + critics * parameters(built.models["reward"])
        save_file(policy.state_dict(), folder / "policy.safetensors")
        (folder / "cost.json").write_text(json.dumps({"seconds": seconds, "trained_parameters": trained}))

    folder = cached("aligner_upstream_ppo", settings, build, sources=PPO_SOURCES)
    model = BaichuanForCausalLM(built.stack.sizes.config())
    model.load_state_dict(load_file(folder / "policy.safetensors"))
    return model.to(device).eval(), json.loads((folder / "cost.json").read_text())


# The base models (the world's SFT policy and an under-trained one) whose answers the training triples correct; the
# other five upstream models never give a training answer, so the Aligner meets them first in evaluation.
TRAINING_UPSTREAMS = ("SFT (under-trained)", "SFT")
EVAL_SEED_OFFSET = 10_000  # evaluation answers are fresh samples, never the ones the triples were built from


def upstream_models(built: Built, ppo: PPOConfig, undertrained_steps: int, fixed_lambda: float):
    """Seven upstream models, from the world's worst to its best: an under-trained SFT policy, the SFT policy,
    RLHF, Safe RLHF, reward shaping at a fixed lambda, always-comply and refuse-everything functions.
    Returns ({name: policy model, or the style a scripted function answers in}, {name: RLHF cost})."""
    _, weak = sft_policy(built.stack.sizes, undertrained_steps, seed=built.stack.seed, device=device_of(built.policy))
    models, costs = {"SFT (under-trained)": weak, "SFT": built.policy}, {}
    for name, cfg in (("RLHF", replace(ppo, method="rlhf")), ("Safe RLHF", replace(ppo, method="safe_rlhf")),
                      (f"shaping lambda={fixed_lambda:g}", replace(ppo, method="shaping", fixed_lambda=fixed_lambda))):
        models[name], costs[name] = ppo_policy(built, cfg)
    models["always comply"], models["refuse everything"] = "comply", "refuse"
    return models, costs


def upstream_fns(models: dict, tokenizer, max_new: int, seed: int) -> dict:
    """Each upstream model as a text-in, text-out function; the policies sample with ``seed``."""
    return {name: scripted_fn(m) if isinstance(m, str) else policy_fn(m, tokenizer, max_new, seed)
            for name, m in models.items()}


def answered(upstreams: dict, prompts) -> dict:
    """Each upstream's answers to ``prompts`` asked once, as text functions that look them up: every Aligner
    then corrects the same answers, and sampling the policies is not repeated per Aligner."""
    out = {}
    for name, fn in upstreams.items():
        table = dict(zip([p.text for p in prompts], fn([p.text for p in prompts]), strict=True))
        out[name] = lambda qs, table=table: table[qs] if isinstance(qs, str) else [table[q] for q in qs]
    return out


def training_triples(upstreams: dict, prompts, samples: int) -> list[dict]:
    """Question/answer/correction rows from the upstream models' answers on the training prompts, corrections
    filtered by the judge (``world_triples``)."""
    rows = []
    asked = [p for p in prompts for _ in range(samples)]
    for fn in upstreams.values():
        rows += world_triples(asked, fn([p.text for p in asked]))
    return rows


def evaluate(aligner, tokenizer, upstreams: dict, prompts, max_new: int, seed: int = 0
             ) -> tuple[pd.DataFrame, dict]:
    """Per upstream model: the win rates of the corrected over the original answers on ``prompts``, those of the
    ideal corrections (the ceiling), and the judge's mean helpfulness and harmful rate before and after. Also
    returns the corrections themselves."""
    rows, texts = [], {}
    questions = [p.text for p in prompts]
    for name, fn in upstreams.items():
        out = correct(aligner, tokenizer, fn, questions, max_new, seed)
        failed = [c.error for c in out if c.error]
        if failed:
            raise RuntimeError(f"upstream {name!r} failed: {failed[0]}")
        answers, fixed = [c.answer for c in out], [c.correction for c in out]
        before = [world.judge(p, a) for p, a in zip(prompts, answers, strict=True)]
        after = [world.judge(p, c) for p, c in zip(prompts, fixed, strict=True)]
        ceiling = win_rate(prompts, answers, [ideal_correction(p, a) for p, a in zip(prompts, answers, strict=True)])
        rows.append({"upstream": name, "in training": name in TRAINING_UPSTREAMS, **win_rate(prompts, answers, fixed),
                     "helpfulness ceiling": ceiling["helpfulness"], "harmlessness ceiling": ceiling["harmlessness"],
                     "helpfulness before": sum(v.helpfulness for v in before) / len(prompts),
                     "helpfulness after": sum(v.helpfulness for v in after) / len(prompts),
                     "harmful before": sum(not v.safe for v in before) / len(prompts),
                     "harmful after": sum(not v.safe for v in after) / len(prompts)})
        texts[name] = list(zip(questions, answers, fixed, strict=True))
    return pd.DataFrame(rows), texts


def weak_to_strong(aligner, tokenizer, strong, prompts, samples: int, steps: int, lr: float, max_new: int,
                   eval_samples: int, seed: int, eval_sets: dict | None = None) -> dict[tuple[str, str], dict]:
    """A stronger policy fine-tuned on the (weaker) Aligner's corrections of its own answers to ``prompts`` (the
    Aligner's training questions), against the same policy fine-tuned on its own answers for the same steps.
    Returns the truth metrics of the three policies on each of ``eval_sets`` ({name: prompts}; default: all
    prompts), keyed (policy, set)."""
    from alignbook.lm.train import TrainConfig
    from alignbook.rlhf.policies import sft
    from alignbook.rlhf.ppo import evaluate_policy

    asked = [p for p in prompts for _ in range(samples)]
    out = correct(aligner, tokenizer, policy_fn(strong, tokenizer, max_new, seed), [p.text for p in asked],
                  max_new, seed)
    data = {"own answers": [(p, c.answer) for p, c in zip(asked, out, strict=True)],
            "Aligner corrections": [(p, c.correction) for p, c in zip(asked, out, strict=True)]}
    eval_sets = {"all": world.all_prompts()} if eval_sets is None else eval_sets
    result = {}

    def score(name, policy):
        for k, ps in eval_sets.items():
            result[name, k] = evaluate_policy(policy, tokenizer, ps, eval_samples, max_new, seed + EVAL_SEED_OFFSET)

    score("strong policy", strong)
    for name, demos in data.items():
        model = BaichuanForCausalLM(strong.config).to(device_of(strong))
        model.load_state_dict(strong.state_dict())
        cfg = TrainConfig(steps=steps, batch_size=32, seq_len=64, lr=lr, warmup_steps=steps // 10, seed=seed)
        sft(model, tokenizer, demos, cfg)
        score(f"fine-tuned on {name}", model)
    return result
