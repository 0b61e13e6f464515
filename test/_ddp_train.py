"""Run by test_learn_distributed under torchrun: the toy trained data-parallel; each process
writes the weights it ends with (rank<r>.pt) beside the run."""
import sys
from pathlib import Path

import torch

from humanoid_manip.learn.distributed import DataParallel
from humanoid_manip.learn.toy import tiny_train_config, toy_episodes
from humanoid_manip.learn.train import train_policy
from humanoid_manip.robot import load_robot

out = Path(sys.argv[1])
robot = load_robot()
episodes = toy_episodes(robot, n_episodes=4, ticks=40, n_tasks=2, seed=1)
with DataParallel.from_env() as par:
    result = train_policy(tiny_train_config(steps=4, log_every=1), episodes, robot,
                          ("task_a", "task_b"), out / "run", progress=False, parallel=par)
    torch.save(result.model.state_dict(), out / f"rank{par.rank}.pt")
