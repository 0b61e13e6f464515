"""Equality constraints that break under force: magnetic latches, seals, zippers."""
from __future__ import annotations

import mujoco
import numpy as np


def equality_forces(model: mujoco.MjModel, data: mujoco.MjData, eq_ids: np.ndarray) -> np.ndarray:
    """Norm of each equality's constraint force (N) at the last step; 0 for inactive ones."""
    n = data.nefc
    out = np.zeros(len(eq_ids))
    if n == 0:
        return out
    rows = data.efc_type[:n] == mujoco.mjtConstraint.mjCNSTR_EQUALITY
    ids = data.efc_id[:n][rows]
    force = data.efc_force[:n][rows]
    for k, eq in enumerate(eq_ids):
        f = force[ids == eq]
        out[k] = float(np.sqrt(np.sum(f[:3] ** 2))) if f.size else 0.0
    return out


class ForceLatch:
    """An equality that lets go when its constraint force exceeds a threshold, and re-engages
    only after the joint it guards has opened past `rearm_open` and come back under `rearm_closed`
    (a magnet catching a door that is pushed shut)."""

    def __init__(self, model: mujoco.MjModel, equality: str, threshold_n: float,
                 joint: str | None = None, rearm_open: float = 0.1, rearm_closed: float = 0.01):
        self.eq = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_EQUALITY, equality)
        if self.eq < 0:
            raise ValueError(f"no equality named {equality!r}")
        self.threshold = float(threshold_n)
        self.qadr = None if joint is None else model.jnt_qposadr[model.joint(joint).id]
        self.rearm_open, self.rearm_closed = rearm_open, rearm_closed
        self.was_open = False
        self.peak_force = 0.0

    def engaged(self, data: mujoco.MjData) -> bool:
        return bool(data.eq_active[self.eq])

    def update(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Call after each physics step."""
        if data.eq_active[self.eq]:
            f = equality_forces(model, data, np.array([self.eq]))[0]
            self.peak_force = max(self.peak_force, f)
            if f > self.threshold:
                data.eq_active[self.eq] = 0
                self.was_open = False
        elif self.qadr is not None:
            q = abs(float(data.qpos[self.qadr]))
            if q > self.rearm_open:
                self.was_open = True
            elif self.was_open and q < self.rearm_closed:
                data.eq_active[self.eq] = 1
