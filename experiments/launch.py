"""Running the drivers' grids: one job = one run, here one after another, several at once on
this machine, or as one Slurm job array.

    --launcher=serial   in the driver's process, one run after another (the default)
    --launcher=local    up to --max_parallel runs at once, each in its own process with
                        --cpus_per_run threads and, where GPUs are visible, its own GPU
    --launcher=slurm    the pending runs as one job array through submitit

A driver (`experiments.reproduce`, `experiments.ablate`) builds its list of `Job`s once, and its
grid (`experiments.grid.Grid`) gives `run_jobs` two functions of a job: `is_done` (its record is
written) and `run_job` (train the run into its folder under the folder's lock, `run_lock.RunLock`,
and write its record). A job whose run is locked by someone else is waited for, and trained here
if the lock's holder dies; so two drivers on overlapping grids train each run once. submitit is
what puts a job on Slurm (and runs the local ones as processes); `QueueWatcher` is its job-state
polling where Slurm keeps no accounting.
"""

import dataclasses
import importlib
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

import submitit
from absl import flags
from submitit.slurm import slurm

from datn_tf import config as config_lib
from datn_tf import progress, run_lock, runtime
from datn_tf.config import setting
from datn_tf.errors import UserError

# What `scontrol show config` says of a Slurm without slurmdbd.
_ACCOUNTING_OFF = "accounting_storage/none"


def accounting_enabled():
    """Whether this Slurm keeps accounting (`sacct` answers); a small cluster without slurmdbd does not."""
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True  # no answer: leave submitit's own polling
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "AccountingStorageType":
            return value.strip() != _ACCOUNTING_OFF
    return True


def queue_watcher():
    """A submitit info watcher reading `squeue` instead of `sacct` (which answers "accounting storage
    is disabled" without slurmdbd, so that submitit never learns that a job ended without a result)."""
    class QueueWatcher(slurm.SlurmInfoWatcher):
        """A job listed by squeue has its state there; a registered job no longer listed has
        ended (squeue forgets it; whether it failed shows as a missing result)."""

        def _make_command(self):
            if not self._registered - self._finished:
                return None
            # --me, not --jobs: squeue refuses ids it has already forgotten.
            return ["squeue", "--me", "--noheader", "--array", "--format=%i|%T|%N"]

        def read_info(self, string):
            if not isinstance(string, str):
                string = string.decode()
            info = {}
            for line in string.splitlines():
                job_id, _, rest = line.strip().partition("|")
                state, _, nodes = rest.partition("|")
                if job_id:
                    info[job_id] = {"JobID": job_id, "State": state, "NodeList": nodes}
            for job_id in self._registered - self._finished:
                info.setdefault(job_id, {"JobID": job_id, "State": "ENDED"})
            return info

    return QueueWatcher(delay_s=60)


def watch_jobs(jobs):
    """Gives submitit `jobs` a watcher that works on this Slurm (`queue_watcher` without accounting)."""
    if jobs and not accounting_enabled():
        watcher = queue_watcher()
        for job in jobs:
            job.watcher = watcher
    return jobs


LAUNCHERS = ("serial", "local", "slurm")


def _launcher_option(default, help, launchers, **kwargs):
    """A `setting` only these launchers read: `Options.validate` refuses it away from its default
    with another launcher."""
    field = setting(default, help, **kwargs)
    return dataclasses.field(default=default, metadata={**field.metadata, "launchers": launchers})


@dataclasses.dataclass(frozen=True)
class Options:
    """How a grid's runs are launched; each field is a flag (`config.define_flags`)."""

    launcher: str = setting("serial", "Where the runs train: serial (one after another in this process), local "
                            "(--max_parallel at once on this machine) or slurm (a job array).", choices=LAUNCHERS)
    max_parallel: int = _launcher_option(2, "local: runs at once.", ("local",), minimum=1)
    cpus_per_run: int | None = _launcher_option(
        None, "local and slurm: CPU cores per run; its TensorFlow threads are set as on a machine with that many "
        "cores. Default: local: usable cores / --max_parallel; slurm: 2.", ("local", "slurm"), minimum=1)
    gpus_per_run: int = _launcher_option(0, "slurm: GPUs per run (local: each run gets one visible GPU, if any).",
                                         ("slurm",), minimum=0)
    slurm_partition: str | None = _launcher_option(None, "slurm: the partition (default: the cluster's default).",
                                                   ("slurm",))
    mem_gb: int = _launcher_option(8, "slurm: memory per run, GB.", ("slurm",), minimum=1)
    timeout_min: int = _launcher_option(24 * 60, "local and slurm: a run's time limit, minutes; a run stopped by it "
                                        "(or preempted) is requeued and resumes from its checkpoint.",
                                        ("local", "slurm"), minimum=1)
    slurm_array_parallelism: int = _launcher_option(64, "slurm: runs of the job array at once.", ("slurm",),
                                                    minimum=1)
    no_wait: bool = _launcher_option(False, "slurm: return once the job array is submitted; run the same command "
                                     "with --table_only to write the table when it has finished.", ("slurm",))
    poll_seconds: float = setting(10.0, "Seconds between looks at running jobs and at runs other processes hold.",
                                  minimum=0.0)

    def validate(self):
        config_lib.check_settings(self)
        for field in dataclasses.fields(self):
            launchers = field.metadata.get("launchers")
            if launchers and self.launcher not in launchers and getattr(self, field.name) != field.default:
                raise UserError(f"--{field.name} is for --launcher={' or --launcher='.join(launchers)}, not "
                                f"--launcher={self.launcher}; leave it out, or pass that launcher")
        return self

    def cpus(self):
        """Cores per run."""
        if self.cpus_per_run is not None:
            return self.cpus_per_run
        if self.launcher == "slurm":
            return 2
        return max(1, runtime.usable_cores() // self.max_parallel)


@dataclasses.dataclass(frozen=True)
class Job:
    """One run of a grid, all a process needs to train it: made of importable types only
    (a job runs in another process, which imports `driver` by name)."""

    driver: str  # the module with `run_job(job)` and `is_done(job)`
    name: str  # the run's name in the results
    label: str  # how progress lines name it
    config: object  # the resolved TrainConfig; its output_dir is the run folder
    results: str  # the driver's results folder for this grid
    extra: object = None  # the driver's own (ablate: its configuration, as a dict)


_CACHE = []


def data_cache():
    """This process's `PreparedDataCache`: the runs of a grid that a process trains share their
    data, vocabulary and vectors (they depend on neither variant, seed nor model)."""
    # Here, not on top: it imports TensorFlow, which a job's process (unpickling this module)
    # imports through its driver, quietly (`datn_tf.import_tensorflow_quietly`).
    from datn_tf.data.prepare import PreparedDataCache

    if not _CACHE:
        _CACHE.append(PreparedDataCache())
    return _CACHE[0]


def threads_for(cpus, intra_op=None, inter_op=None):
    """A run's (intra_op, inter_op) threads with `cpus` cores: as `runtime.default_threads` gives on
    a CPU of that size (with a GPU too: the runs beside it share the host's cores); flags override."""
    intra, inter = runtime.default_threads(cores=cpus, gpu=False)
    return (intra if intra_op is None else intra_op), (inter if inter_op is None else inter_op)


def visible_gpus(environ=None):
    """The GPU ids this machine shows: CUDA_VISIBLE_DEVICES's when set (to the first invalid one,
    as CUDA reads it), else `nvidia-smi -L`'s; [] without GPUs."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        ids = []
        for item in environ["CUDA_VISIBLE_DEVICES"].split(","):
            item = item.strip()
            if not item or item.startswith("-"):
                break
            ids.append(item)
        return ids
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(ln for ln in out.splitlines() if ln.startswith("GPU "))]


def slot_environment(slot, gpus):
    """The environment of the run in local slot `slot`: its own GPU when there are GPUs (slots
    beyond their number share them round robin), no GPU otherwise."""
    return {"CUDA_VISIBLE_DEVICES": gpus[slot % len(gpus)] if gpus else ""}


def execute(job, environment=None, threads=None):
    """Runs `job` in this (fresh) process: its GPU and threads, then its driver's `run_job`."""
    os.environ.update(environment or {})  # before TensorFlow looks at the devices (the driver's import)
    driver = importlib.import_module(job.driver)
    if threads is not None:
        runtime.configure_threads(*threads)
    runtime.quiet_logging()
    return driver.run_job(job)


class Execute(submitit.helpers.Checkpointable):
    """`execute` as submitit's job: a job stopped by its time limit or preempted is requeued with
    the same arguments, and its run resumes from its last checkpoint (the lock of its own Slurm
    job is taken over: `run_lock.stale_reason`)."""

    def __call__(self, job, environment=None, threads=None):
        return execute(job, environment, threads)


class Progress:
    """Progress lines: runs done, running and pending, with an ETA from the finished runs' wall times."""

    def __init__(self, tag, total, parallel=1):
        self.tag, self.total, self.parallel = tag, total, parallel
        self.walls = []
        self.last = None

    def finished(self, outcome):
        if outcome.get("status") == "trained":
            self.walls.append(outcome["wall_seconds"])

    def eta_seconds(self, left):
        if not self.walls:
            return None
        return statistics.mean(self.walls) * math.ceil(left / self.parallel)

    def line(self, done, running, pending):
        eta = self.eta_seconds(running + pending)
        return (f"{self.tag} runs: {done} done, {running} running, {pending} pending of {self.total}; ETA "
                + ("unknown (no run trained yet)" if eta is None else progress.fmt_time(eta)))

    def report(self, done, running, pending):
        line = self.line(done, running, pending)
        if line != self.last:
            print(line, flush=True)
            self.last = line

    def before_training(self, left):
        """The serial launcher's line before each run it trains."""
        if self.walls:
            print(f"{self.tag} ETA for the remaining {left} run{'s' * (left > 1)}: "
                  f"{progress.fmt_time(statistics.mean(self.walls) * left)}", flush=True)


def _held(job):
    """The run's lock holder in words while it is held by a live process, else None."""
    holder = run_lock.lock_holder(job.config.output_dir)
    if holder is None or run_lock.stale_reason(holder) is not None:
        return None
    return run_lock.describe_holder(holder)


def _skip_held(job, tag):
    """True, with a line naming the holder, when another live process trains the job's run."""
    holder = _held(job)
    if holder is not None:
        print(f"{tag} {job.name}: being trained by {holder}; waiting for it", flush=True)
    return holder is not None


def run_jobs(jobs, run_job, is_done, options, tag, folder):
    """Runs `jobs` with `options.launcher`; True when every run has finished (False: --no_wait).

    `run_job(job, before_training=None)` trains one run under its lock (in this process for
    serial) and returns {"status": "trained" | "done" | "locked", ...}; `is_done(job)` says
    whether its record is written. Runs held by another process are waited for.
    """
    options = options or Options()
    if options.launcher == "serial":
        return _serial(jobs, run_job, is_done, options, tag)
    if options.launcher == "local":
        return _local(jobs, is_done, options, tag, Path(folder))
    return _slurm(jobs, is_done, options, tag, Path(folder))


def _wait_for_held(waiting, is_done):
    """Of the runs another process holds, those now ready to run here (lock released or stale,
    record not written); the others keep waiting. Returns (ready, still waiting, newly done)."""
    ready, still, newly = [], [], 0
    for job in waiting:
        if is_done(job):
            newly += 1
        elif _held(job) is None:
            ready.append(job)
        else:
            still.append(job)
    return ready, still, newly


def _serial(jobs, run_job, is_done, options, tag):
    progress = Progress(tag, len(jobs))
    queue, waiting, done = list(jobs), [], 0
    while queue or waiting:
        for i, job in enumerate(queue):
            left = len(queue) - i + len(waiting)
            outcome = run_job(job, before_training=lambda left=left: progress.before_training(left))
            if outcome["status"] == "locked":
                waiting.append(job)
            else:
                progress.finished(outcome)
                done += 1
        queue = []
        if waiting:
            progress.report(done, len(waiting), 0)
            time.sleep(options.poll_seconds)
            queue, waiting, newly = _wait_for_held(waiting, is_done)
            done += newly
    return True


def _failed(job, submitted, error):
    log_path = getattr(getattr(submitted, "paths", None), "stderr", None)
    first = str(error).strip().splitlines()
    return (f"{job.name} failed ({first[-1] if first else type(error).__name__})"
            + (f"; its log: {log_path}" if log_path else ""))


def _collect(job, submitted, progress, waiting, failures, tag):
    """Takes a finished job's outcome: 1 when its run is done; a run held elsewhere joins
    `waiting`, a job that raised joins `failures` (named with its log)."""
    try:
        outcome = submitted.result()
    except Exception as e:  # noqa: BLE001  (the run's own error, reported with its log)
        failures.append(_failed(job, submitted, e))
        print(f"{tag} error: {failures[-1]}", flush=True)
        return 0
    if outcome["status"] == "locked":
        waiting.append(job)
        return 0
    progress.finished(outcome)
    return 1


def _echo_log(submitted):
    """Prints a finished local job's output (without submitit's own lines), as serial would have."""
    text = submitted.stdout() or ""
    lines = [line for line in text.splitlines() if not line.startswith("submitit ")]
    if lines:
        print("\n".join(lines), flush=True)


def earlier_local_jobs(folder):
    """{pid: run name} of the local jobs an earlier driver started in `folder` that still run.

    A driver killed outright (SIGKILL) cannot cancel its jobs: they train on, and record their
    runs. Linux only (a job is recognised by its /proc command line; elsewhere none is found).
    """
    found = {}
    for submitted in sorted(Path(folder).glob("*_submitted.pkl")):
        pid = submitted.name.split("_")[0]
        if not pid.isdigit() or (Path(folder) / f"{pid}_0_result.pkl").exists():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # no longer running
        if b"submitit.local._local" not in command or str(Path(folder).resolve()).encode() not in command:
            continue  # the pid is another process's now
        try:
            name = submitit.core.utils.DelayedSubmission.load(submitted).args[0].name
        except Exception:  # noqa: BLE001  (a pickle of another version: still a running job)
            name = "a run"
        found[int(pid)] = name
    return found


def _local(jobs, is_done, options, tag, folder):
    for pid, name in earlier_local_jobs(folder).items():
        print(f"{tag} {name}: still trained by job {pid}, started by an earlier driver that was killed; "
              "it goes on and records its run", flush=True)
    gpus = visible_gpus()
    threads = threads_for(options.cpus(), flags.FLAGS["intra_op_threads"].value if "intra_op_threads" in flags.FLAGS
                          else None, flags.FLAGS["inter_op_threads"].value if "inter_op_threads" in flags.FLAGS
                          else None)
    executor = submitit.AutoExecutor(folder=folder, cluster="local")
    executor.update_parameters(timeout_min=options.timeout_min, gpus_per_node=0)
    print(f"{tag} local: {options.max_parallel} runs at once, {threads[0]} x {threads[1]} threads each"
          + (f", GPUs {', '.join(gpus)}" if gpus else ""), flush=True)
    progress = Progress(tag, len(jobs), options.max_parallel)
    queue, waiting, running, failures, done = list(jobs), [], {}, [], 0
    try:
        while queue or waiting or running:
            for slot in range(options.max_parallel):
                if slot in running or not queue:
                    continue
                job = queue.pop(0)
                if is_done(job):
                    done += 1
                    continue
                if _skip_held(job, tag):
                    waiting.append(job)
                    continue
                submitted = executor.submit(Execute(), job, slot_environment(slot, gpus), threads)
                running[slot] = (job, submitted)
            for slot, (job, submitted) in list(running.items()):
                if not submitted.done():
                    continue
                del running[slot]
                _echo_log(submitted)
                done += _collect(job, submitted, progress, waiting, failures, tag)
            ready, waiting, newly = _wait_for_held(waiting, is_done)
            queue += ready
            done += newly
            progress.report(done, len(running), len(queue) + len(waiting))
            if running or (waiting and not queue):
                time.sleep(min(options.poll_seconds, 2) if running else options.poll_seconds)
    except KeyboardInterrupt:
        for _, submitted in running.values():
            submitted.cancel()
        raise
    if failures:
        raise UserError(f"{len(failures)} run(s) failed: " + "; ".join(failures))
    return True


def _slurm(jobs, is_done, options, tag, folder):
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    parameters = dict(timeout_min=options.timeout_min, cpus_per_task=options.cpus(), mem_gb=options.mem_gb,
                      tasks_per_node=1, nodes=1, slurm_array_parallelism=options.slurm_array_parallelism,
                      name=f"datn-{Path(folder).parent.name}")
    if options.gpus_per_run:
        parameters["gpus_per_node"] = options.gpus_per_run
    if options.slurm_partition:
        parameters["slurm_partition"] = options.slurm_partition
    executor.update_parameters(**parameters)
    # With GPUs, TensorFlow's own thread defaults would take every core of the node.
    threads = threads_for(options.cpus())
    progress = Progress(tag, len(jobs), options.slurm_array_parallelism)
    pending, waiting, failures = [], [], []
    for job in jobs:
        if not is_done(job):
            (waiting if _skip_held(job, tag) else pending).append(job)
    done = len(jobs) - len(pending) - len(waiting)
    while pending or waiting:
        if options.no_wait and not pending:
            print(f"{tag} not waiting (--no_wait); when the runs held elsewhere have finished, run the same "
                  "command with --table_only for the table", flush=True)
            return False
        if pending:
            with executor.batch():
                submitted = [executor.submit(Execute(), job, None, threads) for job in pending]
            watch_jobs(submitted)
            array = sorted({s.job_id.split("_")[0] for s in submitted})
            print(f"{tag} slurm: submitted {len(submitted)} run(s) as job array {', '.join(array)} "
                  f"(logs: {folder})", flush=True)
            for job, s in zip(pending, submitted, strict=True):
                print(f"{tag} {job.name}: Slurm job {s.job_id}", flush=True)
            if options.no_wait:
                print(f"{tag} not waiting (--no_wait); when the array has finished, run the same command with "
                      "--table_only for the table", flush=True)
                return False
            running = dict(zip(submitted, pending, strict=True))
            while running:
                for s, job in list(running.items()):
                    if not s.done():
                        continue
                    del running[s]
                    done += _collect(job, s, progress, waiting, failures, tag)
                states = [s.state for s in running]
                now_running = sum(state == "RUNNING" for state in states)
                progress.report(done, now_running, len(running) - now_running + len(waiting))
                if running:
                    time.sleep(options.poll_seconds)
            pending = []
        if waiting:
            time.sleep(options.poll_seconds)
            pending, waiting, newly = _wait_for_held(waiting, is_done)
            done += newly
            progress.report(done, 0, len(pending) + len(waiting))
    if failures:
        raise UserError(f"{len(failures)} run(s) failed: " + "; ".join(failures))
    return True
