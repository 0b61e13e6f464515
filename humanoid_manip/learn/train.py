"""Behaviour cloning: seeded, resumable training of PolicyNet on sequence batches.

`fit` is the loop (any batch source with batch(step)); `train_policy` is the whole job for
in-memory episodes: normalization statistics, model, lineage manifest, loop, curve.
The checkpoint holds model, optimizer, step, random state, history, the contract the exported
file will declare (joints, cameras, image size, tasks, rate) and a lineage manifest.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.learn.config import ModelConfig, TrainConfig
from humanoid_manip.learn.dataset import (
    Batch,
    EpisodeArrays,
    NormStats,
    WindowSampler,
    as_batch,
    compute_stats,
)
from humanoid_manip.learn.distributed import DataParallel
from humanoid_manip.learn.model import PolicyNet, augment, augment_proprio, torque_error

CHECKPOINT_FORMAT = "humanoid_manip.checkpoint/1"
CHECKPOINT_NAME = "checkpoint.pt"
CURVE_PNG, CURVE_JSON = "curve.png", "curve.json"
CALIBRATE_FROM, CALIBRATE_TO = 5, 25  # steps timed for fit(time_budget_s=...)
NEWER_BUFFERS = ("residual_mean", "residual_std")  # absent from older checkpoints


class TrainingError(HumanoidManipError):
    """Training cannot start or continue (a bad checkpoint, a diverged loss, a config clash)."""


@dataclass(frozen=True)
class PolicyIO:
    """What the exported policy file will declare: the robot and tasks the model was built for."""

    joint_names: tuple[str, ...]
    camera_names: tuple[str, ...]
    image_hw: tuple[int, int]
    task_names: tuple[str, ...]
    control_rate_hz: float

    @classmethod
    def for_robot(cls, robot, task_names: Sequence[str],
                  observation: str = "pixels") -> PolicyIO:
        """A teacher (observation "privileged") declares no cameras: it sees object state."""
        cameras = () if observation == "privileged" else tuple(robot.camera_names)
        return cls(tuple(robot.names), cameras, (robot.image.height, robot.image.width),
                   tuple(task_names), float(robot.rates.policy_hz))

    @classmethod
    def from_dict(cls, d: dict) -> PolicyIO:
        return cls(tuple(d["joint_names"]), tuple(d["camera_names"]), tuple(d["image_hw"]),
                   tuple(d["task_names"]), float(d["control_rate_hz"]))


@dataclass
class TrainResult:
    model: PolicyNet
    checkpoint: Path
    history: list[dict]
    curve: Path | None
    manifest: dict


def build_model(cfg: ModelConfig, io: PolicyIO, stats: NormStats | None = None,
                effort_limit=None, seed: int = 0, kp=None, kd=None) -> PolicyNet:
    """A freshly initialized network (initialization fixed by `seed`); kp, kd for "pd"."""
    if cfg.action in ("pd", "residual") and (kp is None or kd is None):
        raise TrainingError("a pd policy needs the robot's kp and kd (config/robot.yaml gains)")
    torch.manual_seed(seed)
    return PolicyNet(cfg, len(io.joint_names), len(io.camera_names), io.image_hw,
                     len(io.task_names), stats, effort_limit, kp, kd)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to lr * min_lr_ratio at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    frac = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * frac))


def _tensors(batch: Batch, model: PolicyNet):
    dev = model.torque_mean.device

    def t(a):
        if isinstance(a, torch.Tensor):  # DeviceWindowSampler: already there
            return a.to(dev)
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

    if model.estimates_state and batch.privileged is None:
        raise TrainingError("a state-estimating student trains on episodes with their "
                            "privileged state (/sim/privileged_state) as its auxiliary target")
    priv = None if batch.privileged is None else t(batch.privileged)
    if model.privileged:
        if batch.privileged is None:
            raise TrainingError("a privileged-state model trains on episodes with their "
                                "privileged state (/sim/privileged_state); this batch has none")
        obs = t(batch.privileged)
    else:
        obs = model.pixels(t(batch.frames))
    proprio = t(batch.proprio)
    proprio_n = model.normalize_proprio(proprio)
    torque = t(batch.torque)
    bias = None if batch.bias is None else t(batch.bias)
    return obs, t(batch.frame_of), proprio, proprio_n, t(batch.task), torque, bias, \
        t(batch.mask), priv


class DeviceWindowSampler:
    """WindowSampler's batches (the same windows), gathered from tensors kept on the device.

    Every episode's frames, proprio and labels are copied to the device once, so a step moves
    only indices: on a GPU, copying each window's frames from host memory would bound the
    training speed.
    """

    def __init__(self, sampler: WindowSampler, device: torch.device):
        self.sampler, self.device = sampler, device
        eps = sampler.episodes

        def cat(arrays):
            return torch.from_numpy(np.ascontiguousarray(np.concatenate(arrays))).to(device)

        self.frames = cat([e.frames for e in eps])
        self.proprio = cat([e.proprio for e in eps])
        self.torque = cat([e.torque for e in eps])
        self.bias = cat([e.bias for e in eps]) if all(e.bias is not None for e in eps) else None
        self.privileged = cat([e.privileged for e in eps]) \
            if all(e.privileged is not None for e in eps) else None
        self.frame_of = [np.asarray(e.frame_of, np.int64) for e in eps]
        self.tick0 = np.cumsum([0] + [len(e) for e in eps])[:-1]
        self.frame0 = np.cumsum([0] + [len(e.frames) for e in eps])[:-1]
        self.tasks = np.array([e.task for e in eps], np.int64)
        self.ids = [e.id for e in eps]

    def batch(self, step: int) -> Batch:
        s = self.sampler
        span = s.burn_in + s.window
        wins = s.windows(step)
        n_frames = max(int(self.frame_of[i][e - 1] - self.frame_of[i][st]) + 1
                       for i, st, e in wins)
        b = len(wins)
        ticks = np.zeros((b, span), np.int64)
        frame_of = np.zeros((b, span), np.int64)
        frames = np.zeros((b, n_frames), np.int64)
        mask = np.zeros((b, span), np.float32)
        for k, (i, st, e) in enumerate(wins):
            n = e - st
            idx = np.minimum(np.arange(st, st + span), e - 1)
            ticks[k] = self.tick0[i] + idx
            f0, f1 = int(self.frame_of[i][st]), int(self.frame_of[i][e - 1]) + 1
            frame_of[k] = self.frame_of[i][idx] - f0
            frames[k] = self.frame0[i] + np.minimum(np.arange(f0, f0 + n_frames), f1 - 1)
            mask[k, (0 if st == 0 else s.burn_in):n] = 1.0
        dev = self.device

        def t(a):
            return torch.from_numpy(a).to(dev, non_blocking=True)

        ti, fi = t(ticks), t(frames)
        return Batch(self.frames[fi], t(frame_of), self.proprio[ti], self.torque[ti],
                     t(self.tasks[[w[0] for w in wins]]), t(mask),
                     [self.ids[w[0]] for w in wins],
                     None if self.bias is None else self.bias[ti],
                     None if self.privileged is None else self.privileged[ti])


def resolve_device(name: str) -> torch.device:
    """cpu, cuda, or auto: cuda when this torch build sees a GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device: cuda asked for, but this torch sees no GPU (a CPU build? "
                            "see README, Training); use device: cpu or auto")
    return torch.device(name)


def _masked(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (err * mask).sum() / mask.sum().clamp_min(1.0)


def sequence_loss(model: PolicyNet, batch: Batch, cfg: TrainConfig | None = None,
                  gen: torch.Generator | None = None) -> torch.Tensor:
    """Masked mean squared error in normalized units; augmented when cfg and gen given.

    "torque": on the normalized torque. "pd"/"residual": the label splits exactly into the PD
    law's target q* = q + (τ − b + kd·q̇)/kp and the bias b (the batch's `bias`); the loss sums
    the error of each chunk target q*(t+k) (in proprio standard deviations for "pd", in the
    residual's own for "residual"), of b, of the resulting torque (so the small gap q* − q that
    moves the robot is fitted closely) and of the auxiliary future targets.
    """
    obs, frame_of, proprio, proprio_n, task, torque, bias, mask, priv = _tensors(batch, model)
    if cfg is not None and gen is not None:
        if model.privileged:
            proprio_n = augment_proprio(proprio_n, cfg.augment, gen)
        else:
            obs, proprio_n = augment(obs, proprio_n, cfg.augment, gen)
    pred, estimate = model.forward_sequence(obs, frame_of, proprio_n, task, with_estimate=True)
    aux = pred.new_zeros(())
    if estimate is not None and model.cfg.aux_weight > 0:
        enc = model.state_encoder
        aux = model.cfg.aux_weight * _masked(
            ((estimate - (priv - enc.mean) / enc.std) ** 2).mean(-1), mask)
    if model.cfg.action == "torque":
        target = (torque - model.torque_mean) / model.torque_std
        return aux + _masked(((pred - target) ** 2).mean(-1), mask)
    if bias is None:
        raise TrainingError("a pd policy trains on episodes with their bias torque "
                            "(learn.dataset.add_bias); this batch has none")
    j = model.n_joints
    q, dq = proprio[..., :j], proprio[..., j:]
    q_star = q + (torque - bias + model.kd * dq) / model.kp
    guess = model.targets(pred, proprio)  # [B, T, K, J]
    loss = pred.new_zeros(())
    for k in range(min(model.k, pred.shape[1])):
        if model.cfg.action == "residual":
            scale = model.residual_std[k]
        else:
            scale = model.proprio_std[:j]
        n = pred.shape[1] - k
        err = ((guess[:, :n, k] - q_star[:, k:]) / scale) ** 2
        loss = loss + _masked(err.mean(-1), mask[:, :n] * mask[:, k:]) / model.k
    bias_hat = model.bias(pred)
    loss = loss + _masked((((bias_hat - bias) / model.bias_std) ** 2).mean(-1), mask)
    tau = model.pd_torque(guess[..., 0, :], bias_hat, proprio)
    loss = loss + _masked(torque_error(model, tau, torque).mean(-1), mask)
    q_star_n = (q_star - model.proprio_mean[:j]) / model.proprio_std[:j]
    for i, h in enumerate(model.cfg.horizons):
        if h >= pred.shape[1]:
            continue
        at = model.k + 1 + i
        out = pred[:, :-h, at * j:(at + 1) * j]
        m = mask[:, :-h] * mask[:, h:]  # both ticks real and after the burn-in
        loss = loss + 0.5 * _masked(((out - q_star_n[:, h:]) ** 2).mean(-1), m)
    return loss + aux


def _step_generator(seed: int, step: int) -> torch.Generator:
    """Augmentation randomness as a pure function of (seed, step): resuming changes nothing."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, step])
                                             .generate_state(1)[0]))


def save_checkpoint(path: Path, model: PolicyNet, optimizer, step: int, cfg: TrainConfig,
                    io: PolicyIO, history: list[dict], manifest: dict,
                    train_state: dict | None = None) -> Path:
    """Write atomically (a temporary file, then rename): a kill never leaves half a file.

    `model` is the network the checkpoint stands for (with cfg.ema, the average);
    `train_state`: the raw weights training resumes from, when they differ."""
    data = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "model_state": model.state_dict(),
        "model_config": asdict(model.cfg),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "train_config": cfg.to_dict(),
        "io": asdict(io),
        "history": history,
        "rng": {"torch": torch.get_rng_state(), "scheme": "per-step (seed, step)"},
        "manifest": manifest,
    }
    if train_state is not None:
        data["train_state"] = train_state
    tmp = path.with_suffix(".tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise TrainingError(f"checkpoint not found: {p}")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise TrainingError(f"cannot read checkpoint {p}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{p} is not a {CHECKPOINT_FORMAT} checkpoint")
    return data


def load_policy(path: str | os.PathLike, **execution) -> tuple[PolicyNet, dict[str, Any]]:
    """The trained network of a checkpoint (eval mode) and the checkpoint's contents.

    `execution`: how a chunked head runs its chunks (`ensemble`, `ensemble_m`), which training
    never sees (chunks are trained raw), so one checkpoint can be run both ways."""
    data = read_checkpoint(path)
    from humanoid_manip.config import from_dict

    mcfg = from_dict(ModelConfig, data["model_config"], f"{path}: model_config")
    if set(execution) - {"ensemble", "ensemble_m"}:
        raise ValueError(f"not a way to run a chunk: {sorted(execution)}")
    if execution:
        mcfg = replace(mcfg, **execution)  # checked again by its __post_init__
    io = PolicyIO.from_dict(data["io"])
    model = PolicyNet(mcfg, len(io.joint_names), len(io.camera_names), io.image_hw,
                      len(io.task_names))
    state = dict(data["model_state"])
    for name in NEWER_BUFFERS:  # checkpoints from before these existed: their defaults
        state.setdefault(name, getattr(model, name))
    model.load_state_dict(state)
    return model.eval(), data


def _config_clash(saved: dict, now: dict) -> list[str]:
    saved = {**{k: v for k, v in TrainConfig().to_dict().items() if k not in saved}, **saved}
    keys = sorted(k for k in set(saved) | set(now) if k != "steps" and saved.get(k) != now.get(k))
    return [f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in keys]


def fit(model: PolicyNet, source, cfg: TrainConfig, out_dir: str | os.PathLike, io: PolicyIO,
        manifest: dict, *, resume: bool = True, progress: bool = True,
        val_batches: Sequence[Batch] = (), time_budget_s: float | None = None,
        offline=None, parallel: DataParallel | None = None) -> TrainResult:
    """Train until cfg.steps, resuming from out_dir/checkpoint.pt when it exists.

    `parallel` (learn/distributed.py, under torchrun): each process trains on its own batches,
    gradients are averaged every step, and only rank 0 writes checkpoints and the curve.

    `time_budget_s`: time the first CALIBRATE steps and lower cfg.steps so that the whole run
    fits the budget (the learning-rate schedule then ends at the new last step; the checkpoint
    records the steps actually run). For a fixed device time, as on a lent GPU.

    `source.batch(step)` gives the batch for a step (WindowSampler, IterableSource, or anything
    alike); validation batches, if any, are scored without augmentation at each log point.
    """
    from tqdm import tqdm

    par = parallel or DataParallel()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / CHECKPOINT_NAME
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model.to(resolve_device(cfg.device))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, history, averaged = 0, [], None
    if resume and ckpt_path.is_file():
        data = read_checkpoint(ckpt_path)
        clash = _config_clash(data["train_config"], cfg.to_dict())
        if clash:
            raise TrainingError(f"{ckpt_path} was trained with other settings "
                                f"({'; '.join(clash)}); use another output folder, or "
                                f"resume=False to start over")
        model.load_state_dict(data.get("train_state", data["model_state"]))
        optimizer.load_state_dict(data["optimizer_state"])
        step, history, manifest = int(data["step"]), list(data["history"]), data["manifest"]
        torch.set_rng_state(data["rng"]["torch"])
        averaged = data["model_state"]
    par.same_weights(model)
    average = WeightAverage(model, cfg.ema, averaged) if cfg.ema else None
    shown = average.model if average else model  # what is scored, saved and returned
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", disable=not progress,
               dynamic_ncols=True)
    window_loss, window_ticks, t_window = [], 0, time.perf_counter()
    t_start, t_calib = time.perf_counter(), None
    try:
        while step < cfg.steps:
            if time_budget_s is not None and step == CALIBRATE_FROM:
                t_calib = time.perf_counter()
            if time_budget_s is not None and t_calib is not None and step == CALIBRATE_TO:
                per_step = (time.perf_counter() - t_calib) / (CALIBRATE_TO - CALIBRATE_FROM)
                left = time_budget_s - (time.perf_counter() - t_start)
                fits = par.agree(max(step + 1, step + int(left / per_step)))
                if fits < cfg.steps:
                    cfg = cfg.with_overrides(steps=fits)
                    bar.total = fits
                    print(f"train: {per_step * 1e3:.0f} ms a step; {fits} steps fit in "
                          f"{time_budget_s:.0f} s", flush=True)
            batch = as_batch(source.batch(par.batch_index(step)))
            for g in optimizer.param_groups:
                g["lr"] = lr_at(cfg, step)
            loss = sequence_loss(model, batch, cfg,
                                 _step_generator(cfg.seed, par.batch_index(step)))
            if not torch.isfinite(loss):
                raise TrainingError(f"loss is {loss.item()} at step {step}; lower lr "
                                    f"(config/train.yaml) or check the data for NaN")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            par.average_gradients(model)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            if average:
                average.update(model, step)
            window_loss.append(loss.item())
            window_ticks += batch.size * par.world
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.steps or step == 1:
                dt = time.perf_counter() - t_window
                point = {"step": step, "loss": float(np.mean(window_loss)),
                         "lr": lr_at(cfg, step - 1), "samples_per_s": window_ticks / dt}
                if val_batches:
                    point["val_loss"] = validation_loss(shown, val_batches)
                history.append(point)
                bar.set_postfix(loss=f"{point['loss']:.4f}")
                window_loss, window_ticks, t_window = [], 0, time.perf_counter()
            if (step % cfg.checkpoint_every == 0 or step == cfg.steps) and par.rank == 0:
                if offline is not None and history and history[-1]["step"] == step:
                    shown.eval()
                    history[-1]["offline_error"] = offline(shown)
                    model.train()
                save_checkpoint(ckpt_path, shown, optimizer, step, cfg, io, history, manifest,
                                model.state_dict() if average else None)
    finally:
        bar.close()
    if not ckpt_path.is_file() and par.rank == 0:  # resumed at the end already
        save_checkpoint(ckpt_path, shown, optimizer, step, cfg, io, history, manifest,
                        model.state_dict() if average else None)
    par.barrier()  # the checkpoint is on disk for every process
    model.cpu().eval()
    shown.cpu().eval()
    curve = write_curve(out, history) if par.rank == 0 else None
    return TrainResult(shown, ckpt_path, history, curve, manifest)


class WeightAverage:
    """An exponential moving average of a network's weights (cfg.ema), a copy beside it; the
    decay ramps up over the first steps ((1 + step) / (10 + step)) so the start is forgotten."""

    def __init__(self, model: PolicyNet, decay: float, state: dict | None = None):
        import copy

        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        if state is not None:
            self.model.load_state_dict(state)
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: PolicyNet, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for mine, theirs in zip(self.model.parameters(), model.parameters()):
            mine.lerp_(theirs, 1.0 - d)
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)


@torch.no_grad()
def validation_loss(model: PolicyNet, batches: Sequence[Batch]) -> float:
    was_training = model.training
    model.eval()
    total = float(np.mean([sequence_loss(model, as_batch(b)).item() for b in batches]))
    model.train(was_training)
    return total


def write_curve(out_dir: Path, history: list[dict]) -> Path | None:
    """curve.json (the numbers) and curve.png (loss against step, log scale)."""
    (out_dir / CURVE_JSON).write_text(json.dumps(history, indent=1) + "\n")
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    steps = [p["step"] for p in history]
    ax.plot(steps, [p["loss"] for p in history], label="train (augmented)")
    if any("val_loss" in p for p in history):
        ax.plot([p["step"] for p in history if "val_loss" in p],
                [p["val_loss"] for p in history if "val_loss" in p], label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE (normalized torque)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out_dir / CURVE_PNG
    fig.savefig(path)
    plt.close(fig)
    return path


def train_policy(cfg: TrainConfig, episodes: Sequence[EpisodeArrays], robot,
                 task_names: Sequence[str], out_dir: str | os.PathLike, *,
                 resume: bool = True, progress: bool = True, val_episodes=(),
                 source_info: dict | None = None, time_budget_s: float | None = None,
                 init_from: PolicyNet | None = None, init_stats: bool = False,
                 init_checkpoint: str = "", init_tasks: Sequence[str] = (),
                 parallel: DataParallel | None = None) -> TrainResult:
    """The whole job on in-memory episodes: stats, model, manifest, sampler, loop, curve.

    `init_from`: start from another network's weights wherever names and shapes match (a
    warm start; a student from its teacher: the layers after the state estimate); with
    `init_stats`, its normalization too, which its layers were trained under; `init_checkpoint`:
    that network's checkpoint id, a parent in the lineage (what the weights came from);
    `init_tasks`: its task names, so its task embedding's rows go to the same tasks here (a
    one-task student from a two-task teacher).
    """
    from humanoid_manip.data.lineage import new_manifest

    io = PolicyIO.for_robot(robot, task_names, cfg.model.observation)
    for e in episodes:
        if cfg.model.observation == "privileged":
            if e.privileged is None:
                raise TrainingError(f"episode {e.id!r} has no privileged state "
                                    f"(/sim/privileged_state) for a privileged-state model")
        elif e.frames.shape[1:] != (len(io.camera_names), *io.image_hw, 3):
            raise TrainingError(f"episode {e.id!r} has frames {e.frames.shape[1:]}, the robot "
                                f"gives {(len(io.camera_names), *io.image_hw, 3)}")
        if e.torque.shape[1] != len(io.joint_names):
            raise TrainingError(f"episode {e.id!r} has {e.torque.shape[1]} joints, the robot "
                                f"{len(io.joint_names)}")
    if cfg.model.action in ("pd", "residual"):
        from humanoid_manip.learn.dataset import add_bias

        episodes = add_bias(episodes, robot)
        val_episodes = add_bias(val_episodes, robot) if val_episodes else val_episodes
    stats = compute_stats(episodes, robot.kp, robot.kd, cfg.model.chunk)
    model = build_model(cfg.model, io, stats, robot.effort_limit, cfg.seed, robot.kp, robot.kd)
    seeds: dict[str, list[int]] = {}
    for e in episodes:
        if e.seed is not None:
            seeds.setdefault(task_names[e.task], []).append(e.seed)
    manifest = new_manifest(
        "checkpoint",
        {"type": "behaviour_cloning", "trainer": "humanoid_manip.learn.train",
         "train_config": cfg.to_dict(), "tasks": list(task_names),
         "train_seeds": {t: sorted(set(v)) for t, v in seeds.items()}, **(source_info or {}),
         **({"init_from": {"checkpoint": init_checkpoint, "normalization": init_stats}}
            if init_from is not None else {})},
        parents=[*([init_checkpoint] if init_checkpoint else []),
                 *(e.id for e in episodes if e.id)], robot=robot,
        extra={"episodes": len(episodes), "ticks": int(sum(len(e) for e in episodes))})
    sampler = WindowSampler(episodes, cfg.batch_size, cfg.window, cfg.burn_in, cfg.seed)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        sampler = DeviceWindowSampler(sampler, device)
    val = []
    if val_episodes:
        vs = WindowSampler(val_episodes, cfg.batch_size, cfg.window, cfg.burn_in, cfg.seed + 1)
        val = [vs.batch(i) for i in range(2)]
    if init_from is not None:  # weights (and, with init_stats, normalization) where they fit
        mine = model.state_dict()
        theirs = dict(init_from.state_dict())
        if init_tasks:  # the embedding's rows by task name, where both know the task
            rows = mine["task_embedding.weight"].clone()
            for i, name in enumerate(task_names):
                if name in init_tasks:
                    rows[i] = theirs["task_embedding.weight"][list(init_tasks).index(name)]
            theirs["task_embedding.weight"] = rows
        own = {k: v for k, v in theirs.items()
               if k in mine and v.shape == mine[k].shape
               and (init_stats or k not in NormStats.__dataclass_fields__)}
        model.load_state_dict(own, strict=False)
    offline = None
    if val_episodes and cfg.model.action != "torque":
        from humanoid_manip.learn.metrics import offline_errors

        def offline(m):
            return offline_errors(m, val_episodes, robot)["policy"]["all"]
    result = fit(model, sampler, cfg, out_dir, io, json.loads(manifest.to_json()),
                 resume=resume, progress=progress, val_batches=val,
                 time_budget_s=time_budget_s, offline=offline,
                 parallel=parallel)
    # the held-out error, per joint group, beside the baselines (rank 0 wrote the checkpoint)
    if offline is not None and (parallel is None or parallel.rank == 0):
        from humanoid_manip.learn.metrics import offline_errors, state_estimate_errors

        data = read_checkpoint(result.checkpoint)
        result.manifest["offline_error"] = offline_errors(result.model, val_episodes, robot)
        seen = state_estimate_errors(result.model, val_episodes)
        if seen is not None:  # a student: how well its cameras give the teacher's state
            result.manifest["state_estimate_error"] = seen
        result.manifest["offline_episodes"] = [e.id for e in val_episodes]
        data["manifest"] = result.manifest
        tmp = result.checkpoint.with_suffix(".tmp")
        torch.save(data, tmp)
        os.replace(tmp, result.checkpoint)
    return result
