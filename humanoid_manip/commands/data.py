"""`humanoid-manip data …`: work on episode files and datasets."""
from __future__ import annotations

HELP = "episode files and datasets: recover a truncated episode, show one"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    rec = sub.add_parser("recover", help="rewrite an episode cut short (a killed recorder) up to "
                                         "its last complete chunk; the original is kept")
    rec.add_argument("file", help="the truncated .mcap episode")
    rec.add_argument("-o", "--output", help="where to write (default FILE.recovered.mcap)")
    show = sub.add_parser("show", help="topics, message counts and metadata of one episode")
    show.add_argument("file", help="an .mcap episode")


def run(args) -> int:
    import json

    from humanoid_manip.data.episode import read_episode, recover

    if args.data_command == "recover":
        out, n = recover(args.file, args.output)
        ep = read_episode(out, images=False)
        span = (f"{ep.t[-1] - ep.t[0]:.2f} s of joint states" if len(ep.t) > 1
                else "no joint states")
        print(f"recovered {n} messages ({span}) into {out}")
        return 0
    ep = read_episode(args.file, images=False)
    print(json.dumps({"file": str(ep.path), "metadata": ep.metadata, "counts": ep.counts},
                     indent=1, sort_keys=True))
    return 0
