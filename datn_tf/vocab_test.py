"""Tests for the vocabulary (build order, special ids, file format, TF lookup table)."""

import numpy as np
import pytest
import tensorflow as tf

from datn_tf import testing
from datn_tf.errors import DataFormatError
from datn_tf.vocab import OOV, OOV_ID, PAD, PAD_ID, Vocabulary

# a: 3, b: 2, c: 2, d: 1 -- b and c tie and are ordered by text.
CORPUS = [["c", "a", "b", "a"], ["d", "b", "a", "c"]]


def test_special_ids():
    assert (PAD_ID, OOV_ID) == (0, 1)
    vocab = Vocabulary.build(CORPUS)
    assert vocab.tokens[PAD_ID] == PAD and vocab.tokens[OOV_ID] == OOV
    assert vocab.id(PAD) == PAD_ID and vocab.id(OOV) == OOV_ID


def test_build_orders_by_frequency_then_text():
    vocab = Vocabulary.build(CORPUS)
    assert vocab.tokens == [PAD, OOV, "a", "b", "c", "d"]
    assert len(vocab) == 6
    assert vocab.counts == {"a": 3, "b": 2, "c": 2, "d": 1}
    assert [vocab.id(t) for t in "abcd"] == [2, 3, 4, 5]


def test_build_tie_order_does_not_depend_on_input_order():
    forward = Vocabulary.build([["z", "y", "x"], ["x", "y", "z"]])
    backward = Vocabulary.build([["x", "y", "z"], ["z", "y", "x"]])
    assert forward.tokens == backward.tokens == [PAD, OOV, "x", "y", "z"]


def test_build_accepts_generators_and_non_ascii():
    vocab = Vocabulary.build(iter([["高兴", "😂"], ("高兴",)]))
    assert vocab.tokens == [PAD, OOV, "高兴", "😂"]
    assert vocab.counts == {"高兴": 2, "😂": 1}


def test_special_tokens_in_text_are_not_duplicated():
    vocab = Vocabulary.build([[PAD, OOV, "a", PAD]])
    assert vocab.tokens == [PAD, OOV, "a"]
    assert PAD not in vocab.counts and OOV not in vocab.counts


def test_unknown_tokens_map_to_oov():
    vocab = Vocabulary.build(CORPUS)
    assert vocab.id("zzz") == OOV_ID
    assert "zzz" not in vocab and "a" in vocab
    ids = vocab.ids(["a", "zzz", "d", "A"])  # Lookup is case-sensitive.
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, [2, OOV_ID, 5, OOV_ID])
    assert vocab.ids([]).shape == (0,)


def test_min_count():
    vocab = Vocabulary.build(CORPUS, min_count=2)
    assert vocab.tokens == [PAD, OOV, "a", "b", "c"]
    assert vocab.id("d") == OOV_ID
    assert "d" not in vocab.counts
    assert Vocabulary.build(CORPUS, min_count=4).tokens == [PAD, OOV]


@pytest.mark.parametrize(
    "max_size, expected",
    [
        (None, [PAD, OOV, "a", "b", "c", "d"]),
        (100, [PAD, OOV, "a", "b", "c", "d"]),
        (4, [PAD, OOV, "a", "b"]),  # max_size counts the two special tokens.
        (3, [PAD, OOV, "a"]),
        (2, [PAD, OOV]),
        (1, [PAD, OOV]),
    ],
)
def test_max_size_keeps_the_most_frequent(max_size, expected):
    vocab = Vocabulary.build(CORPUS, max_size=max_size)
    assert vocab.tokens == expected
    assert set(vocab.counts) == set(expected[2:])


def test_min_count_and_max_size_together():
    vocab = Vocabulary.build(CORPUS, min_count=2, max_size=4)
    assert vocab.tokens == [PAD, OOV, "a", "b"]


def test_constructor_validates():
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["a", PAD, OOV])
    with pytest.raises(ValueError, match="unique"):
        Vocabulary([PAD, OOV, "a", "a"])


def test_save_load_round_trip_is_atomic(tmp_path):
    vocab = Vocabulary.build(CORPUS + [["高兴", "😂", "don't", "#"]])
    path = tmp_path / "sub" / "vocab.tsv"
    vocab.save(path)
    # Only the file itself: no temporary sibling left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["vocab.tsv"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:3] == [f"{PAD}\t0", f"{OOV}\t0", "a\t3"]
    assert len(lines) == len(vocab)

    loaded = Vocabulary.load(path)
    assert loaded.tokens == vocab.tokens
    assert loaded.counts[PAD] == loaded.counts[OOV] == 0
    assert {t: c for t, c in loaded.counts.items() if c} == vocab.counts
    for token in vocab.tokens + ["unknown"]:
        assert loaded.id(token) == vocab.id(token)

    # Saving again over the existing file also leaves nothing else behind.
    Vocabulary.build([["x"]]).save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["vocab.tsv"]
    assert Vocabulary.load(path).tokens == [PAD, OOV, "x"]


def test_lookup_table_agrees_with_ids():
    vocab = Vocabulary.build(CORPUS + [["高兴", "😂"]])
    queries = vocab.tokens + ["zzz", "", "A", "高", "😂😂"]
    table = vocab.lookup_table()
    looked_up = table.lookup(tf.constant(queries))
    assert looked_up.dtype == tf.int64
    np.testing.assert_array_equal(looked_up.numpy(), vocab.ids(queries))
    np.testing.assert_array_equal(looked_up.numpy()[: len(vocab)], np.arange(len(vocab)))
    assert int(table.size()) == len(vocab)
    # Works on ragged token batches too (as the input pipeline uses it).
    ragged = tf.ragged.constant([["a", "zzz"], [], ["d"]])
    ids = tf.ragged.map_flat_values(table.lookup, ragged)
    assert ids.to_list() == [[2, OOV_ID], [], [5]]


def _write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    "body, line",
    [
        (f"{PAD}\t0\n{OOV}\t0\na 3\n", 3),  # Space instead of a tab.
        (f"{PAD}\t0\n{OOV}\t0\na\tthree\n", 3),  # Count not a number.
        (f"{PAD}\t0\n{OOV}\t0\na\t-1\n", 3),
        (f"{PAD}\t0\n{OOV}\t0\na\t3\textra\n", 3),  # Three fields.
        (f"{PAD}\t0\n\n{OOV}\t0\nb\n", 4),  # Blank line still counted.
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, body, line):
    path = _write(tmp_path / "vocab.tsv", body)
    with testing.expect_data_error(path, line, "token<TAB>count"):
        Vocabulary.load(path)


def test_load_accepts_crlf_line_ends(tmp_path):
    path = _write(tmp_path / "vocab.tsv", f"{PAD}\t0\r\n{OOV}\t0\r\na\t3\r\n")
    loaded = Vocabulary.load(path)
    assert loaded.tokens == [PAD, OOV, "a"] and loaded.counts["a"] == 3


def test_load_rejects_a_table_without_special_tokens(tmp_path):
    path = _write(tmp_path / "vocab.tsv", "a\t3\nb\t2\n")
    with pytest.raises(DataFormatError) as err:
        Vocabulary.load(path)
    assert err.value.path == str(path) and err.value.line is None
    assert str(err.value).startswith(f"{path}: ")


def test_load_rejects_duplicate_tokens(tmp_path):
    path = _write(tmp_path / "vocab.tsv", f"{PAD}\t0\n{OOV}\t0\na\t3\na\t2\n")
    with testing.expect_data_error(path, None, "unique"):
        Vocabulary.load(path)


def test_extended_appends_new_tokens_only_keeping_ids_and_counts():
    vocab = Vocabulary.build([["a", "b", "a"]])
    bigger = vocab.extended(["c", "a", "<unk>", "c", "d"])
    assert bigger.tokens == vocab.tokens + ["c", "d"]
    assert bigger.id("a") == vocab.id("a") and bigger.id("d") == len(vocab) + 1
    assert bigger.counts == {"a": 2, "b": 1}
