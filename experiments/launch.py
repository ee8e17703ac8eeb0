"""Launching the drivers' training runs elsewhere than in the driver's process.

`QueueWatcher`: submitit's job-state polling where Slurm keeps no accounting.
"""

import subprocess

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
    from submitit.slurm import slurm

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
