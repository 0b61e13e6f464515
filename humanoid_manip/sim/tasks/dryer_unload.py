"""dryer_unload: take every piece of clothing (flex cloth) out of an open dryer into a basket."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK
from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.errors import ConfigError
from humanoid_manip.robot.mujoco_model import ROBOT_BITS, WORLD_BIT
from humanoid_manip.sim.tasks._dryer import build_dryer, door_angle
from humanoid_manip.sim.tasks._reactive import ReactiveExpert
from humanoid_manip.sim.tasks.base import Expert, Range, Task, register, uniform
from humanoid_manip.sim.tasks.dryer_open import (
    PARKED,
    DryerSceneConfig,
    dryer_layout,
    layout_conditions,
)

CLOTH_BIT = 16  # cloth touches the world and the robot, never other cloth (speed)
CLOTH_GRID = 5  # vertices per side of each piece
BASKET_INNER = (0.22, 0.34)  # inside length along x and y (m)
BASKET_DEPTH = 0.14
BASKET_WALL = 0.02  # thick, so that no cloth vertex slips through
BASKET_BOTTOM = 0.03  # thick, so that no cloth vertex tunnels through it
HANGING = 0.06  # a piece centred this far out of the opening still hangs on its lip
MAX_PIECES = 4  # slots in the privileged state (config/tasks.yaml pieces may not exceed it)


@dataclasses.dataclass(frozen=True)
class DryerUnloadConfig(DryerSceneConfig):
    door_open_deg: Range
    hinge_damping: Range
    door_mass_kg: Range
    pieces: tuple[int, int]
    cloth_size: Range
    cloth_mass_kg: Range
    cloth_depth: Range
    cloth_y: Range
    basket_rim_below_lip: Range


def cloth_xml(name: str, size: float, mass: float, rgba) -> str:
    """One square piece of cloth as an MJCF flexcomp (a 2D grid of point masses)."""
    spacing = size / (CLOTH_GRID - 1)
    colour = " ".join(f"{c:.3f}" for c in rgba)
    return f"""<mujoco><worldbody>
  <flexcomp name="{name}" type="grid" count="{CLOTH_GRID} {CLOTH_GRID} 1"
            spacing="{spacing:.4f} {spacing:.4f} {spacing:.4f}" radius="0.004" dim="2"
            mass="{mass:.4f}" rgba="{colour}">
    <contact contype="{CLOTH_BIT}" conaffinity="{WORLD_BIT | ROBOT_BITS}" condim="3"
             selfcollide="none" friction="1.0"/>
    <edge equality="true" damping="0.01"/>
  </flexcomp>
</worldbody></mujoco>"""


@register
class DryerUnload(Task):
    """Unload the dryer: every piece of clothing from the drum into the basket."""

    name = "dryer_unload"
    Config = DryerUnloadConfig

    def build_scene(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        c = self.config
        self.layout = lay = dryer_layout(c, rng)
        self.door_open = np.deg2rad(uniform(rng, c.door_open_deg))
        build_dryer(spec, lay, uniform(rng, c.door_mass_kg), uniform(rng, c.hinge_damping))
        self.floor_z = self.lip_z = lay.floor_z  # the drum's floor is the opening's lip
        # The basket, against the dryer's front right below the opening, on a stand: what is
        # pulled over the opening's lip falls into it.
        rim = self.lip_z - uniform(rng, c.basket_rim_below_lip)
        bx = lay.front_x - BASKET_INNER[0] / 2 - BASKET_WALL / 2  # far wall half in the cabinet
        by = lay.center_y + lay.hinge_sign * 0.02  # a little away from the open door
        self.basket_center = np.array([bx, by])
        self.basket_rim = rim
        self.basket_floor = rim - BASKET_DEPTH
        ix, iy = BASKET_INNER[0] / 2, BASKET_INNER[1] / 2
        basket = spec.worldbody.add_body(name="basket", pos=[bx, by, self.basket_floor])
        wicker = [0.65, 0.5, 0.3, 1]
        box = mujoco.mjtGeom.mjGEOM_BOX
        basket.add_geom(name="basket_floor", type=box, pos=[0, 0, -BASKET_BOTTOM / 2],
                        size=[ix + BASKET_WALL, iy + BASKET_WALL, BASKET_BOTTOM / 2], rgba=wicker)
        h = BASKET_DEPTH / 2
        for s in (-1, 1):
            basket.add_geom(name=f"basket_x{'lr'[s > 0]}", type=box,
                            pos=[s * (ix + BASKET_WALL / 2), 0, h],
                            size=[BASKET_WALL / 2, iy + BASKET_WALL, h], rgba=wicker)
            basket.add_geom(name=f"basket_y{'lr'[s > 0]}", type=box,
                            pos=[0, s * (iy + BASKET_WALL / 2), h],
                            size=[ix, BASKET_WALL / 2, h], rgba=wicker)
        stand_h = (self.basket_floor - BASKET_BOTTOM) / 2
        basket.add_geom(name="basket_stand", type=box, pos=[0.03, 0, -BASKET_BOTTOM - stand_h],
                        size=[0.06, 0.1, stand_h], rgba=[0.3, 0.3, 0.3, 1])
        # The clothes, lying in the front of the drum.
        if not 1 <= c.pieces[0] <= c.pieces[1] <= MAX_PIECES:
            raise ConfigError(f"dryer_unload pieces {list(c.pieces)} must be 1 <= min <= max "
                              f"<= {MAX_PIECES} (the privileged state's slots)")
        n = int(rng.integers(c.pieces[0], c.pieces[1] + 1))
        self.pieces = [f"cloth{i}" for i in range(n)]
        for i, name in enumerate(self.pieces):
            size = uniform(rng, c.cloth_size)
            rgba = [*rng.uniform(0.15, 0.95, 3), 1.0]
            mass = uniform(rng, c.cloth_mass_kg)
            child = mujoco.MjSpec.from_string(cloth_xml(name, size, mass, rgba))
            pos = [lay.front_x + uniform(rng, c.cloth_depth),
                   lay.center_y + uniform(rng, c.cloth_y), self.floor_z + 0.008 + 0.006 * i]
            frame = spec.worldbody.add_frame(pos=pos, euler=[0, 0, rng.uniform(-0.4, 0.4)])
            frame.attach_body(child.worldbody, f"{name}_", "")

    def initialize_episode(self, model, data, rng) -> None:
        adr = model.jnt_qposadr[model.joint("door_hinge").id]
        data.qpos[adr] = self.door_open
        self.flex = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, f"{p}_{p}")
                     for p in self.pieces]
        if min(self.flex) < 0:
            names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_FLEX, i)
                     for i in range(model.nflex)]
            raise RuntimeError(f"cloth flexes not found; model has {names}")

    def model_has_flex(self, model) -> bool:
        """Whether the clothes are deformable flex objects in this model."""
        return model.nflex == len(self.pieces)

    def vertices(self, model, data, k: int) -> np.ndarray:
        """World positions of piece k's vertices."""
        f = self.flex[k]
        a, n = model.flex_vertadr[f], model.flex_vertnum[f]
        return data.flexvert_xpos[a:a + n]

    def inside_basket(self, v: np.ndarray) -> np.ndarray:
        """Which of these points lie inside the basket: within its walls and below its rim."""
        d = np.abs(v[:, :2] - self.basket_center)
        return ((d[:, 0] < BASKET_INNER[0] / 2) & (d[:, 1] < BASKET_INNER[1] / 2)
                & (v[:, 2] < self.basket_rim) & (v[:, 2] > self.basket_floor - BASKET_BOTTOM))

    def piece_in_basket(self, model, data, k: int) -> bool:
        return bool(self.inside_basket(self.vertices(model, data, k)).all())

    def success(self, model, data) -> bool:
        return all(self.piece_in_basket(model, data, k) for k in range(len(self.pieces)))

    def progress(self, model, data) -> float:
        total = 0.0
        for k in range(len(self.pieces)):
            v = self.vertices(model, data, k)
            inside = self.inside_basket(v)
            if inside.all():
                total += 1.0
                continue
            out_of_drum = float(np.mean(v[:, 0] < self.layout.front_x))
            total += 0.4 * out_of_drum + 0.5 * float(np.mean(inside))
        return total / len(self.pieces)

    def privileged_state(self, model, data) -> np.ndarray:
        """Per piece (MAX_PIECES slots, empty ones zero): there, its centre, its vertex nearest
        the opening, the share of it inside the basket; then the basket (centre, rim, floor),
        the drum's opening (front, centre, lip), the door's angle and the hinge side."""
        slots = np.zeros((MAX_PIECES, 8))
        for k in range(len(self.pieces)):
            v = self.vertices(model, data, k)
            slots[k] = [1.0, *v.mean(0), *v[np.argmin(v[:, 0])],
                        float(np.mean(self.inside_basket(v)))]
        lay = self.layout
        return np.concatenate([slots.ravel(), self.basket_center,
                               [self.basket_rim, self.basket_floor, lay.front_x, lay.center_y,
                                self.lip_z, door_angle(model, data), lay.hinge_sign]])

    def conditions(self) -> dict[str, str]:
        return {"pieces": str(len(self.pieces)), **layout_conditions(self.layout)}

    def left_to_unload(self, model, data) -> list[np.ndarray]:
        """Centres (world) of the pieces still up at the opening (in the drum or hanging over
        its lip, not in the basket nor fallen), nearest the opening first: what the expert goes
        after."""
        out = []
        for k in range(len(self.pieces)):
            v = self.vertices(model, data, k)
            c = v.mean(0)
            if c[2] > self.basket_rim and c[0] > self.layout.front_x - HANGING \
                    and not self.inside_basket(v).all():
                out.append(c)
        return sorted(out, key=lambda c: c[0])

    def expert(self, sim) -> Expert:
        return RakeExpert(sim)

    def debug(self, sim):
        m, d = sim.model, sim.data
        return " ".join(f"{p}:{np.round(self.vertices(m, d, k).mean(0), 3)}"
                        f"{'*' if self.piece_in_basket(m, d, k) else ''}"
                        for k, p in enumerate(self.pieces))


class RakeExpert(ReactiveExpert):
    """The hand on the opening's outer side rakes each piece out over the lip into the basket;
    decided each tick from the palm (where it is relative to the opening), the fingers' power
    closure and the pieces still at the opening.

    A round: palm down just inside the opening (fingers toward the back of the drum) behind
    the piece nearest the opening, curl the fingers (they rake the cloth under the palm), drag
    out over the lip (the cloth falls into the basket below), swing down over the basket and
    open, rise clear of the cabinet's front, go back in for the next piece. The other hand parks.
    """

    def __init__(self, sim):
        super().__init__(sim)
        self.task: DryerUnload = sim.task
        lay = self.lay = self.task.layout
        self.hand = "right" if lay.center_y < 0 else "left"
        self.other = "left" if self.hand == "right" else "right"
        side = 1.0 if self.hand == "right" else -1.0
        turn, down = np.zeros(4), np.zeros(4)
        mujoco.mju_axisAngle2Quat(turn, np.array([1.0, 0.0, 0.0]), -side * np.pi / 2)
        mujoco.mju_mulQuat(down, turn, WristIK.home_quat(sim.robot, self.hand))
        self.down = down  # palm facing the floor, fingers forward

    # -- geometry (palm positions relative to the opening: x from its front, z from the lip) ---
    def rel(self, p: np.ndarray) -> np.ndarray:
        return np.array([p[0] - self.lay.front_x, p[1], p[2] - self.task.lip_z])

    def world(self, r) -> np.ndarray:
        return np.array([r[0] + self.lay.front_x, r[1], r[2] + self.task.lip_z])

    def target_piece(self, sim) -> np.ndarray | None:
        """Centre (world) of the piece nearest the opening still to unload."""
        left = self.task.left_to_unload(sim.model, sim.data)
        return left[0] if left else None

    def rake_spot(self, c: np.ndarray) -> np.ndarray:
        """Where the palm presses before curling: RAKE_BEHIND in front of the piece's centre."""
        x = float(np.clip(c[0] - self.lay.front_x - RAKE_BEHIND, *RAKE_X))
        return np.array([x, c[1], RAKE_Z])

    def closed(self, sim) -> float:
        return self.closure(sim, self.hand, "power")

    # -- decisions -----------------------------------------------------------------------------
    def decide(self, sim, mode):
        r = self.rel(self.palm(sim, self.hand)[0])
        k = self.closed(sim)
        if r[0] > DRAG_X + 0.01:  # in the opening or the drum
            told_closed = self._closure_cmd.get(self.hand, 0.0) >= 1.0  # a curl stopped short
            if k >= CLOSED or (mode in ("rake", "drag") and told_closed and k > 0.5):
                return "drag"
            if r[2] < ENTER_Z - 0.01 and (k > 0.15 or mode == "rake"):
                return "rake"
        elif k >= 0.5 and mode != "release" and np.linalg.norm(r - self.over_rel()) > 0.025:
            return "over"
        if k > 0.1:
            return "release"  # open the hand where it is
        c = self.target_piece(sim)
        if c is None:
            return "done"
        off = np.linalg.norm((r - self.rake_spot(c))[:2])
        if r[0] > 0.0 and off < RAKE_REACH and r[2] < PRESSED_Z:
            return "rake"  # an open hand low near the piece rakes where it is
        if r[0] > 0.0 and (off < 0.025 or mode == "press") and r[2] < ENTER_Z + 0.01:
            return "press"
        return "reach"

    def over_rel(self) -> np.ndarray:
        """Over the basket, below the lip, between the opening's and the basket's centres."""
        return np.array([OVER_X, 0.5 * (self.lay.center_y + self.task.basket_center[1]), OVER_Z])

    def enter(self, sim, mode):
        self.anchor["palm"] = self.palm(sim, self.hand)[0]

    def steer(self, sim, mode):
        hand = self.hand
        p = self.palm(sim, hand)[0]
        r = self.rel(p)
        close = 0.0
        if mode == "drag":  # straight out over the lip, low, at the palm's own y
            close, goal = 1.0, self.world([DRAG_X, r[1], DRAG_Z])
        elif mode == "rake":  # curl the fingers, pressing down from where the curl began
            a = self.rel(self.anchor["palm"])
            close, goal = 1.0, self.world([a[0], a[1], min(a[2], RAKE_Z) - 0.01])
        elif mode == "over":  # down beside the cabinet over the basket, still closed
            close, goal = 1.0, self.world(self.over_rel())
        elif mode == "release":
            goal = self.anchor["palm"]
        elif mode in ("reach", "press"):
            c = self.target_piece(sim)
            spot = self.rake_spot(c)
            goal = self.reach_goal(r, spot) if mode == "reach" \
                else self.world(spot - [0, 0, 0.01])  # pressed down onto the floor
        else:  # done: clear of the cabinet, out of the way
            goal = self.world([min(r[0], CLEAR_X), self.lay.center_y, ENTER_Z])
        return PalmHandCommand(
            {hand: self.toward(sim, hand, goal, self.down),
             self.other: self.park(sim, self.other, PARKED[self.other])},
            {hand: self.grip(sim, hand, "power", close),
             self.other: self.grip(sim, self.other, "power", 0.0)})

    def reach_goal(self, r: np.ndarray, spot: np.ndarray) -> np.ndarray:
        """The way in: up clear of the cabinet's front, across in front of the opening at the
        piece's y, in over the lip at ENTER_Z, then above the rake spot."""
        if r[0] < -0.02:  # outside
            if r[2] < ENTER_Z - 0.015:
                return self.world([min(r[0], CLEAR_X), r[1], ENTER_Z])
            if abs(r[1] - spot[1]) > 0.02 or r[0] < PRE_X - 0.02:
                return self.world([PRE_X, spot[1], ENTER_Z])
        if r[2] < ENTER_Z - 0.02 and np.linalg.norm((r - spot)[:2]) > 0.03:
            return self.world([r[0], r[1], ENTER_Z])  # low in the drum but astray: up first
        return self.world([spot[0], spot[1], ENTER_Z])

    def done(self, sim) -> bool:
        return self.mode == "done" and sim.success()

    def info(self, sim) -> str:
        r = self.rel(self.palm(sim, self.hand)[0])
        return f"palm={np.round(r - [0, self.lay.center_y, 0], 3)} k={self.closed(sim):.2f}"


RAKE_BEHIND = 0.05  # the palm presses this far in front of the piece's centre
RAKE_X = (0.01, 0.08)  # how far into the drum the rake spot may lie (from the front)
PRESSED_Z = 0.04  # an open palm below this, near its spot, is low enough to rake
RAKE_REACH = 0.05  # how far (m, across the floor) from its spot an open palm still rakes
RAKE_Z = 0.02  # the palm's height above the drum's floor while raking
ENTER_Z = 0.07  # the palm's height over the lip on the way in and out
PRE_X = -0.10  # where the palm lines up in front of the opening before going in
CLEAR_X = -0.12  # a palm this far in front of the opening is clear of it, fingers included
CLOSED = 0.85  # power closure from which a curl is done: drag
DRAG_X, DRAG_Z = -0.04, 0.03  # the drag ends just outside the lip, low
OVER_X, OVER_Z = -0.15, -0.03  # where the closed hand opens over the basket
