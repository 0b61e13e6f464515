"""An MP4 of what the driver sees (the three cameras) beside an outside view of the scene."""
from __future__ import annotations

from pathlib import Path

import numpy as np

VIEW_SIZE = (240, 320)  # height, width of the outside view


class EpisodeVideo:
    """Made by run_episode after the reset (the world is rebuilt each episode); frames at the
    camera rate."""

    def __init__(self, path: str | Path, sim):
        import imageio_ffmpeg
        import mujoco

        self.path = Path(path)
        self.sim = sim
        self.view = mujoco.Renderer(sim.model, *VIEW_SIZE)
        self.cam = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(sim.model, self.cam)
        # above and behind the robot: both hands and the task in front (a view from the front
        # is blocked by the dryer)
        self.cam.lookat[:] = [0.5, 0.0, 1.0]
        self.cam.distance, self.cam.azimuth, self.cam.elevation = 1.7, 0.0, -50.0
        h, w = VIEW_SIZE
        self.size = (w + 2 * sim.image_width, h)
        self.writer = imageio_ffmpeg.write_frames(str(path), self.size,
                                                  fps=sim.robot.rates.camera_hz, quality=6,
                                                  macro_block_size=8, ffmpeg_log_level="error")
        self.writer.send(None)

    def add(self, images: dict[str, np.ndarray]) -> None:
        self.view.update_scene(self.sim.data, camera=self.cam)
        outside = self.view.render()
        h, w = VIEW_SIZE
        frame = np.zeros((h, self.size[0], 3), np.uint8)
        frame[:, :w] = outside
        cams = list(images.values())
        ih, iw = cams[0].shape[:2]
        for i, img in enumerate(cams[:3]):
            r, c = (i // 2) * ih, w + (i % 2) * iw
            if r + ih <= h:
                frame[r:r + ih, c:c + iw] = img
        self.writer.send(np.ascontiguousarray(frame).tobytes())

    def close(self) -> None:
        self.writer.close()
        self.view.close()
