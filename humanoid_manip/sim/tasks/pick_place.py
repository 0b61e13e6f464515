"""pick_place: a bottle from the table into a bowl, the easiest end of the curriculum."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK
from humanoid_manip.control.command import PalmHandCommand
from humanoid_manip.sim.tasks._reactive import ReactiveExpert
from humanoid_manip.sim.tasks.base import (
    Expert,
    Range,
    Task,
    TaskConfig,
    register,
    touching_bodies,
    uniform,
)

BOWL_WALL_SEGMENTS = 16
LEFT_PARKED = np.array([0.30, 0.38, 1.22])  # the idle left palm, out of the bowl's way
BOWL_WALL_HEIGHT = 0.05
BOWL_WALL_THICKNESS = 0.008


@dataclasses.dataclass(frozen=True)
class PickPlaceConfig(TaskConfig):
    table_height: Range
    object_x: Range
    object_y: Range
    object_radius: Range
    object_height: Range
    object_mass_kg: Range
    bowl_x: Range
    bowl_y: Range
    bowl_inner_radius: Range


@register
class PickPlace(Task):
    """Pick a bottle up from the table and put it in the bowl."""

    name = "pick_place"
    Config = PickPlaceConfig

    def build_scene(self, spec: mujoco.MjSpec, rng: np.random.Generator) -> None:
        c = self.config
        self.table_z = uniform(rng, c.table_height)
        self.radius = uniform(rng, c.object_radius)
        self.height = uniform(rng, c.object_height)
        self.bowl_xy = np.array([uniform(rng, c.bowl_x), uniform(rng, c.bowl_y)])
        self.bowl_r = uniform(rng, c.bowl_inner_radius)
        world = spec.worldbody
        table = world.add_body(name="table", pos=[0.55, 0.0, self.table_z - 0.02])
        table.add_geom(name="table_top", type=mujoco.mjtGeom.mjGEOM_BOX,
                       size=[0.25, 0.5, 0.02], rgba=[0.55, 0.4, 0.25, 1])
        table.add_geom(name="table_leg", type=mujoco.mjtGeom.mjGEOM_BOX,
                       pos=[0.1, 0, -(self.table_z - 0.02) / 2],
                       size=[0.05, 0.05, (self.table_z - 0.02) / 2], rgba=[0.3, 0.3, 0.3, 1])
        bowl = world.add_body(name="bowl", pos=[*self.bowl_xy, self.table_z])
        bowl.add_geom(name="bowl_base", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                      pos=[0, 0, 0.004], size=[self.bowl_r + BOWL_WALL_THICKNESS, 0.004, 0],
                      rgba=[0.2, 0.4, 0.8, 1])
        seg = 2 * np.pi * (self.bowl_r + BOWL_WALL_THICKNESS) / BOWL_WALL_SEGMENTS
        for i in range(BOWL_WALL_SEGMENTS):
            a = 2 * np.pi * i / BOWL_WALL_SEGMENTS
            r = self.bowl_r + BOWL_WALL_THICKNESS / 2
            bowl.add_geom(name=f"bowl_wall{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                          pos=[r * np.cos(a), r * np.sin(a), BOWL_WALL_HEIGHT / 2],
                          euler=[0, 0, a], size=[BOWL_WALL_THICKNESS / 2, seg / 2 + 0.002,
                                                 BOWL_WALL_HEIGHT / 2],
                          rgba=[0.2, 0.4, 0.8, 1])
        can = world.add_body(name="object", pos=[0.48, -0.26, self.table_z + self.height / 2])
        can.add_freejoint(name="object_free")
        can.add_geom(name="object_geom", type=mujoco.mjtGeom.mjGEOM_CYLINDER,
                     size=[self.radius, self.height / 2, 0], mass=uniform(rng, c.object_mass_kg),
                     rgba=[0.85, 0.15, 0.1, 1], condim=4, friction=[1.0, 0.01, 0.001])

    def initialize_episode(self, model, data, rng) -> None:
        c = self.config
        xy = np.array([uniform(rng, c.object_x), uniform(rng, c.object_y)])
        yaw = rng.uniform(-np.pi, np.pi)
        adr = model.jnt_qposadr[model.joint("object_free").id]
        data.qpos[adr:adr + 3] = [*xy, self.table_z + self.height / 2]
        data.qpos[adr + 3:adr + 7] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        self.start_distance = float(np.linalg.norm(xy - self.bowl_xy))

    def conditions(self) -> dict[str, str]:
        return {"bottle": "tall" if self.height > 0.155 else "short",
                "bowl": "far" if self.start_distance > 0.17 else "near"}

    def privileged_state(self, model, data) -> np.ndarray:
        """Bottle pose (position, z axis), velocity, size; bowl centre, radius; table height;
        how many right-hand parts touch the bottle (a grasp is held or not)."""
        body = data.body("object")
        adr = model.jnt_dofadr[model.joint("object_free").id]
        return np.concatenate([body.xpos, body.xmat.reshape(3, 3)[:, 2], data.qvel[adr:adr + 6],
                               [self.radius, self.height], self.bowl_xy,
                               [self.bowl_r, self.table_z, self.hand_contacts(model, data)]])

    def hand_contacts(self, model, data) -> float:
        """Right-hand bodies in contact with the bottle now."""
        bodies = touching_bodies(model, data, [model.geom("object_geom").id])
        return float(sum(model.body(b).name.startswith("right_") for b in bodies))

    def object_position(self, data) -> np.ndarray:
        return data.body("object").xpos.copy()

    def in_bowl(self, p: np.ndarray) -> bool:
        """The bottle centre over the bowl's floor and its bottom below the rim."""
        inside = np.linalg.norm(p[:2] - self.bowl_xy) < self.bowl_r
        low = p[2] - self.height / 2 < self.table_z + BOWL_WALL_HEIGHT
        return bool(inside and low)

    def success(self, model, data) -> bool:
        return self.in_bowl(self.object_position(data))

    def progress(self, model, data) -> float:
        if self.success(model, data):
            return 1.0
        p = self.object_position(data)
        d = np.linalg.norm(p[:2] - self.bowl_xy)
        closer = np.clip(1.0 - d / max(self.start_distance, 1e-6), 0.0, 1.0)
        lifted = np.clip((p[2] - self.height / 2 - self.table_z) / 0.05, 0.0, 1.0)
        return float(0.2 * lifted + 0.7 * closer)

    def expert(self, sim) -> Expert:
        return PickPlaceExpert(sim)

    def debug(self, sim):
        return f"obj={np.round(self.object_position(sim.data), 3)}"


class PickPlaceExpert(ReactiveExpert):
    """Right hand: side-on power grasp, lift clear of the rim, over the bowl, down, let go, back
    off; decided each tick from the bottle, the palm and the fingers (re-entrant)."""

    GRASP = np.array([-0.025, 0.0, 0.0])  # palm from the bottle's axis (y: radius added)
    PRE = np.array([0.0, -0.06, 0.0])  # the approach starts this far beside the grasp
    PALM_Z = 0.075  # the palm's height above the table when grasping
    CLEAR = 0.05  # the bottle's bottom this far above the bowl's rim while carrying
    FLOOR = 0.012  # let go once the bottom is this low over the bowl (the floor is 8 mm)
    SETTLED = 0.8  # closure at which a closing grip lifts

    def __init__(self, sim):
        super().__init__(sim)
        self.task: PickPlace = sim.task
        self.geom = sim.model.geom("object_geom").id
        self.bowl_body = sim.model.body("bowl").id
        self.quat = WristIK.home_quat(sim.robot, "right")

    # -- what the state says ---------------------------------------------------------------
    def bottle(self, sim) -> np.ndarray:
        return self.task.object_position(sim.data)

    def bottom(self, sim) -> float:
        """Height of the bottle's lowest point above the table."""
        t = self.task
        axis = sim.data.body("object").xmat.reshape(3, 3)[:, 2]
        low = self.bottle(sim)[2] - abs(axis[2]) * t.height / 2 - np.hypot(*axis[:2]) * t.radius
        return float(low - t.table_z)

    def sinking(self, sim) -> float:
        """How fast the bottle goes down (m/s)."""
        adr = sim.model.jnt_dofadr[sim.model.joint("object_free").id]
        return float(-sim.data.qvel[adr + 2])

    def on_bowl(self, sim) -> bool:
        """Whether the bottle touches the bowl (its floor or a wall): it is supported."""
        d = sim.data
        if d.ncon == 0:
            return False
        g1, g2 = d.contact.geom1, d.contact.geom2
        other = np.concatenate([g2[g1 == self.geom], g1[g2 == self.geom]])
        return bool(np.any(sim.model.geom_bodyid[other] == self.bowl_body))

    def tilt(self, sim) -> float:
        return float(np.arccos(np.clip(sim.data.body("object").xmat.reshape(3, 3)[2, 2], -1, 1)))

    def grasp_point(self, sim) -> np.ndarray:
        b = self.bottle(sim)
        return np.array([b[0] + self.GRASP[0], b[1] - self.task.radius - 0.004,
                         self.task.table_z + self.PALM_Z])

    def held(self, sim) -> bool:
        """Thumb and two fingers around the bottle, or the bottle off the table in the hand."""
        touch = self.touching(sim, "right", self.geom)
        if self.bottom(sim) > 0.01 and len(touch) >= 2:
            return True
        fingers = {n.split("_")[1] for n in touch} - {"thumb", "palm"}
        thumb = any("thumb" in n for n in touch)
        return thumb and len(fingers) >= 2 and self.closure(sim, "right", "power") > 0.5

    def over_bowl(self, sim, tol: float) -> bool:
        return bool(np.linalg.norm(self.bottle(sim)[:2] - self.task.bowl_xy) < tol)

    def decide(self, sim, mode):
        """From the state alone (no hysteresis): the same state gets the same label."""
        t = self.task
        b = self.bottle(sim)
        palm = self.palm(sim, "right")[0]
        closed = self.closure(sim, "right", "power")
        held = self.held(sim)
        lateral = float(np.linalg.norm((palm - b)[:2]))
        near = lateral < t.radius + 0.05
        if t.success(sim.model, sim.data):
            if held and self.bottom(sim) > self.FLOOR and not self.resting(sim):
                return "lower"  # in the bowl but not down yet: keep placing it
            if closed > 0.1:
                return "release"  # open the hand first, wherever it is
            return "withdraw" if near else "retreat"
        if not held and (b[2] < t.table_z or self.tilt(sim) > 0.6):
            return "lost"  # off the table or fallen over: nothing this hand can do
        if held:
            if closed < self.SETTLED and self.bottom(sim) < 0.01:
                return "close"  # let the grip settle before lifting
            if self.over_bowl(sim, 0.5 * t.bowl_r):
                return "release" if self.resting(sim) else "lower"
            return "carry"
        rel = palm - self.grasp_point(sim)
        if np.linalg.norm(rel) < 0.025 and closed < 0.9:
            return "close"
        if closed > 0.3:
            return "open"  # closed on nothing: open, back off, try again
        in_corridor = abs(rel[0]) < 0.02 and abs(rel[2]) < 0.02 and -0.09 < rel[1] < 0.01
        return "approach" if in_corridor else "pregrasp"

    def resting(self, sim) -> bool:
        """In the bowl and no longer going down: on its floor, or the hand on the rim."""
        return self.task.success(sim.model, sim.data) and (
            self.bottom(sim) < self.FLOOR or self.on_bowl(sim) or abs(self.sinking(sim)) < 0.02)

    def steer(self, sim, mode):
        t = self.task
        palm = self.palm(sim, "right")[0]
        b = self.bottle(sim)
        beside = np.array([b[0] + self.GRASP[0], b[1] - t.radius, palm[2]])
        rim = BOWL_WALL_HEIGHT + self.CLEAR
        if mode == "carry":
            if self.bottom(sim) < rim - 0.02 and not self.over_bowl(sim, t.bowl_r):
                goal = palm + [0.0, 0.0, rim - self.bottom(sim)]  # straight up first
            else:
                goal = palm + np.r_[t.bowl_xy - b[:2], rim - self.bottom(sim)]
        elif mode == "lower":
            goal = palm + np.r_[t.bowl_xy - b[:2], 0.004 - self.bottom(sim)]
        elif mode in ("approach", "close"):
            goal = self.grasp_point(sim)
        elif mode in ("release", "lost"):
            goal = palm
        elif mode == "withdraw":
            goal = beside + [0.0, -0.08, 0.01]
        elif mode == "retreat":
            goal = np.r_[beside[:2] + [0.0, -0.1], t.table_z + 0.25]
        elif mode == "open":
            goal = palm + [0.0, -0.05, 0.04]
        else:  # pregrasp
            pre = self.grasp_point(sim) + self.PRE
            near_pre = np.linalg.norm((palm - pre)[:2]) < 0.02
            goal = pre if near_pre else pre + [0.0, 0.0, 0.03]
            if np.linalg.norm((palm - b)[:2]) < t.radius + 0.05 and palm[2] < pre[2] + 0.02:
                goal = palm + [0.0, -0.05, 0.03]  # too close to the bottle: back away first
        power = 1.0 if mode in ("close", "carry", "lower") else 0.0
        return PalmHandCommand({"right": self.toward(sim, "right", goal, self.quat),
                                "left": self.park(sim, "left", LEFT_PARKED)},
                               {"right": self.grip_to(sim, "right", "power", power),
                                "left": self.grip_to(sim, "left", "power", 0.0)})

    def info(self, sim) -> str:
        return (f"sink={self.sinking(sim):.3f} bowl={int(self.on_bowl(sim))} "
                f"closure={self.closure(sim, 'right', 'power'):.2f} "
                f"touch={sorted(self.touching(sim, 'right', self.geom))} "
                f"bottom={self.bottom(sim):.3f} tilt={self.tilt(sim):.2f}")

    def done(self, sim) -> bool:
        return self.mode == "retreat" and self.task.success(sim.model, sim.data) and \
            self.palm(sim, "right")[0][2] > self.task.table_z + 0.22
