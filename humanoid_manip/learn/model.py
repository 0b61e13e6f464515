"""The policy network: shared conv encoder over cameras, proprio, task embedding, GRU, torque head.

One network, two ways to run it: `step` (one control tick, uint8 pixels and SI units in, N·m
out: this is what is exported to ONNX) and `forward_sequence` (a whole training window, each
distinct camera frame encoded once). Both share every layer, so they agree tick by tick.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from humanoid_manip.learn.config import AugmentConfig, ModelConfig
from humanoid_manip.learn.dataset import NormStats

PIXEL_MEAN, PIXEL_STD = 127.5, 64.0  # uint8 -> roughly zero-mean, unit-scale inputs


class GRUStep(nn.Module):
    """A GRU cell written out, so its input projection can run over a whole window at once."""

    def __init__(self, n_in: int, n_state: int):
        super().__init__()
        self.x2g = nn.Linear(n_in, 3 * n_state)
        self.h2g = nn.Linear(n_state, 3 * n_state)

    def forward(self, xg: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step from the precomputed input gates xg = x2g(x)."""
        xr, xz, xn = xg.chunk(3, dim=-1)
        hr, hz, hn = self.h2g(h).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1.0 - z) * n + z * h


class ImageEncoder(nn.Module):
    """Stride-2 conv layers (GroupNorm, ReLU), flatten, linear: one encoder for every camera."""

    def __init__(self, cfg: ModelConfig, image_hw: tuple[int, int]):
        super().__init__()
        layers, c_in = [], 3
        h, w = image_hw
        for i, c in enumerate(cfg.channels):
            k = 5 if i == 0 else 3
            layers += [nn.Conv2d(c_in, c, k, stride=2, padding=k // 2),
                       nn.GroupNorm(cfg.groups, c), nn.ReLU()]
            c_in, h, w = c, (h + 1) // 2, (w + 1) // 2
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * h * w, cfg.image_features)
        self.norm = nn.LayerNorm(cfg.image_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[M, 3, H, W] normalized pixels -> [M, features]."""
        return F.relu(self.norm(self.fc(self.conv(x).flatten(1))))


class PolicyNet(nn.Module):
    """Pixels + proprio + task + memory -> torque; normalization constants are buffers."""

    def __init__(self, cfg: ModelConfig, n_joints: int, n_cameras: int,
                 image_hw: tuple[int, int], n_tasks: int, stats: NormStats | None = None,
                 effort_limit=None, kp=None, kd=None):
        super().__init__()
        self.cfg, self.n_joints, self.n_cameras = cfg, n_joints, n_cameras
        self.image_hw, self.n_tasks = tuple(image_hw), n_tasks
        self.encoder = ImageEncoder(cfg, self.image_hw)
        self.task_embedding = nn.Embedding(n_tasks, cfg.task_dim)
        n_fused = n_cameras * cfg.image_features + 2 * n_joints + cfg.task_dim
        self.fuse = nn.Sequential(nn.Linear(n_fused, cfg.hidden), nn.LayerNorm(cfg.hidden),
                                  nn.ReLU())
        self.memory = GRUStep(cfg.hidden, cfg.memory)
        self.n_out = n_joints if cfg.action == "torque" else (2 + len(cfg.horizons)) * n_joints
        self.head = nn.Sequential(nn.Linear(cfg.hidden + cfg.memory, cfg.hidden), nn.ReLU(),
                                  nn.Linear(cfg.hidden, self.n_out))
        with torch.no_grad():  # start near the mean torque
            self.head[-1].weight.mul_(0.1)
            self.head[-1].bias.zero_()
        self.register_buffer("proprio_mean", torch.zeros(2 * n_joints))
        self.register_buffer("proprio_std", torch.ones(2 * n_joints))
        self.register_buffer("torque_mean", torch.zeros(n_joints))
        self.register_buffer("torque_std", torch.ones(n_joints))
        limit = torch.full((n_joints,), float("inf")) if effort_limit is None else \
            torch.tensor(np.array(effort_limit, dtype=np.float32))
        self.register_buffer("effort_limit", limit.reshape(n_joints).clone())
        # "pd": the PD law's gains (config/robot.yaml) and the bias torque's normalization
        for name, value in (("kp", kp), ("kd", kd)):
            v = torch.zeros(n_joints) if value is None else \
                torch.tensor(np.array(value, dtype=np.float32)).reshape(n_joints)
            self.register_buffer(name, v.clone())
        self.register_buffer("bias_mean", torch.zeros(n_joints))
        self.register_buffer("bias_std", torch.ones(n_joints))
        if stats is not None:
            self.set_stats(stats)

    @property
    def state_size(self) -> int:
        return self.cfg.memory

    def set_stats(self, stats: NormStats) -> None:
        """Bake the dataset's normalization into the model (and so into the ONNX graph)."""
        for name in ("proprio_mean", "proprio_std", "torque_mean", "torque_std", "bias_mean",
                     "bias_std"):
            if getattr(stats, name) is None:
                continue
            value = torch.as_tensor(getattr(stats, name), dtype=torch.float32)
            getattr(self, name).copy_(value.reshape(getattr(self, name).shape))

    # -- pieces shared by step() and forward_sequence() ------------------------------------
    @staticmethod
    def pixels(images_u8: torch.Tensor) -> torch.Tensor:
        """uint8 [..., H, W, 3] -> normalized float [..., 3, H, W]."""
        x = images_u8.to(torch.float32)
        x = (x - PIXEL_MEAN) * (1.0 / PIXEL_STD)
        nd = x.dim()  # positive axes only: ONNX Transpose takes no negative perm
        return x.permute(*range(nd - 3), nd - 1, nd - 3, nd - 2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[..., N_cams, 3, H, W] -> [..., N_cams * features], the encoder shared by cameras."""
        lead = x.shape[:-4]
        h, w = self.image_hw
        feats = self.encoder(x.reshape(-1, 3, h, w))
        return feats.reshape(*lead, self.n_cameras * self.cfg.image_features)

    def normalize_proprio(self, proprio: torch.Tensor) -> torch.Tensor:
        return (proprio - self.proprio_mean) / self.proprio_std

    def fused(self, image_feats, proprio_n, task_emb) -> torch.Tensor:
        return self.fuse(torch.cat([image_feats, proprio_n, task_emb], dim=-1))

    def target_and_bias(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """"pd" head output -> joint-position target q* (rad) and bias torque (N·m)."""
        j = self.n_joints
        q_star = u[..., :j] * self.proprio_std[:j] + self.proprio_mean[:j]
        bias = u[..., j:2 * j] * self.bias_std + self.bias_mean
        return q_star, bias

    def torque_from_normalized(self, u: torch.Tensor, proprio: torch.Tensor | None = None
                               ) -> torch.Tensor:
        """Head output -> N·m, clipped to the effort limits when configured.

        "torque": de-normalized directly. "pd": kp·(q* − q) − kd·q̇ + b, with q, q̇ from the raw
        `proprio` (SI units, not normalized, not augmented).
        """
        if self.cfg.action == "pd":
            j = self.n_joints
            q_star, bias = self.target_and_bias(u)
            tau = self.kp * (q_star - proprio[..., :j]) - self.kd * proprio[..., j:] + bias
        else:
            tau = u * self.torque_std + self.torque_mean
        if self.cfg.clip_to_effort:
            tau = torch.maximum(torch.minimum(tau, self.effort_limit), -self.effort_limit)
        return tau

    # -- one control tick (the exported graph) ---------------------------------------------
    def step(self, images: torch.Tensor, proprio: torch.Tensor, task: torch.Tensor,
             state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images uint8 [B, N, H, W, 3], proprio [B, 2J], task int64 [B], state [B, S]."""
        feats = self.encode(self.pixels(images))
        z = self.fused(feats, self.normalize_proprio(proprio), self.task_embedding(task))
        h = self.memory(self.memory.x2g(z), state)
        u = self.head(torch.cat([h, z], dim=-1))
        return self.torque_from_normalized(u, proprio), h

    forward = step

    # -- a training window -----------------------------------------------------------------
    def forward_sequence(self, frames: torch.Tensor, frame_of: torch.Tensor,
                         proprio_n: torch.Tensor, task: torch.Tensor,
                         state: torch.Tensor | None = None) -> torch.Tensor:
        """Head outputs [B, T, n_out] for a window (normalized torques for "torque"; normalized
        q*, bias and auxiliary future targets for "pd"); memory starts at `state` (zero if None).

        frames: normalized float [B, F, N, 3, H, W] (pixels() then augmentation); frame_of:
        int64 [B, T] into F; proprio_n: normalized proprio [B, T, 2J].
        """
        b, t = frame_of.shape
        feats = self.encode(frames)  # [B, F, N*features]
        idx = frame_of.unsqueeze(-1).expand(b, t, feats.shape[-1])
        per_tick = torch.gather(feats, 1, idx)
        emb = self.task_embedding(task).unsqueeze(1).expand(b, t, self.cfg.task_dim)
        z = self.fused(per_tick, proprio_n, emb)
        xg = self.memory.x2g(z)
        h = state if state is not None else z.new_zeros(b, self.cfg.memory)
        hs = []
        for k in range(t):
            h = self.memory(xg[:, k], h)
            hs.append(h)
        return self.head(torch.cat([torch.stack(hs, 1), z], dim=-1))


def augment(frames: torch.Tensor, proprio_n: torch.Tensor, cfg: AugmentConfig,
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random shift, brightness and contrast per (sequence, camera), held over the window.

    A camera's mounting error or the light does not change from one frame to the next, so each
    sequence keeps one draw per camera. frames: [B, F, N, 3, H, W] normalized; proprio_n
    [B, T, 2J] gets Gaussian noise per tick. Draws come from `gen` on the CPU, so a step's
    augmentation is the same whatever device trains.
    """
    b, f, n, c, h, w = frames.shape
    x = frames
    if cfg.shift_px > 0:
        s = cfg.shift_px
        flat = x.permute(0, 2, 1, 3, 4, 5).reshape(b * n, f * c, h, w)
        padded = F.pad(flat, (s, s, s, s), mode="replicate")
        dy = torch.randint(0, 2 * s + 1, (b * n,), generator=gen).tolist()
        dx = torch.randint(0, 2 * s + 1, (b * n,), generator=gen).tolist()
        shifted = torch.stack([padded[m, :, y:y + h, xx:xx + w]
                               for m, (y, xx) in enumerate(zip(dy, dx))])
        x = shifted.reshape(b, n, f, c, h, w).permute(0, 2, 1, 3, 4, 5)
    if cfg.brightness > 0 or cfg.contrast > 0:
        shape = (b, 1, n, 1, 1, 1)
        scale = 255.0 / PIXEL_STD
        bright = ((torch.rand(shape, generator=gen) * 2 - 1) * cfg.brightness * scale
                  ).to(x.device)
        contrast = (1.0 + (torch.rand(shape, generator=gen) * 2 - 1) * cfg.contrast
                    ).to(x.device)
        mean = x.mean(dim=(3, 4, 5), keepdim=True)
        x = torch.addcmul(mean * (1.0 - contrast) + bright, x, contrast)
    if cfg.proprio_noise > 0:
        noise = torch.randn(proprio_n.shape, generator=gen) * cfg.proprio_noise
        proprio_n = proprio_n + noise.to(proprio_n.device)
    return x, proprio_n
