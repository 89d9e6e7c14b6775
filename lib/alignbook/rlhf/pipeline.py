"""The world's whole stack in one cached call: tokenizer, SFT policy, preference data sampled from it, and the
reward, cost, single-preference and moderation models trained on that data.

The PKU-SafeRLHF chapter calls it and so does the Aligner chapter; the second caller reads everything from
the cache. Sizes are plain arguments (``Stack``); nothing here reads the book's scale table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from alignbook.cache import cached
from alignbook.devices import device_key, device_of
from alignbook.lm.train import TrainConfig
from alignbook.rlhf import world
from alignbook.rlhf.models import MODERATION_OUTPUTS, ScoreModel, score_model
from alignbook.rlhf.policies import SFT_SOURCES, Sizes, generate_text, sft_policy
from alignbook.rlhf.ppo import PPOConfig, SafeRLHF, evaluate_policy
from alignbook.rlhf.scoring import (
    encode_rows,
    end_scores,
    evaluate_score_model,
    train_moderation,
    train_score_model,
)

SCORE_KINDS = ("reward", "cost", "single", "moderation")


@dataclass(frozen=True)
class Stack:
    """Every setting of the stack; the cache key."""

    sizes: Sizes = field(default_factory=Sizes)
    sft_steps: int = 400
    pairs_per_prompt: int = 4
    noise: float = 0.1
    tradeoff: float = 0.3
    score_steps: int = 150
    score_batch: int = 16
    score_lr: float = 1e-3
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.noise <= 0.5:
            raise ValueError(f"noise is a flip probability in [0, 0.5], got {self.noise}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


@dataclass
class Built:
    stack: Stack
    tokenizer: object
    policy: object
    train_rows: list[dict]
    test_rows: list[dict]
    models: dict[str, ScoreModel]
    logs: dict[str, list[float]]


def policy_responder(policy, tokenizer, max_new: int):
    """A ``world.preference_rows`` responder that samples the policy."""
    def respond(prompts, seed):
        return generate_text(policy, tokenizer, prompts, max_new, seed)
    return respond


def train_scores(stack: Stack, policy, tokenizer, rows: list[dict], kinds=SCORE_KINDS, seed: int | None = None):
    """Score models of the given kinds, each starting from the policy's weights (as Safe RLHF starts its
    reward and cost models from the SFT model); returns models and loss logs."""
    data = encode_rows(tokenizer, rows)
    models, logs = {}, {}
    for i, kind in enumerate(kinds):
        cfg = TrainConfig(steps=stack.score_steps, batch_size=stack.score_batch, seq_len=64, lr=stack.score_lr,
                          warmup_steps=stack.score_steps // 10, seed=(stack.seed if seed is None else seed) + i)
        torch.manual_seed(cfg.seed)
        model = score_model(stack.sizes.config(), MODERATION_OUTPUTS if kind == "moderation" else 1, body=policy,
                            device=device_of(policy))
        log = train_moderation(model, data, cfg) if kind == "moderation" else train_score_model(model, data, kind, cfg)
        models[kind], logs[kind] = model, log["loss"].tolist()
    return models, logs


def build_stack(stack: Stack, device: torch.device | str = "cpu") -> Built:
    """Build (or read from the cache) the tokenizer, SFT policy, data and score models of ``stack``, on
    ``device``."""
    device = torch.device(device)
    tokenizer, policy = sft_policy(stack.sizes, stack.sft_steps, seed=stack.seed, device=device)
    settings = {**asdict(stack), "world": world.fingerprint(), **device_key(device)}

    def build(folder: Path) -> None:
        rows = world.preference_rows(world.all_prompts(), stack.pairs_per_prompt, stack.noise, stack.tradeoff,
                                     stack.seed, policy_responder(policy, tokenizer, stack.sizes.max_response),
                                     source="sft")
        order = np.random.default_rng(stack.seed).permutation(len(rows))
        cut = round(len(rows) * (1 - stack.test_fraction))
        split = {"train": [rows[i] for i in order[:cut]], "test": [rows[i] for i in order[cut:]]}
        models, logs = train_scores(stack, policy, tokenizer, split["train"])
        for kind, model in models.items():
            save_file(model.state_dict(), folder / f"{kind}.safetensors")
        (folder / "rows.json").write_text(json.dumps(split))
        (folder / "logs.json").write_text(json.dumps(logs))

    stack_sources = (*SFT_SOURCES, *(Path(__file__).parent / name for name in ("models.py", "scoring.py", "pipeline.py")))
    folder = cached("rlhf_stack", settings, build, sources=stack_sources)
    split = json.loads((folder / "rows.json").read_text())
    models = {}
    for kind in SCORE_KINDS:
        model = score_model(stack.sizes.config(), MODERATION_OUTPUTS if kind == "moderation" else 1, device=device)
        model.load_state_dict(load_file(folder / f"{kind}.safetensors"))
        models[kind] = model.eval()
    return Built(stack, tokenizer, policy, split["train"], split["test"], models,
                 json.loads((folder / "logs.json").read_text()))


def truth_differences(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, response 0's true helpfulness and severity minus response 1's (the world's judge)."""
    verdicts = world.judge_rows(rows)
    return (np.array([a.helpfulness - b.helpfulness for a, b in verdicts]),
            np.array([a.severity - b.severity for a, b in verdicts]))


def truth_orderings(model: ScoreModel, kind: str, data: dict, help_diff: np.ndarray,
                    harm_diff: np.ndarray) -> dict[str, float]:
    """The share of pairs with a true helpfulness (harm) difference that ``model``'s end scores order the right
    way; a cost rises with harm, a reward or a single preference with helpfulness. NaN where no pair differs."""
    scores = [end_scores(model, [s[k] for s in data["seqs"]])[:, 0].cpu().numpy() for k in (0, 1)]
    model_diff = np.sign(scores[0] - scores[1]) * (-1 if kind == "cost" else 1)  # + means "more helpful"

    def share(diff: np.ndarray, more_helpful_when: int) -> float:
        keep = diff != 0
        return float(np.mean(model_diff[keep] == np.sign(diff[keep]) * more_helpful_when)) if keep.any() else np.nan

    return {"orders helpfulness": share(help_diff, 1), "orders harm": share(harm_diff, -1)}


def decoupling(built: Built, tradeoffs, seeds, steps: int | None = None) -> pd.DataFrame:
    """One preference against two, as Safe RLHF frames it, on the same training pairs: the reward and cost
    models (the dual preferences) and, for each trade-off weight w, a single-preference model trained on the
    pairs' single label at w (helpfulness minus w per severity level, with the annotators' noise). Each seed
    retrains every model (seed ``built.stack.seed`` reuses the stack's reward and cost models). One row per
    seed and model: how often it orders the held-out pairs' true harm and helpfulness the right way (and, for the
    cost model, how often its sign tells unsafe from safe answers: each seed's cost model is one training run of
    that claim). ``steps``:
    each model's training steps (default the stack's)."""
    tradeoffs, seeds = tuple(float(w) for w in tradeoffs), list(seeds)
    if not tradeoffs or not seeds:
        raise ValueError("decoupling needs at least one trade-off weight and one seed")
    stack = built.stack if steps is None else replace(built.stack, score_steps=steps)
    test = encode_rows(built.tokenizer, built.test_rows)
    help_diff, harm_diff = truth_differences(built.test_rows)
    # each weight's labels are drawn once, so that seeds differ only in training
    labelled = {w: world.relabel_single(built.train_rows, w, stack.noise, seed=stack.seed + round(1000 * w))
                for w in tradeoffs}
    rows = []
    for seed in seeds:
        offset = stack.seed + 1000 + 10 * seed  # never the stack's own training seeds
        if seed == stack.seed and stack == built.stack:
            dual = {k: built.models[k] for k in ("reward", "cost")}
        else:
            dual, _ = train_scores(stack, built.policy, built.tokenizer, built.train_rows, ("reward", "cost"),
                                   seed=offset)
        rows.append({"seed": seed, "model": "reward + cost models", "tradeoff": np.nan,
                     "orders helpfulness": truth_orderings(dual["reward"], "reward", test, help_diff,
                                                           harm_diff)["orders helpfulness"],
                     "orders harm": truth_orderings(dual["cost"], "cost", test, help_diff, harm_diff)["orders harm"],
                     "cost sign accuracy": evaluate_score_model(dual["cost"], test, "cost")["sign_accuracy"]})
        for w in tradeoffs:
            single, _ = train_scores(stack, built.policy, built.tokenizer, labelled[w], ("single",), seed=offset)
            rows.append({"seed": seed, "model": f"single, w = {w:g}", "tradeoff": w,
                         **truth_orderings(single["single"], "single", test, help_diff, harm_diff)})
    return pd.DataFrame(rows)


def method_configs(fixed_lambdas, **common) -> dict[str, PPOConfig]:
    """The chapter's methods on one budget: RLHF (reward only), Safe RLHF (adaptive lambda) and reward
    shaping at each fixed lambda; ``common`` is every other PPO setting, shared by all."""
    out = {"RLHF": PPOConfig(method="rlhf", **common), "Safe RLHF": PPOConfig(method="safe_rlhf", **common)}
    for lam in fixed_lambdas:
        out[f"shaping lambda={lam:g}"] = PPOConfig(method="shaping", fixed_lambda=float(lam), **common)
    return out


def run_ppo(built: Built, cfg: PPOConfig, eval_samples: int, policy=None, models=None, progress=None):
    """Train one policy from ``policy`` (default the SFT policy) and judge it by the world's truth; returns
    (training log, truth metrics, trained policy)."""
    models = built.models if models is None else models
    trainer = SafeRLHF(built.policy if policy is None else policy, built.tokenizer, models["reward"],
                       models["cost"], cfg)
    log = trainer.train(world.all_prompts(), progress)
    truth = evaluate_policy(trainer.policy, built.tokenizer, world.all_prompts(), eval_samples,
                            cfg.max_new, seed=cfg.seed + 10_000)
    return log, truth, trainer.policy


def iterate_rounds(built: Built, rounds: int, cfg: PPOConfig, eval_samples: int, first_round=None,
                   progress=None) -> list[dict]:
    """Safe RLHF's iterative loop: each round samples new preference data from the current policy, retrains
    the reward and cost models on all data so far, and runs Safe RLHF again from the current policy. Returns
    the truth metrics of the SFT policy (round 0) and after each round. ``first_round``, a (truth, policy)
    pair from ``run_ppo(built, cfg with seed cfg.seed + 1, ...)``, saves rerunning round 1."""
    prompts = world.all_prompts()
    truth = evaluate_policy(built.policy, built.tokenizer, prompts, eval_samples, cfg.max_new, cfg.seed + 10_000)
    history = [{"round": 0, **truth}]
    policy, rows, models = built.policy, list(built.train_rows), built.models
    for k in range(1, rounds + 1):
        if k > 1:  # round 1 uses the SFT policy's data; later rounds add data from the newest policy
            rows += world.preference_rows(prompts, built.stack.pairs_per_prompt, built.stack.noise,
                                          built.stack.tradeoff, built.stack.seed + k,
                                          policy_responder(policy, built.tokenizer, cfg.max_new), source=f"round{k}")
            models, _ = train_scores(built.stack, built.policy, built.tokenizer, rows, ("reward", "cost"),
                                     seed=built.stack.seed + 100 * k)
        if k == 1 and first_round is not None:
            truth, policy = first_round
        else:
            _, truth, policy = run_ppo(built, replace(cfg, seed=cfg.seed + k), eval_samples, policy, models,
                                       progress)
        history.append({"round": k, **truth, "pairs": len(rows)})
    return history
