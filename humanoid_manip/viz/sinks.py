"""Where a recording goes: an .rrd file, Rerun's web viewer served locally, or the native viewer.

The .rrd is written beside its destination and renamed into place once complete, so a failed or
interrupted view never leaves a half-written file behind (nor blocks a retry).
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import rerun as rr

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.viz import GRPC_PORT, WEB_PORT

APPLICATION_ID = "humanoid_manip"


class ViewerError(HumanoidManipError):
    """The viewer cannot show or save what was asked (no display, a port in use, …)."""


def new_recording(name: str) -> rr.RecordingStream:
    """A recording of its own (not Rerun's global one), so a process can hold several."""
    return rr.RecordingStream(APPLICATION_ID, recording_id=f"{name}-{uuid.uuid4().hex[:8]}")


class RrdFile:
    """rec's stream into FILE.rrd: call save() first, commit() when everything is logged."""

    def __init__(self, rec: rr.RecordingStream, path: str | os.PathLike, blueprint=None):
        self.rec, self.path = rec, Path(path)
        self.partial = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            rec.save(self.partial, default_blueprint=blueprint)
        except Exception as exc:  # noqa: BLE001 - the bindings raise plain exceptions
            raise ViewerError(f"cannot write {self.path}: {exc}") from None

    def commit(self) -> Path:
        self.rec.flush()
        self.rec.disconnect()  # writes the footer and closes the file
        try:
            os.replace(self.partial, self.path)
        except OSError as exc:
            self.discard()
            raise ViewerError(f"cannot write {self.path}: {exc}") from None
        return self.path

    def discard(self) -> None:
        try:
            self.rec.disconnect()
        finally:
            self.partial.unlink(missing_ok=True)


def serve_web(rec: rr.RecordingStream, blueprint=None, web_port: int = WEB_PORT,
              grpc_port: int = GRPC_PORT, open_browser: bool = False) -> str:
    """Serve rec over gRPC and Rerun's web viewer over HTTP on localhost; returns the URL to
    open (the viewer connects to the gRPC server). Serves until the process ends."""
    try:
        grpc = rec.serve_grpc(grpc_port=grpc_port, default_blueprint=blueprint)
        rr.serve_web_viewer(web_port=web_port, open_browser=open_browser, connect_to=grpc)
    except Exception as exc:  # noqa: BLE001 - a port in use raises a plain RuntimeError
        raise ViewerError(f"cannot serve the web viewer on ports {web_port} (http) and "
                          f"{grpc_port} (grpc): {exc}") from None
    return f"http://127.0.0.1:{web_port}/?url={quote(grpc, safe='')}"


def spawn_viewer(rec: rr.RecordingStream, blueprint=None) -> None:
    """The native Rerun viewer (needs a display)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ViewerError("no display for the native viewer; use --web (a browser) or "
                          "--save FILE.rrd")
    if shutil.which("rerun") is None:
        raise ViewerError("the rerun viewer is not on PATH (it comes with rerun-sdk)")
    rec.spawn(default_blueprint=blueprint)
