"""dryer_unload: take every piece of clothing (flex cloth) out of an open dryer into a basket."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK, WristTarget
from humanoid_manip.errors import ConfigError
from humanoid_manip.robot.mujoco_model import ROBOT_BITS, WORLD_BIT
from humanoid_manip.sim.tasks._dryer import build_dryer, door_angle
from humanoid_manip.sim.tasks._script import Phase, ScriptedExpert, slerp, smoothstep
from humanoid_manip.sim.tasks.base import Expert, Range, Task, register, uniform
from humanoid_manip.sim.tasks.dryer_open import DryerSceneConfig, dryer_layout

CLOTH_BIT = 16  # cloth touches the world and the robot, never other cloth (speed)
CLOTH_GRID = 5  # vertices per side of each piece
BASKET_INNER = (0.22, 0.34)  # inside length along x and y (m)
BASKET_DEPTH = 0.14
BASKET_WALL = 0.02  # thick, so that no cloth vertex slips through
BASKET_BOTTOM = 0.03  # thick, so that no cloth vertex tunnels through it
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

    def expert(self, sim) -> Expert:
        return ScriptedExpert(sim, self._plan)

    def _plan(self, sim) -> list[Phase]:
        """Per piece: palm down into the drum over it, gather it under the curled fingers, drag it
        out over the lip so that it falls into the basket below; one spare round at the end."""
        lay = self.layout
        hand = "right" if lay.center_y < 0 else "left"
        other = "left" if hand == "right" else "right"
        side = 1.0 if hand == "right" else -1.0
        q_home = WristIK.home_quat(sim.robot, hand)
        turn = np.zeros(4)
        mujoco.mju_axisAngle2Quat(turn, np.array([1.0, 0.0, 0.0]), -side * np.pi / 2)
        down = np.zeros(4)
        mujoco.mju_mulQuat(down, turn, q_home)  # palm facing the floor, fingers forward
        model = sim.model
        target = {"c": np.zeros(3)}

        def pick(sim, start):
            """Aim at the piece still in the drum that lies nearest the opening."""
            best = None
            for k in range(len(self.pieces)):
                c = self.vertices(model, sim.data, k).mean(axis=0)
                if c[0] < lay.front_x:  # out of the drum already
                    continue
                if best is None or c[0] < best[0]:
                    best = c
            target["c"] = best if best is not None else np.array(
                [lay.front_x + 0.1, lay.center_y, self.floor_z])

        def at(dx: float, z: float, x0: str = "piece", y_basket: float = 0.0):
            def f(sim, s, start):
                c = target["c"]
                x = (c[0] if x0 == "piece" else lay.front_x) + dx
                y = (1 - y_basket) * c[1] + y_basket * self.basket_center[1]
                goal = np.array([x, y, z])
                return {hand: _toward(start[hand], goal, down, s)}
            return f

        rounds = []
        for i in range(len(self.pieces) + 1):
            rounds += [
                Phase(0.8 if i == 0 else 0.6, at(-0.10, self.lip_z + 0.07, "front"),
                      {hand: ("power", 0.0)}, begin=pick),
                Phase(0.7, at(-0.05, self.floor_z + 0.07)),
                Phase(0.3, at(-0.05, self.floor_z + 0.022)),
                Phase(0.5, {}, {hand: ("power", 1.0)}),
                Phase(0.6, at(-0.04, self.floor_z + 0.03, "front")),  # drag it to the lip
                Phase(0.5, at(-0.15, self.lip_z - 0.03, "front", 0.5)),  # over, into the basket
                Phase(0.3, {}, {hand: ("power", 0.0)}),
                Phase(0.3, at(-0.13, self.lip_z + 0.06, "front")),
            ]
        rounds[0].palms = _with_parked(rounds[0].palms, other)
        return rounds

    def debug(self, sim):
        m, d = sim.model, sim.data
        return " ".join(f"{p}:{np.round(self.vertices(m, d, k).mean(0), 3)}"
                        f"{'*' if self.piece_in_basket(m, d, k) else ''}"
                        for k, p in enumerate(self.pieces))


PARKED = {"left": np.array([0.30, 0.38, 1.22]), "right": np.array([0.30, -0.38, 1.22])}


def _toward(start: tuple[np.ndarray, np.ndarray], goal: np.ndarray, quat: np.ndarray,
            s: float) -> WristTarget:
    a = smoothstep(s)
    return WristTarget((1 - a) * start[0] + a * goal, slerp(start[1], quat, a))


def _with_parked(palms, other: str):
    def f(sim, s, start):
        out = palms(sim, s, start)
        out[other] = _toward(start[other], PARKED[other], start[other][1], s)
        return out
    return f
