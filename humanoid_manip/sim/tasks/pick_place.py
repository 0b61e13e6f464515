"""pick_place: a bottle from the table into a bowl, the easiest end of the curriculum."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.control import WristIK, WristTarget
from humanoid_manip.sim.tasks._script import Phase, ScriptedExpert, smoothstep
from humanoid_manip.sim.tasks.base import Expert, Range, Task, TaskConfig, register, uniform

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
        return ScriptedExpert(sim, self._plan)

    def _plan(self, sim) -> list[Phase]:
        """Right hand: side-on power grasp of the bottle, lift, carry over the bowl, let go."""
        p = self.object_position(sim.data)
        quat = WristIK.home_quat(sim.robot, "right")
        z = self.table_z + 0.062  # palm's lower edge just above the table
        lift = self.table_z + BOWL_WALL_HEIGHT + 0.13
        dx, dy = -0.04, -self.radius - 0.004  # palm behind and to the right of its axis
        goal = np.array([*self.bowl_xy, lift])

        def at(x, y, zz):
            return {"right": WristTarget(np.array([x + dx, y + dy, zz]), quat)}

        shift = np.zeros(3)

        def measure(sim, start):
            """What still separates the bottle from above the bowl."""
            shift[:] = goal - self.object_position(sim.data)
            shift[2] = lift - start["right"][0][2]

        def carry(sim, s, start):
            return {"right": WristTarget(start["right"][0] + smoothstep(s) * shift, quat)}

        def lower(sim, s, start):
            pos = start["right"][0].copy()
            pos[2] += smoothstep(s) * (z - pos[2])
            return {"right": WristTarget(pos, quat)}

        def low_enough(sim):
            return self.object_position(sim.data)[2] - self.height / 2 < self.table_z + 0.015

        return [
            Phase(0.8, {**at(p[0], p[1] - 0.06, z + 0.03), "left": WristTarget(LEFT_PARKED)},
                  {"right": ("power", 0.0)}),
            Phase(0.4, at(p[0], p[1] - 0.06, z)),
            Phase(0.5, at(p[0], p[1], z)),
            Phase(0.6, {}, {"right": ("power", 1.0)}),
            Phase(0.9, at(p[0], p[1], lift)),
            Phase(1.6, carry, begin=measure),
            Phase(0.5, carry, begin=measure),  # again: close what the first carry left
            Phase(0.6, lower, until=low_enough),
            Phase(0.4, {}, {"right": ("power", 0.4)}),  # loosen, without pushing the bottle
            Phase(0.4, lambda sim, s, start: {"right": WristTarget(
                start["right"][0] + smoothstep(s) * np.array([0, -0.05, 0]), quat)}),
            Phase(0.4, lambda sim, s, start: {"right": WristTarget(
                start["right"][0] + smoothstep(s) * np.array([0, -0.02, 0.06]), quat)},
                {"right": ("power", 0.0)}),
        ]

    def debug(self, sim):
        return f"obj={np.round(self.object_position(sim.data), 3)}"
