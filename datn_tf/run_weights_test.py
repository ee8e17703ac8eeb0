"""Tests for a run's TensorFlow side: the model with its best weights, and best weights that are
missing or damaged."""

import pytest

from datn_tf import run_dir as run_dir_lib
from datn_tf import run_weights


def test_load_run_gives_the_best_weights(finished_run):
    config, vocab, model = run_weights.load_run(finished_run)
    assert config["train_config"]["variant"] == "base" and len(vocab) > 2
    assert model.embedding.embeddings.shape[0] == len(vocab)


def test_missing_or_damaged_best_weights_give_a_clear_error(finished_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    data = next((run / run_dir_lib.BEST_DIR).glob("weights.data*"))
    data.write_bytes(data.read_bytes()[:10])
    with pytest.raises(run_dir_lib.RunDirError, match=r"best is damaged or from another model"):
        run_weights.load_run(run)
    shutil.rmtree(run / run_dir_lib.BEST_DIR)
    with pytest.raises(run_dir_lib.RunDirError, match=r"best holds no weights"):
        run_weights.load_run(run)
    with pytest.raises(FileNotFoundError, match="is not a training run"):
        run_weights.load_run(tmp_path)
