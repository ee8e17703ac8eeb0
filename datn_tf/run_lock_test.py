"""Tests for the run lock: one claim wins, a dead or stale holder is taken over, a requeued Slurm job
takes its own lock over, the heartbeat."""

import json

import pytest

from datn_tf import run_lock
from datn_tf.run_dir import LOCK_FILE


def test_a_run_lock_is_claimed_once_and_names_its_holder(tmp_path):
    import os
    import socket
    import threading

    for round_ in range(20):  # rounds, so that a refusal racing the winner's write would show
        run = tmp_path / f"run{round_}"
        claimed, refused = [], []

        def claim(run=run, claimed=claimed, refused=refused):
            try:
                claimed.append(run_lock.RunLock(run).acquire())
            except run_lock.RunLocked as error:
                refused.append(error)

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(claimed) == 1 and len(refused) == 7  # one claim wins
        holder = run_lock.lock_holder(run)
        assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
        for refusal in refused:  # every refusal names the winner: no lock is ever read half-written
            assert f"is being trained by pid {os.getpid()} on host {socket.gethostname()}, started " in str(refusal)
            assert refusal.holder == holder
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # no temporaries left
        claimed[0].release()
        assert run_lock.lock_holder(run) is None and not (run / LOCK_FILE).exists()
    with run_lock.RunLock(run):  # free again
        assert run_lock.lock_holder(run)["pid"] == os.getpid()
    assert run_lock.lock_holder(run) is None


def test_a_damaged_lock_holds_until_its_file_is_stale(tmp_path):
    import os
    import time

    run = tmp_path / "run"
    run.mkdir()
    lock_file = run / LOCK_FILE
    lock_file.write_text('{"host": "no')  # cut short on disk
    with pytest.raises(run_lock.RunLocked, match="an unknown process .its lock file is damaged."):
        run_lock.RunLock(run, stale_after=60).acquire()
    os.utime(lock_file, (time.time() - 90, time.time() - 90))
    with run_lock.RunLock(run, stale_after=60) as lock:
        assert run_lock.lock_holder(run)["token"] == lock.token


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over_with_a_line(tmp_path, capsys):
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": dead.pid, "started": 1.0, "heartbeat": 2e9}))
    with run_lock.RunLock(run) as lock:
        assert run_lock.lock_holder(run)["token"] == lock.token
    out = capsys.readouterr()
    assert f"taking over the lock of pid {dead.pid} on host {socket.gethostname()}" in out.out + out.err
    assert f"pid {dead.pid} on this host is dead" in out.out + out.err


def test_a_lock_from_another_host_holds_until_its_heartbeat_is_stale(tmp_path):
    import time

    run = tmp_path / "run"
    run.mkdir()
    now = time.time()
    lock_file = run / LOCK_FILE
    lock_file.write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "started": now - 50, "heartbeat": now - 5}))
    with pytest.raises(run_lock.RunLocked, match=r"pid 1 on host node-elsewhere, started .* heartbeat 5 s ago"):
        run_lock.RunLock(run, stale_after=60).acquire()
    lock_file.write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "started": now - 500, "heartbeat": now - 90}))
    assert "heartbeat is 90 s old" in run_lock.stale_reason(run_lock.lock_holder(run), now, stale_after=60)
    lock = run_lock.RunLock(run, stale_after=60).acquire()
    assert run_lock.lock_holder(run)["host"] != "node-elsewhere"
    lock.release()


def test_a_requeued_slurm_job_takes_its_own_lock_over_and_holds_against_others(tmp_path, monkeypatch):
    import time

    run = tmp_path / "run"
    run.mkdir()
    # Written by array task 7_1 on another node, its heartbeat fresh: the job was preempted or timed out.
    (run / LOCK_FILE).write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "started": time.time(),
                                                         "heartbeat": time.time(), "slurm_job": "7_1"}))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "7")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")  # another task of the array: it holds
    with pytest.raises(run_lock.RunLocked, match=r"pid 1 on host node-elsewhere \(Slurm job 7_1\)"):
        run_lock.RunLock(run).acquire()
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # the same task, requeued
    with run_lock.RunLock(run) as lock:
        holder = run_lock.lock_holder(run)
        assert holder["token"] == lock.token and holder["slurm_job"] == "7_1"


def test_the_heartbeat_is_rewritten_and_a_taken_over_lock_is_left_alone(tmp_path):
    import time

    run = tmp_path / "run"
    lock = run_lock.RunLock(run, heartbeat_seconds=0.05).acquire()
    first = run_lock.lock_holder(run)["heartbeat"]
    time.sleep(0.3)
    assert run_lock.lock_holder(run)["heartbeat"] > first
    # Someone took it over (we were thought dead): neither the beat nor the release touches theirs.
    theirs = {"host": "other", "pid": 2, "started": 1.0, "heartbeat": time.time(), "token": "theirs"}
    (run / LOCK_FILE).write_text(json.dumps(theirs))
    time.sleep(0.2)
    lock.release()
    assert run_lock.lock_holder(run) == theirs
