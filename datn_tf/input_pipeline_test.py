"""Tests for the input pipeline: encoding, padding, deterministic length-bucketed batches."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from datn_tf import input_pipeline
from datn_tf.input_pipeline import (
    Batcher,
    emotion_dataset,
    encode_texts,
    eval_batches,
    pad_batch,
    sentiment_dataset,
    tokenize_corpus,
)
from datn_tf.testing import tokenize_py
from datn_tf.vocab import OOV_ID, PAD_ID, Vocabulary

EN_TRAIN = [
    "I don't like #Mondays :) https://t.co/abc",
    "So happy about the new job 😂😂",
    "@user_1 can't wait for the game tonight!!!",
]
EN_QUERIES = EN_TRAIN + [
    "Totally unseen words here, ZEBRA!",
    "",
    "   ",
    "happy happy #happy",
    "She'll be FURIOUS about 3.39 $ 😡",
]


# ------------------------------------------------------------------------------------
# Encoding and padding


def test_tokenize_corpus_matches_tokenize_py(monkeypatch):
    monkeypatch.setattr(input_pipeline, "ENCODE_CHUNK", 3)  # Several chunks.
    assert tokenize_corpus(EN_QUERIES, "en") == [tokenize_py(t, "en") for t in EN_QUERIES]


@pytest.mark.parametrize("chunk", [input_pipeline.ENCODE_CHUNK, 2])
def test_encode_texts_matches_vocab_ids(monkeypatch, chunk):
    monkeypatch.setattr(input_pipeline, "ENCODE_CHUNK", chunk)
    vocab = Vocabulary.build(tokenize_corpus(EN_TRAIN, "en"))
    encoded = encode_texts(EN_QUERIES, vocab, "en")
    assert len(encoded) == len(EN_QUERIES)
    for text, ids in zip(EN_QUERIES, encoded):
        assert ids.dtype == np.int32
        np.testing.assert_array_equal(ids, vocab.ids(tokenize_py(text, "en")))
    # Known words get their ids; unseen words are OOV; blank texts are empty.
    # totally unseen words here , zebra ! -- none of them in training.
    assert encoded[3].tolist() == [OOV_ID] * 7
    # "about" (lower-cased, as the tokenizer does) is known, "furious" is not.
    assert vocab.id("about") > OOV_ID and vocab.id("about") in encoded[7].tolist()
    assert encoded[4].shape == (0,) and encoded[5].shape == (0,)
    assert encoded[6].tolist() == [vocab.id("happy")] * 2 + [vocab.id("#"), vocab.id("happy")]
    assert PAD_ID not in np.concatenate(encoded)


def test_encode_texts_max_length_and_shared_table():
    vocab = Vocabulary.build(tokenize_corpus(EN_TRAIN, "en"))
    table = vocab.lookup_table()
    full = encode_texts(EN_QUERIES, vocab, "en", table=table)
    cut = encode_texts(EN_QUERIES, vocab, "en", table=table, max_length=3)
    for f, c in zip(full, cut):
        np.testing.assert_array_equal(c, f[:3])
    assert max(len(c) for c in cut) == 3


def test_encode_texts_chinese():
    texts = ["我 今天 很 高兴 。", "我　很  讨厌 工作", "她 惊讶"]  # Ideographic space too.
    vocab = Vocabulary.build(tokenize_corpus(texts[:2], "zh"))
    encoded = encode_texts(texts, vocab, "zh")
    assert encoded[1].tolist() == [vocab.id(t) for t in ["我", "很", "讨厌", "工作"]]
    assert encoded[2].tolist() == [OOV_ID, OOV_ID]
    for text, ids in zip(texts, encoded):
        np.testing.assert_array_equal(ids, vocab.ids(tokenize_py(text, "zh")))


SEQS = [
    np.array([5, 6, 7], np.int32),
    np.array([8], np.int32),
    np.array([9, 10, 11, 12, 13], np.int32),
    np.array([], np.int32),
]


def test_pad_batch_pads_to_the_batch_longest():
    out = pad_batch(SEQS, [0, 1])
    assert out.dtype == np.int32 and out.shape == (2, 3)  # Not 5: only this batch counts.
    np.testing.assert_array_equal(out, [[5, 6, 7], [8, PAD_ID, PAD_ID]])
    out = pad_batch(SEQS, np.array([3, 2, 1]))
    np.testing.assert_array_equal(
        out, [[0, 0, 0, 0, 0], [9, 10, 11, 12, 13], [8, 0, 0, 0, 0]]
    )
    # All-empty batch: width 1 of padding (a zero-width tensor would break the model).
    np.testing.assert_array_equal(pad_batch(SEQS, [3]), [[PAD_ID]])
    # The mask of a padded batch recovers the lengths.
    out = pad_batch(SEQS, [0, 1, 2, 3])
    assert (out != PAD_ID).sum(1).tolist() == [3, 1, 5, 0]


# ------------------------------------------------------------------------------------
# Batcher


def _skewed_lengths(n=1003, seed=0):
    """90% short (1-10 tokens), 10% long (60-100 tokens), shuffled."""
    rng = np.random.default_rng(seed)
    long = rng.random(n) < 0.1
    return np.where(long, rng.integers(60, 101, n), rng.integers(1, 11, n))


def _waste(lengths, batches):
    """Padding tokens: for each batch, its longest length minus each length."""
    return int(sum((lengths[b].max() - lengths[b]).sum() for b in batches))


def _flat(batches):
    return np.concatenate(batches)


@pytest.mark.parametrize("n, batch_size, window", [(1003, 16, 50), (100, 7, 3), (5, 10, 50), (64, 8, 1)])
def test_every_example_exactly_once_per_pass(n, batch_size, window):
    batcher = Batcher(_skewed_lengths(n), batch_size, seed=1, bucket_window=window)
    assert batcher.batches_per_pass == -(-n // batch_size)
    for pass_index in range(3):
        batches = batcher.batches_for_pass(pass_index)
        assert len(batches) == batcher.batches_per_pass
        np.testing.assert_array_equal(np.sort(_flat(batches)), np.arange(n))
        sizes = sorted(len(b) for b in batches)
        # Windows hold a whole number of batches, so only one batch can be short.
        assert sizes[1:] == [batch_size] * (len(sizes) - 1)
        assert sizes[0] == (n % batch_size or batch_size)


def test_batches_are_length_bucketed():
    lengths = _skewed_lengths()
    batch_size, window = 16, 50
    batcher = Batcher(lengths, batch_size, seed=0, bucket_window=window)
    windows = -(-len(lengths) // (batch_size * window))  # 800 examples a window: 2.
    # Within a window sorted by length and cut into consecutive batches, batch j's
    # waste is at most (size - 1) * (max_j - min_j), and these ranges do not overlap
    # (min_{j+1} >= max_j), so they add up to at most max - min of the window:
    # waste <= windows * (batch_size - 1) * (max(lengths) - min(lengths)) = 2*15*99.
    bound = windows * (batch_size - 1) * int(lengths.max() - lengths.min())
    assert bound == 2970
    rng = np.random.default_rng(123)
    for pass_index in range(3):
        batches = batcher.batches_for_pass(pass_index)
        bucketed = _waste(lengths, batches)
        order = rng.permutation(len(lengths))
        random = _waste(lengths, [order[s : s + batch_size] for s in range(0, len(order), batch_size)])
        assert bucketed <= bound
        # Random batches of 16 hold a long sentence 1 - 0.9**16 = 81% of the time, so
        # their waste is about 0.81 * 63 batches * 15 * (80 - 5.5) ~ 57,000 tokens.
        assert random > 30000
        assert bucketed < random / 10
        # The batch order itself is shuffled: not sorted by length.
        longest = [int(lengths[b].max()) for b in batches]
        assert longest != sorted(longest) and longest != sorted(longest, reverse=True)


def test_same_seed_same_batches_other_seed_other_order():
    lengths = _skewed_lengths(300)

    def passes(**kwargs):
        batcher = Batcher(lengths, 8, **kwargs)
        return [[b.tolist() for b in batcher.batches_for_pass(p)] for p in range(2)]

    base = passes(seed=5, stream="emotion")
    assert passes(seed=5, stream="emotion") == base
    assert passes(seed=6, stream="emotion") != base
    assert passes(seed=5, stream="sentiment") != base
    assert base[0] != base[1]  # Each pass has its own order.
    # Independent of any global random state.
    np.random.seed(0)
    assert passes(seed=5, stream="emotion") == base


def _take(batcher, start_step, count):
    return [(step, idx.tolist()) for step, idx in itertools.islice(batcher.iterate(start_step), count)]


@pytest.mark.parametrize("start_step", [0, 1, 12, 13, 14, 25, 26, 40])
def test_iterate_resumes_exactly(start_step):
    batcher = Batcher(_skewed_lengths(100), 8, seed=3, stream="emotion", bucket_window=4)
    assert batcher.batches_per_pass == 13
    full = _take(batcher, 0, 60)  # Four and a half passes.
    assert [s for s, _ in full] == list(range(60))
    resumed = _take(Batcher(_skewed_lengths(100), 8, seed=3, stream="emotion", bucket_window=4), start_step, 20)
    assert resumed == full[start_step : start_step + 20]


def test_iterate_cycles_through_passes():
    batcher = Batcher(_skewed_lengths(50), 10, seed=0)
    stream = _take(batcher, 0, 15)
    first = [idx for _, idx in stream[:5]]
    second = [idx for _, idx in stream[5:10]]
    assert first == [b.tolist() for b in batcher.batches_for_pass(0)]
    assert second == [b.tolist() for b in batcher.batches_for_pass(1)]
    assert sorted(sum(second, [])) == list(range(50))


def test_no_shuffle_gives_examples_in_order():
    lengths = _skewed_lengths(23)
    batcher = Batcher(lengths, 5, seed=9, shuffle=False)
    for pass_index in range(2):
        batches = batcher.batches_for_pass(pass_index)
        assert [b.tolist() for b in batches] == [
            list(range(s, min(23, s + 5))) for s in range(0, 23, 5)
        ]
    stream = _take(batcher, 3, 4)
    assert [s for s, _ in stream] == [3, 4, 5, 6]
    assert [idx for _, idx in stream] == [list(range(15, 20)), [20, 21, 22], list(range(0, 5)), list(range(5, 10))]


def test_batcher_edge_cases():
    with pytest.raises(ValueError):
        Batcher([1, 2], 0)
    assert list(Batcher([], 4).iterate()) == []
    batcher = Batcher([3], 4)
    assert _take(batcher, 0, 3) == [(0, [0]), (1, [0]), (2, [0])]


# ------------------------------------------------------------------------------------
# tf.data datasets


def _data(n=30, k=11, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = [rng.integers(2, 50, rng.integers(1, 12)).astype(np.int32) for _ in range(n)]
    emotions = (rng.random((n, k)) < 0.3).astype(np.int8)
    sentiment = rng.integers(0, 3, n)
    return token_ids, emotions, sentiment


@pytest.mark.parametrize("stream, start_step, num_steps", [("emotion", 0, 5), ("emotion", 6, 4), ("sentiment", 0, 3),
                                                        ("sentiment", 7, 5)])  # 8 batches a pass.
def test_labelled_datasets_follow_the_batcher(stream, start_step, num_steps):
    token_ids, emotions, sentiment = _data()
    batcher = Batcher([len(t) for t in token_ids], 4, seed=2, stream=stream)
    make, key, labels, shape = {"emotion": (emotion_dataset, "labels", emotions, [None, 11]),
                                "sentiment": (sentiment_dataset, "sentiment", sentiment, [None])}[stream]
    ds = make(token_ids, labels, batcher, start_step=start_step).take(num_steps)
    spec = ds.element_spec
    assert spec["token_ids"].dtype == tf.int32 and spec["token_ids"].shape.as_list() == [None, None]
    assert spec[key].dtype == tf.int32 and spec[key].shape.as_list() == shape
    got = list(ds.as_numpy_iterator())
    assert len(got) == num_steps
    expected = itertools.islice(batcher.iterate(start_step), num_steps)
    for batch, (_, idx) in zip(got, expected):
        assert batch["token_ids"].dtype == np.int32 and batch[key].dtype == np.int32
        np.testing.assert_array_equal(batch["token_ids"], pad_batch(token_ids, idx))
        assert batch["token_ids"].shape[1] == max(len(token_ids[i]) for i in idx)
        np.testing.assert_array_equal(batch[key], labels[idx])


def test_dataset_is_endless():
    token_ids, emotions, _ = _data(n=6)
    batcher = Batcher([len(t) for t in token_ids], 4, seed=0)  # 2 batches a pass.
    got = list(emotion_dataset(token_ids, emotions, batcher).take(7).as_numpy_iterator())
    assert len(got) == 7
    assert sum(len(b["labels"]) for b in got[:2]) == 6


def test_eval_batches_cover_every_example_once():
    token_ids, _, _ = _data(n=23)
    seen = []
    for positions, ids in eval_batches(token_ids, batch_size=5):
        assert len(positions) <= 5 and ids.shape[0] == len(positions)
        assert ids.dtype == np.int32
        assert ids.shape[1] == max(len(token_ids[p]) for p in positions)
        for row, p in zip(ids, positions):
            np.testing.assert_array_equal(row[: len(token_ids[p])], token_ids[p])
            assert np.all(row[len(token_ids[p]) :] == PAD_ID)
        seen.extend(positions.tolist())
    assert sorted(seen) == list(range(23)) and len(seen) == 23
    # Sorted by length inside, for speed.
    assert [len(token_ids[p]) for p in seen] == sorted(len(t) for t in token_ids)
    assert list(eval_batches([], batch_size=5)) == []
