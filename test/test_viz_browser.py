"""The browser check: `data view EP --web` serves Rerun's web viewer, headless Chromium opens it,
and the screenshot shows the robot in the 3D view (its light-grey shell on the dark background).

Needs Debian's `chromium` (scripts/setup.sh installs it as root) and the websockets package;
skips, saying which is missing, without them. About 20-40 s: the viewer's WebAssembly bundle
loads and renders on the CPU (SwiftShader).
"""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from humanoid_manip.data.synth import write_synthetic
from humanoid_manip.viz.screenshot import find_chromium, robot_fraction, screenshot

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="no Chromium (Debian: apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_viewer_shows_the_robot_in_chromium(robot, tmp_path):
    pytest.importorskip("websockets", reason="websockets (the DevTools client) not installed")
    episode = write_synthetic(tmp_path / "ep.mcap", robot, seconds=1.0, seed=3)
    web, grpc = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "humanoid_manip.cli", "data", "view", str(episode), "--web",
         "--web-port", str(web), "--grpc-port", str(grpc)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        url, lines, deadline = None, [], time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("web viewer: "):
                url = line.split()[2]
        assert url, "".join(lines)
        shot = tmp_path / "viewer.png"
        screenshot(url, shot, wait_s=90, until=lambda png: robot_fraction(png) > 0.02)
        fraction = robot_fraction(shot.read_bytes())
        print(f"robot covers {fraction:.1%} of the 3D view; screenshot {shot}")
        assert fraction > 0.02, f"no robot in the 3D view; see {shot}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    assert rc == 0  # Ctrl-C stops the server cleanly
