"""`humanoid-manip data …`: work on episode files and datasets."""
from __future__ import annotations

from humanoid_manip.commands._args import (
    existing_dir,
    existing_file,
    existing_path,
    new_dir,
    output_dir,
    output_file,
    port,
    positive_float,
)
from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.viz import GRPC_PORT, WEB_PORT

HELP = ("episode files and datasets: view, validate, inspect, lineage, training cache, LeRobot "
        "export, recover a truncated episode, show one")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    view = sub.add_parser("view", help="one episode in the Rerun viewer: the robot in 3D posed "
                                       "at every joint state, the three cameras, every joint's "
                                       "position, velocity, requested and applied torque, the "
                                       "safety monitor's events and the outcome")
    view.add_argument("file", type=existing_file, help="an .mcap episode")
    view.add_argument("--save", metavar="FILE.rrd", type=output_file,
                      help="write a Rerun recording (open it with `rerun FILE.rrd`)")
    view.add_argument("--web", action="store_true",
                      help="serve Rerun's web viewer on localhost until Ctrl-C (prints the URL)")
    view.add_argument("--web-port", type=port, default=WEB_PORT,
                      help=f"HTTP port of the web viewer (default {WEB_PORT})")
    view.add_argument("--grpc-port", type=port, default=GRPC_PORT,
                      help=f"port the web viewer reads the data from (default {GRPC_PORT})")
    view.add_argument("--open", action="store_true", help="with --web: open a browser too")
    view.add_argument("--force", action="store_true", help="overwrite an existing --save file")

    rec = sub.add_parser("recover", help="rewrite an episode cut short (a killed recorder) up to "
                                         "its last complete chunk; the original is kept")
    rec.add_argument("file", type=existing_file, help="the truncated .mcap episode")
    rec.add_argument("-o", "--output", type=output_file,
                     help="where to write (default FILE.recovered.mcap); never an existing "
                          "file unless --force")
    rec.add_argument("--force", action="store_true", help="overwrite an existing output")
    show = sub.add_parser("show", help="topics, message counts and metadata of one episode")
    show.add_argument("file", type=existing_file, help="an .mcap episode")

    val = sub.add_parser("validate", help="check every episode (idle stretches, NaN/Inf, "
                                          "timestamps, dropped frames, saturation, outcome, "
                                          "lineage, replay in simulation); exit 1 on errors")
    val.add_argument("path", type=existing_path, help="a dataset folder or one .mcap episode")
    val.add_argument("--no-replay", action="store_true",
                     help="skip the (slower) open-loop replay in simulation")
    val.add_argument("--json", action="store_true", help="print the findings as JSON")
    val.add_argument("--fix", action="store_true",
                     help="write trimmed copies (idle head/tail cut) under --out; the originals "
                          "are never touched")
    val.add_argument("--out", type=output_dir,
                     help="where --fix writes (default PATH.fixed next to PATH)")
    val.add_argument("--config", type=existing_file,
                     help="thresholds file (default config/data.yaml)")

    ins = sub.add_parser("inspect", help="dataset summary; for one episode also joint and torque "
                                         "plots, a contact sheet of camera frames and an MP4")
    ins.add_argument("path", type=existing_path, help="a dataset folder or one .mcap episode")
    ins.add_argument("-e", "--episode", help="also plot this episode of the dataset folder")
    ins.add_argument("-o", "--out", type=output_dir,
                     help="folder for the PNGs and the MP4 (default: beside the episode, "
                          "EPISODE.inspect/); its plots are replaced")
    ins.add_argument("--no-video", action="store_true", help="skip the MP4")
    ins.add_argument("--json", action="store_true", help="print the summary as JSON")

    lin = sub.add_parser("lineage", help="the graph from episodes to checkpoints to evaluations "
                                         "to the episodes those policies collected")
    lin.add_argument("path", type=existing_path,
                     help="a folder of episodes (.mcap) and manifests (.json, .onnx)")
    lin.add_argument("--json", action="store_true", help="print nodes and edges as JSON")
    lin.add_argument("--check", metavar="ID_OR_FILE",
                     help="report, field by field, where the configuration recorded in this "
                          "checkpoint's training data differs from the one running now")

    cache = sub.add_parser("cache", help="build or update (incrementally) the dataset index and "
                                         "the training cache")
    cache.add_argument("path", type=existing_dir, help="a dataset folder")
    cache.add_argument("--cache", type=output_dir, help="cache folder (default PATH/.cache)")
    cache.add_argument("--rebuild", action="store_true", help="ignore what is cached")

    exp = sub.add_parser("export-lerobot", help="export a dataset in the LeRobot dataset format "
                                                "(codebase v2.1: parquet + MP4 + meta/; "
                                                "lerobot >= 0.4 converts it to v3.0)")
    exp.add_argument("path", type=existing_dir, help="a dataset folder")
    exp.add_argument("out", type=new_dir, help="the LeRobot dataset root to create (must not "
                                               "exist; removed again if the export fails)")
    exp.add_argument("--fps", type=positive_float, help="frame rate (default: the camera rate)")
    exp.add_argument("--repo-id", default="local/humanoid_manip",
                     help="repo_id recorded in the dataset (nothing is uploaded)")


def run(args) -> int:
    return {"view": _view, "recover": _recover, "show": _show, "validate": _validate,
            "inspect": _inspect, "lineage": _lineage, "cache": _cache,
            "export-lerobot": _export}[args.data_command](args)


def _view(args) -> int:
    import sys
    import time

    from humanoid_manip.data.episode import read_episode
    from humanoid_manip.robot import load_robot
    from humanoid_manip.viz import sinks
    from humanoid_manip.viz.episode_view import log_episode
    from humanoid_manip.viz.kinematics import load_kinematics
    from humanoid_manip.viz.layout import blueprint

    robot = load_robot()
    kin = load_kinematics(robot.urdf_path)
    ep = read_episode(args.file)
    rec = sinks.new_recording(ep.path.stem)
    layout = blueprint(robot)
    rrd = sinks.RrdFile(rec, args.save, layout) if args.save else None
    url = None
    try:
        if args.web:
            url = sinks.serve_web(rec, layout, args.web_port, args.grpc_port, args.open)
        elif not rrd:
            sinks.spawn_viewer(rec, layout)
        logged = log_episode(rec, ep, robot, kin)
    except BaseException:
        if rrd:
            rrd.discard()
        raise
    frames = ", ".join(f"{c} {n}" for c, n in logged["frames"].items()) or "no camera frames"
    print(f"{ep.path.name}: {logged['joint_states']} joint states, {logged['requests']} torque "
          f"requests, {logged['commands']} applied torques, {frames}, {logged['events']} safety "
          f"events; {logged['outcome']}")
    if rrd:
        print(f"wrote {rrd.commit()} (open it with: rerun {args.save})")
    if url:
        print(f"web viewer: {url}  (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            print("web viewer stopped", file=sys.stderr)
    return 0


def _recover(args) -> int:
    from humanoid_manip.data.episode import read_episode, recover

    out, n = recover(args.file, args.output, force=args.force)
    ep = read_episode(out, images=False)
    span = (f"{ep.t[-1] - ep.t[0]:.2f} s of joint states" if len(ep.t) > 1
            else "no joint states")
    print(f"recovered {n} messages ({span}) into {out}")
    return 0


def _show(args) -> int:
    import json

    from humanoid_manip.data.episode import read_episode

    ep = read_episode(args.file, images=False)
    print(json.dumps({"file": str(ep.path), "metadata": ep.metadata, "counts": ep.counts},
                     indent=1, sort_keys=True))
    return 0


def _validate(args) -> int:
    import sys
    from pathlib import Path

    from humanoid_manip.data.settings import load_data_config
    from humanoid_manip.data.validate import fix_dataset, format_report, validate
    from humanoid_manip.robot import load_robot

    robot = load_robot()
    cfg = load_data_config(args.config).validate
    report = validate(args.path, robot, cfg, replay=not args.no_replay,
                      progress=sys.stderr.isatty())
    print(report.to_json() if args.json else format_report(report))
    if args.fix:
        src = Path(args.path)
        out = Path(args.out) if args.out else src.with_name(src.name + ".fixed")
        written = fix_dataset(src, out, robot, cfg)
        for orig, dst, a, b in written:
            print(f"fixed: {orig} -> {dst} (kept {a:.2f}-{b:.2f} s)", file=sys.stderr)
        if not written:
            print("fixed: nothing to trim", file=sys.stderr)
    return 1 if report.errors else 0


def _inspect(args) -> int:
    import json
    import sys
    from pathlib import Path

    from humanoid_manip.data.inspect import (
        dataset_summary,
        format_summary,
        inspect_episode,
    )

    path = Path(args.path)
    target = path if path.is_file() else (path / args.episode if args.episode else None)
    if target is not None and not target.is_file():
        raise HumanoidManipError(f"--episode {args.episode}: no such file in {path}")
    summary = dataset_summary(path, progress=sys.stderr.isatty())
    print(json.dumps(summary, indent=1) if args.json else format_summary(summary))
    if not summary["readable"]:
        print(f"data inspect: error: no readable episode in {path} "
              f"({summary['episodes']} file(s) found)", file=sys.stderr)
        return 1
    if target is not None:
        out = Path(args.out) if args.out else target.with_name(target.stem + ".inspect")
        for f in inspect_episode(target, out, video=not args.no_video,
                                 progress=sys.stderr.isatty()):
            print(f"wrote {f}")
    return 0


def _lineage(args) -> int:
    import json

    from humanoid_manip.data.lineage_graph import check_checkpoint, format_graph, load_graph

    graph = load_graph(args.path)
    if args.check:
        lines = check_checkpoint(graph, args.check)
        if not lines:
            print(f"{args.check}: its training data was recorded with the configuration "
                  "running now")
            return 0
        print(f"{args.check}: configuration differs from its training data:")
        for line in lines:
            print(f"  {line}")
        return 1
    print(json.dumps(graph.to_dict(), indent=1) if args.json else format_graph(graph))
    return 0


def _cache(args) -> int:
    import sys

    from humanoid_manip.data.cache import build_cache

    result = build_cache(args.path, args.cache, rebuild=args.rebuild,
                         progress=sys.stderr.isatty())
    print(result.summary())
    if not (result.built or result.reused):
        print(f"data cache: error: no episode of {args.path} could be cached", file=sys.stderr)
        return 1
    return 0


def _export(args) -> int:
    import sys

    from humanoid_manip.data.lerobot_export import export_lerobot

    info = export_lerobot(args.path, args.out, fps=args.fps, repo_id=args.repo_id,
                          progress=sys.stderr.isatty())
    print(f"exported {info['total_episodes']} episode(s), {info['total_frames']} frames at "
          f"{info['fps']:g} fps to {args.out} (LeRobot {info['codebase_version']})")
    return 0
