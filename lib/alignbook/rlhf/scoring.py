"""Training and evaluating the score models on preference rows in PKU-SafeRLHF's columns.

``kind`` says which preference a model learns: ``reward`` (better_response_id), ``cost`` (safer_response_id,
with the safety labels for the sign terms) or ``single`` (the one trade-off preference, a reward model that
must weigh helpfulness and harm at once).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from alignbook.devices import device_of
from alignbook.lm.train import TrainConfig, optimiser
from alignbook.rlhf.data import HARM_CATEGORIES, SEVERITY_LEVELS
from alignbook.rlhf.models import (
    ScoreModel,
    cost_loss,
    moderation_loss,
    moderation_predict,
    pairwise_accuracy,
    reward_loss,
    sign_accuracy,
)
from alignbook.rlhf.policies import descend, encode_prompt, encode_response, right_pad

KINDS = {"reward": "better_response_id", "cost": "safer_response_id", "single": "single_preference_id"}


def encode_rows(tokenizer, rows) -> dict[str, object]:
    """Token ids of both responses of every row (prompt included) and the labels as arrays."""
    seqs = []
    for row in rows:
        prompt = encode_prompt(tokenizer, row["prompt"])
        seqs.append([prompt + encode_response(tokenizer, row[f"response_{k}"]) for k in (0, 1)])
    out: dict[str, object] = {"seqs": seqs}
    for name in (*KINDS.values(), "is_response_0_safe", "is_response_1_safe", "response_0_severity_level",
                 "response_1_severity_level"):
        if name in rows[0]:
            out[name] = np.array([row[name] for row in rows])
    for k in (0, 1):
        out[f"categories_{k}"] = np.array([[row[f"response_{k}_harm_category"][c] for c in HARM_CATEGORIES]
                                           for row in rows])
    return out


@torch.no_grad()
def end_scores(model: ScoreModel, seqs: list[list[int]], batch: int = 256) -> torch.Tensor:
    """The end score of each token sequence, shape (n, score_dim)."""
    model.eval()
    parts = []
    for i in range(0, len(seqs), batch):
        ids, lengths = right_pad(seqs[i: i + batch], model.config.pad_token_id, device_of(model))
        parts.append(model(ids, lengths=lengths)[1])
    return torch.cat(parts)


def _pairs(data: dict, kind: str, index: np.ndarray, device: torch.device):
    """(preferred sequences, other sequences, is_safe of each on ``device``) for rows ``index``."""
    chosen = data[KINDS[kind]][index]
    safe = np.stack([data["is_response_0_safe"], data["is_response_1_safe"]], axis=1)[index]
    seqs = [data["seqs"][i] for i in index]
    first = [s[c] for s, c in zip(seqs, chosen, strict=True)]
    second = [s[1 - c] for s, c in zip(seqs, chosen, strict=True)]
    rows = np.arange(len(index))
    return (first, second, torch.tensor(safe[rows, chosen], device=device),
            torch.tensor(safe[rows, 1 - chosen], device=device))


def train_score_model(model: ScoreModel, data: dict, kind: str, cfg: TrainConfig,
                      regularisation: float = 1e-3) -> pd.DataFrame:
    """Fit ``model`` to one kind of preference with Safe RLHF's loss; returns the training log."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}")
    rng = np.random.default_rng(cfg.seed)
    opt = optimiser(model, cfg)
    log = []
    model.train()
    for step in range(cfg.steps):
        first, second, first_safe, second_safe = _pairs(data, kind, rng.integers(len(data["seqs"]),
                                                                                   size=cfg.batch_size),
                                                        device_of(model))
        ids, lengths = right_pad(first + second, model.config.pad_token_id, device_of(model))
        scores = model(ids, lengths=lengths)[1].squeeze(-1)
        a, b = scores[: cfg.batch_size], scores[cfg.batch_size:]
        if kind == "cost":  # "first" is the safer response: the unsafer one must cost more
            loss = cost_loss(a, b, first_safe, second_safe, regularisation)
        else:
            loss = reward_loss(a, b, regularisation)
        descend(opt, model, loss, step, cfg)
        log.append({"step": step + 1, "loss": loss.item()})
    model.eval()
    return pd.DataFrame(log)


def evaluate_score_model(model: ScoreModel, data: dict, kind: str) -> dict[str, float]:
    """Pairwise accuracy on the given preference; for cost models also the sign accuracy."""
    index = np.arange(len(data["seqs"]))
    first, second, first_safe, second_safe = _pairs(data, kind, index, device_of(model))
    a, b = end_scores(model, first).squeeze(-1), end_scores(model, second).squeeze(-1)
    out = {"accuracy": pairwise_accuracy(b, a) if kind == "cost" else pairwise_accuracy(a, b)}
    if kind == "cost":
        out["sign_accuracy"] = sign_accuracy(torch.cat([a, b]), torch.cat([first_safe, second_safe]))
    return out


# ---------------------------------------------------------------- moderation

def _responses(data: dict, index: np.ndarray, device: torch.device):
    seqs = [data["seqs"][i][k] for i in index for k in (0, 1)]
    categories = np.stack([data["categories_0"][index], data["categories_1"][index]], axis=1).reshape(-1, 19)
    severity = np.stack([data["response_0_severity_level"][index], data["response_1_severity_level"][index]],
                        axis=1).reshape(-1)
    return seqs, torch.tensor(categories, device=device), torch.tensor(severity, device=device)


def train_moderation(model: ScoreModel, data: dict, cfg: TrainConfig) -> pd.DataFrame:
    """Fit the 19 categories and the severity level of each (prompt, response)."""
    rng = np.random.default_rng(cfg.seed)
    opt = optimiser(model, cfg)
    log = []
    model.train()
    for step in range(cfg.steps):
        seqs, categories, severity = _responses(data, rng.integers(len(data["seqs"]), size=cfg.batch_size),
                                                device_of(model))
        ids, lengths = right_pad(seqs, model.config.pad_token_id, device_of(model))
        loss = moderation_loss(model(ids, lengths=lengths)[1], categories, severity)
        descend(opt, model, loss, step, cfg)
        log.append({"step": step + 1, "loss": loss.item()})
    model.eval()
    return pd.DataFrame(log)


def evaluate_moderation(model: ScoreModel, data: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per category (support, precision, recall) and per true severity level (support, share flagged as
    harmful, share given the exact level)."""
    seqs, categories, severity = _responses(data, np.arange(len(data["seqs"])), device_of(model))
    predicted_categories, predicted_severity = moderation_predict(end_scores(model, seqs))
    per_category = []
    for j, name in enumerate(HARM_CATEGORIES):
        truth, guess = categories[:, j].bool(), predicted_categories[:, j]
        hits = (truth & guess).sum().item()
        per_category.append({"category": name, "support": truth.sum().item(),
                             "precision": hits / max(guess.sum().item(), 1),
                             "recall": hits / truth.sum().item() if truth.any() else float("nan")})
    flagged = (predicted_severity > 0) | predicted_categories.any(dim=1)
    per_severity = []
    for level, name in SEVERITY_LEVELS.items():
        rows = severity == level
        n = rows.sum().item()
        per_severity.append({"severity": level, "name": name, "support": n,
                             "flagged": flagged[rows].float().mean().item() if n else float("nan"),
                             "level_accuracy": (predicted_severity[rows] == level).float().mean().item()
                             if n else float("nan")})
    return pd.DataFrame(per_category), pd.DataFrame(per_severity)
