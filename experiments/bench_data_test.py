"""Tests of the benchmark's synthetic E1-shaped data."""

import numpy as np

from experiments import bench_data as bench


def test_length_histograms_match_e1_and_s1():
    assert sum(bench.EC_LENGTH_COUNTS.values()) == 6838
    assert sum(bench.S1_LENGTH_COUNTS.values()) == 28631
    assert abs(bench.histogram_mean(bench.EC_LENGTH_COUNTS) - 19.5) < 0.05
    assert abs(bench.histogram_mean(bench.S1_LENGTH_COUNTS) - 22.6) < 0.05
    assert min(bench.EC_LENGTH_COUNTS) == 1 and min(bench.S1_LENGTH_COUNTS) == 1


def test_synthetic_texts_tokenize_back_to_their_ids():
    from datn_tf import input_pipeline

    data = bench.make_prepared_data(500, 4, sizes={"train": 30, "dev": 40, "sentiment": 50}, seed=3)
    assert len(data.vocab) == 500 and data.embedding_matrix.shape == (500, 4)
    assert len(data.task.sentiment) == 50 and data.task.train.labels.shape == (30, 11)
    ids = input_pipeline.encode_texts(data.task.dev.texts, data.vocab, "en")
    assert all(np.array_equal(a, b) for a, b in zip(ids, data.ids["dev"]))
