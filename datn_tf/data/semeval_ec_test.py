"""Tests for the SemEval-2018 E-c reader (fixtures only, no real data)."""

import os
from pathlib import Path

import numpy as np
import pytest

from datn_tf import testing
from datn_tf.data.semeval_ec import EMOTIONS, HEADER, read_ec

# The real files, when present (never copied into the repository): the Makefile's
# data/ folder or $DATN_DATA_DIR.
REAL_FOLDER = (
    Path(os.environ.get("DATN_DATA_DIR", Path(__file__).parents[2] / "data"))
    / "semeval2018-ec"
)
HEADER_LINE = "\t".join(HEADER)


def _labels(*names):
    return [int(e in names) for e in EMOTIONS]


ROWS = [
    (
        "2017-En-1",
        "Whatever you decide make sure it makes you #happy. 😂",
        _labels("joy"),
    ),
    (
        "2017-En-2",
        "@Max_K it's \"inept\" ' -- quotes stay\\nand so does this ",
        _labels(),
    ),
    ("2017-En-3", "so mad\\n\\n#angry https://t.co/abc", _labels("anger", "disgust")),
]


def test_emotions_are_the_official_columns():
    assert EMOTIONS == testing.EC_EMOTIONS
    assert len(EMOTIONS) == 11 and EMOTIONS[0] == "anger" and EMOTIONS[-1] == "trust"


def test_round_trip_keeps_text_untouched(tmp_path):
    path = testing.write_ec_file(tmp_path / "ec.txt", ROWS)
    examples = read_ec(path)
    assert len(examples) == 3
    assert examples.ids == [r[0] for r in ROWS]
    # Literal backslash-n, quotes, emoji and the trailing space are all kept.
    assert examples.texts == [r[1] for r in ROWS]
    assert "\\n" in examples.texts[1] and examples.texts[1].endswith(" ")
    assert examples.labels.dtype == np.int8
    np.testing.assert_array_equal(examples.labels, [r[2] for r in ROWS])
    assert examples.label_names == EMOTIONS
    assert examples.source == str(path)


def test_fixture_data_dir(tmp_path):
    root = testing.make_fixture_data_dir(tmp_path, with_test=True)
    counts = testing.FIXTURE_COUNTS
    for split, key in [
        ("train", "ec_train"),
        ("dev", "ec_dev"),
        ("test-gold", "ec_test"),
    ]:
        examples = read_ec(root / "semeval2018-ec" / f"2018-E-c-En-{split}.txt")
        assert len(examples) == counts[key]
        assert examples.labels.shape == (counts[key], 11)
        assert not examples.labels[0].any()  # A tweet with no emotion.
        assert examples.labels.sum(axis=0).min() >= 1  # Every emotion occurs.
        assert any("\\n" in t for t in examples.texts)
    # Labels follow their cue words, so a model can learn them.
    train = read_ec(root / "semeval2018-ec" / "2018-E-c-En-train.txt")
    joy = EMOTIONS.index("joy")
    for text, row in zip(train.texts, train.labels):
        if "#happy" in text or "😂" in text:
            assert row[joy] == 1


def test_fixture_is_deterministic(tmp_path):
    a = testing.make_fixture_data_dir(tmp_path / "a", seed=3)
    b = testing.make_fixture_data_dir(tmp_path / "b", seed=3, with_test=True)
    c = testing.make_fixture_data_dir(tmp_path / "c", seed=4)
    assert not (a / "semeval2018-ec/2018-E-c-En-test-gold.txt").exists()
    # Same seed -> same files, whether or not the test split is written.
    for name in [
        "semeval2018-ec/2018-E-c-En-train.txt",
        "semeval2016-4a/twitter-2016test-A.tsv",
        "ren-cecps/cet_801.xml",
    ]:
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() != (c / name).read_bytes()


def test_crlf_missing_final_newline_and_trailing_blank_lines(tmp_path):
    body = [HEADER_LINE] + ["\t".join([i, t] + [str(v) for v in y]) for i, t, y in ROWS]
    for text in (
        "\r\n".join(body),
        "\r\n".join(body) + "\r\n\r\n  \n",
        "\n".join(body),
    ):
        path = tmp_path / "ec.txt"
        path.write_bytes(("\ufeff" + text).encode("utf-8"))
        examples = read_ec(path)
        assert examples.texts == [r[1] for r in ROWS]
        np.testing.assert_array_equal(examples.labels, [r[2] for r in ROWS])


def test_unicode_line_separator_inside_a_tweet_is_not_a_break(tmp_path):
    rows = [("1", "line\u2028separator\x85next", _labels("joy"))]
    examples = read_ec(testing.write_ec_file(tmp_path / "ec.txt", rows))
    assert examples.texts == ["line\u2028separator\x85next"]


def test_prediction_mode_accepts_none_labels(tmp_path):
    rows = [(i, t, ["NONE"] * 11) for i, t, _ in ROWS]
    path = testing.write_ec_file(tmp_path / "test.txt", rows)
    examples = read_ec(path, prediction=True)
    assert examples.labels is None
    assert examples.texts == [r[1] for r in ROWS]
    # A gold file read in prediction mode keeps its labels.
    gold = read_ec(testing.write_ec_file(tmp_path / "gold.txt", ROWS), prediction=True)
    np.testing.assert_array_equal(gold.labels, [r[2] for r in ROWS])


def test_none_labels_need_prediction_mode(tmp_path):
    rows = [(i, t, ["NONE"] * 11) for i, t, _ in ROWS]
    path = testing.write_ec_file(tmp_path / "test.txt", rows)
    with testing.expect_data_error(path, 2, "'anger'", "NONE", "prediction=True"):
        read_ec(path)


def test_prediction_mode_rejects_mixed_and_partial_none(tmp_path):
    mixed = [ROWS[0], (ROWS[1][0], ROWS[1][1], ["NONE"] * 11)]
    path = testing.write_ec_file(tmp_path / "mixed.txt", mixed)
    with testing.expect_data_error(path, 3, "mixes"):
        read_ec(path, prediction=True)
    partial = [(ROWS[0][0], ROWS[0][1], ["NONE"] * 10 + [0])]
    path = testing.write_ec_file(tmp_path / "partial.txt", partial)
    with testing.expect_data_error(path, 2, "'anger'", "0 or 1"):
        read_ec(path, prediction=True)


@pytest.mark.parametrize(
    "bad_row, fragments",
    [
        ("2017-En-9\ttruncated tweet\t0\t1", ["expected 13", "found 4"]),
        ("2017-En-9\ttweet\t" + "\t".join(["0"] * 11) + "\textra", ["found 14"]),
        ("2017-En-9\ttweet\t" + "\t".join(["0"] * 10 + ["2"]), ["'trust'", "'2'"]),
        ("2017-En-9\ttweet\t" + "\t".join(["yes"] + ["0"] * 10), ["'anger'", "'yes'"]),
        ("\ttweet\t" + "\t".join(["0"] * 11), ["empty ID"]),
        ("2017-En-1\ttweet\t" + "\t".join(["0"] * 11), ["duplicate ID", "line 2"]),
        ("", ["blank line"]),
    ],
)
def test_malformed_row(tmp_path, bad_row, fragments):
    rows = [ROWS[0], ROWS[1], bad_row, ROWS[2]]
    path = testing.write_ec_file(tmp_path / "bad.txt", rows)
    with testing.expect_data_error(path, 4, *fragments):
        read_ec(path)


def test_wrong_or_missing_header(tmp_path):
    path = testing.write_ec_file(tmp_path / "noheader.txt", ROWS, header=False)
    with testing.expect_data_error(path, 1, "wrong header", "2017-En-1"):
        read_ec(path)
    path = tmp_path / "renamed.txt"
    path.write_text(HEADER_LINE.replace("joy", "happiness") + "\n", encoding="utf-8")
    with testing.expect_data_error(path, 1, "wrong header"):
        read_ec(path)


# A latin-1 byte and an empty file: datn_tf/data/_io_test.py (every reader).


def test_header_only(tmp_path):
    path = testing.write_ec_file(tmp_path / "header.txt", [])
    with testing.expect_data_error(path, 2, "no tweets"):
        read_ec(path)


@pytest.mark.skipif(
    not REAL_FOLDER.is_dir(), reason="real SemEval-2018 E-c not present"
)
def test_real_files_match_table_2():
    # Table 2 of the paper: E1 train 6,838 / dev 886 / test 3,259.
    for split, size in [("train", 6838), ("dev", 886), ("test-gold", 3259)]:
        path = REAL_FOLDER / f"2018-E-c-En-{split}.txt"
        if path.exists():
            examples = read_ec(path)
            assert len(examples) == size and examples.labels.shape == (size, 11)
