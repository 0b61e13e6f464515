"""Where the package data (config/, urdf/, launch/) lives: checkout, pip or colcon install."""
from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "humanoid_manip"
_MARKER = Path("config") / "robot.yaml"


def share_dir() -> Path:
    """The folder holding config/, urdf/ and launch/.

    Order: $HUMANOID_MANIP_SHARE, the source checkout this module sits in, the ament index of a
    sourced ROS 2 workspace, then <prefix>/share/humanoid_manip of the running interpreter.
    """
    candidates: list[Path] = []
    if os.environ.get("HUMANOID_MANIP_SHARE"):
        candidates.append(Path(os.environ["HUMANOID_MANIP_SHARE"]))
    candidates.append(Path(__file__).resolve().parents[1])
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:  # noqa: BLE001 - no ROS workspace, or the package is not in it
        pass
    candidates.append(Path(sys.prefix) / "share" / PACKAGE)
    for c in candidates:
        if (c / _MARKER).is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    from humanoid_manip.errors import ConfigError

    raise ConfigError(f"cannot find the {PACKAGE} data files ({_MARKER}); looked in: {tried}. "
                      "Set HUMANOID_MANIP_SHARE to the folder that holds config/ and urdf/.")


def config_path(name: str) -> Path:
    """A file under config/, e.g. config_path('safety.yaml')."""
    return share_dir() / "config" / name


def resolve(path: str | os.PathLike) -> Path:
    """An absolute path as given; a relative one under the share directory, else from the cwd."""
    p = Path(path)
    if p.is_absolute():
        return p
    shared = share_dir() / p
    return shared if shared.exists() else p.resolve()
