"""The launch files, with ROS 2's own launch and launch_ros, against `humanoid-manip up`.

ROS 2's `launch` and `launch_ros` are not on PyPI; ../shared/ros2_launch holds their sources
(see its README) and these tests use them as `ros2 launch` does, no stand-ins: the sim and
teleop stacks are run for real (their nodes start, work together and shut down cleanly on
SIGINT); the launch files that start other packages' C++ executables (robot_state_publisher,
ros2_control_node, spawner, rviz2, move_group, none of them here) are evaluated with the real
launch API up to the point where a process would be spawned: each Node's substitutions,
conditions, parameter files and event handlers, as LaunchService performs them.
Where ../shared/ros2_launch is missing, those tests skip, saying why.
"""
import ast
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from humanoid_manip import paths
from humanoid_manip.errors import RobotDescriptionError
from humanoid_manip.moveit_config import files as moveit_files
from humanoid_manip.ros_description import MOCK_PLUGIN, hardware_plugin, with_hardware
from humanoid_manip.stack import load_stack, node_command, params_yaml, resolve, stack_names

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_DIR = ROOT / "launch"
ROS2_LAUNCH = ROOT.parent / "shared" / "ros2_launch"
LAUNCH_PATHS = [ROS2_LAUNCH / "launch", ROS2_LAUNCH / "launch_ros", ROS2_LAUNCH / "stubs"]
EXTRA_LAUNCH_FILES = {"bringup", "moveit"}  # launch files that are not a config/stack.yaml stack
ALLOWED_IMPORTS = {  # launch files use ROS 2's launch API and the package's own helpers only
    "launch", "launch.actions", "launch.conditions", "launch.event_handlers",
    "launch.substitutions", "launch_ros.actions", "launch_ros.parameter_descriptions",
    "humanoid_manip.nodes.stack_launch", "humanoid_manip.stack",
    "humanoid_manip.ros_description", "humanoid_manip.moveit_config.files",
}


@pytest.fixture(scope="session")
def launch_api():
    """ROS 2's launch and launch_ros importable in this process (or the test skips)."""
    if not all(p.is_dir() for p in LAUNCH_PATHS):
        pytest.skip(f"ROS 2's launch sources are not at {ROS2_LAUNCH} (see its README): the "
                    "launch files cannot be run without them or a ROS 2 install")
    pytest.importorskip("osrf_pycommon", reason="launch needs osrf-pycommon (requirements.txt)")
    for p in reversed(LAUNCH_PATHS):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    stale = sys.modules.get("launch")
    if stale is not None and getattr(stale, "__file__", None) is None:
        del sys.modules["launch"]  # the repository's launch/ folder, taken for a package
    import launch

    assert Path(launch.__file__).is_relative_to(ROS2_LAUNCH)
    return launch


# --------------------------------------------------------------- evaluating a description
@dataclass
class Started:
    """A process a launch description would start, as LaunchService computes it."""

    package: str
    executable: str
    name: str
    namespace: str
    parameters: dict = field(default_factory=dict)  # from parameter dicts
    parameter_files: list = field(default_factory=list)  # files given by path
    arguments: list = field(default_factory=list)
    after: str | None = None  # started by an OnProcessExit of this process
    on_failure: list = field(default_factory=list)  # what that handler does on a failure


def describe(path: Path, overrides: dict[str, str] | None = None) -> list[Started]:
    """What `ros2 launch <path> k:=v …` would start, without starting it."""
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
    from launch.events.process import ProcessExited
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    from launch import LaunchContext, LaunchDescription

    spec = importlib.util.spec_from_file_location(f"_launch_{path.stem.split('.')[0]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    context = LaunchContext()
    declared = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    for k, v in (overrides or {}).items():
        assert k in declared, f"{path.name} does not declare argument {k}"
        context.launch_configurations[k] = v
    started: list[Started] = []
    nodes: list[tuple[Node, Started]] = []

    def node(e: Node, after=None) -> Started:
        e._perform_substitutions(context)  # what Node.execute does before spawning
        params, param_files = {}, []
        for arg, is_file in e._Node__expanded_parameter_arguments or []:
            assert is_file, arg
            # launch_ros writes parameter dicts with yaml.dump (sequences as python tuples,
            # which the nodes' rcl parser reads as arrays) and nested dicts as dotted names
            data = yaml.load(Path(arg).read_text(), Loader=yaml.FullLoader)
            if Path(arg).name.startswith("launch_params_"):  # a dict launch wrote out
                params.update(_nested(next(iter(data.values()))["ros__parameters"]))
            else:
                param_files.append(Path(arg))
        args = []
        for part in e.cmd[1:]:
            text = perform_substitutions(context, part)
            if text == "--ros-args":
                break
            args.append(text)
        s = Started(e.node_package, e.node_executable, e.node_name.split("/")[-1],
                    e.expanded_node_namespace, params, param_files, args, after)
        nodes.append((e, s))
        return s

    def exited(action, code):
        return ProcessExited(action=action, name="p", cmd=[], cwd=None, env=None, pid=1,
                             returncode=code)

    def walk(entities, after=None):
        for e in entities:
            if isinstance(e, DeclareLaunchArgument):
                e.execute(context)  # its default, unless given
            elif e.condition is not None and not e.condition.evaluate(context):
                continue
            elif isinstance(e, Node):
                started.append(node(e, after))
            elif isinstance(e, OpaqueFunction):
                walk(e.execute(context) or [], after)
            elif isinstance(e, LaunchDescription):
                walk(e.entities, after)
            elif isinstance(e, RegisterEventHandler):
                handler = e.event_handler
                targets = [(a, s) for a, s in nodes if handler.matches(exited(a, 0))]
                assert len(targets) == 1, f"{path.name}: a handler on an unknown process"
                action, target = targets[0]
                failed = handler.handle(exited(action, 1), context) or []
                before = len(started)
                walk(handler.handle(exited(action, 0), context) or [], target.name)
                for s in started[before:]:
                    s.on_failure = [type(a).__name__ for a in failed]
            else:
                raise AssertionError(f"{path.name}: unexpected action {type(e).__name__}")

    walk(description.entities)
    return started


def _nested(flat: dict) -> dict:
    """Dotted parameter names back into nested dicts, tuples as lists."""
    out: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        d = out
        for k in parents:
            d = d.setdefault(k, {})
        d[leaf] = list(value) if isinstance(value, tuple) else value
    return out


def _up(stack_name, overrides: dict[str, str]):
    """What `humanoid-manip up` would start (every node of the stack, found or not)."""
    stack = load_stack(stack_name)
    typed = {k: stack.argument(k).parse(v) for k, v in overrides.items()}
    out = []
    for node in resolve(stack, typed):
        if node.own:
            cmd = node_command(node, "/tmp/p.yaml")
            assert cmd[1:3] == ["-m", f"humanoid_manip.nodes.{node.executable}"]
        params = yaml.safe_load(params_yaml(node))["/**"]["ros__parameters"]
        out.append((node.package, node.executable, node.name, node.namespace, params))
    return out


def _as_up(started: list[Started]):
    return [(s.package, s.executable, s.name, s.namespace.strip("/"), s.parameters)
            for s in started]


# ------------------------------------------------------------------------- the stacks
@pytest.mark.parametrize("stack", ["sim", "hardware", "teleop"])
@pytest.mark.parametrize("overrides", [
    {},
    {"policy": "/data/policy.onnx", "seed": "7", "namespace": "robot1",
     "use_sim_time": "false", "real_time_factor": "0.5", "task": "pick_place",
     "robot_state_publisher": "false", "joint_state_wait": "3"},
])
def test_launch_file_and_up_start_the_same_nodes(launch_api, stack, overrides):
    launched = describe(LAUNCH_DIR / f"{stack}.launch.py", overrides)
    assert _as_up(launched) == _up(stack, overrides)
    for s in launched:
        assert all(type(v) in (bool, int, float, str) for v in s.parameters.values())


def test_the_sim_stacks_publish_tf_from_the_sims_joint_states(launch_api, robot):
    for stack in ("sim", "teleop"):
        launched = {s.executable: s for s in describe(LAUNCH_DIR / f"{stack}.launch.py")}
        rsp = launched["robot_state_publisher"]
        assert rsp.package == "robot_state_publisher"
        assert rsp.parameters["robot_description"] == robot.urdf_path.read_text()
        assert rsp.parameters["use_sim_time"] is True  # /tf on the sim's clock
        assert "sim_node" in launched
        off = describe(LAUNCH_DIR / f"{stack}.launch.py", {"robot_state_publisher": "false"})
        assert "robot_state_publisher" not in [s.executable for s in off]
    sim = describe(LAUNCH_DIR / "sim.launch.py")
    assert [s.executable for s in sim] == ["sim_node", "policy_node", "safety_monitor_node",
                                           "robot_state_publisher"]
    assert all(s.parameters["use_sim_time"] is True for s in sim)
    hw = describe(LAUNCH_DIR / "hardware.launch.py")
    assert [s.executable for s in hw] == ["policy_node", "safety_monitor_node"]
    assert all(s.parameters["use_sim_time"] is False for s in hw)
    assert hw[1].parameters["joint_state_wait_s"] == 15.0


# ------------------------------------------------------------- bringup and MoveIt
def test_bringup_starts_ros2_control_on_mock_hardware_then_the_stack(launch_api, robot):
    started = describe(LAUNCH_DIR / "bringup.launch.py")
    by = {s.name: s for s in started}
    rsp = by["robot_state_publisher"]
    assert hardware_plugin(rsp.parameters["robot_description"]) == MOCK_PLUGIN
    cm = next(s for s in started if s.executable == "ros2_control_node")
    assert cm.package == "controller_manager"
    assert cm.parameter_files == [paths.config_path("ros2_controllers.yaml")]
    jsb = by["spawner_joint_state_broadcaster"]
    assert (jsb.package, jsb.arguments[0], jsb.after) == ("controller_manager",
                                                          "joint_state_broadcaster", None)
    then = [s for s in started if s.after == jsb.name]
    assert [s.name for s in then] == ["policy_node", "safety_monitor",
                                      "spawner_effort_controller"]
    assert then[-1].arguments[0] == "effort_controller"
    assert then[1].parameters["joint_state_wait_s"] == 15.0
    assert all(s.on_failure == ["LogInfo", "Shutdown"] for s in then)  # a failed spawner stops
    rviz = by["rviz2"]
    assert rviz.arguments == ["-d", str(paths.config_path("rviz/humanoid.rviz"))]
    assert "rviz2" not in [s.name for s in describe(LAUNCH_DIR / "bringup.launch.py",
                                                     {"rviz": "false"})]


def test_the_rviz_view_shows_model_tf_joint_states_and_every_camera(robot):
    view = yaml.safe_load(paths.config_path("rviz/humanoid.rviz").read_text())
    displays = view["Visualization Manager"]["Displays"]
    by_class: dict[str, list] = {}
    for d in displays:
        by_class.setdefault(d["Class"].split("/")[-1], []).append(d)
    assert by_class["RobotModel"][0]["Description Topic"]["Value"] == "/robot_description"
    assert by_class["TF"][0]["Value"] is True
    assert by_class["Effort"][0]["Topic"]["Value"] == "/joint_states"
    assert sorted(d["Topic"]["Value"] for d in by_class["Image"]) == \
        sorted(f"/{c}/image_raw" for c in robot.camera_names)
    assert view["Visualization Manager"]["Global Options"]["Fixed Frame"] == "base_link"


def test_bringup_with_a_robot_uses_its_urdf_and_refuses_the_mock_as_a_robot(launch_api, robot,
                                                                            tmp_path):
    urdf = tmp_path / "acme.urdf"
    urdf.write_text(with_hardware(robot.urdf_path.read_text(), "acme_humanoid/System"))
    started = describe(LAUNCH_DIR / "bringup.launch.py", {"use_mock_hardware": "false",
                                                          "description": str(urdf),
                                                          "policy": "/data/p.onnx"})
    rsp = next(s for s in started if s.name == "robot_state_publisher")
    assert hardware_plugin(rsp.parameters["robot_description"]) == "acme_humanoid/System"
    assert next(s for s in started if s.name == "policy_node").parameters["model"] == \
        "/data/p.onnx"
    with pytest.raises(RobotDescriptionError, match="--hardware-plugin"):
        describe(LAUNCH_DIR / "bringup.launch.py", {"use_mock_hardware": "false"})


def test_moveit_launch_starts_move_group_with_the_generated_configuration(launch_api, robot):
    (move_group,) = describe(LAUNCH_DIR / "moveit.launch.py")
    assert (move_group.package, move_group.executable) == ("moveit_ros_move_group",
                                                           "move_group")
    p = move_group.parameters
    assert p["robot_description"] == robot.urdf_path.read_text()
    assert p["robot_description_semantic"] == \
        (moveit_files.folder() / moveit_files.SRDF).read_text()
    kin = p["robot_description_kinematics"]
    assert kin["left_arm"]["kinematics_solver"] == "kdl_kinematics_plugin/KDLKinematicsPlugin"
    assert set(p["robot_description_planning"]["joint_limits"]) == set(robot.names)
    assert p["planning_pipelines"] == ["ompl"] and "planning_plugins" in p["ompl"]
    assert p["allow_trajectory_execution"] is False  # plans go through the safety monitor
    assert p["use_sim_time"] is False


def test_every_stack_has_a_launch_file_using_only_the_launch_api():
    assert set(stack_names()) | EXTRA_LAUNCH_FILES == \
        {p.name.split(".")[0] for p in LAUNCH_DIR.glob("*.launch.py")}
    for path in LAUNCH_DIR.glob("*.launch.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                pytest.fail(f"{path.name}: plain import {ast.unparse(node)}")
            if isinstance(node, ast.ImportFrom):
                assert node.module in ALLOWED_IMPORTS, f"{path.name} imports {node.module}"
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
                   for n in tree.body)


def test_launch_files_need_nothing_the_ros_installs_python_lacks(launch_api):
    """`ros2 launch` runs in the ROS install's Python: the pip-only packages (MuJoCo, ONNX
    Runtime, mink, …) live in the workspace's venv for the nodes, so the launch files must not
    import them (numpy and PyYAML are ROS dependencies)."""
    code = ("import sys, importlib.util\n"
            "for m in ('mujoco', 'onnxruntime', 'onnx', 'mink', 'mcap', 'pyarrow', 'torch'):\n"
            "    sys.modules[m] = None  # importing it raises ImportError\n"
            "for path in sys.argv[1:]:\n"
            "    spec = importlib.util.spec_from_file_location('f', path)\n"
            "    module = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(module)\n"
            "    module.generate_launch_description()\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *map(str, LAUNCH_PATHS)]))
    done = subprocess.run([sys.executable, "-c", code, *map(str, LAUNCH_DIR.glob("*.py"))],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]


# ----------------------------------------------------------------------- real runs
def _prefix(tmp_path: Path) -> Path:
    """An install prefix as colcon lays it out, so launch_ros finds this package's nodes:
    the ament index marker, share/humanoid_manip, lib/humanoid_manip/<console script>."""
    prefix = tmp_path / "install"
    (prefix / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (prefix / "share/ament_index/resource_index/packages/humanoid_manip").touch()
    share = prefix / "share/humanoid_manip"
    share.mkdir()
    for folder in ("config", "urdf", "launch", "policies"):
        (share / folder).symlink_to(ROOT / folder)
    lib = prefix / "lib/humanoid_manip"
    lib.mkdir(parents=True)
    bindir = Path(sys.executable).parent
    scripts = {e.name for e in importlib.metadata.entry_points(group="console_scripts")
               if e.value.startswith("humanoid_manip.nodes.")}
    for name in scripts:
        if (bindir / name).is_file():
            (lib / name).symlink_to(bindir / name)
    return prefix


def _run_launch(launch_api, tmp_path, file: str, args: list[str], ready: list[str],
                timeout_s: float = 150.0) -> tuple[int, str]:
    """`ros2 launch` a file (the shared runner), SIGINT it once every `ready` text has shown up
    in its output (as Ctrl-C would), and return its exit code and output."""
    env = dict(os.environ, AMENT_PREFIX_PATH=str(_prefix(tmp_path)), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), *map(str, LAUNCH_PATHS),
                                           os.environ.get("PYTHONPATH", "")]),
               RCUTILS_COLORIZED_OUTPUT="0")
    cmd = [sys.executable, str(ROS2_LAUNCH / "run_launch.py"), str(LAUNCH_DIR / file),
           str(timeout_s), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if all(r in "".join(lines) for r in ready):
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.2)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(10)
    return proc.returncode, "".join(lines)


@pytest.mark.slow
def test_sim_launch_runs_the_stack_and_shuts_down_cleanly(launch_api, tmp_path):
    rc, out = _run_launch(launch_api, tmp_path, "sim.launch.py",
                          ["robot_state_publisher:=false", "enable:=true"],
                          ready=["the monitor holds the policy's first request: episode 0 runs"])
    assert "the monitor holds the policy's first request" in out, out[-3000:]
    for node in ("sim_node", "policy_node", "safety_monitor_node"):
        assert f"[{node}-" in out and "process started" in out
        assert any(f"[{node}-" in line and "process has finished cleanly" in line
                   for line in out.splitlines()), (node, out[-3000:])
    assert rc == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.slow
def test_teleop_launch_runs_the_stack_and_shuts_down_cleanly(launch_api, tmp_path):
    rc, out = _run_launch(launch_api, tmp_path, "teleop.launch.py",
                          ["robot_state_publisher:=false", "view:=false",
                           f"out:={tmp_path / 'episodes'}"],
                          ready=["holding until /teleop/deadman is held", "recording ",
                                 "48 joints at", "task 'pick_place' seed 0"])
    for node in ("sim_node", "teleop_node", "safety_monitor_node", "recorder_node"):
        assert any(f"[{node}-" in line and "process has finished cleanly" in line
                   for line in out.splitlines()), (node, out[-3000:])
    assert rc == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


# --------------------------------------------------------------------- no launch API
def test_every_executable_is_a_console_script_of_its_module():
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")
               if e.value.startswith("humanoid_manip.nodes.")}
    for name in stack_names():
        for node in load_stack(name).nodes:
            if node.package != "humanoid_manip":
                continue  # another package's executable (robot_state_publisher)
            assert scripts.get(node.executable) == f"{node.module}:main", node.executable


def test_ros2_controllers_declare_the_broadcaster_and_an_effort_controller_over_all_joints(robot):
    cfg = yaml.safe_load(paths.config_path("ros2_controllers.yaml").read_text())
    cm = cfg["controller_manager"]["ros__parameters"]
    assert cm["joint_state_broadcaster"]["type"] == \
        "joint_state_broadcaster/JointStateBroadcaster"
    assert cm["effort_controller"]["type"] == \
        "forward_command_controller/ForwardCommandController"
    assert cm["update_rate"] >= robot.rates.safety_hz
    ec = cfg["effort_controller"]["ros__parameters"]
    assert ec["interface_name"] == "effort"
    assert tuple(ec["joints"]) == robot.names  # canonical order: every arm, hand, head joint


def test_stack_arguments_are_typed_and_checked():
    from humanoid_manip.errors import ConfigError, UnknownNameError

    stack = load_stack("sim")
    assert stack.argument("seed").parse("3") == 3
    assert stack.argument("real_time_factor").parse("2") == 2.0
    assert stack.argument("use_sim_time").parse("false") is False
    with pytest.raises(ConfigError, match="not a int"):
        stack.argument("seed").parse("three")
    with pytest.raises(UnknownNameError, match="valid: .*policy"):
        resolve(stack, {"polcy": "x"})
    with pytest.raises(UnknownNameError, match="hardware, sim, teleop"):
        load_stack("real")


def test_up_prints_the_plan_and_says_which_nodes_a_ros_install_would_add(capsys, monkeypatch):
    from humanoid_manip.cli import main

    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    assert main(["up", "sim", "--print", "--seed", "5", "--arg", "namespace:=r1"]) == 0
    out = capsys.readouterr().out
    assert "humanoid_manip.nodes.sim_node" in out and "seed=5" in out
    assert "__ns:=/r1" in out
    assert "robot_state_publisher not started: robot_state_publisher/robot_state_publisher " \
           "is not installed here" in out
    assert "<?xml" not in out  # the URDF parameter is shown by its size
    assert main(["up", "teleop", "--print", "--arg", "operator:=ana",
                 "--arg", "robot_state_publisher:=false"]) == 0
    out = capsys.readouterr().out
    assert "humanoid_manip.nodes.teleop_node" in out and "operator='ana'" in out
    assert "robot_state_publisher" not in out
    assert main(["up", "sim", "--seed", "x", "--print"]) == 2


def test_up_starts_another_packages_node_where_a_ros_install_has_it(tmp_path, monkeypatch):
    """A sourced ROS 2 install: `up` runs its robot_state_publisher as `ros2 run` would."""
    exe = tmp_path / "lib" / "robot_state_publisher" / "robot_state_publisher"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    (rsp,) = [n for n in resolve(load_stack("sim")) if not n.own]
    assert node_command(rsp, "/tmp/p.yaml")[:5] == [str(exe), "--ros-args", "-r",
                                                    "__node:=robot_state_publisher",
                                                    "--params-file"]


def test_the_view_node_is_optional_in_the_sim_stack(launch_api):
    """`up sim --view` and `ros2 launch … view:=true` add view_node; by default it is off."""
    sim = LAUNCH_DIR / "sim.launch.py"
    assert "view_node" not in [s.executable for s in describe(sim)]
    launched = describe(sim, {"view": "true"})
    assert _as_up(launched) == _up("sim", {"view": "true"})
    view = [s for s in launched if s.executable == "view_node"]
    assert len(view) == 1 and view[0].parameters["use_sim_time"] is True
    assert "view_node" not in [n.executable for n in resolve(load_stack("sim"))]


def test_the_teleop_stack_opens_the_live_view_unless_told_not_to(launch_api, capsys):
    """The operator sees the scene: view_node (with its teleop layout) runs in the teleop stack
    by default; `--no-view` (up, teleop) and `view:=false` (ros2 launch) leave it out."""
    from humanoid_manip.cli import main

    teleop = LAUNCH_DIR / "teleop.launch.py"
    launched = describe(teleop)
    assert _as_up(launched) == _up("teleop", {})
    view = [s for s in launched if s.executable == "view_node"]
    assert len(view) == 1 and view[0].parameters["teleop"] is True
    assert "view_node" not in [s.executable for s in describe(teleop, {"view": "false"})]
    assert main(["up", "teleop", "--print", "--no-view"]) == 0
    assert "view_node" not in capsys.readouterr().out


def test_only_the_sim_stack_can_arm_the_monitor_at_start():
    """`up sim --enable` arms the monitor for demos; hardware always needs an operator."""
    monitor = {n.name: n for n in resolve(load_stack("sim"), {"enable": True})}["safety_monitor"]
    assert monitor.parameters["enable_on_start"] is True
    monitor = {n.name: n for n in resolve(load_stack("sim"))}["safety_monitor"]
    assert monitor.parameters["enable_on_start"] is False
    for node in resolve(load_stack("hardware")):
        assert "enable_on_start" not in node.parameters
