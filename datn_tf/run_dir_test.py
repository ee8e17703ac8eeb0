"""Tests for the run folder: best weights that are missing or damaged, the summary, the E-c writer."""

import dataclasses
import json

import numpy as np
import pytest

from datn_tf import run_dir as run_dir_lib
from datn_tf import testing
from datn_tf.config import TrainConfig
from datn_tf.data.prepare import prepare_data
from datn_tf.trainer import Trainer


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = testing.tiny_train_config(data_dir, out, variant="base", epochs=1)
    Trainer(config, prepare_data(config)).fit()
    return out


def test_load_run_gives_the_best_weights(finished_run):
    config, vocab, model = run_dir_lib.load_run(finished_run)
    assert config["train_config"]["variant"] == "base" and len(vocab) > 2
    assert model.embedding.embeddings.shape[0] == len(vocab)


def test_missing_or_damaged_best_weights_give_a_clear_error(finished_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    data = next((run / run_dir_lib.BEST_DIR).glob("weights.data*"))
    data.write_bytes(data.read_bytes()[:10])
    with pytest.raises(run_dir_lib.RunDirError, match=r"best is damaged or from another model"):
        run_dir_lib.load_run(run)
    shutil.rmtree(run / run_dir_lib.BEST_DIR)
    with pytest.raises(run_dir_lib.RunDirError, match=r"best holds no weights"):
        run_dir_lib.load_run(run)
    with pytest.raises(FileNotFoundError, match="is not a training run"):
        run_dir_lib.load_run(tmp_path)


def test_the_advice_for_missing_or_damaged_best_weights_works(finished_run, data_dir, tmp_path):
    # It said "re-run the training command", which for a finished run fails with the same error:
    # the best weights are in no checkpoint.
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    data = next((run / run_dir_lib.BEST_DIR).glob("weights.data*"))
    data.write_bytes(data.read_bytes()[:10])
    lost = f"the run's best weights are lost: delete {run} and train the run again"
    with pytest.raises(run_dir_lib.RunDirError) as err:
        run_dir_lib.load_run(run)
    assert str(err.value).endswith(f"; {lost}")
    shutil.rmtree(run / run_dir_lib.BEST_DIR)
    with pytest.raises(run_dir_lib.RunDirError) as err:
        run_dir_lib.load_run(run)
    assert str(err.value) == (f"{run / run_dir_lib.BEST_DIR} holds no weights (no weights.index), though the run was "
                              f"evaluated on dev: {lost}")
    # Before its first dev evaluation, training on writes best/.
    config = testing.tiny_train_config(data_dir, tmp_path / "young", variant="base", max_steps=4, eval_every=4)
    Trainer(config, prepare_data(config)).fit(stop_after=2)
    with pytest.raises(run_dir_lib.RunDirError) as err:
        run_dir_lib.load_run(tmp_path / "young")
    assert str(err.value).endswith("the run has not reached its first dev evaluation; re-run its training command "
                                   "to finish it")
    Trainer(config, prepare_data(config)).fit()
    run_dir_lib.load_run(tmp_path / "young")


def test_summary_says_why_test_was_not_evaluated_once():
    payload = {"dataset": "semeval", "variant": "base", "seed": 0, "best_step": 3, "steps": 6, "threshold": 0.12,
               "threshold_source": "tuned on dev", "wall_seconds": 75.0, "test_evaluated": False,
               "notes": ["test split not evaluated: data/x.txt is not present (held out)"],
               "dev": {"jaccard": 0.5, "macro_f1": 0.4, "micro_f1": 0.6, "n": 10}}
    text = run_dir_lib.summary_text(payload)
    assert text.splitlines()[-1] == "test split not evaluated: data/x.txt is not present (held out)"
    assert text.count("not evaluated") == 1
    assert "wall 1:15" in text


def test_changed_settings_are_named(finished_run, tmp_path):
    import shutil

    from datn_tf import io_utils

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    saved = io_utils.read_json(run / run_dir_lib.CONFIG_FILE)["train_config"]
    config = TrainConfig(**{**saved, "learning_rate": 0.5, "seed": 3})
    with pytest.raises(run_dir_lib.RunDirError, match=r"other settings \(learning_rate, seed\)"):
        run_dir_lib.write_run_files(run, config, None, None)


def test_changed_settings_compare_resolved_values_only():
    saved = dataclasses.asdict(TrainConfig(variant="base", lambda_sim=0.1))
    saved = json.loads(json.dumps(saved))  # as read back from config.json: tuples are lists
    del saved["normalize_tokens"]  # written before the setting existed
    same = TrainConfig(variant="base", lambda_sim=0.1, preset="paper", data_dir="elsewhere", log_every=7)
    assert run_dir_lib.changed_settings(saved, same) == {}  # names, paths and logging do not count
    assert run_dir_lib.changed_settings(saved, TrainConfig(variant="base", normalize_tokens=True)) == {
        "normalize_tokens": (False, True)}  # Base never reads lambda_sim


def test_changed_settings_skip_what_the_variant_never_reads():
    for variant in ("base", "sp"):
        saved = json.loads(json.dumps(dataclasses.asdict(TrainConfig(variant=variant, similarity="sum"))))
        assert run_dir_lib.changed_settings(saved, TrainConfig(variant=variant, similarity="mean")) == {}
    saved = json.loads(json.dumps(dataclasses.asdict(TrainConfig(variant="datn2", similarity="sum"))))
    assert run_dir_lib.changed_settings(saved, TrainConfig(variant="datn2", similarity="mean")) == {
        "similarity": ("sum", "mean")}
    # Another variant: every difference counts, the variant's own first.
    changed = run_dir_lib.changed_settings(saved, TrainConfig(variant="base", similarity="mean"))
    assert set(changed) == {"variant", "similarity"}


def test_settings_added_after_the_run_started_resume_at_their_default(finished_run, tmp_path):
    """A config.json written before a setting existed: at its default the run resumes; set
    to anything else it is a change."""
    import shutil
    import types

    from datn_tf import io_utils

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    cfg_path = run / run_dir_lib.CONFIG_FILE
    payload = io_utils.read_json(cfg_path)
    saved = dict(payload["train_config"])
    for name in ("mlp_activation", "embedding_init"):  # as if written before these existed
        del payload["train_config"][name]
    io_utils.write_json(cfg_path, payload)
    _, vocab, model = run_dir_lib.load_run(finished_run)
    data = types.SimpleNamespace(
        task=types.SimpleNamespace(emotion_names=payload["emotion_names"], language=payload["language"],
                                   split_digests=lambda: payload["splits"]),
        embeddings_name=payload["embeddings"], coverage=types.SimpleNamespace(as_dict=lambda: {}), vocab=vocab)
    run_dir_lib.write_run_files(run, TrainConfig(**saved), model, data)
    assert io_utils.read_json(cfg_path)["train_config"]["mlp_activation"] == saved["mlp_activation"]

    io_utils.write_json(cfg_path, payload)
    with pytest.raises(run_dir_lib.RunDirError, match=r"other settings \(mlp_activation\)"):
        run_dir_lib.write_run_files(run, TrainConfig(**{**saved, "mlp_activation": "tanh"}), model, data)


def test_a_finished_twin_is_linked_and_a_dangling_link_never_trained_through(tmp_path):
    from datn_tf import io_utils

    runs = tmp_path / "runs"

    def fake_finished(name, config):
        io_utils.write_json(runs / name / run_dir_lib.CONFIG_FILE,
                            {"train_config": json.loads(json.dumps(dataclasses.asdict(config)))})
        io_utils.write_json(runs / name / run_dir_lib.METRICS_FILE, {"dev": {"jaccard": 0.5}})
        return runs / name

    config = TrainConfig(variant="datn2", seed=1, similarity="mean")
    fake_finished("other-seed1", TrainConfig(variant="datn2", seed=1, similarity="sum"))
    twin = fake_finished("reproduce-seed1", dataclasses.replace(config, output_dir="elsewhere"))
    out = runs / "ablate-seed1"

    assert run_dir_lib.link_finished_twin(out, config, run_dir_lib.finished_runs(runs)) == twin
    assert out.is_symlink() and out.readlink().name == "reproduce-seed1"  # relative
    assert io_utils.read_json(out / run_dir_lib.METRICS_FILE) == {"dev": {"jaccard": 0.5}}
    assert set(run_dir_lib.finished_runs(runs)) == {runs / "other-seed1", twin}  # links are not twins

    # The twin is being retrained (no metrics): the link goes, and with no other twin, nothing is linked.
    (twin / run_dir_lib.METRICS_FILE).unlink()
    assert run_dir_lib.link_finished_twin(out, config, run_dir_lib.finished_runs(runs)) is None
    assert not out.exists() and not out.is_symlink()

    # A folder of its own (a run started here) is never replaced by a link.
    (twin / run_dir_lib.METRICS_FILE).write_text("{}")
    out.mkdir()
    assert run_dir_lib.link_finished_twin(out, config, run_dir_lib.finished_runs(runs)) is None
    assert out.is_dir() and not out.is_symlink()


def test_predictions_are_written_in_the_official_format(tmp_path):
    from datn_tf.data import semeval_ec
    from datn_tf.data.examples import EmotionExamples

    names = tuple(semeval_ec.EMOTIONS)
    examples = EmotionExamples(["2018-En-1", "2018-En-2"], ["so happy", "what a mess"],
                               np.zeros((2, len(names)), np.int64), names, "x")
    predicted = np.zeros((2, len(names)), bool)
    predicted[0, names.index("joy")] = predicted[1, names.index("anger")] = True
    run_dir_lib.write_split_outputs(tmp_path, "dev", examples, predicted, np.full((2, len(names)), 0.5, np.float32))
    written = semeval_ec.read_ec(tmp_path / run_dir_lib.PREDICTIONS_DIR / "dev.txt")
    assert list(written.ids) == ["2018-En-1", "2018-En-2"]
    np.testing.assert_array_equal(written.labels, predicted.astype(written.labels.dtype))
    probs = np.load(run_dir_lib.probabilities_path(tmp_path, "dev"))
    assert probs.shape == (2, len(names))


def test_a_run_lock_is_claimed_once_and_names_its_holder(tmp_path):
    import os
    import socket
    import threading

    for round_ in range(20):  # rounds, so that a refusal racing the winner's write would show
        run = tmp_path / f"run{round_}"
        claimed, refused = [], []

        def claim(run=run, claimed=claimed, refused=refused):
            try:
                claimed.append(run_dir_lib.RunLock(run).acquire())
            except run_dir_lib.RunLocked as error:
                refused.append(error)

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(claimed) == 1 and len(refused) == 7  # one claim wins
        holder = run_dir_lib.lock_holder(run)
        assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
        for refusal in refused:  # every refusal names the winner: no lock is ever read half-written
            assert f"is being trained by pid {os.getpid()} on host {socket.gethostname()}, started " in str(refusal)
            assert refusal.holder == holder
        assert sorted(p.name for p in run.iterdir()) == [run_dir_lib.LOCK_FILE]  # no temporaries left
        claimed[0].release()
        assert run_dir_lib.lock_holder(run) is None and not (run / run_dir_lib.LOCK_FILE).exists()
    with run_dir_lib.RunLock(run):  # free again
        assert run_dir_lib.lock_holder(run)["pid"] == os.getpid()
    assert run_dir_lib.lock_holder(run) is None


def test_a_damaged_lock_holds_until_its_file_is_stale(tmp_path):
    import os
    import time

    run = tmp_path / "run"
    run.mkdir()
    lock_file = run / run_dir_lib.LOCK_FILE
    lock_file.write_text('{"host": "no')  # cut short on disk
    with pytest.raises(run_dir_lib.RunLocked, match="an unknown process .its lock file is damaged."):
        run_dir_lib.RunLock(run, stale_after=60).acquire()
    os.utime(lock_file, (time.time() - 90, time.time() - 90))
    with run_dir_lib.RunLock(run, stale_after=60) as lock:
        assert run_dir_lib.lock_holder(run)["token"] == lock.token


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over_with_a_line(tmp_path, capsys):
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = tmp_path / "run"
    run.mkdir()
    (run / run_dir_lib.LOCK_FILE).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": dead.pid, "started": 1.0, "heartbeat": 2e9}))
    with run_dir_lib.RunLock(run) as lock:
        assert run_dir_lib.lock_holder(run)["token"] == lock.token
    out = capsys.readouterr()
    assert f"taking over the lock of pid {dead.pid} on host {socket.gethostname()}" in out.out + out.err
    assert f"pid {dead.pid} on this host is dead" in out.out + out.err


def test_a_lock_from_another_host_holds_until_its_heartbeat_is_stale(tmp_path):
    import time

    run = tmp_path / "run"
    run.mkdir()
    now = time.time()
    lock_file = run / run_dir_lib.LOCK_FILE
    lock_file.write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "started": now - 50, "heartbeat": now - 5}))
    with pytest.raises(run_dir_lib.RunLocked, match=r"pid 1 on host node-elsewhere, started .* heartbeat 5 s ago"):
        run_dir_lib.RunLock(run, stale_after=60).acquire()
    lock_file.write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "started": now - 500, "heartbeat": now - 90}))
    assert "heartbeat is 90 s old" in run_dir_lib.stale_reason(run_dir_lib.lock_holder(run), now, stale_after=60)
    lock = run_dir_lib.RunLock(run, stale_after=60).acquire()
    assert run_dir_lib.lock_holder(run)["host"] != "node-elsewhere"
    lock.release()


def test_a_requeued_slurm_job_takes_its_own_lock_over_and_holds_against_others(tmp_path, monkeypatch):
    import time

    run = tmp_path / "run"
    run.mkdir()
    # Written by array task 7_1 on another node, its heartbeat fresh: the job was preempted or timed out.
    (run / run_dir_lib.LOCK_FILE).write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "started": time.time(),
                                                         "heartbeat": time.time(), "slurm_job": "7_1"}))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "7")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")  # another task of the array: it holds
    with pytest.raises(run_dir_lib.RunLocked, match=r"pid 1 on host node-elsewhere \(Slurm job 7_1\)"):
        run_dir_lib.RunLock(run).acquire()
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # the same task, requeued
    with run_dir_lib.RunLock(run) as lock:
        holder = run_dir_lib.lock_holder(run)
        assert holder["token"] == lock.token and holder["slurm_job"] == "7_1"


def test_the_heartbeat_is_rewritten_and_a_taken_over_lock_is_left_alone(tmp_path):
    import time

    run = tmp_path / "run"
    lock = run_dir_lib.RunLock(run, heartbeat_seconds=0.05).acquire()
    first = run_dir_lib.lock_holder(run)["heartbeat"]
    time.sleep(0.3)
    assert run_dir_lib.lock_holder(run)["heartbeat"] > first
    # Someone took it over (we were thought dead): neither the beat nor the release touches theirs.
    theirs = {"host": "other", "pid": 2, "started": 1.0, "heartbeat": time.time(), "token": "theirs"}
    (run / run_dir_lib.LOCK_FILE).write_text(json.dumps(theirs))
    time.sleep(0.2)
    lock.release()
    assert run_dir_lib.lock_holder(run) == theirs


@pytest.mark.parametrize("variant, seed, fold", [("sp", 0, None), ("datn2", 12, None), ("base", 0, 3),
                                                 ("datn2-mean-init025", 4, None)])
def test_a_run_name_parses_back(variant, seed, fold):
    assert run_dir_lib.parse_run_name(run_dir_lib.run_name(variant, seed, fold)) == (variant, seed, fold)


@pytest.mark.parametrize("name", ["sp", "sp-seed", "sp-seedx", "-seed0", "sp-seed0.json", "table3"])
def test_other_names_are_not_run_names(name):
    assert run_dir_lib.parse_run_name(name) is None


def test_a_checkpoint_save_stopped_half_way_is_removed_when_the_run_resumes(tmp_path):
    # A full disk left a 36 MB ckpt-*_temp/ behind.
    import tensorflow as tf

    step = tf.Variable(0)
    checkpoints = run_dir_lib.Checkpoints(tf.train.Checkpoint(step=step), tmp_path)
    step.assign(3)
    checkpoints.save(3)
    partial = tmp_path / run_dir_lib.CKPT_DIR / "ckpt-6_temp"
    partial.mkdir()
    (partial / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"x" * 100)
    step.assign(0)
    resumed = run_dir_lib.Checkpoints(tf.train.Checkpoint(step=step), tmp_path)
    assert resumed.restore_latest().endswith("ckpt-3") and int(step.numpy()) == 3
    assert sorted(p.name for p in (tmp_path / run_dir_lib.CKPT_DIR).iterdir()) == [
        "checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
