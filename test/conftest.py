"""Shared test setup: each test process gets its own ROS domain, discovery stays on localhost."""
import os
import random

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# A domain per pytest process, so parallel runs on one machine do not hear each other.
os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid()).randint(1, 100))


@pytest.fixture(scope="session")
def robot():
    from humanoid_manip.robot import load_robot

    return load_robot()


@pytest.fixture(scope="session")
def robot_model(robot):
    from humanoid_manip.robot import build_model

    return build_model(robot)


@pytest.fixture(scope="module")
def frozen_config(tmp_path_factory):
    """A private copy of config/ and urdf/ for the module, found through HUMANOID_MANIP_SHARE."""
    import shutil

    from humanoid_manip import paths

    share = tmp_path_factory.mktemp("share")
    for folder in ("config", "urdf"):
        shutil.copytree(paths.share_dir() / folder, share / folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUMANOID_MANIP_SHARE", str(share))
        yield share
