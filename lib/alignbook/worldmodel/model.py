"""The world model of DreamerV3 / Safe DreamerV3: encoder, RSSM, decoder, reward and cost heads.

The recurrent state-space model (RSSM) keeps a deterministic state ``h`` (a GRU) and a stochastic state ``z``
(``stoch`` categorical latents of ``classes`` classes each)::

    h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])        sequence model
    z_t ~ q(z_t | h_t, embed(o_t))                posterior (representation model), while observing
    z_t ~ p(z_t | h_t)                            prior (dynamics model), while imagining
    o_t, r_t, c_t  <-  heads([h_t, z_t])          decoder (symlog MSE), reward and cost (two-hot)

The loss per step is the decoder's, the reward's and the cost's prediction loss plus the balanced KL
(``dist.kl_balance``); the cost head's loss is weighted by ``cost_weight`` (10, as Safe DreamerV3) where the
real cost is at least 1, because cost events are rare and missing one is what makes a plan unsafe.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from alignbook.worldmodel.dist import (
    TwoHot,
    kl_balance,
    sample_straight_through,
    symexp,
    symlog,
    unimix_probs,
)


@dataclass(frozen=True)
class WorldModelConfig:
    """Sizes and loss weights; the defaults are Safe DreamerV3's vision setting."""

    deter: int = 512
    stoch: int = 48
    classes: int = 48
    units: int = 512  # heads and the RSSM's layers
    layers: int = 2
    enc_units: int = 1024  # vector encoder and decoder: enc_layers x enc_units
    enc_layers: int = 5
    cnn_depth: int = 32
    bins: int = 255
    cost_weight: float = 10.0
    dyn: float = 0.5
    rep: float = 0.1
    free_nats: float = 1.0

    def __post_init__(self):
        for name in ("deter", "stoch", "classes", "units", "layers", "enc_units", "enc_layers", "cnn_depth", "bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"WorldModelConfig.{name} must be a positive int, got {value!r}")

    @property
    def feat(self) -> int:
        return self.deter + self.stoch * self.classes


def mlp(inp: int, units: int, layers: int, out: int | None = None) -> nn.Sequential:
    """``layers`` x (Linear, LayerNorm, SiLU), then an optional linear output layer (DreamerV3's MLP)."""
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.Linear(inp, units), nn.LayerNorm(units), nn.SiLU()]
        inp = units
    if out is not None:
        mods.append(nn.Linear(inp, out))
    return nn.Sequential(*mods)


class VectorCoder(nn.Module):
    """Encoder and decoder of flat observations, both in symlog space."""

    def __init__(self, obs_dim: int, cfg: WorldModelConfig):
        super().__init__()
        self.encoder = mlp(obs_dim, cfg.enc_units, cfg.enc_layers)
        self.decoder = mlp(cfg.feat, cfg.enc_units, cfg.enc_layers, obs_dim)
        self.embed_dim = cfg.enc_units

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(symlog(obs))

    def loss(self, feat: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return (self.decoder(feat) - symlog(obs)).pow(2).sum(-1)

    def decode(self, feat: torch.Tensor) -> torch.Tensor:
        return symexp(self.decoder(feat))


class ImageCoder(nn.Module):
    """A 64x64 RGB image: four stride-2 convolutions down to 4x4 and four transposed ones back up."""

    def __init__(self, cfg: WorldModelConfig, channels: int = 3):
        super().__init__()
        d = cfg.cnn_depth
        widths = [channels, d, 2 * d, 4 * d, 8 * d]
        down: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            down += [nn.Conv2d(a, b, 4, 2, 1), nn.GroupNorm(1, b), nn.SiLU()]
        self.encoder = nn.Sequential(*down, nn.Flatten())
        self.embed_dim = 8 * d * 4 * 4
        up: list[nn.Module] = [nn.Linear(cfg.feat, self.embed_dim), nn.Unflatten(-1, (8 * d, 4, 4))]
        for a, b in zip(widths[:1:-1], widths[-2:0:-1], strict=True):
            up += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.GroupNorm(1, b), nn.SiLU()]
        self.decoder = nn.Sequential(*up, nn.ConvTranspose2d(d, channels, 4, 2, 1))

    @staticmethod
    def _pixels(obs: torch.Tensor) -> torch.Tensor:
        # uint8 (..., 64, 64, 3) -> float (..., 3, 64, 64) in [-0.5, 0.5]
        return obs.float().movedim(-1, -3) / 255.0 - 0.5

    def _batched(self, net: nn.Module, x: torch.Tensor, lead: torch.Size) -> torch.Tensor:
        y = net(x.reshape(-1, *x.shape[len(lead):]))
        return y.reshape(*lead, *y.shape[1:])

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self._batched(self.encoder, self._pixels(obs), obs.shape[:-3])

    def decode(self, feat: torch.Tensor) -> torch.Tensor:
        return self._batched(self.decoder, feat, feat.shape[:-1])

    def loss(self, feat: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return (self.decode(feat) - self._pixels(obs)).pow(2).sum((-3, -2, -1))


class RSSM(nn.Module):
    def __init__(self, embed_dim: int, act_dim: int, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        latent = cfg.stoch * cfg.classes
        self.img_in = mlp(latent + act_dim, cfg.units, 1)
        self.gru = nn.GRUCell(cfg.units, cfg.deter)
        self.prior_net = mlp(cfg.deter, cfg.units, 1, latent)
        self.post_net = mlp(cfg.deter + embed_dim, cfg.units, 1, latent)

    def initial(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.gru.weight_hh.device
        return (torch.zeros(batch, self.cfg.deter, device=device),
                torch.zeros(batch, self.cfg.stoch * self.cfg.classes, device=device))

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        return unimix_probs(logits.reshape(*logits.shape[:-1], self.cfg.stoch, self.cfg.classes))

    def step(self, h: torch.Tensor, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The sequence model: the next deterministic state."""
        return self.gru(self.img_in(torch.cat([z, action], -1)), h)

    def prior_log_probs(self, h: torch.Tensor) -> torch.Tensor:
        return torch.log(self._probs(self.prior_net(h)))

    def prior(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A straight-through sample of the dynamics model, flattened."""
        return sample_straight_through(self._probs(self.prior_net(h)), generator).flatten(-2)

    def filter(self, h, z, action, embed):
        """One observed step: (h, z) of the previous step, the action taken, the new observation's embedding."""
        h = self.step(h, z, action)
        return h, self.posterior(h, embed)[1]

    def posterior(self, h: torch.Tensor, embed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probabilities, straight-through sample flattened) of the representation model."""
        q = self._probs(self.post_net(torch.cat([h, embed], -1)))
        return torch.log(q), sample_straight_through(q).flatten(-2)


class WorldModel(nn.Module):
    def __init__(self, obs_space: dict | int, act_dim: int, cfg: WorldModelConfig):
        """``obs_space``: the size of a flat observation (vector tasks), or ``"image"`` for 64x64 RGB."""
        super().__init__()
        self.cfg, self.act_dim = cfg, act_dim
        self.coder = ImageCoder(cfg) if obs_space == "image" else VectorCoder(int(obs_space), cfg)
        self.rssm = RSSM(self.coder.embed_dim, act_dim, cfg)
        self.twohot = TwoHot(cfg.bins)
        self.reward_head = mlp(cfg.feat, cfg.units, cfg.layers, cfg.bins)
        self.cost_head = mlp(cfg.feat, cfg.units, cfg.layers, cfg.bins)
        for head in (self.reward_head, self.cost_head):
            nn.init.zeros_(head[-1].weight)  # predictions start at exactly 0 (DreamerV3)
            nn.init.zeros_(head[-1].bias)

    def observe(self, obs: torch.Tensor, prev_action: torch.Tensor, state=None):
        """Filter a batch of sequences (B, T, ...) through the posterior; returns h, z, prior and posterior
        log-probabilities, each stacked over time (B, T, ...)."""
        B, T = prev_action.shape[:2]
        embed = self.coder.encode(obs)
        h, z = self.rssm.initial(B) if state is None else state
        hs, zs, posts = [], [], []
        for t in range(T):
            h = self.rssm.step(h, z, prev_action[:, t])
            log_q, z = self.rssm.posterior(h, embed[:, t])
            hs.append(h)
            zs.append(z)
            posts.append(log_q)
        h = torch.stack(hs, 1)
        # The prior is needed for the KL only (no sample): one call over all steps instead of one per step.
        return h, torch.stack(zs, 1), self.rssm.prior_log_probs(h), torch.stack(posts, 1)

    def loss(self, obs, prev_action, reward, cost):
        """The world-model loss of a batch of sequences; returns (loss, metrics, (h, z) detached)."""
        h, z, prior, post = self.observe(obs, prev_action)
        feat = torch.cat([h, z], -1)
        kl, kl_dyn, kl_rep = kl_balance(post, prior, self.cfg.dyn, self.cfg.rep, self.cfg.free_nats)
        recon = self.coder.loss(feat, obs)
        reward_loss = self.twohot.loss(self.reward_head(feat), reward)
        # Safe DreamerV3: cost events weigh cost_weight times as much as cost-free steps.
        weight = torch.where(cost >= 1.0, self.cfg.cost_weight, 1.0)
        cost_loss = weight * self.twohot.loss(self.cost_head(feat), cost)
        loss = (recon + reward_loss + cost_loss + kl).mean()
        metrics = {"recon": recon.mean().item(), "reward_loss": reward_loss.mean().item(),
                   "cost_loss": cost_loss.mean().item(), "kl_dyn": kl_dyn.mean().item(),
                   "kl_rep": kl_rep.mean().item()}
        return loss, metrics, (h.detach(), z.detach())

    def reward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.twohot.decode(self.reward_head(feat))

    def cost(self, feat: torch.Tensor) -> torch.Tensor:
        return self.twohot.decode(self.cost_head(feat))

    def imagine(self, h: torch.Tensor, z: torch.Tensor, horizon: int, act, generator=None):
        """Roll the prior forward ``horizon`` steps from (h, z); ``act`` is either a function ``act(t, feat)``
        (an actor, which sees each state) or a tensor of actions (horizon, N, act_dim) fixed in advance (a
        planner's candidates: no per-step features to build).

        Returns feats (horizon + 1, N, feat) -- the start state first -- and actions (horizon, N, act_dim).
        Gradients flow through the actions into the dynamics (DreamerV3's continuous-action actor)."""
        hs, zs, actions = [h], [z], []
        for t in range(horizon):
            action = act(t, torch.cat([h, z], -1)) if callable(act) else act[t]
            h = self.rssm.step(h, z, action)
            z = self.rssm.prior(h, generator)
            hs.append(h)
            zs.append(z)
            actions.append(action)
        return torch.cat([torch.stack(hs), torch.stack(zs)], -1), torch.stack(actions)
