"""The lock of a run folder while it is trained: `<run>/lock.json` (`run_dir.LOCK_FILE`), naming
the host, the process and the start time, with a heartbeat, so that drivers on several machines
(`experiments.launch`) and a second `train` on the same folder train each run once.
"""

import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from datn_tf import io_utils
from datn_tf.errors import UserError
from datn_tf.progress import log
from datn_tf.run_dir import LOCK_FILE

# A lock held from another host (its process cannot be checked) is stale when its heartbeat is
# older than this: a trainer rewrites it every HEARTBEAT_SECONDS, so only a dead host or a
# stopped job misses ten beats.
HEARTBEAT_SECONDS = 30
STALE_AFTER_SECONDS = 10 * HEARTBEAT_SECONDS


class RunLocked(UserError):
    """The run folder is being trained by someone else (`holder`: the lock's contents)."""

    def __init__(self, run_dir, holder):
        self.run_dir, self.holder = Path(run_dir), holder
        super().__init__(f"{run_dir} is being trained by {describe_holder(holder)}; wait for it to finish, "
                         f"or stop that process (its lock {Path(run_dir) / LOCK_FILE} is then taken over)")


def _slurm_job():
    """The Slurm job (array task) this process runs in, or None: a requeued job takes its own lock over."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def lock_holder(run_dir):
    """The lock of `run_dir` as a dict (host, pid, started, heartbeat, token, slurm_job), or None.

    A lock is never seen half-written (`RunLock` links it into place whole); a damaged one reads
    as a holder of unknown process whose heartbeat is the file's time, so it goes stale.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        text = path.read_text()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
        if isinstance(holder, dict) and {"host", "pid", "started", "heartbeat"} <= holder.keys():
            return holder
    except ValueError:
        pass
    return {"host": None, "pid": None, "started": mtime, "heartbeat": mtime}


def describe_holder(holder, now=None):
    """A lock's holder in words: "pid 123 on host h (started 2026-01-02 03:04:05 UTC, heartbeat 5 s ago)"."""
    now = time.time() if now is None else now
    who = (f"pid {holder['pid']} on host {holder['host']}" if holder.get("pid") is not None
           else "an unknown process (its lock file is damaged)")
    if holder.get("slurm_job"):
        who += f" (Slurm job {holder['slurm_job']})"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder["started"]))
    return f"{who}, started {started}, heartbeat {max(0, now - holder['heartbeat']):.0f} s ago"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def stale_reason(holder, now=None, stale_after=STALE_AFTER_SECONDS):
    """Why the lock `holder` may be taken over ("pid 12 on this host is dead", ...), or None while it holds."""
    now = time.time() if now is None else now
    if holder.get("slurm_job") and holder["slurm_job"] == _slurm_job():
        return f"it is this Slurm job's own ({holder['slurm_job']}, requeued)"
    if holder.get("host") == socket.gethostname() and holder.get("pid") is not None:
        if not _pid_alive(holder["pid"]):
            return f"pid {holder['pid']} on this host is dead"
        return None
    if now - holder["heartbeat"] > stale_after:
        return f"its heartbeat is {now - holder['heartbeat']:.0f} s old (stale after {stale_after:.0f} s)"
    return None


class RunLock:
    """The lock of a run folder while it is trained: `<run>/lock.json`, created atomically
    (written whole, then hard-linked into place), naming the host, the process and the start time, its heartbeat
    rewritten every `HEARTBEAT_SECONDS` by a thread.

    `acquire()` raises `RunLocked` naming the holder; a lock whose process is dead on this host,
    or whose heartbeat is older than `stale_after` (another host), is taken over with one line
    saying so. Use as a context manager: released on exit, also on an error.
    """

    def __init__(self, run_dir, stale_after=STALE_AFTER_SECONDS, heartbeat_seconds=HEARTBEAT_SECONDS):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.stale_after, self.heartbeat_seconds = stale_after, heartbeat_seconds
        self.token = None
        self._stop = threading.Event()
        self._thread = None

    def _claim(self):
        """Creates the lock file if none exists; True when it is ours."""
        now = time.time()
        self.token = secrets.token_hex(8)
        payload = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now,
                   "token": self.token, "slurm_job": _slurm_job()}
        # Written whole under a hidden name, then hard-linked into place: link() fails when the lock
        # exists (atomic like O_EXCL, also on NFS), and no reader ever sees a half-written lock.
        filled = self.path.with_name(f".{LOCK_FILE}.{self.token}")
        try:
            filled.write_text(json.dumps(payload))
            os.link(filled, self.path)
        except FileExistsError:
            return False
        finally:
            filled.unlink(missing_ok=True)
        return True

    def _take_over(self, holder, reason):
        """Removes a stale lock, unless another process is taking it over at the same time (its
        own O_EXCL marker) or it changed since it was read."""
        marker = self.path.with_name(LOCK_FILE + ".takeover")
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:  # a taker that died within its takeover
                if time.time() - marker.stat().st_mtime > self.stale_after:
                    marker.unlink()
            except FileNotFoundError:
                pass
            return False
        os.close(fd)
        try:
            if lock_holder(self.run_dir) != holder:
                return False
            self.path.unlink(missing_ok=True)
            log(f"{self.run_dir}: taking over the lock of {describe_holder(holder)}: {reason}")
            return self._claim()
        finally:
            marker.unlink(missing_ok=True)

    def acquire(self):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._claim():
                self._start_heartbeat()
                return self
            holder = lock_holder(self.run_dir)
            if holder is None:
                continue  # released in between
            reason = stale_reason(holder, stale_after=self.stale_after)
            if reason is None:
                raise RunLocked(self.run_dir, holder)
            if self._take_over(holder, reason):
                self._start_heartbeat()
                return self
        raise RunLocked(self.run_dir, lock_holder(self.run_dir) or {"host": None, "pid": None,
                                                                     "started": time.time(),
                                                                     "heartbeat": time.time()})

    def _owned(self):
        holder = lock_holder(self.run_dir)
        return holder is not None and holder.get("token") == self.token

    def _start_heartbeat(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lock {self.run_dir.name}", daemon=True)
        self._thread.start()

    def _beat(self):
        while not self._stop.wait(self.heartbeat_seconds):
            self.heartbeat()

    def heartbeat(self):
        """Rewrites the lock's heartbeat (atomically), unless it was taken over meanwhile."""
        holder = lock_holder(self.run_dir)
        if holder is None or holder.get("token") != self.token:
            return
        io_utils.write_json(self.path, {**holder, "heartbeat": time.time()})

    def release(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.token is not None and self._owned():
            self.path.unlink(missing_ok=True)
        self.token = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
