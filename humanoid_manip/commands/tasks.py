"""`humanoid-manip tasks`: the simulated household tasks and their randomization ranges."""
from __future__ import annotations

import dataclasses
import json

HELP = "list the simulated tasks with their time limits and randomization ranges"


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true",
                   help="print {'tasks': [{'name', 'doc', 'config'}], 'domain': {...}} as JSON")


def run(args) -> int:
    from humanoid_manip.sim import make_task, task_names
    from humanoid_manip.sim.domain import load_domain_config

    tasks = [make_task(n).describe() for n in task_names()]
    domain = dataclasses.asdict(load_domain_config())
    if args.json:
        print(json.dumps({"tasks": tasks, "domain": domain}, indent=1))
        return 0
    for t in tasks:
        print(f"{t['name']}: {t['doc']}")
        for key, value in t["config"].items():
            print(f"    {key:<26} {value}")
    print("domain randomization (every task):")
    for key, value in domain.items():
        print(f"    {key:<26} {value}")
    return 0
