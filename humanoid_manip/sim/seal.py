"""A breakable seal: a row of equality constraints that let go, one by one, under tension."""
from __future__ import annotations

import mujoco
import numpy as np

from humanoid_manip.errors import HumanoidManipError

_EQUALITY = int(mujoco.mjtConstraint.mjCNSTR_EQUALITY)


class SealError(HumanoidManipError):
    """A seal was set up with equalities or thresholds that do not fit its model."""


class BreakableSeal:
    """Equality constraints along a seam, each released when its force exceeds its threshold.

    A seam of length L with strength q (N/m) is discretized into points, each owning the seam
    length `segment_m[i]` around it; point i lets go (``eq_active = 0``) once the force its
    equality carries exceeds ``q * segment_m[i]``. Under a steady pull the most loaded point
    goes first and hands its load to its neighbours, so the seam peels open progressively from
    where it is pulled; a released point never closes again. The check reads the constraint
    solver's result (``efc_force``) and is vectorized: a bincount over the equality rows.
    """

    def __init__(self, model: mujoco.MjModel, eq_ids, segment_m, strength_n_per_m: float):
        self.eq_ids = np.asarray(eq_ids, dtype=np.int64)
        self.segment_m = np.asarray(segment_m, dtype=np.float64)
        if self.eq_ids.ndim != 1 or self.eq_ids.shape != self.segment_m.shape:
            raise SealError(f"one segment length per equality: {self.eq_ids.shape} ids, "
                            f"{self.segment_m.shape} lengths")
        if np.any(self.eq_ids < 0) or np.any(self.eq_ids >= model.neq):
            raise SealError(f"equality ids must lie in [0, {model.neq}), got {self.eq_ids}")
        if strength_n_per_m <= 0 or np.any(self.segment_m <= 0):
            raise SealError("seal strength and segment lengths must be positive")
        self.neq = model.neq
        self.strength_n_per_m = float(strength_n_per_m)
        self.threshold_n = self.strength_n_per_m * self.segment_m
        self.peak_n = np.zeros(len(self.eq_ids))  # largest force each point has carried

    @property
    def length_m(self) -> float:
        return float(self.segment_m.sum())

    def close(self, data: mujoco.MjData) -> None:
        """Every point sealed (the state at the start of an episode)."""
        data.eq_active[self.eq_ids] = 1
        self.peak_n[:] = 0.0

    def forces(self, data: mujoco.MjData) -> np.ndarray:
        """The force (N) each seal point's equality carried in the last constraint solve."""
        ne = data.ne
        rows = data.efc_type[:ne] == _EQUALITY
        sq = np.bincount(data.efc_id[:ne][rows], weights=data.efc_force[:ne][rows] ** 2,
                         minlength=self.neq)
        return np.sqrt(sq[self.eq_ids])

    def update(self, data: mujoco.MjData) -> int:
        """Release the points loaded past their threshold; returns how many let go now."""
        f = self.forces(data)
        np.maximum(self.peak_n, f, out=self.peak_n)
        closed = data.eq_active[self.eq_ids].astype(bool)
        breaking = closed & (f > self.threshold_n)
        if breaking.any():
            data.eq_active[self.eq_ids[breaking]] = 0
        return int(breaking.sum())

    def open_mask(self, data: mujoco.MjData) -> np.ndarray:
        return ~data.eq_active[self.eq_ids].astype(bool)

    def open_fraction(self, data: mujoco.MjData) -> float:
        """Length-weighted fraction of the seam that has let go, in [0, 1]."""
        return float(self.segment_m[self.open_mask(data)].sum() / self.length_m)
