"""pick_place: a can from the table into a bowl, the easiest end of the curriculum."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.sim.tasks.base import Range, Task, TaskConfig, register, uniform

BOWL_WALL_SEGMENTS = 16
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
    """Pick a can up from the table and put it in the bowl."""

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
        """The can's centre over the bowl's floor and its bottom below the rim."""
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
