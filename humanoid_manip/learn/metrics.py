"""Predictions checked apart from rollouts: the teacher-forced action error on held-out episodes.

The network is fed a recorded episode's own observations, tick by tick with its memory carried
(and its chunks ensembled, when it ensembles), and its torque is compared with the label. The
error is in the training loss's kind of unit (squared, averaged, in torque standard deviations
floored at 5 % of the effort limit), with the standard deviations of the held-out labels
themselves, so that two models are scored on one scale, per joint group, beside two answers
that need no learning:
gravity compensation alone (τ = b) and the previous tick's target held (its q* through the PD
law at this tick's state). A policy worse than those has learned nothing a rollout could use.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from humanoid_manip.learn.dataset import EpisodeArrays, pd_targets
from humanoid_manip.learn.model import TORQUE_SCALE_FLOOR, PolicyNet

GROUPS = ("left_arm", "right_arm", "left_hand", "right_hand", "head")
BASELINES = ("gravity_only", "hold_previous_target")


def _episode_inputs(model: PolicyNet, e: EpisodeArrays) -> tuple:
    """forward_sequence's inputs for a whole recorded episode (a batch of one), and its proprio."""
    proprio = torch.from_numpy(np.ascontiguousarray(e.proprio, np.float32))[None]
    if model.privileged:
        obs = torch.from_numpy(np.ascontiguousarray(e.privileged, np.float32))[None]
    else:
        obs = model.pixels(torch.from_numpy(e.frames))[None]
    frame_of = torch.from_numpy(np.asarray(e.frame_of, np.int64))[None]
    return (obs, frame_of, model.normalize_proprio(proprio), torch.tensor([e.task])), proprio


@torch.no_grad()
def episode_torques(model: PolicyNet, e: EpisodeArrays) -> torch.Tensor:
    """The model's torque at every tick of a recorded episode (teacher-forced), [T, J]."""
    model = model.eval()
    inputs, proprio = _episode_inputs(model, e)
    u = model.forward_sequence(*inputs)[0]
    if model.cfg.action == "torque":
        return model.torque_from_normalized(u)
    q_star = model.targets(u, proprio[0])  # [T, K, J]
    if model.cfg.ensemble:
        q_star = ensembled(q_star, model.cfg.ensemble_m)
    else:
        q_star = q_star[:, 0]
    return model.pd_torque(q_star, model.bias(u), proprio[0])


def ensembled(chunks: torch.Tensor, m: float) -> torch.Tensor:
    """ACT's temporal ensembling of per-tick chunks [T, K, J]: each tick's executed target, as
    the exported graph computes it in its state (earlier chunks weigh exp(m) more per tick)."""
    t, k, _ = chunks.shape
    out = torch.empty_like(chunks[:, 0])
    for i in range(t):
        num, den = torch.zeros_like(chunks[0, 0]), 0.0
        for a in range(min(k, i + 1)):  # the chunk issued a ticks ago predicted this tick
            w = float(np.exp(m * a))
            num = num + w * chunks[i - a, a]
            den += w
        out[i] = num / den
    return out


def offline_errors(model: PolicyNet, episodes: Sequence[EpisodeArrays], robot) -> dict:
    """{"policy" | baseline: {group: error, "all": error}} over every tick of `episodes`
    (which carry their bias: learn.dataset.add_bias)."""
    kp, kd, lim = robot.kp, robot.kd, robot.effort_limit
    groups = {g: robot.group_indices(g) for g in GROUPS}
    labels = np.concatenate([e.torque for e in episodes]).astype(np.float64)
    scale = torch.from_numpy(np.maximum(labels.std(0), TORQUE_SCALE_FLOOR * lim)
                             .astype(np.float32))
    sums = {name: np.zeros(robot.n) for name in ("policy", *BASELINES)}
    ticks = 0
    for e in episodes:
        label = torch.from_numpy(np.asarray(e.torque, np.float32))
        j = robot.n
        q, dq = e.proprio[:, :j].astype(np.float64), e.proprio[:, j:].astype(np.float64)
        q_star = pd_targets(e, kp, kd)
        held = np.vstack([q_star[:1], q_star[:-1]])  # the previous tick's target
        answers = {
            "policy": episode_torques(model, e),
            "gravity_only": torch.from_numpy(np.asarray(e.bias, np.float32)),
            "hold_previous_target": torch.from_numpy(
                np.clip(kp * (held - q) - kd * dq + e.bias, -lim, lim).astype(np.float32)),
        }
        for name, tau in answers.items():
            sums[name] += (((tau.float() - label) / scale) ** 2).sum(0).numpy()
        ticks += len(label)
    out = {}
    for name, s in sums.items():
        per_joint = s / max(ticks, 1)
        out[name] = {g: float(per_joint[idx].mean()) for g, idx in groups.items()}
        out[name]["all"] = float(per_joint.mean())
    return out


@torch.no_grad()
def state_estimate_errors(model: PolicyNet, episodes: Sequence[EpisodeArrays]) -> dict | None:
    """How well a state-estimating student sees: its object-state estimate from the cameras
    against the recorded privileged state, teacher-forced over every tick of `episodes`.

    {"rmse": per dimension in the state's own units (metres, radians, flags), "normalized":
    the auxiliary loss's mean squared error in the teacher's standard deviations}; None for a
    model without an estimate."""
    if not model.estimates_state:
        return None
    model = model.eval()
    enc = model.state_encoder
    sq, sq_n, ticks = None, 0.0, 0
    for e in episodes:
        inputs, _ = _episode_inputs(model, e)
        est = model.forward_sequence(*inputs, with_estimate=True)[1][0]
        truth = torch.from_numpy(np.ascontiguousarray(e.privileged, np.float32))
        err = est * enc.std + enc.mean - truth
        sq = (err ** 2).sum(0) if sq is None else sq + (err ** 2).sum(0)
        sq_n += float(((est - (truth - enc.mean) / enc.std) ** 2).mean(-1).sum())
        ticks += len(truth)
    if sq is None:
        return None
    return {"rmse": [float(x) for x in torch.sqrt(sq / ticks)], "normalized": sq_n / ticks}


def format_errors(errors: dict) -> str:
    """A small table: one row per answer, one column per joint group."""
    cols = [*GROUPS, "all"]
    lines = ["answer".ljust(22) + "".join(c.rjust(11) for c in cols)]
    for name, row in errors.items():
        lines.append(name.ljust(22) + "".join(f"{row[c]:11.4f}" for c in cols))
    return "\n".join(lines)
