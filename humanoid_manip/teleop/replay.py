"""The hand-stream file a replay driver plays: JSON Lines or CSV of wrists and keypoints.

A stream captured from any headset or glove is converted once into this format and can then
drive the robot (`humanoid-manip teleop --device replay FILE`). Units are metres and seconds;
positions of the wrist are the robot palm's target in the robot's world frame (x forward,
y left, z up; the capture tool applies its calibration), quaternions are w, x, y, z.
Keypoints may be in any frame (the retargeter uses only their shape), in the 21-point layout
or in OpenXR's 26-joint layout (teleop.keypoints).

JSON Lines (`.jsonl`): an optional header line, then one frame per line::

    {"format": "humanoid_manip.hand_stream", "version": 1, "layout": "hand21"}
    {"t": 0.000, "deadman": true,
     "right": {"wrist": [0.45, -0.2, 0.95, 1, 0, 0, 0], "keypoints": [[x, y, z], ...]},
     "left": null}

`wrist` is 7 numbers (position + quaternion) or 3 (position only); a side that is missing or
null was not tracked in that frame; `deadman` defaults to true (a recorded stream is meant to
drive; the replay driver can override it). A frame may give its own "layout".

CSV (`.csv`): a header row, one row per hand per frame, rows of one frame share `t`::

    t,side,deadman,px,py,pz,qw,qx,qy,qz,k0x,k0y,k0z,...,k20x,k20y,k20z

qw..qz may be empty (position only); all k columns empty means no keypoints; 26 k-triples
(k0x..k25z) mean the OpenXR layout.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.teleop.keypoints import KeypointError, to_hand21
from humanoid_manip.teleop.types import SIDES, HandSample, TeleopInput

FORMAT = "humanoid_manip.hand_stream"
VERSION = 1


class HandStreamError(HumanoidManipError):
    """A hand-stream file that is missing or malformed (the message says where)."""


def _sample(d, layout: str, where: str) -> HandSample | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        raise HandStreamError(f"{where}: a hand must be an object with wrist/keypoints")
    unknown = set(d) - {"wrist", "keypoints", "layout"}
    if unknown:
        raise HandStreamError(f"{where}: unknown key(s) {sorted(unknown)}; valid: wrist, "
                              "keypoints, layout")
    pos = quat = kp = None
    if d.get("wrist") is not None:
        w = np.asarray(d["wrist"], dtype=float)
        if w.shape not in ((3,), (7,)) or not np.all(np.isfinite(w)):
            raise HandStreamError(f"{where}: wrist must be 3 or 7 finite numbers, got {w.shape}")
        pos = w[:3]
        if w.shape == (7,):
            n = np.linalg.norm(w[3:])
            if n < 1e-9:
                raise HandStreamError(f"{where}: wrist quaternion is zero")
            quat = w[3:] / n
    if d.get("keypoints") is not None:
        try:
            kp = to_hand21(d["keypoints"], d.get("layout", layout))
        except KeypointError as exc:
            raise HandStreamError(f"{where}: {exc}") from None
    return HandSample(pos, quat, kp)


def _read_jsonl(path: Path) -> list[TeleopInput]:
    frames: list[TeleopInput] = []
    layout = "hand21"
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HandStreamError(f"{where}: not JSON: {exc}") from None
            if not isinstance(d, dict):
                raise HandStreamError(f"{where}: each line must be a JSON object")
            if "format" in d:
                if d["format"] != FORMAT or d.get("version", VERSION) != VERSION:
                    raise HandStreamError(f"{where}: header says {d.get('format')!r} version "
                                          f"{d.get('version')!r}; expected {FORMAT!r} {VERSION}")
                layout = d.get("layout", layout)
                continue
            unknown = set(d) - {"t", "deadman", *SIDES}
            if unknown or "t" not in d:
                raise HandStreamError(f"{where}: a frame needs t (and deadman, left, right); "
                                      f"unknown: {sorted(unknown)}")
            hands = {s: h for s in SIDES
                     if (h := _sample(d.get(s), layout, f"{where} {s}")) is not None}
            frames.append(TeleopInput(float(d["t"]), hands, bool(d.get("deadman", True))))
    return frames


def _num(text: str, where: str) -> float | None:
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise HandStreamError(f"{where}: {text!r} is not a number") from None


def _read_csv(path: Path) -> list[TeleopInput]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise HandStreamError(f"{path}: empty file")
    head = [h.strip() for h in rows[0]]
    need = ["t", "side", "deadman", "px", "py", "pz", "qw", "qx", "qy", "qz"]
    if head[:10] != need:
        raise HandStreamError(f"{path}: header must start with {','.join(need)}")
    nk = (len(head) - 10) // 3
    if nk not in (0, 21, 26) or len(head) != 10 + 3 * nk:
        raise HandStreamError(f"{path}: expected 21 or 26 keypoint triples after qz, got "
                              f"{len(head) - 10} columns")
    layout = "openxr26" if nk == 26 else "hand21"
    by_t: dict[float, dict] = {}
    for n, row in enumerate(rows[1:], 2):
        if not row:
            continue
        where = f"{path}:{n}"
        if len(row) != len(head):
            raise HandStreamError(f"{where}: {len(row)} columns, header has {len(head)}")
        t = _num(row[0], where)
        side = row[1].strip()
        if t is None or side not in SIDES:
            raise HandStreamError(f"{where}: needs a time and side left or right")
        vals = [_num(v, where) for v in row[3:10]]
        wrist = None
        if all(v is not None for v in vals[:3]):
            wrist = vals if all(v is not None for v in vals) else vals[:3]
        ks = [_num(v, where) for v in row[10:]]
        kp = None
        if nk and all(v is not None for v in ks):
            kp = np.array(ks).reshape(nk, 3).tolist()
        elif any(v is not None for v in ks):
            raise HandStreamError(f"{where}: keypoints must be all given or all empty")
        frame = by_t.setdefault(t, {"t": t, "deadman": True})
        frame[side] = {"wrist": wrist, "keypoints": kp}
        dm = row[2].strip().lower()
        if dm:
            frame["deadman"] = dm in ("1", "true", "yes")
    out = []
    for t in sorted(by_t):
        d = by_t[t]
        hands = {s: h for s in SIDES
                 if (h := _sample(d.get(s), layout, f"{path} t={t} {s}")) is not None}
        out.append(TeleopInput(t, hands, d["deadman"]))
    return out


def read_hand_stream(path: str | os.PathLike) -> list[TeleopInput]:
    """All frames of a .jsonl or .csv hand stream, in time order, keypoints as 21×3."""
    p = Path(path)
    if not p.is_file():
        raise HandStreamError(f"hand-stream file not found: {p}")
    if p.suffix == ".csv":
        frames = _read_csv(p)
    elif p.suffix in (".jsonl", ".json", ".ndjson"):
        frames = _read_jsonl(p)
    else:
        raise HandStreamError(f"{p}: unknown hand-stream format {p.suffix!r}; use .jsonl or .csv")
    if not frames:
        raise HandStreamError(f"{p}: no frames")
    ts = np.array([f.t for f in frames])
    if np.any(np.diff(ts) < 0):
        raise HandStreamError(f"{p}: times must not decrease")
    return frames


def _wrist_list(h: HandSample):
    if h.wrist_pos is None:
        return None
    w = list(map(float, h.wrist_pos))
    return w + list(map(float, h.wrist_quat)) if h.wrist_quat is not None else w


def write_hand_stream(path: str | os.PathLike, frames: list[TeleopInput]) -> Path:
    """Write frames as .jsonl or .csv (by the suffix), 21-point layout."""
    p = Path(path)
    if p.suffix == ".csv":
        head = ["t", "side", "deadman", "px", "py", "pz", "qw", "qx", "qy", "qz"]
        head += [f"k{i}{c}" for i in range(21) for c in "xyz"]
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(head)
            for fr in frames:
                for side, h in fr.hands.items():
                    wr = _wrist_list(h) or []
                    wr = wr + [""] * (7 - len(wr))
                    kp = ([f"{v:.6g}" for v in np.asarray(h.keypoints).ravel()]
                          if h.keypoints is not None else [""] * 63)
                    w.writerow([f"{fr.t:.9f}", side, int(fr.deadman), *wr, *kp])
        return p
    with open(p, "w") as f:
        f.write(json.dumps({"format": FORMAT, "version": VERSION, "layout": "hand21"}) + "\n")
        for fr in frames:
            d = {"t": round(fr.t, 9), "deadman": fr.deadman}
            for side, h in fr.hands.items():
                d[side] = {"wrist": _wrist_list(h),
                           "keypoints": (np.round(np.asarray(h.keypoints), 6).tolist()
                                         if h.keypoints is not None else None)}
            f.write(json.dumps(d) + "\n")
    return p


def sample_at(frames: list[TeleopInput], t: float) -> TeleopInput:
    """The latest frame at or before t (the first frame before the stream starts)."""
    ts = [f.t for f in frames]
    i = int(np.searchsorted(ts, t, side="right")) - 1
    return frames[max(i, 0)]
