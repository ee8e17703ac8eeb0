"""On a real Slurm (`make test-slurm` starts one: tests/slurm/run.sh); skipped where none answers,
unless DATN_TF_SLURM_REQUIRED says one is up."""

import os
import shutil
import subprocess
import time

import pytest


def _slurm_answers():
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


if not _slurm_answers():
    if os.environ.get("DATN_TF_SLURM_REQUIRED"):
        raise RuntimeError("DATN_TF_SLURM_REQUIRED is set but sinfo does not answer: the Slurm test cannot run")
    pytest.skip("no Slurm answers here (make test-slurm starts one)", allow_module_level=True)


@pytest.mark.slow
def test_a_job_array_ends_and_is_seen_to_end_without_accounting(tmp_path):
    import submitit

    from experiments import launch

    executor = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
    executor.update_parameters(timeout_min=5, cpus_per_task=1, mem_gb=1, slurm_array_parallelism=2)
    # (a function of the standard library: the job's Python cannot import a test module)
    jobs = launch.watch_jobs(executor.map_array(os.getenv, ["SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"]))
    array_id = jobs[0].job_id.split("_")[0]
    assert [j.job_id for j in jobs] == [f"{array_id}_0", f"{array_id}_1"]
    assert [j.result() for j in jobs] == [array_id, "1"]
    # A job that ends without a result (killed) is seen to end, instead of being waited for forever.
    (killed,) = launch.watch_jobs([executor.submit(time.sleep, 600)])
    deadline = time.time() + 180  # submitit polls at 2, 4, 8, ... s
    while killed.state != "RUNNING" and time.time() < deadline:
        time.sleep(1)
    killed.cancel()
    while not killed.done() and time.time() < deadline:
        time.sleep(1)
    assert killed.done(), "a cancelled job was still waited for"
    with pytest.raises(submitit.core.utils.UncompletedJobError):
        killed.result()
