"""Safe RLHF: PPO-Lagrangian on a language-model policy, with reward and cost models (Dai et al. 2024).

One iteration, in the upstream trainer's order:

1. sample a response to each prompt of a batch; score it with the reward model r and the cost model c;
2. the multiplier step (before the policy step): lambda from ``alignbook.saferl.Lagrange`` in log space,
   fed the mean cost-model score of the last ``window`` episodes, against the ``threshold``;
3. per-token rewards and costs: every response token t gets ``-beta/2 kl_t`` (reward) and ``+beta/2 kl_t``
   (cost), ``kl_t = log pi(y_t) - log pi_ref(y_t)``; the last token adds the clipped end scores;
4. GAE (gamma 1, lambda 0.95) for reward and cost, each with its own critic;
5. the actor's PPO-clip step on ``A = (A_r - lambda A_c) / (1 + lambda)``;
6. the two critics' clipped value steps.

The baselines run the same code: RLHF is lambda = 0 (the cost model unused), reward shaping a fixed lambda on
the shaped advantage ``A_r - lambda A_c`` (the advantage of the shaped reward r - lambda c).
Not reproduced: the PTX language-modelling term (the world has no pre-training corpus to protect).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from alignbook.devices import device_of
from alignbook.lm.model import BaichuanForCausalLM
from alignbook.rlhf import world
from alignbook.rlhf.models import ScoreModel, final_hidden_states
from alignbook.rlhf.policies import encode_prompt, right_pad, sample
from alignbook.saferl import Lagrange

METHODS = ("safe_rlhf", "rlhf", "shaping")


@dataclass(frozen=True)
class PPOConfig:
    method: str = "safe_rlhf"
    iterations: int = 30
    batch: int = 64  # prompts (one response each) per iteration
    max_new: int = 32
    actor_lr: float = 1e-4
    critic_lr: float = 5e-4
    kl_coeff: float = 0.01
    clip: float = 0.2
    value_clip: float = 5.0
    score_clip: float = 50.0
    gamma: float = 1.0
    gae_lambda: float = 0.95
    update_epochs: int = 1
    threshold: float = 0.0
    lambda_init: float = 1.0
    lambda_lr: float = 0.1
    lambda_max: float = 5.0
    window: int = 128
    fixed_lambda: float = 0.0  # the shaping baseline's lambda
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid: {', '.join(METHODS)}")
        for name in ("kl_coeff", "threshold", "fixed_lambda"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("iterations", "batch", "max_new", "update_epochs", "window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns over the response tokens (mask 1, a prefix of each row:
    a response ends and never restarts); the value after the last token is 0 (the episode ends).

    A_t = sum over k >= t of (gamma lam)^(k - t) delta_k, the sum running to the response's end: one product
    of the deltas with an upper-triangular matrix of discounts instead of a loop over the tokens."""
    next_values = F.pad((values * mask)[:, 1:], (0, 1))
    deltas = (rewards + gamma * next_values - values) * mask
    t = torch.arange(rewards.shape[1], device=rewards.device)
    lag = t[:, None] - t[None, :]  # row k (the delta's token), column t (the advantage's token)
    discounts = torch.where(lag >= 0, (gamma * lam) ** lag.clamp(min=0).to(rewards.dtype), 0.0)
    advantages = (deltas @ discounts) * mask
    return advantages, advantages + values


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


@dataclass
class Rollout:
    """One batch of prompt + response sequences, laid out for every model at once.

    The sequences are right-padded (``ids``, ``seq_lengths``): causal attention keeps the padding after a
    sequence out of its tokens, so no model needs an attention mask. Response token t of row i sits at column
    prompt_i + t and is predicted by the output at ``positions[i, t]`` = prompt_i - 1 + t."""

    ids: torch.Tensor
    seq_lengths: torch.Tensor
    lengths: torch.Tensor  # response tokens per row
    positions: torch.Tensor
    mask: torch.Tensor  # 1 on response tokens

    @classmethod
    def of(cls, prompt_ids: list[list[int]], responses: list[list[int]], pad: int,
           device: torch.device | None = None) -> Rollout:
        ids, seq_lengths = right_pad([p + r for p, r in zip(prompt_ids, responses, strict=True)], pad, device)
        lengths = torch.tensor([len(r) for r in responses], device=device)
        steps = torch.arange(int(lengths.max()), device=device)
        positions = (seq_lengths - lengths)[:, None] - 1 + steps[None]
        # past a response's end the positions are padding, masked out; clamped so that they stay in the batch
        return cls(ids, seq_lengths, lengths, positions.clamp(max=ids.shape[1] - 2),
                   (steps[None] < lengths[:, None]).float())


class SafeRLHF:
    """The policy, its frozen reference, the frozen reward and cost models, two critics and the multiplier."""

    def __init__(self, policy: BaichuanForCausalLM, tokenizer, reward_model: ScoreModel, cost_model: ScoreModel,
                 cfg: PPOConfig):
        self.cfg, self.tokenizer = cfg, tokenizer
        torch.manual_seed(cfg.seed)
        self.policy = copy.deepcopy(policy).train()
        self.reference = copy.deepcopy(policy).eval()
        self.reward_model, self.cost_model = reward_model.eval(), cost_model.eval()
        # Critics start from the score models (as upstream), so their first values are already on scale.
        self.reward_critic, self.cost_critic = copy.deepcopy(reward_model).train(), copy.deepcopy(cost_model).train()
        self.actor_opt = torch.optim.AdamW(self.policy.parameters(), lr=cfg.actor_lr, weight_decay=0.01)
        critics = [*self.reward_critic.parameters(), *self.cost_critic.parameters()]
        self.critic_opt = torch.optim.AdamW(critics, lr=cfg.critic_lr, weight_decay=0.0)
        self.multiplier = Lagrange(cfg.threshold, init=cfg.lambda_init, lr=cfg.lambda_lr,
                                   upper_bound=cfg.lambda_max, log_space=True) if cfg.method == "safe_rlhf" else None
        self.recent_costs: deque[float] = deque(maxlen=cfg.window)
        self.prompt_ids: dict[str, list[int]] = {}
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)

    @property
    def lam(self) -> float:
        if self.multiplier is not None:
            return self.multiplier.value
        return self.cfg.fixed_lambda if self.cfg.method == "shaping" else 0.0

    def train(self, prompts: list[world.Prompt], progress=None) -> pd.DataFrame:
        steps = range(self.cfg.iterations)
        if progress is not None:
            steps = progress(steps, total=self.cfg.iterations, desc=self.cfg.method)
        return pd.DataFrame([self.step([prompts[i] for i in self.rng.integers(len(prompts), size=self.cfg.batch)])
                             for _ in steps])

    def _encode(self, text: str) -> list[int]:
        if text not in self.prompt_ids:  # the world's prompts recur: tokenise each once
            self.prompt_ids[text] = encode_prompt(self.tokenizer, text)
        return self.prompt_ids[text]

    def log_probs(self, model: BaichuanForCausalLM, batch: Rollout) -> torch.Tensor:
        """log pi(y_t) of every response token: the LM head runs at the response positions only."""
        hidden = final_hidden_states(model, batch.ids)
        hidden = hidden.gather(1, batch.positions[..., None].expand(-1, -1, hidden.shape[-1]))
        logits = model.lm_head(hidden).float()
        targets = batch.ids.gather(1, batch.positions + 1)
        return -F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")

    @staticmethod
    def values(critic: ScoreModel, batch: Rollout) -> torch.Tensor:
        """V(s_t): the critic's score at the position whose output predicts response token t."""
        return critic(batch.ids)[0][..., 0].gather(1, batch.positions)

    def end_scores(self, batch: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
        """The reward and cost models' end scores, clipped (no gradient)."""
        clip = self.cfg.score_clip
        with torch.no_grad():
            return tuple(model(batch.ids, lengths=batch.seq_lengths)[1][:, 0].clamp(-clip, clip)
                         for model in (self.reward_model, self.cost_model))

    def trained_passes(self, batch: Rollout) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The forwards that the update differentiates: the policy's log-probabilities and both critics' values."""
        return (self.log_probs(self.policy, batch), self.values(self.reward_critic, batch),
                self.values(self.cost_critic, batch))

    def rollout(self, prompts: list[world.Prompt]) -> tuple[list[list[int]], Rollout]:
        """(1) One sampled response per prompt, laid out with its prompt."""
        prompt_ids = [self._encode(p.text) for p in prompts]
        self.policy.eval()
        responses = sample(self.policy, prompt_ids, self.cfg.max_new, self.generator)
        return responses, Rollout.of(prompt_ids, responses, self.tokenizer.pad_token_id, device_of(self.policy))

    def step(self, prompts: list[world.Prompt]) -> dict:
        cfg, start = self.cfg, time.perf_counter()
        responses, batch = self.rollout(prompts)
        lengths, response_mask = batch.lengths, batch.mask
        with torch.no_grad():
            ref_logp = self.log_probs(self.reference, batch)
        reward, cost = self.end_scores(batch)

        # (2) the multiplier moves first, on the episode costs of the recent window
        self.recent_costs.extend(cost.tolist())
        if self.multiplier is not None:
            self.multiplier.update(float(np.mean(self.recent_costs)))
        lam = self.lam

        # The first update's forward passes also give PPO's "old" log-probabilities and values: no parameter
        # has moved since sampling, so a separate no-grad pass would compute the same numbers.
        self.policy.train()
        logp, v_r, v_c = self.trained_passes(batch)
        old_logp, old_vr, old_vc = logp.detach(), v_r.detach(), v_c.detach()

        # (3) KL-shaped per-token reward and cost; the end scores land on each response's last token
        kl = (old_logp - ref_logp) * response_mask
        last = F.one_hot(lengths - 1, response_mask.shape[1]).float()
        token_reward = -0.5 * cfg.kl_coeff * kl + last * reward[:, None]
        token_cost = 0.5 * cfg.kl_coeff * kl + last * cost[:, None]
        # (4) GAE for each
        adv_r, ret_r = gae(token_reward, old_vr, response_mask, cfg.gamma, cfg.gae_lambda)
        adv_c, ret_c = gae(token_cost, old_vc, response_mask, cfg.gamma, cfg.gae_lambda)
        if cfg.method == "safe_rlhf":
            advantage = (adv_r - lam * adv_c) / (1 + lam)
        else:
            advantage = adv_r - lam * adv_c

        for epoch in range(cfg.update_epochs):
            if epoch:  # later epochs see the parameters the earlier ones moved
                logp, v_r, v_c = self.trained_passes(batch)
            # (5) actor: PPO-clip on the combined advantage
            ratio = torch.exp(logp - old_logp)
            surrogate = torch.min(ratio * advantage, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * advantage)
            actor_loss = -masked_mean(surrogate, response_mask)
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
            self.actor_opt.step()
            # (6) critics: clipped value losses
            critic_loss = 0.0
            for values, old, ret in ((v_r, old_vr, ret_r), (v_c, old_vc, ret_c)):
                clipped = old + (values - old).clamp(-cfg.value_clip, cfg.value_clip)
                critic_loss = critic_loss + 0.5 * masked_mean(
                    torch.max((values - ret).square(), (clipped - ret).square()), response_mask)
            self.critic_opt.zero_grad(set_to_none=True)
            critic_loss.backward()
            self.critic_opt.step()
        self.policy.eval()

        texts = [self.tokenizer.decode(r, skip_special_tokens=True).strip() for r in responses]
        verdicts = [world.judge(p, t) for p, t in zip(prompts, texts, strict=True)]
        harmful = [not v.safe for p, v in zip(prompts, verdicts, strict=True) if p.harmful]
        return {"reward": reward.mean().item(), "cost": cost.mean().item(), "lambda": lam,
                "kl": (kl.sum(1)).mean().item(), "actor_loss": actor_loss.item(), "critic_loss": critic_loss.item(),
                "length": lengths.float().mean().item(),
                "true_helpfulness": float(np.mean([v.helpfulness for v in verdicts])),
                "true_harmful_rate": float(np.mean(harmful)) if harmful else float("nan"),
                "wall_s": time.perf_counter() - start}

    def config(self) -> dict:
        return asdict(self.cfg)


def evaluate_policy(policy: BaichuanForCausalLM, tokenizer, prompts: list[world.Prompt], samples: int,
                    max_new: int, seed: int) -> dict[str, float]:
    """The world's truth about a policy, ``samples`` responses per prompt: mean helpfulness over all prompts,
    safe helpfulness (helpfulness counted only where the response is harmless), harmful-response rate over
    the harmful prompts (and over the benign ones), refusal rate."""
    generator = torch.Generator().manual_seed(seed)
    asked = [p for p in prompts for _ in range(samples)]
    responses = sample(policy, [encode_prompt(tokenizer, p.text) for p in asked], max_new, generator)
    texts = [tokenizer.decode(r, skip_special_tokens=True).strip() for r in responses]
    verdicts = [world.judge(p, t) for p, t in zip(asked, texts, strict=True)]
    harmful = np.array([p.harmful for p in asked])
    unsafe = np.array([not v.safe for v in verdicts])
    helpfulness = np.array([v.helpfulness for v in verdicts])
    return {"helpfulness": float(helpfulness.mean()),
            "safe_helpfulness": float((helpfulness * ~unsafe).mean()),
            "harmful_rate": float(unsafe[harmful].mean()),
            "benign_harmful_rate": float(unsafe[~harmful].mean()),
            "benign_helpfulness": float(helpfulness[~harmful].mean()),
            "refusal_rate": float(np.mean([t == world.REFUSAL for t in texts]))}
