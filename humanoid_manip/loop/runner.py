"""Where episodes run: in this process (one worker) or as Ray tasks (several, or a cluster).

`Workers` is the one orchestrator: `submit(jobs)` starts episode jobs and returns a `Batch`
whose `results()` come back in job order with a progress bar; `call(fn, ...)` runs a function as
its own task (training, on a GPU when the cluster has one). With one worker and no address,
everything runs here, in order, when its results are asked for; otherwise Ray runs it:
`ray.init` starts a local Ray with `num_cpus = workers`, a small object store and no dashboard,
or joins the cluster at `address`.

A Ray worker writes each episode (and video) in a folder of its own and sends the finished
bytes back; this process writes them into the dataset under a temporary name and renames them,
so the dataset never holds a half-written file and the workers need no shared filesystem. A job
whose worker died (killed, out of memory, its node lost) is run again, up to `retries` times;
a job that raised is not (it would raise again). Either way a job that did not finish comes back
with its error: reported, never dropped.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from humanoid_manip.errors import HumanoidManipError
from humanoid_manip.loop.episode import EpisodeReport
from humanoid_manip.loop.jobs import EpisodeJob, run_job

OBJECT_STORE_BYTES = 256 * 1024 * 1024  # episodes pass through it one by one (~5 MB each)
RETRIES = 2  # a job whose worker died runs again this many times
SCRATCH_ENV = "HUMANOID_MANIP_SCRATCH"  # where workers write files being made (default: under
#                                       the temp folder); one folder per worker process


class WorkersError(HumanoidManipError):
    """Ray could not start or be reached (a wrong --address, a bad --workers)."""


@dataclass
class JobResult:
    """A job's report, or the error that ended its last attempt."""

    job: EpisodeJob
    report: EpisodeReport | None
    error: str | None = None
    attempts: int = 1
    worker: str = "local"

    @property
    def ok(self) -> bool:
        return self.report is not None


class JobResults(list):
    """The results of a batch, in job order, and how many workers ran them."""

    def __init__(self, results=(), workers: int = 1, address: str | None = None):
        super().__init__(results)
        self.workers = workers
        self.address = address


def default_workers() -> int:
    """The cores of this machine (collect, eval and the flywheel use them all by default)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# -- worker side ----------------------------------------------------------------------------
def scratch_root() -> Path:
    return Path(os.environ.get(SCRATCH_ENV) or
                Path(tempfile.gettempdir()) / "humanoid_manip-episodes")


def _scratch() -> Path:
    """This worker's folder for files being written; folders of dead workers are removed."""
    root = scratch_root()
    for other in root.glob("*") if root.is_dir() else ():
        try:
            os.kill(int(other.name), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(other, ignore_errors=True)  # a worker that was killed mid-episode
        except PermissionError:
            pass
    mine = root / str(os.getpid())
    mine.mkdir(parents=True, exist_ok=True)
    return mine


def _remote_episode(job: EpisodeJob) -> dict[str, Any]:
    """A Ray task: run the job here, return its report and its files' bytes."""
    import socket

    import ray

    os.environ.setdefault("MUJOCO_GL", "egl")
    ctx = ray.get_runtime_context()
    worker = f"{socket.gethostname()}:{os.getpid()}:{ctx.get_worker_id()[:8]}"
    scratch = Path(tempfile.mkdtemp(dir=_scratch()))
    try:
        video_name = Path(job.video).name if job.video else None
        local = replace(job, out_dir=str(scratch) if job.out_dir else None,
                        video=str(scratch / video_name) if video_name else None)
        report = run_job(local, worker=worker)
        files = {}
        if report.path:
            files["episode"] = (Path(report.path).name, Path(report.path).read_bytes())
        if video_name and (scratch / video_name).is_file():
            files["video"] = (video_name, (scratch / video_name).read_bytes())
        return {"report": report, "files": files, "worker": worker}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _place(data: bytes, folder: Path, name: str) -> Path:
    """Write a finished file into `folder` atomically, under a name nothing else has."""
    from humanoid_manip.loop.recorder import PARTIAL_DIR

    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    stem, suffix = name.rsplit(".", 1) if "." in name else (name, "")
    n = 1
    while final.exists():
        final = folder / f"{stem}-{n}.{suffix}"
        n += 1
    tmp_dir = folder / PARTIAL_DIR
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / f"{final.name}.{os.getpid()}.part"
    tmp.write_bytes(data)
    os.replace(tmp, final)
    try:
        tmp_dir.rmdir()
    except OSError:
        pass
    return final


# -- the orchestrator ---------------------------------------------------------------------------
class Batch:
    """Episode jobs started together; `results()` waits for them (with a progress bar)."""

    def __init__(self, workers: Workers, jobs: Sequence[EpisodeJob], desc: str):
        self.owner, self.jobs, self.desc = workers, list(jobs), desc
        self._results: JobResults | None = None
        self._refs: list = []
        self._attempts = [1] * len(self.jobs)
        if not workers.local:
            self._refs = [workers._submit(j) for j in self.jobs]

    def results(self) -> JobResults:
        if self._results is None:
            run = self._run_here if self.owner.local else self._gather
            self._results = JobResults(run(), self.owner.workers, self.owner.address)
        return self._results

    def _bar(self):
        from tqdm import tqdm

        return tqdm(total=len(self.jobs), unit="episode", desc=self.desc,
                    disable=not self.owner.progress)

    @staticmethod
    def _postfix(bar, results) -> None:
        done = [r for r in results if r is not None]
        bar.set_postfix(success=f"{sum(bool(r.ok and r.report.success) for r in done)}/"
                                f"{len(done)}")

    def _run_here(self) -> list[JobResult]:
        from tqdm import tqdm

        results: list[JobResult | None] = [None] * len(self.jobs)
        with self._bar() as bar:
            for i, job in enumerate(self.jobs):
                inner = tqdm(total=None, unit="sim s", leave=False, desc=job.name,
                             disable=not self.owner.progress, bar_format="{desc}: {n:.1f} sim s")

                def tick(t, inner=inner):
                    if t - inner.n >= 0.1:
                        inner.update(round(t - inner.n, 1))

                try:
                    results[i] = JobResult(job, run_job(job, on_step=tick))
                except Exception as exc:  # noqa: BLE001 - reported with its job, not lost
                    results[i] = JobResult(job, None, f"{type(exc).__name__}: {exc}")
                finally:
                    inner.close()
                bar.update(1)
                self._postfix(bar, results)
        return results

    def _gather(self) -> list[JobResult]:
        import ray
        from ray.exceptions import RayTaskError

        results: list[JobResult | None] = [None] * len(self.jobs)
        index = {ref: i for i, ref in enumerate(self._refs)}
        pending = list(self._refs)
        with self._bar() as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for ref in ready:
                    i = index.pop(ref)
                    job = self.jobs[i]
                    try:
                        out = ray.get(ref)
                    except RayTaskError as exc:  # the job raised: it would raise again
                        results[i] = JobResult(job, None, _cause(exc), self._attempts[i])
                    except ray.exceptions.RayError as exc:  # its worker died: run it again
                        if self._attempts[i] <= self.owner.retries:
                            self._attempts[i] += 1
                            again = self.owner._submit(job)
                            index[again] = i
                            pending.append(again)
                            bar.write(f"{job.name}: worker lost ({type(exc).__name__}); "
                                      f"attempt {self._attempts[i]}")
                            continue
                        results[i] = JobResult(job, None, f"{type(exc).__name__}: worker "
                                               f"lost on every attempt", self._attempts[i])
                    else:
                        results[i] = self._store(job, out, self._attempts[i])
                    bar.update(1)
                    self._postfix(bar, results)
        return results

    @staticmethod
    def _store(job: EpisodeJob, out: dict, attempts: int) -> JobResult:
        report: EpisodeReport = out["report"]
        files = out["files"]
        if "episode" in files:
            path = _place(files["episode"][1], Path(job.out_dir), files["episode"][0])
            report.path = str(path)
        if "video" in files:
            path = _place(files["video"][1], Path(job.video).parent, Path(job.video).name)
            report.video = str(path)
        return JobResult(job, report, None, attempts, out["worker"])


def _cause(exc) -> str:
    cause = getattr(exc, "cause", None)
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).splitlines()[0]


class Call:
    """A function running as its own task; `result()` waits for its return value."""

    def __init__(self, owner: Workers, fn: Callable, args, kwargs, gpu: bool):
        self.owner, self.fn, self.args, self.kwargs = owner, fn, args, kwargs
        self._done, self._value = False, None
        if not owner.local:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            # on this machine, where the files it reads and writes are; its GPU if it has one
            node = ray.get_runtime_context().get_node_id()
            options = {"num_cpus": 1, "max_retries": 0, "scheduling_strategy":
                       NodeAffinitySchedulingStrategy(node_id=node, soft=False)}
            if gpu and owner.gpus_here():
                options["num_gpus"] = 1
            self._ref = ray.remote(fn).options(**options).remote(*args, **kwargs)

    def result(self):
        if not self._done:
            if self.owner.local:
                self._value = self.fn(*self.args, **self.kwargs)
            else:
                import ray

                self._value = ray.get(self._ref)
            self._done = True
        return self._value


class Workers:
    """One worker (this process) or Ray with `workers` CPUs (or the cluster at `address`)."""

    def __init__(self, workers: int = 1, address: str | None = None, progress: bool = True,
                 retries: int = RETRIES):
        if workers < 1:
            raise WorkersError(f"workers must be >= 1, got {workers}")
        self.workers, self.address, self.progress, self.retries = workers, address, progress, \
            retries
        self.local = workers == 1 and not address
        self._started = False
        self._episode = None
        self._policies: dict[str, bytes] = {}  # policy files sent to a cluster, by path
        if not self.local:
            self._start()

    def _start(self) -> None:
        t0 = time.perf_counter()
        if self.address:
            _use_cluster_token()  # read when Ray is imported
        try:
            import ray
        except ImportError:
            raise WorkersError("several workers or --address need Ray: pip install "
                               "-r requirements.txt") from None
        # A local Ray's workers inherit this environment (the package on PYTHONPATH, offscreen
        # rendering); a cluster's nodes have the package installed and get the renderer here.
        os.environ.setdefault("MUJOCO_GL", "egl")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray runs its workers at nice 15 by default: on a machine shared with other work they
        # would starve (episodes ran 3x slower here); the episodes are the work, so nice 0
        os.environ.setdefault("RAY_worker_niceness", "0")
        root = str(Path(__file__).resolve().parents[2])
        if root not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join(
                p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False, configure_logging=False,
                             runtime_env={"env_vars": {"MUJOCO_GL": os.environ["MUJOCO_GL"]}})
                else:  # a Ray of its own, even where another runs
                    ray.init(address="local", num_cpus=self.workers,
                             object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
                             log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"the Ray cluster at {self.address}" if self.address else "Ray here"
                raise WorkersError(f"cannot start or reach {where}: {exc}") from None
            self._started = True
        if self.address:
            self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._episode = ray.remote(_remote_episode).options(num_cpus=1, max_retries=0)
        self.startup_s = time.perf_counter() - t0

    def gpus_here(self) -> int:
        """GPUs Ray sees on this machine (the one the driver runs on)."""
        if self.local:
            return 0
        import ray

        node = ray.get_runtime_context().get_node_id()
        for n in ray.nodes():
            if n.get("NodeID") == node and n.get("Alive"):
                return int(n.get("Resources", {}).get("GPU", 0))
        return 0

    def _submit(self, job: EpisodeJob):
        if self.address and isinstance(job.policy, str):  # other machines lack the file
            if job.policy not in self._policies:
                self._policies[job.policy] = Path(job.policy).read_bytes()
            job = replace(job, policy=self._policies[job.policy])
        return self._episode.remote(job)

    def submit(self, jobs: Sequence[EpisodeJob], desc: str = "episodes") -> Batch:
        return Batch(self, jobs, desc)

    def call(self, fn: Callable, *args, gpu: bool = False, **kwargs) -> Call:
        """Run `fn(*args, **kwargs)` as its own task on this machine (with its GPU when asked
        and there is one): training reads the dataset the episodes were written into."""
        return Call(self, fn, args, kwargs, gpu)

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _use_cluster_token() -> None:
    """`ray start` guards a cluster with a token (~/.ray/auth_token) that a client only sends
    in token mode: use it when this machine has one and nothing says otherwise."""
    env = os.environ
    if "RAY_AUTH_MODE" in env:
        return
    if env.get("RAY_AUTH_TOKEN") or Path(env.get("RAY_AUTH_TOKEN_PATH") or
                                         Path.home() / ".ray" / "auth_token").is_file():
        env["RAY_AUTH_MODE"] = "token"


def run_jobs(jobs: Sequence[EpisodeJob], *, workers: int = 1, address: str | None = None,
             progress: bool = True, desc: str = "episodes", retries: int = RETRIES
             ) -> JobResults:
    """Run every job (several workers or an address: on Ray); results in job order. No more
    workers start than there are jobs (one job runs here)."""
    with Workers(max(1, min(workers, len(jobs))), address, progress, retries) as w:
        return w.submit(jobs, desc).results()
