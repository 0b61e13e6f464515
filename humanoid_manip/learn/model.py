"""The policy network: camera (or privileged-state) encoder, proprio, task embedding, GRU, head.

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
TORQUE_SCALE_FLOOR = 0.05  # of the effort limit: the unit of the torque error


def torque_error(model: PolicyNet, tau: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Squared torque error in the loss's units: torque standard deviations, floored at 5 % of
    the effort limit (a joint whose torque never changed in the data, the idle hand, the head,
    must not dominate the sum)."""
    scale = torch.maximum(model.torque_std, TORQUE_SCALE_FLOOR * model.effort_limit)
    return ((tau - label) / scale) ** 2


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


class PrivilegedEncoder(nn.Module):
    """The teacher's view: the task's object state, normalized in the graph, through an MLP."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        n = cfg.privileged_size
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        self.mlp = nn.Sequential(nn.Linear(n, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.ReLU(),
                                 nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((x - self.mean) / self.std)


class PolicyNet(nn.Module):
    """Observation + proprio + task + memory -> torque; normalization constants are buffers.

    The observation is the cameras' pixels (the shipped policy) or the task's privileged
    object state (the teacher), by `cfg.observation`. For "pd"/"residual" the head predicts
    `cfg.chunk` joint targets (ticks t .. t+K-1), a bias torque and any auxiliary targets;
    the graph applies kp·(q* − q) − kd·q̇ + b. With `cfg.ensemble` the recurrent state also
    carries every earlier chunk's predictions for the coming ticks (weighted sums and weights),
    so the file stays one tick in, one torque out.
    """

    def __init__(self, cfg: ModelConfig, n_joints: int, n_cameras: int,
                 image_hw: tuple[int, int], n_tasks: int, stats: NormStats | None = None,
                 effort_limit=None, kp=None, kd=None):
        super().__init__()
        self.privileged = cfg.observation == "privileged"
        if self.privileged:
            n_cameras = 0
        self.cfg, self.n_joints, self.n_cameras = cfg, n_joints, n_cameras
        self.image_hw, self.n_tasks = tuple(image_hw), n_tasks
        self.estimates_state = cfg.state_estimate
        if self.privileged or self.estimates_state:
            self.state_encoder = PrivilegedEncoder(cfg)
            n_obs = cfg.hidden
        if not self.privileged:
            self.encoder = ImageEncoder(cfg, self.image_hw)
            n_obs = n_cameras * cfg.image_features
        if self.estimates_state:  # pixels -> the object state (normalized), as the teacher sees
            self.estimator = nn.Sequential(
                nn.Linear(n_cameras * cfg.image_features, cfg.hidden), nn.ReLU(),
                nn.Linear(cfg.hidden, cfg.privileged_size))
            n_obs = cfg.hidden
        self.task_embedding = nn.Embedding(n_tasks, cfg.task_dim)
        n_fused = n_obs + 2 * n_joints + cfg.task_dim
        self.fuse = nn.Sequential(nn.Linear(n_fused, cfg.hidden), nn.LayerNorm(cfg.hidden),
                                  nn.ReLU())
        self.memory = GRUStep(cfg.hidden, cfg.memory)
        self.k = cfg.chunk
        self.n_out = n_joints if cfg.action == "torque" else \
            (self.k + 1 + len(cfg.horizons)) * n_joints
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
        # "pd"/"residual": the PD law's gains (config/robot.yaml) and the bias torque's scale
        for name, value in (("kp", kp), ("kd", kd)):
            v = torch.zeros(n_joints) if value is None else \
                torch.tensor(np.array(value, dtype=np.float32)).reshape(n_joints)
            self.register_buffer(name, v.clone())
        self.register_buffer("bias_mean", torch.zeros(n_joints))
        self.register_buffer("bias_std", torch.ones(n_joints))
        # "residual": q*(t+k) − q(t) for each chunk offset k, its mean and spread
        self.register_buffer("residual_mean", torch.zeros(self.k, n_joints))
        self.register_buffer("residual_std", torch.ones(self.k, n_joints))
        if stats is not None:
            self.set_stats(stats)

    @property
    def state_size(self) -> int:
        extra = self.k * self.n_joints + self.k if self.cfg.ensemble else 0
        return self.cfg.memory + extra

    def set_stats(self, stats: NormStats) -> None:
        """Bake the dataset's normalization into the model (and so into the ONNX graph)."""
        for name in ("proprio_mean", "proprio_std", "torque_mean", "torque_std", "bias_mean",
                     "bias_std", "residual_mean", "residual_std"):
            if getattr(stats, name, None) is None:
                continue
            value = torch.as_tensor(getattr(stats, name), dtype=torch.float32)
            getattr(self, name).copy_(value.reshape(getattr(self, name).shape))
        if (self.privileged or self.estimates_state) and stats.privileged_mean is not None:
            self.state_encoder.mean.copy_(torch.as_tensor(stats.privileged_mean,
                                                          dtype=torch.float32))
            self.state_encoder.std.copy_(torch.as_tensor(stats.privileged_std,
                                                         dtype=torch.float32))

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

    def fused(self, obs_feats, proprio_n, task_emb) -> torch.Tensor:
        return self.fuse(torch.cat([obs_feats, proprio_n, task_emb], dim=-1))

    def targets(self, u: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """Head output -> the chunk's joint targets q*(t .. t+K-1), rad, [..., K, J]."""
        j, k = self.n_joints, self.k
        raw = u[..., :k * j].reshape(*u.shape[:-1], k, j)
        if self.cfg.action == "residual":
            return proprio[..., None, :j] + raw * self.residual_std + self.residual_mean
        return raw * self.proprio_std[:j] + self.proprio_mean[:j]

    def bias(self, u: torch.Tensor) -> torch.Tensor:
        j, k = self.n_joints, self.k
        return u[..., k * j:(k + 1) * j] * self.bias_std + self.bias_mean

    def target_and_bias(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """"pd" head output -> this tick's joint-position target q* (rad) and bias (N·m)."""
        return self.targets(u, torch.zeros(*u.shape[:-1], 2 * self.n_joints))[..., 0, :], \
            self.bias(u)

    def pd_torque(self, q_star: torch.Tensor, bias: torch.Tensor,
                  proprio: torch.Tensor) -> torch.Tensor:
        """kp·(q* − q) − kd·q̇ + b, clipped to the effort limits when configured."""
        j = self.n_joints
        tau = self.kp * (q_star - proprio[..., :j]) - self.kd * proprio[..., j:] + bias
        return self.clip(tau)

    def clip(self, tau: torch.Tensor) -> torch.Tensor:
        if self.cfg.clip_to_effort:
            tau = torch.maximum(torch.minimum(tau, self.effort_limit), -self.effort_limit)
        return tau

    def torque_from_normalized(self, u: torch.Tensor, proprio: torch.Tensor | None = None
                               ) -> torch.Tensor:
        """Head output -> N·m for one tick, no ensembling (training, teacher forcing).

        "torque": de-normalized directly. "pd"/"residual": the chunk's first target through the
        PD law, with q, q̇ from the raw `proprio` (SI units, not normalized, not augmented).
        """
        if self.cfg.action == "torque":
            return self.clip(u * self.torque_std + self.torque_mean)
        return self.pd_torque(self.targets(u, proprio)[..., 0, :], self.bias(u), proprio)

    def observe(self, obs: torch.Tensor) -> torch.Tensor:
        """One tick's observation -> features: uint8 images [B, N, H, W, 3] or the privileged
        state [B, P]."""
        if self.privileged:
            return self.state_encoder(obs)
        feats = self.encode(self.pixels(obs))
        if self.estimates_state:
            return self.state_encoder.mlp(self.estimator(feats))
        return feats

    # -- one control tick (the exported graph) ---------------------------------------------
    def step(self, obs: torch.Tensor, proprio: torch.Tensor, task: torch.Tensor,
             state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """obs (images uint8 [B, N, H, W, 3] or privileged [B, P]), proprio [B, 2J],
        task int64 [B], state [B, S] -> torque [B, J], state [B, S]."""
        m = self.cfg.memory
        z = self.fused(self.observe(obs), self.normalize_proprio(proprio),
                       self.task_embedding(task))
        h = self.memory(self.memory.x2g(z), state[:, :m])
        u = self.head(torch.cat([h, z], dim=-1))
        if self.cfg.action == "torque":
            return self.torque_from_normalized(u), h
        q_star = self.targets(u, proprio)  # [B, K, J]
        if not self.cfg.ensemble:
            return self.pd_torque(q_star[:, 0], self.bias(u), proprio), h
        b, k, j = q_star.shape
        sums = state[:, m:m + k * j].reshape(b, k, j)
        weights = state[:, m + k * j:].reshape(b, k, 1)
        older = float(np.exp(self.cfg.ensemble_m))  # earlier chunks weigh more, as in ACT
        sums = torch.cat([sums[:, 1:], torch.zeros_like(sums[:, :1])], 1) * older + q_star
        weights = torch.cat([weights[:, 1:], torch.zeros_like(weights[:, :1])], 1) * older + 1.0
        tau = self.pd_torque(sums[:, 0] / weights[:, 0], self.bias(u), proprio)
        return tau, torch.cat([h, sums.reshape(b, k * j), weights.reshape(b, k)], 1)

    forward = step

    # -- a training window -----------------------------------------------------------------
    def forward_sequence(self, obs: torch.Tensor, frame_of: torch.Tensor,
                         proprio_n: torch.Tensor, task: torch.Tensor,
                         state: torch.Tensor | None = None,
                         with_estimate: bool = False):
        """Head outputs [B, T, n_out] for a window; memory starts at `state` (zero if None).

        obs: for pixels, frames [B, F, N, 3, H, W] (pixels() then augmentation) with frame_of
        int64 [B, T] into F; for privileged, the state per tick [B, T, P] (frame_of unused).
        proprio_n: normalized proprio [B, T, 2J]. No ensembling: chunks are trained raw.
        `with_estimate`: also return the normalized object-state estimate [B, T, P]
        (state_estimate models).
        """
        b, t = frame_of.shape
        estimate = None
        if self.privileged:
            per_tick = self.state_encoder(obs)
        else:
            feats = self.encode(obs)  # [B, F, N*features]
            idx = frame_of.unsqueeze(-1).expand(b, t, feats.shape[-1])
            per_tick = torch.gather(feats, 1, idx)
            if self.estimates_state:
                estimate = self.estimator(per_tick)
                per_tick = self.state_encoder.mlp(estimate)
        emb = self.task_embedding(task).unsqueeze(1).expand(b, t, self.cfg.task_dim)
        z = self.fused(per_tick, proprio_n, emb)
        xg = self.memory.x2g(z)
        h = state[:, :self.cfg.memory] if state is not None else z.new_zeros(b, self.cfg.memory)
        hs = []
        for k in range(t):
            h = self.memory(xg[:, k], h)
            hs.append(h)
        u = self.head(torch.cat([torch.stack(hs, 1), z], dim=-1))
        return (u, estimate) if with_estimate else u


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
    return x, augment_proprio(proprio_n, cfg, gen)


def augment_proprio(proprio_n: torch.Tensor, cfg: AugmentConfig,
                    gen: torch.Generator) -> torch.Tensor:
    """Gaussian noise per tick on the normalized joint state (the network's input only)."""
    if cfg.proprio_noise > 0:
        noise = torch.randn(proprio_n.shape, generator=gen) * cfg.proprio_noise
        proprio_n = proprio_n + noise.to(proprio_n.device)
    return proprio_n
