"""A screenshot of a web page in headless Chromium, over the DevTools protocol: the browser check
of the served viewer (`python -m humanoid_manip.viz.screenshot URL OUT.png [--wait S]`).

Chromium is Debian's `chromium` package; WebGL runs on its software rasterizer (SwiftShader), so
no GPU or display is needed. The page is given `wait_s` to load the viewer and its data.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from humanoid_manip.errors import HumanoidManipError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class BrowserError(HumanoidManipError):
    """No browser, or the browser did not answer."""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


async def _capture(ws_url: str, url: str, wait_s: float, until, poll_s: float) -> bytes:
    import websockets

    async with websockets.connect(ws_url, max_size=None) as ws:
        counter = 0

        async def call(method: str, **params):
            nonlocal counter
            counter += 1
            await ws.send(json.dumps({"id": counter, "method": method, "params": params}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == counter:
                    if "error" in reply:
                        raise BrowserError(f"chromium {method}: {reply['error']}")
                    return reply["result"]

        await call("Page.enable")
        await call("Page.navigate", url=url)
        deadline = time.monotonic() + wait_s
        while True:
            await asyncio.sleep(poll_s if until else wait_s)
            png = base64.b64decode((await call("Page.captureScreenshot", format="png"))["data"])
            if until is None or until(png) or time.monotonic() > deadline:
                return png


def screenshot(url: str, out: str | Path, wait_s: float = 20.0,
               size: tuple[int, int] = (1280, 800), chromium: str | None = None,
               until=None, poll_s: float = 2.0) -> Path:
    """Open url in headless Chromium, wait wait_s seconds, write a PNG of the page to out.

    With until(png) -> bool, take a screenshot every poll_s seconds and stop at the first that
    satisfies it (or the last one, after wait_s).
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise BrowserError("no Chromium found (Debian: apt-get install chromium)")
    out = Path(out)
    # Chromium's helpers (renderer, GPU, crash handler) may still write the profile for a
    # moment after the browser exits: they run in its process group, which is ended whole, and
    # a file they leave behind does not fail the cleanup
    with tempfile.TemporaryDirectory(prefix="humanoid_manip_chromium_",
                                     ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--use-angle=swiftshader",
             "--enable-unsafe-swiftshader", "--no-first-run", "--disable-extensions",
             f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.is_file() and port_file.read_text().strip()):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BrowserError(f"{exe} did not start its DevTools endpoint")
                time.sleep(0.1)
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = json.loads(r.read())
            ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
            out.write_bytes(asyncio.run(_capture(ws_url, url, wait_s, until, poll_s)))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its helpers, if any outlived it
            except ProcessLookupError:
                pass
    return out


def robot_fraction(png: bytes) -> float:
    """How much of the viewer's 3D view (found by its background colour, layout.BACKGROUND_3D)
    the robot's light-grey shell covers, 0-1; 0 when no 3D view is on the page."""
    import io

    import numpy as np
    from PIL import Image

    from humanoid_manip.viz.layout import BACKGROUND_3D

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    background = np.all(np.abs(rgb - np.array(BACKGROUND_3D)) <= 3, axis=2)
    if background.sum() < 1000:
        return 0.0
    rows = np.nonzero(background.mean(axis=1) > 0.2)[0]  # the view's rows and columns:
    cols = np.nonzero(background.mean(axis=0) > 0.2)[0]  # mostly background
    if not len(rows) or not len(cols):
        return 0.0
    view = rgb[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    shell = (view.min(axis=2) > 120) & (np.ptp(view, axis=2) < 30)  # light, grey
    return float(shell.mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m humanoid_manip.viz.screenshot",
                                description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("out", help="PNG to write")
    p.add_argument("--wait", type=float, default=20.0, help="seconds to let the page load")
    args = p.parse_args(argv)
    try:
        out = screenshot(args.url, args.out, args.wait)
        print(f"wrote {out}; the robot covers {robot_fraction(out.read_bytes()):.1%} of the "
              "3D view")
    except HumanoidManipError as exc:
        print(f"screenshot: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
