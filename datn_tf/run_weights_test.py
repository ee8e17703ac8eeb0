"""Tests for a run's TensorFlow side: the model with its best weights, and best weights that are
missing or damaged."""

import pytest

from datn_tf import run_dir as run_dir_lib
from datn_tf import run_weights, testing
from datn_tf.data.prepare import prepare_data
from datn_tf.errors import UserError
from datn_tf.trainer import Trainer


def test_load_run_gives_the_best_weights(finished_run):
    config, vocab, model = run_weights.load_run(finished_run)
    assert config["train_config"]["variant"] == "base" and len(vocab) > 2
    assert model.embedding.embeddings.shape[0] == len(vocab)


def test_the_advice_for_missing_or_damaged_best_weights_works(finished_run, data_dir, tmp_path):
    # It said "re-run the training command", which for a finished run fails with the same error:
    # the best weights are in no checkpoint.
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    data = next((run / run_dir_lib.BEST_DIR).glob("weights.data*"))
    data.write_bytes(data.read_bytes()[:10])
    lost = f"the run's best weights are lost: delete {run} and train the run again"
    with pytest.raises(UserError) as err:
        run_weights.load_run(run)
    assert str(err.value).endswith(f"; {lost}")
    shutil.rmtree(run / run_dir_lib.BEST_DIR)
    with pytest.raises(UserError) as err:
        run_weights.load_run(run)
    assert str(err.value) == (f"{run / run_dir_lib.BEST_DIR} holds no weights (no weights.index), though the run was "
                              f"evaluated on dev: {lost}")
    # Before its first dev evaluation, training on writes best/.
    config = testing.tiny_train_config(data_dir, tmp_path / "young", variant="base", max_steps=4, eval_every=4)
    testing.fit_killed_after(Trainer(config, prepare_data(config)), 2)
    with pytest.raises(UserError) as err:
        run_weights.load_run(tmp_path / "young")
    assert str(err.value).endswith("the run has not reached its first dev evaluation; re-run its training command "
                                   "to finish it")
    Trainer(config, prepare_data(config)).fit()
    run_weights.load_run(tmp_path / "young")
    with pytest.raises(FileNotFoundError, match="is not a training run"):
        run_weights.load_run(tmp_path / "absent")


def test_a_checkpoint_save_stopped_half_way_is_removed_when_the_run_resumes(tmp_path):
    # A full disk left a 36 MB ckpt-*_temp/ behind.
    import tensorflow as tf

    step = tf.Variable(0)
    checkpoints = run_weights.Checkpoints(tf.train.Checkpoint(step=step), tmp_path)
    step.assign(3)
    checkpoints.save(3)
    partial = tmp_path / run_dir_lib.CKPT_DIR / "ckpt-6_temp"
    partial.mkdir()
    (partial / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"x" * 100)
    step.assign(0)
    resumed = run_weights.Checkpoints(tf.train.Checkpoint(step=step), tmp_path)
    assert resumed.restore_latest().endswith("ckpt-3") and int(step.numpy()) == 3
    assert sorted(p.name for p in (tmp_path / run_dir_lib.CKPT_DIR).iterdir()) == [
        "checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
