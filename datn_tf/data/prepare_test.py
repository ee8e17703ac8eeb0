"""Tests for a run's prepared data: vocabulary from training splits, E, the coverage stop, the cache."""

import numpy as np
import pytest

from datn_tf import testing
from datn_tf.data.prepare import PreparedDataCache, prepare_data


def _config(data_dir, tmp_path, **overrides):
    return testing.tiny_train_config(data_dir, tmp_path / "run", **overrides)


def test_vocabulary_and_ids_come_from_the_training_splits(data_dir, tmp_path):
    data = prepare_data(_config(data_dir, tmp_path))
    assert set(data.ids) == {"train", "dev", "sentiment"}
    assert len(data.ids["dev"]) == len(data.task.dev)
    assert data.embedding_matrix.shape == (len(data.vocab), 50)
    np.testing.assert_array_equal(data.embedding_matrix[0], 0.0)  # padding
    assert list(data.eval_splits()) == ["dev"]


def test_embeddings_that_cover_almost_nothing_stop_the_run(data_dir, tmp_path):
    glove = tmp_path / "other.txt"
    glove.write_text("".join(f"zzword{i} 0.1 0.2 0.3\n" for i in range(50)), encoding="utf-8")
    with pytest.raises(ValueError, match=r"covers 0\.0% of the vocabulary's word types \(minimum 5%\).*"
                                         r"--min_embedding_coverage=0"):
        prepare_data(_config(data_dir, tmp_path, embeddings=str(glove)))
    data = prepare_data(_config(data_dir, tmp_path, embeddings=str(glove), min_embedding_coverage=0.0))
    assert data.coverage.covered_types == 0 and data.embedding_matrix.shape[1] == 3


def test_cache_reuses_the_seed_free_parts(data_dir, tmp_path):
    cache = PreparedDataCache()
    a = cache.prepare(_config(data_dir, tmp_path, seed=0))
    b = cache.prepare(_config(data_dir, tmp_path, seed=1, variant="base"))
    assert a.vocab is b.vocab and a.ids is b.ids and a.task is b.task
    # Only the random rows of E depend on the seed; the pretrained rows are the same.
    assert not np.array_equal(a.embedding_matrix, b.embedding_matrix)
    fresh = prepare_data(_config(data_dir, tmp_path, seed=1))
    np.testing.assert_array_equal(fresh.embedding_matrix, b.embedding_matrix)
    c = cache.prepare(_config(data_dir, tmp_path, max_length=3))
    assert c.ids is not a.ids and max(len(x) for x in c.ids["train"]) <= 3
