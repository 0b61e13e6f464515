"""dryer_open: pull a front-loading dryer's latched door open, whichever side its hinge is on."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK, WristTarget
from humanoid_manip.sim.latch import ForceLatch
from humanoid_manip.sim.tasks._dryer import (
    CABINET_WIDTH,
    DryerLayout,
    build_dryer,
    door_angle,
)
from humanoid_manip.sim.tasks._script import Phase, ScriptedExpert
from humanoid_manip.sim.tasks.base import Expert, Range, Task, TaskConfig, register, uniform


@dataclasses.dataclass(frozen=True)
class DryerSceneConfig(TaskConfig):
    """The dryer's placement, hinge side and wall: the ranges both dryer tasks draw from."""

    front_x: Range
    lateral_offset: Range
    center_z: Range
    door_width: Range
    handle_standoff: Range
    hinge_right_probability: float
    wall_probability: float
    wall_gap: Range
    wall_front: Range


@dataclasses.dataclass(frozen=True)
class DryerOpenConfig(DryerSceneConfig):
    latch_force_n: Range
    door_mass_kg: Range
    hinge_damping: Range
    success_angle_deg: float


def dryer_layout(c: DryerSceneConfig, rng: np.random.Generator) -> DryerLayout:
    """Draw the dryer's placement, hinge side and wall (shared with dryer_unload)."""
    sign = 1 if rng.random() < c.hinge_right_probability else -1
    width = uniform(rng, c.door_width)
    center_y = -sign * uniform(rng, c.lateral_offset)
    wall = bool(rng.random() < c.wall_probability)
    wall_y = center_y - sign * (CABINET_WIDTH / 2 + uniform(rng, c.wall_gap))
    return DryerLayout(front_x=uniform(rng, c.front_x), center_y=center_y,
                       center_z=uniform(rng, c.center_z), opening=width - 0.04,
                       door_width=width, hinge_sign=sign,
                       handle_standoff=uniform(rng, c.handle_standoff), wall=wall,
                       wall_y=wall_y, wall_front=uniform(rng, c.wall_front))


@register
class DryerOpen(Task):
    """Open the dryer door at least 70 degrees; a magnetic latch holds it until pulled hard."""

    name = "dryer_open"
    Config = DryerOpenConfig

    def build_scene(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        c = self.config
        self.layout = dryer_layout(c, rng)
        self.latch_force = uniform(rng, c.latch_force_n)
        build_dryer(spec, self.layout, uniform(rng, c.door_mass_kg), uniform(rng, c.hinge_damping))
        lay = self.layout
        # The magnet: the door's free edge held to the cabinet until the pull exceeds the force.
        spec.add_equality(name="latch", type=mujoco.mjtEq.mjEQ_CONNECT,
                          objtype=mujoco.mjtObj.mjOBJ_BODY, name1="door", name2="dryer",
                          data=[0, lay.hinge_sign * (lay.door_width - 0.02), 0] + [0] * 9,
                          solref=[0.01, 1.0])

    def initialize_episode(self, model, data, rng) -> None:
        self.latch = ForceLatch(model, "latch", self.latch_force, joint="door_hinge")

    def after_step(self, model, data) -> None:
        self.latch.update(model, data)

    def angle(self, model, data) -> float:
        return door_angle(model, data)

    def success(self, model, data) -> bool:
        return self.angle(model, data) >= np.deg2rad(self.config.success_angle_deg)

    def progress(self, model, data) -> float:
        if self.success(model, data):
            return 1.0
        opened = max(self.angle(model, data), 0.0) / np.deg2rad(self.config.success_angle_deg)
        unlatched = 0.0 if self.latch.engaged(data) else 0.1
        return float(min(unlatched + 0.85 * opened, 0.99))

    def debug(self, sim):
        return (f"door={np.rad2deg(self.angle(sim.model, sim.data)):.1f} "
                f"latch={int(self.latch.engaged(sim.data))} peak={self.latch.peak_force:.1f}")

    def expert(self, sim) -> Expert:
        return ScriptedExpert(sim, self._plan)

    def _plan(self, sim) -> list[Phase]:
        """Hook the handle bar, pull past the latch, and follow the door's arc past 76°.

        The hand on the hinge's side works (the right hand when the hinge is on the right), so
        the arm swings outward, not across the body; the other hand parks. The palm target is
        fixed in the door's frame and turns with it, so the pull is always tangent to the arc,
        never the straight pull the wall on the hinge side would stop. The hand itself turns only
        half as far as the door; the curled fingers keep the bar either way.
        """
        lay = self.layout
        sg = lay.hinge_sign
        hand = "right" if sg > 0 else "left"
        other = "left" if sg > 0 else "right"
        home_q = WristIK.home_quat(sim.robot, hand)
        grip = np.array([0.05, sg * 0.035, 0.015])  # the bar, seen from the palm, when hooked

        def hook(angle: float) -> np.ndarray:
            """Palm in the door frame: the hand lags the door's turn, the bar stays in its grip."""
            a = -sg * (1.0 - HAND_TURN) * angle
            c, s = np.cos(a), np.sin(a)
            return lay.handle_local - np.array([c * grip[0] - s * grip[1],
                                                s * grip[0] + c * grip[1], grip[2]])
        model = sim.model

        def door_pose(angle: float, local: np.ndarray) -> WristTarget:
            origin, rot = lay.door_frame(angle)
            q = np.zeros(4)
            mujoco.mju_axisAngle2Quat(q, np.array([0.0, 0.0, 1.0]), sg * HAND_TURN * angle)
            out = np.zeros(4)
            mujoco.mju_mulQuat(out, q, home_q)
            return WristTarget(origin + rot @ local, out)

        def angle(sim) -> float:
            return door_angle(model, sim.data)

        open_to = np.deg2rad(self.config.success_angle_deg + 15.0)
        enough = np.deg2rad(self.config.success_angle_deg + 6.0)
        cmd = {"angle": 0.0, "t": 0.0}

        def pull(sim, s, start):
            """The door angle to pull towards: a ramp, never far ahead of the real door."""
            dt = sim.time - cmd["t"]
            cmd["t"] = sim.time
            cmd["angle"] = min(cmd["angle"] + PULL_RATE * dt, angle(sim) + PULL_LEAD, open_to)
            return {hand: door_pose(cmd["angle"], hook(cmd["angle"]))}

        def begin_pull(sim, start):
            cmd.update(angle=0.0, t=sim.time)

        return [
            Phase(1.0, {hand: door_pose(0.0, hook(0.0) + [-0.09, 0, 0]),
                        other: WristTarget(PARKED[other])}, {hand: ("hook", 0.0)}),
            Phase(0.6, {hand: door_pose(0.0, hook(0.0))}),
            Phase(0.4, {}, {hand: ("hook", 1.0)}),
            Phase(5.0, pull, begin=begin_pull, min_s=0.5,
                  until=lambda sim: angle(sim) >= enough),
        ]  # and keep hold: uncurling the fingers would push the door back


PULL_RATE = 0.6  # rad/s of the commanded door angle
PULL_LEAD = 0.2  # rad the command may run ahead of the door (how hard the latch is pulled)
HAND_TURN = 0.65  # the hand turns this fraction of the door's angle (the arm's reach is limited)


PARKED = {"left": np.array([0.30, 0.38, 1.22]), "right": np.array([0.30, -0.38, 1.22])}

