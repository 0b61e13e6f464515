"""A tiny generated dataset with the robot's real shapes, for tests and benchmarks (numpy only).

Each episode's expert torque is a PD pull toward a target that depends on the task and on a
coloured cue in the head camera, plus a bias that switches on after a flash in the wrist
cameras and stays on once the flash is gone: so fitting it needs the task embedding, the pixels,
the proprioception and the memory. It is not a physical simulation; the trajectories are smooth
random motions, and the labels are a function of what the policy can observe.
"""
from __future__ import annotations

import numpy as np

from humanoid_manip.learn.config import ModelConfig, load_train_config
from humanoid_manip.learn.dataset import EpisodeArrays

CUE_COLOURS = {1: (220, 40, 40), -1: (40, 40, 220)}  # red: +offset, blue: -offset
# a network small enough to learn the toy on one CPU thread in seconds
TINY_MODEL = ModelConfig(channels=(4, 8, 8, 8), groups=4, image_features=16, task_dim=8,
                         hidden=64, memory=32)


def tiny_train_config(**overrides):
    """config/train.yaml with the settings the CPU tests train the toy under (40 short steps)."""
    base = dict(steps=40, batch_size=4, window=8, burn_in=4, lr=3e-3, warmup_steps=3,
                log_every=5, checkpoint_every=1000, threads=1, model=TINY_MODEL)
    base.update(overrides)
    return load_train_config().with_overrides(**base)


def toy_episodes(robot, n_episodes: int = 8, ticks: int = 120, n_tasks: int = 2, seed: int = 0,
                 rate_hz: float | None = None, camera_hz: float | None = None,
                 privileged_size: int = 0) -> list[EpisodeArrays]:
    """`n_episodes` synthetic episodes of `ticks` policy ticks for `robot`'s joints and cameras.

    With `privileged_size`, each tick also carries what a teacher would see instead of the
    pixels: the cue's sign and whether the flash has come, zero-padded to that size.
    """
    rng = np.random.default_rng(seed)
    rate = float(rate_hz or robot.rates.policy_hz)
    cam_rate = float(camera_hz or robot.rates.camera_hz)
    j, n_cam = robot.n, len(robot.camera_names)
    h, w = robot.image.height, robot.image.width
    lo, hi = np.asarray(robot.lower), np.asarray(robot.upper)
    span = hi - lo
    home = np.asarray(robot.home)
    kp, kd = np.asarray(robot.kp), np.asarray(robot.kd)
    effort = np.asarray(robot.effort_limit)
    task_dirs = rng.standard_normal((n_tasks, j)) * 0.1 * span
    cue_dir = rng.standard_normal(j) * 0.1 * span
    latch_bias = rng.standard_normal(j) * 0.2 * effort
    t = np.arange(ticks) / rate
    out = []
    for e in range(n_episodes):
        task = e % n_tasks
        cue = 1 if rng.random() < 0.5 else -1
        target = np.clip(home + task_dirs[task] + cue * cue_dir, lo, hi)
        amp = rng.uniform(0.02, 0.08, j) * span
        freq = rng.uniform(0.3, 1.5, j)
        phase = rng.uniform(0, 2 * np.pi, j)
        q = np.clip(home + amp * np.sin(2 * np.pi * freq * t[:, None] + phase), lo, hi)
        dq = np.gradient(q, 1.0 / rate, axis=0)
        latch_tick = int(rng.integers(ticks // 4, 3 * ticks // 4))
        latched = (np.arange(ticks) >= latch_tick)[:, None]
        tau = kp * (target - q) - kd * dq + latched * latch_bias
        tau = np.clip(tau + rng.normal(0, 0.01, tau.shape) * effort, -effort, effort)
        frame_of = np.floor(t * cam_rate + 1e-9).astype(np.int64)
        n_frames = int(frame_of[-1]) + 1
        frames = np.empty((n_frames, n_cam, h, w, 3), np.uint8)
        background = rng.integers(60, 160, 3)
        frames[:] = background
        frames += rng.integers(0, 12, (1, n_cam, h, w, 1), dtype=np.uint8)  # fixed texture
        y0, x0 = int(rng.integers(8, h // 2)), int(rng.integers(8, w // 2))
        frames[:, 0, y0:y0 + h // 4, x0:x0 + w // 4] = CUE_COLOURS[cue]
        flash = int(frame_of[latch_tick])
        frames[flash:flash + 3, 1:] = 250
        proprio = np.concatenate([q, dq], 1).astype(np.float32)
        privileged = None
        if privileged_size:
            privileged = np.zeros((ticks, privileged_size), np.float32)
            privileged[:, 0] = cue
            privileged[:, 1] = latched[:, 0]
        out.append(EpisodeArrays(frames, frame_of, proprio, tau.astype(np.float32), task,
                                 id=f"toy-{seed}-{e}", privileged=privileged))
    return out
