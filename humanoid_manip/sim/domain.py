"""Domain randomization every task shares: lights, colours, textures, friction, mass, cameras."""
from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from humanoid_manip.config import from_dict
from humanoid_manip.sim.tasks.base import Range, tasks_yaml


@dataclasses.dataclass(frozen=True)
class DomainConfig:
    """The `domain:` section of config/tasks.yaml; every range is [low, high], drawn uniformly."""

    light_diffuse: Range  # intensity of each scene light
    light_pos_jitter_m: float  # each light moves this far at most along each axis
    colour_jitter: float  # added to each RGB channel of scene objects, then clipped to [0, 1]
    texture_rgb: Range  # channel range of the floor and wall textures' two colours
    friction_scale: Range  # multiplies the sliding friction of scene objects
    mass_scale: Range  # multiplies the mass (density) of free scene objects
    camera_pos_jitter_m: float  # robot camera mounting error, per axis
    camera_rot_jitter_rad: float  # robot camera mounting error, per axis


def load_domain_config() -> DomainConfig:
    return from_dict(DomainConfig, tasks_yaml().get("domain"), "tasks.yaml: domain")


def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1]))


def add_arena(spec: mujoco.MjSpec, cfg: DomainConfig, rng: np.random.Generator) -> None:
    """A textured floor, a skybox and two lights: the room every task stands in."""
    lo, hi = cfg.texture_rgb
    spec.add_texture(name="floor_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=int(rng.integers(1, 3)),  # checker or gradient
                     rgb1=rng.uniform(lo, hi, 3), rgb2=rng.uniform(lo, hi, 3),
                     width=64, height=64)
    spec.add_material(name="floor_mat", textures=["", "floor_tex"], texrepeat=[4, 4])
    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
                     rgb1=rng.uniform(lo, hi, 3), rgb2=rng.uniform(0.0, 0.2, 3),
                     width=32, height=32)
    world = spec.worldbody
    # size[2] is the floor's rendering grid (the lights are computed per grid vertex): 0.1 m
    # draws a quarter of 0.05 m's vertices on the CPU for pixels within 8/255 of it
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1],
                   material="floor_mat")
    for i, pos in enumerate(([1.0, 1.0, 3.0], [-0.5, -1.5, 2.5])):
        d = _u(rng, cfg.light_diffuse)
        p = np.array(pos) + rng.uniform(-cfg.light_pos_jitter_m, cfg.light_pos_jitter_m, 3)
        world.add_light(name=f"light{i}", pos=p, dir=-p / np.linalg.norm(p),
                        diffuse=[d, d, d], castshadow=False)


def randomize_scene(spec: mujoco.MjSpec, robot_bodies: set[str], cfg: DomainConfig,
                    rng: np.random.Generator) -> None:
    """Jitter colours, friction and masses of the task's objects, and the robot's cameras."""
    for geom in spec.geoms:
        body = geom.parent
        if body.name in robot_bodies or geom.name == "floor":
            continue
        if not geom.material:
            rgba = np.array(geom.rgba)
            rgba[:3] = np.clip(rgba[:3] + rng.uniform(-cfg.colour_jitter, cfg.colour_jitter, 3),
                               0.0, 1.0)
            geom.rgba = rgba
        geom.friction = np.array(geom.friction) * [_u(rng, cfg.friction_scale), 1.0, 1.0]
        if body.name and any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in body.joints):
            geom.density = geom.density * _u(rng, cfg.mass_scale)
            if geom.mass > 0:
                geom.mass = geom.mass * _u(rng, cfg.mass_scale)
    for cam in spec.cameras:
        if cam.parent.name not in robot_bodies:
            continue
        cam.pos = np.array(cam.pos) + rng.uniform(-cfg.camera_pos_jitter_m,
                                                  cfg.camera_pos_jitter_m, 3)
        axis = rng.normal(size=3)
        angle = rng.uniform(-cfg.camera_rot_jitter_rad, cfg.camera_rot_jitter_rad)
        dq = np.zeros(4)
        mujoco.mju_axisAngle2Quat(dq, axis / np.linalg.norm(axis), angle)
        q = np.zeros(4)
        mujoco.mju_mulQuat(q, np.array(cam.quat, dtype=float), dq)
        cam.quat = q
