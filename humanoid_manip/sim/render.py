"""Offscreen camera rendering for the simulation, as cheap as the CPU (Mesa llvmpipe) allows.

Three things make it cheaper than one `mujoco.Renderer` per episode, none of them changing a
pixel (test/test_sim_render.py compares with `mujoco.Renderer` bit for bit):
- one OpenGL context for the life of a Simulation; a reset only swaps the MuJoCo render
  context (textures, display lists) for the new model, so the shaders llvmpipe compiled stay;
- per camera, geoms whose bounding sphere lies wholly outside the view frustum are dropped
  from the scene before it is drawn: llvmpipe transforms every vertex of every geom it is
  given on the CPU, whether it lands in the picture or not;
- a single read of the pixels into a buffer kept between frames, flipped once.
What is drawn is set where the scene is built: tessellation and shadow map in
`Simulation.build_spec` (sim/core.py), the floor's grid in sim/domain.py.
"""
from __future__ import annotations

import math

import mujoco
import numpy as np

_G = mujoco.mjtGeom
_NONE = int(_G.mjGEOM_NONE)  # mjr_render draws nothing for this type
_SPHERE, _CAPSULE = int(_G.mjGEOM_SPHERE), int(_G.mjGEOM_CAPSULE)
_CYLINDER, _ELLIPSOID, _BOX = int(_G.mjGEOM_CYLINDER), int(_G.mjGEOM_ELLIPSOID), int(_G.mjGEOM_BOX)
_MODEL_BOUND = (int(_G.mjGEOM_MESH), int(_G.mjGEOM_SDF), int(_G.mjGEOM_HFIELD))
_ALL = int(mujoco.mjtCatBit.mjCAT_ALL)
_MARGIN = 1.01  # bounding radii are scaled up by this, and 0.1 mm added, against rounding


def _radius(g) -> float:
    """Bounding-sphere radius of a scene geom about its position; 0 when unknown (never cull)."""
    t = g.type
    if t == _SPHERE:
        return float(g.size[0])
    if t == _CAPSULE:
        s = g.size
        return float(s[0] + s[2])
    if t == _CYLINDER:
        s = g.size
        return math.hypot(s[0], s[2])
    if t == _ELLIPSOID:
        return float(g.size.max())
    if t == _BOX:
        s = g.size
        return math.sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2])
    if t in _MODEL_BOUND:
        return float(g.modelrbound)  # about the geom's frame, as the model computes it
    return 0.0  # planes, flexes, skins, lines, labels: always drawn


def cull_outside_view(scene: mujoco.MjvScene, aspect: float) -> int:
    """Mark the scene's geoms that lie wholly outside the camera's view frustum as not drawn.

    Exact: a geom whose bounding sphere is outside one of the frustum's six planes gives no
    fragment. Skipped (nothing culled) when a shadow-casting light or a reflective geom could
    bring an unseen geom into the picture. Returns how many geoms were dropped.
    """
    n = scene.ngeom
    if n == 0:
        return 0
    geoms = scene.geoms[:n]
    flags = scene.flags
    if flags[mujoco.mjtRndFlag.mjRND_SHADOW] and any(
            scene.lights[i].castshadow for i in range(scene.nlight)):
        return 0
    if flags[mujoco.mjtRndFlag.mjRND_REFLECTION] and any(g.reflectance > 0 for g in geoms):
        return 0
    if scene.enabletransform or scene.stereo:
        return 0
    cam = mujoco.mjv_averageCamera(scene.camera[0], scene.camera[1])  # what mjr_render uses
    if cam.orthographic:
        return 0
    fwd = np.asarray(cam.forward, np.float64)
    up = np.asarray(cam.up, np.float64)
    right = np.cross(fwd, up)
    near, far = float(cam.frustum_near), float(cam.frustum_far)
    half = (float(cam.frustum_width) if cam.frustum_width
            else 0.5 * aspect * (cam.frustum_top - cam.frustum_bottom))
    left, rgt = cam.frustum_center - half, cam.frustum_center + half
    # inward normals of the four side planes, in camera coordinates (x right, y up, z forward)
    sides = np.array([[near, 0.0, -left], [-near, 0.0, rgt],
                      [0.0, near, -cam.frustum_bottom], [0.0, -near, cam.frustum_top]])
    sides /= np.linalg.norm(sides, axis=1, keepdims=True)
    radius = np.array([_radius(g) for g in geoms])
    idx = np.flatnonzero(radius > 0.0)
    if len(idx) == 0:
        return 0
    pos = np.array([geoms[i].pos for i in idx], np.float64) - np.asarray(cam.pos, np.float64)
    local = pos @ np.stack([right, up, fwd]).T  # (k, 3) in camera coordinates
    r = radius[idx] * _MARGIN + 1e-4
    outside = ((local @ sides.T) < -r[:, None]).any(axis=1)
    outside |= (local[:, 2] < near - r) | (local[:, 2] > far + r)
    for i in idx[outside]:
        geoms[i].type = _NONE
    return int(outside.sum())


class CameraRenderer:
    """Renders a model's fixed cameras offscreen to uint8 RGB; one GL context for its life."""

    def __init__(self, width: int, height: int, cull: bool = True):
        self.width, self.height = int(width), int(height)
        self.cull = cull
        self._gl = None
        self._context: mujoco.MjrContext | None = None
        self._scene: mujoco.MjvScene | None = None
        self._model: mujoco.MjModel | None = None
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self._pixels = np.empty((self.height, self.width, 3), np.uint8)
        self.culled = 0  # geoms dropped in the last render() call, all cameras

    def use(self, model: mujoco.MjModel) -> None:
        """Make the GL context current; build the MuJoCo render context when the model changed."""
        if self._gl is None:
            self._gl = mujoco.GLContext(self.width, self.height)
        self._gl.make_current()
        if model is self._model:
            return
        if self.width > model.vis.global_.offwidth or self.height > model.vis.global_.offheight:
            raise ValueError(f"image {self.width}x{self.height} is larger than the model's "
                             f"offscreen buffer {model.vis.global_.offwidth}x"
                             f"{model.vis.global_.offheight}")
        if self._context is not None:
            self._context.free()
        self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._scene = mujoco.MjvScene(model, maxgeom=10000)  # as mujoco.Renderer sizes it
        self._model = model

    def render(self, model: mujoco.MjModel, data: mujoco.MjData,
               cameras: dict[str, int]) -> dict[str, np.ndarray]:
        """{name: H×W×3 uint8} for the model's cameras {name: camera id}, in that order."""
        self.use(model)
        scene, context = self._scene, self._context
        aspect = self.width / self.height
        images, culled = {}, 0
        for name, cam_id in cameras.items():
            self._camera.fixedcamid = cam_id
            mujoco.mjv_updateScene(model, data, self._option, None, self._camera,
                                   _ALL, scene)
            if self.cull:
                culled += cull_outside_view(scene, aspect)
            mujoco.mjr_render(self._rect, scene, context)
            mujoco.mjr_readPixels(self._pixels, None, self._rect, context)
            images[name] = self._pixels[::-1].copy()  # OpenGL's rows run bottom-up
        self.culled = culled
        return images

    def close(self) -> None:
        """Free the render context and the GL context (safe to call twice)."""
        if self._gl is not None:
            if self._context is not None:
                self._gl.make_current()
                self._context.free()
            self._gl.free()
        self._gl = self._context = self._scene = self._model = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have taken EGL away
            pass

