"""The launchers' pure parts: GPUs per slot, threads per run, flags, progress lines; the Slurm
launcher against a stand-in for submitit's executor (tests/slurm: against a real Slurm)."""

import os

import pytest

from datn_tf.errors import UserError
from experiments import launch


def test_visible_gpus_read_cuda_visible_devices_as_cuda_does():
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1, 3"}) == ["0", "1", "3"]
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": "2,-1,3"}) == ["2"]  # CUDA stops at an invalid id
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-5ab1,GPU-77c2"}) == ["GPU-5ab1", "GPU-77c2"]
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_each_local_slot_gets_its_own_gpu_and_none_without_gpus():
    gpus = ["0", "1", "3"]
    assert [launch.slot_environment(s, gpus) for s in range(4)] == [
        {"CUDA_VISIBLE_DEVICES": g} for g in ("0", "1", "3", "0")]
    assert launch.slot_environment(1, []) == {"CUDA_VISIBLE_DEVICES": ""}


def test_execute_sets_the_slots_environment_before_the_driver_runs(monkeypatch):
    import os
    import sys
    import types

    seen = {}
    driver = types.ModuleType("fake_driver")
    driver.run_job = lambda job: seen.update(job=job, cuda=os.environ["CUDA_VISIBLE_DEVICES"]) or {"status": "done"}
    monkeypatch.setitem(sys.modules, "fake_driver", driver)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    job = launch.Job(driver="fake_driver", name="base-seed0", label="base-seed0", config=None, results="r")
    assert launch.execute(job, launch.slot_environment(1, ["0", "1"])) == {"status": "done"}
    assert seen == {"job": job, "cuda": "1"}


def test_threads_per_run_are_those_of_a_machine_with_that_many_cores():
    assert launch.threads_for(1) == (1, 1)
    assert launch.threads_for(2) == (1, 2)
    assert launch.threads_for(8) == (2, 4)
    assert launch.threads_for(8, intra_op=3) == (3, 4)


def test_cpus_per_run_defaults_to_a_share_of_the_cores(monkeypatch):
    from datn_tf import runtime

    monkeypatch.setattr(runtime, "usable_cores", lambda: 8)
    assert launch.Options(launcher="local", max_parallel=3).cpus() == 2
    assert launch.Options(launcher="local", max_parallel=16).cpus() == 1
    assert launch.Options(launcher="slurm").cpus() == 2
    assert launch.Options(launcher="local", cpus_per_run=5).cpus() == 5


@pytest.mark.parametrize("options, message", [
    (dict(max_parallel=0), "--max_parallel must be >= 1; got 0"),
    (dict(cpus_per_run=0), "--cpus_per_run must be >= 1; got 0"),
    (dict(gpus_per_run=-1), "--gpus_per_run must be >= 0; got -1"),
    (dict(timeout_min=0), "--timeout_min must be >= 1; got 0"),
    (dict(no_wait=True, launcher="local"), "--no_wait is for --launcher=slurm"),
])
def test_bad_launcher_flags_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        launch.Options(**options).validate()


def test_an_option_of_another_launcher_is_refused():
    # --mem_gb or --slurm_partition with the local launcher were ignored without a word.
    import dataclasses
    import typing


    marked = [f for f in dataclasses.fields(launch.Options) if f.metadata.get("launchers")]
    assert {f.name for f in marked} >= {"slurm_partition", "mem_gb", "slurm_array_parallelism", "no_wait",
                                        "max_parallel"}
    for field in marked:
        value = ("gpu" if str in typing.get_args(field.type) else True if field.default is False
                 else (field.default or 0) + 1)
        for launcher in set(launch.LAUNCHERS) - set(field.metadata["launchers"]):
            with pytest.raises(UserError) as err:
                launch.Options(launcher=launcher, **{field.name: value}).validate()
            readers = " or ".join(f"--launcher={n}" for n in field.metadata["launchers"])
            assert str(err.value) == (f"--{field.name} is for {readers}, not --launcher={launcher}; leave it out, "
                                      "or pass that launcher")
        for launcher in field.metadata["launchers"]:
            launch.Options(launcher=launcher, **{field.name: value}).validate()
    launch.Options(launcher="serial", max_parallel=2).validate()  # the default given explicitly is no change


def test_progress_counts_runs_and_estimates_from_finished_wall_times(capsys):
    progress = launch.Progress("[reproduce]", total=6, parallel=2)
    progress.report(0, 2, 4)
    progress.finished({"status": "done"})  # recorded elsewhere: no wall time
    progress.finished({"status": "trained", "wall_seconds": 60.0})
    progress.finished({"status": "trained", "wall_seconds": 120.0})
    progress.report(3, 2, 1)
    progress.report(3, 2, 1)  # unchanged: not printed again
    # 3 runs left, 2 at once: two rounds of the mean 90 s.
    assert capsys.readouterr().out.splitlines() == [
        "[reproduce] runs: 0 done, 2 running, 4 pending of 6; ETA unknown (no run trained yet)",
        "[reproduce] runs: 3 done, 2 running, 1 pending of 6; ETA 3:00",
    ]


class _FakeSlurmJob:
    def __init__(self, job_id, outcome):
        self.job_id, self.outcome, self.state, self.paths = job_id, outcome, "COMPLETED", None

    def done(self):
        return True

    def result(self):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _FakeSlurmExecutor:
    """submitit.AutoExecutor's part that `_slurm` uses, recording what it is given."""

    made = []
    outcomes = {}  # {run name: what its job returns or raises}; by default it trained

    def __init__(self, folder, cluster):
        self.folder, self.cluster, self.parameters, self.submitted = folder, cluster, {}, []
        _FakeSlurmExecutor.made.append(self)

    def update_parameters(self, **parameters):
        self.parameters.update(parameters)

    def batch(self):
        import contextlib

        return contextlib.nullcontext()

    def submit(self, function, job, environment, threads):
        self.submitted.append((job.name, environment, threads))
        outcome = self.outcomes.get(job.name, {"status": "trained", "wall_seconds": 60.0})
        return _FakeSlurmJob(f"9_{len(self.submitted) - 1}", outcome)


def _slurm_grid(monkeypatch, tmp_path, outcomes=None, **options):
    import types

    _FakeSlurmExecutor.made.clear()
    monkeypatch.setattr(launch.submitit, "AutoExecutor", _FakeSlurmExecutor)
    monkeypatch.setattr(launch, "accounting_enabled", lambda: True)
    monkeypatch.setattr(_FakeSlurmExecutor, "outcomes", outcomes or {})
    jobs = [launch.Job(driver="d", name=n, label=n, config=types.SimpleNamespace(output_dir=str(tmp_path / n)),
                       results="r") for n in ("base-seed0", "sp-seed0", "base-seed1")]
    options = launch.Options(launcher="slurm", poll_seconds=0, **options).validate()
    finished = launch.run_jobs(jobs, None, lambda job: job.name == "sp-seed0", options, "[reproduce]",
                               tmp_path / "runs" / "submitit")
    return finished, _FakeSlurmExecutor.made[0]


def test_slurm_flags_become_the_job_arrays_parameters_and_no_wait_returns_at_once(monkeypatch, tmp_path, capsys):
    finished, executor = _slurm_grid(monkeypatch, tmp_path, no_wait=True, slurm_partition="gpu", gpus_per_run=1,
                                     cpus_per_run=4, mem_gb=16, timeout_min=240, slurm_array_parallelism=3)
    assert finished is False
    assert executor.cluster == "slurm" and executor.folder == tmp_path / "runs" / "submitit"
    assert executor.parameters == dict(timeout_min=240, cpus_per_task=4, mem_gb=16, tasks_per_node=1, nodes=1,
                                       slurm_array_parallelism=3, name="datn-runs", gpus_per_node=1,
                                       slurm_partition="gpu")
    # Only the runs without a record, with the threads of a 4-core machine and no GPU set by hand.
    assert executor.submitted == [(n, None, launch.threads_for(4)) for n in ("base-seed0", "base-seed1")]
    out = capsys.readouterr().out
    assert "slurm: submitted 2 run(s) as job array 9 " in out and "base-seed1: Slurm job 9_1" in out
    assert "not waiting (--no_wait)" in out and "--table_only" in out


def test_slurm_waits_for_the_array_and_names_a_failed_run(monkeypatch, tmp_path, capsys):
    finished, executor = _slurm_grid(monkeypatch, tmp_path)
    assert finished is True and "gpus_per_node" not in executor.parameters
    assert "slurm_partition" not in executor.parameters
    assert "runs: 3 done, 0 running, 0 pending of 3" in capsys.readouterr().out
    with pytest.raises(UserError, match=r"1 run\(s\) failed: base-seed1 failed \(out of memory\)"):
        _slurm_grid(monkeypatch, tmp_path, outcomes={"base-seed1": RuntimeError("out of memory")})


@pytest.mark.parametrize("launcher", ["local", "slurm"])
def test_a_run_held_by_a_live_process_is_named_and_waited_for_not_launched(launcher, monkeypatch, tmp_path, capsys):
    import threading
    import types

    from datn_tf import run_lock

    monkeypatch.setattr(launch.submitit, "AutoExecutor", _FakeSlurmExecutor)
    monkeypatch.setattr(launch, "accounting_enabled", lambda: True)
    monkeypatch.setattr(launch, "visible_gpus", lambda: [])
    _FakeSlurmExecutor.made.clear()
    held = tmp_path / "runs" / "base-seed0"
    lock = run_lock.RunLock(held).acquire()  # this process: alive
    recorded = set()
    job = launch.Job(driver="d", name="base-seed0", label="base-seed0",
                     config=types.SimpleNamespace(output_dir=str(held)), results="r")

    def finish():  # the holder records the run, then lets go
        recorded.add(job.name)
        lock.release()

    threading.Timer(0.5, finish).start()
    options = launch.Options(launcher=launcher, poll_seconds=0.1)
    assert launch.run_jobs([job], None, lambda j: j.name in recorded, options, "[reproduce]", tmp_path / "sub")
    out = capsys.readouterr().out
    assert f"[reproduce] base-seed0: being trained by pid {os.getpid()} on host " in out
    assert "; waiting for it" in out and "runs: 1 done, 0 running, 0 pending of 1" in out
    assert not any(e.submitted for e in _FakeSlurmExecutor.made)


def test_no_wait_returns_when_every_pending_run_is_held_elsewhere(monkeypatch, tmp_path, capsys):
    import types

    from datn_tf import run_lock

    monkeypatch.setattr(launch.submitit, "AutoExecutor", _FakeSlurmExecutor)
    _FakeSlurmExecutor.made.clear()
    held = tmp_path / "runs" / "base-seed0"
    job = launch.Job(driver="d", name="base-seed0", label="base-seed0",
                     config=types.SimpleNamespace(output_dir=str(held)), results="r")
    with run_lock.RunLock(held):
        options = launch.Options(launcher="slurm", no_wait=True, poll_seconds=0.1)
        assert launch.run_jobs([job], None, lambda j: False, options, "[reproduce]", tmp_path / "sub") is False
    assert "not waiting (--no_wait)" in capsys.readouterr().out
    assert not any(e.submitted for e in _FakeSlurmExecutor.made)  # its holder trains it


def test_a_killed_local_drivers_running_job_is_found_with_its_run(monkeypatch, tmp_path, capsys):
    # A SIGKILLed --launcher=local driver leaves its job training; the next driver names it.
    import signal
    import sys
    import time
    import types

    (tmp_path / "sleeper.py").write_text("import time\n\ndef train(job, environment=None, threads=None):\n"
                                         "    time.sleep(60)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    import sleeper

    folder = tmp_path / "sub"
    executor = launch.submitit.AutoExecutor(folder=folder, cluster="local")
    executor.update_parameters(timeout_min=5)
    job = launch.Job(driver="d", name="sp-seed2", label="sp-seed2", config=types.SimpleNamespace(output_dir="x"),
                     results="r")
    submitted = executor.submit(sleeper.train, job)
    try:
        for _ in range(100):  # its process has started the job
            if launch.earlier_local_jobs(folder):
                break
            time.sleep(0.1)
        assert launch.earlier_local_jobs(folder) == {int(submitted.job_id): "sp-seed2"}
        assert launch.earlier_local_jobs(tmp_path / "elsewhere") == {}
        monkeypatch.setattr(launch, "visible_gpus", lambda: [])
        assert launch.run_jobs([], None, lambda j: True, launch.Options(launcher="local"), "[reproduce]", folder)
        assert (f"[reproduce] sp-seed2: still trained by job {submitted.job_id}, started by an earlier driver that "
                "was killed; it goes on and records its run\n") in capsys.readouterr().out
    finally:
        os.kill(int(submitted.job_id), signal.SIGKILL)
    for _ in range(100):  # gone once the driver's watcher has reaped it
        if not launch.earlier_local_jobs(folder):
            break
        time.sleep(0.1)
    assert launch.earlier_local_jobs(folder) == {}
