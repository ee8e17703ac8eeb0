"""Tests for the SemEval Task 4A reader (fixtures only, no real data)."""

import os
from pathlib import Path

import numpy as np
import pytest

from datn_tf import testing
from datn_tf.data.examples import SENTIMENTS
from datn_tf.data.semeval_4a import (
    S1_FILES,
    decode_unicode_escapes,
    read_4a,
    read_4a_files,
    unquote,
)

# The real files, when present (never copied into the repository): the Makefile's
# data/ folder or $DATN_DATA_DIR.
REAL_FOLDER = (
    Path(os.environ.get("DATN_DATA_DIR", Path(__file__).parents[2] / "data"))
    / "semeval2016-4a"
)

ROWS = [
    ("101", "positive", "I love @Microsoft, it's great"),
    ("102", "negative", '"Arriving Tuesday" is the worst'),
    ("103", "neutral", "Iron Maiden on Friday \\m/ and a literal \\n stays"),
    ("104", "positive", "Michael Jackson’s album, 25th edition"),
]


def test_round_trip_plain(tmp_path):
    examples = read_4a(testing.write_4a_file(tmp_path / "a.tsv", ROWS))
    assert examples.ids == [r[0] for r in ROWS]
    assert examples.texts == [r[2] for r in ROWS]
    assert examples.labels.dtype == np.int32
    assert [SENTIMENTS[i] for i in examples.labels] == [r[1] for r in ROWS]
    assert examples.label_names == SENTIMENTS == ("negative", "neutral", "positive")
    assert examples.duplicates == 0


@pytest.mark.parametrize(
    "options",
    [
        {"quote": True},
        {"quote": {0, 2}},
        {"escape_unicode": True},
        {"quote": True, "escape_unicode": True, "fourth_column": True},
    ],
)
def test_round_trip_quoted_escaped_and_fourth_column(tmp_path, options):
    path = testing.write_4a_file(tmp_path / "a.tsv", ROWS, **options)
    raw = path.read_text(encoding="utf-8")
    if options.get("escape_unicode"):
        assert "\\u002c" in raw and "\\u2019" in raw
    if options.get("quote") is True:
        assert '"""Arriving Tuesday"" is the worst"' in raw
    examples = read_4a(path)
    assert examples.texts == [r[2] for r in ROWS]


def test_unquote():
    assert unquote('"plain"') == "plain"
    assert unquote('"Excited to read ""Go Set a Watchman"" on Tuesday"') == (
        'Excited to read "Go Set a Watchman" on Tuesday'
    )
    assert unquote('""') == ""
    # Quotes that belong to the tweet are not CSV quoting.
    for text in [
        '"Arriving Tuesday" is decidedly the least Prime',
        'Kelsey: "It was Michelle Obama wasn\'t it."',
        '"She looks nice!" "Mar that\'s Eric Church.."',
        '"',
    ]:
        assert unquote(text) == text


def test_decode_unicode_escapes():
    assert decode_unicode_escapes("Plus\\u002c tomorrow") == "Plus, tomorrow"
    assert decode_unicode_escapes("I\\u2019m") == "I’m"
    assert decode_unicode_escapes("lol \\ud83d\\ude02") == "lol 😂"
    # Other backslashes and lone surrogates stay as written.
    for text in ["\\m/", "a \\n b", "Monday\\'s", "\\,,/", "\\u12", "\\ud83d!", "\\\\"]:
        assert decode_unicode_escapes(text) == text


def test_labels_are_case_insensitive(tmp_path):
    rows = ["1\tPositive\tyay", "2\t NEGATIVE \tboo", "3\tNeutral\tmeh"]
    examples = read_4a(testing.write_4a_file(tmp_path / "a.tsv", rows))
    np.testing.assert_array_equal(examples.labels, [2, 0, 1])


def test_crlf_and_missing_final_newline(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_bytes(b'1\tpositive\tyay\t\r\n2\tnegative\t"a, b"\t\r\n3\tneutral\tlast')
    examples = read_4a(path)
    assert examples.texts == ["yay", "a, b", "last"]


def test_fixture_s1_files(tmp_path):
    root = testing.make_fixture_data_dir(tmp_path)
    counts = testing.FIXTURE_COUNTS
    folder = root / "semeval2016-4a"
    sizes = [len(read_4a(folder / name)) for name in S1_FILES]
    assert sizes == [counts["4a_train"], counts["4a_dev"], counts["4a_test"]]

    s1 = read_4a_files([folder / name for name in S1_FILES])
    assert len(s1) == sum(sizes)
    assert s1.duplicates == counts["4a_duplicates"]
    assert set(np.unique(s1.labels)) == {0, 1, 2}
    assert not any(t.startswith('"') and t.endswith('"') for t in s1.texts)
    assert any('"' in t for t in s1.texts)  # Inner quotes survive unquoting.
    # The test file has a 4th column, mostly empty.
    raw = (folder / S1_FILES[2]).read_text(encoding="utf-8").splitlines()
    assert all(line.count("\t") == 3 for line in raw)
    assert any(line.endswith("\t") for line in raw) and not all(
        line.endswith("\t") for line in raw
    )

    deduped = read_4a_files([folder / name for name in S1_FILES], dedupe=True)
    assert len(deduped) == len(s1) - s1.duplicates
    assert len(set(deduped.ids)) == len(deduped)
    assert deduped.duplicates == s1.duplicates
    # Labels follow their cue words.
    for text, label in zip(s1.texts, s1.labels):
        if "awful" in text or "worst" in text or "terrible" in text:
            assert SENTIMENTS[label] == "negative"


def test_duplicates_keep_the_first(tmp_path):
    a = testing.write_4a_file(
        tmp_path / "a.tsv", [("1", "positive", "first"), ("1", "negative", "again")]
    )
    b = testing.write_4a_file(
        tmp_path / "b.tsv", [("1", "neutral", "third"), ("2", "neutral", "new")]
    )
    kept = read_4a_files([a, b])
    assert kept.ids == ["1", "1", "1", "2"] and kept.duplicates == 2
    deduped = read_4a_files([a, b], dedupe=True)
    assert deduped.ids == ["1", "2"] and deduped.texts == ["first", "new"]
    assert deduped.duplicates == 2
    assert read_4a(a).duplicates == 1


@pytest.mark.parametrize(
    "bad_row, fragments",
    [
        ("105\tpositive", ["expected 3 or 4", "found 2"]),
        ("105\tpositive\ttext\textra\tmore", ["found 5"]),
        ("105\tobjective\ttext", ["unknown sentiment label", "'objective'"]),
        ("105\t\ttext", ["unknown sentiment label", "''"]),
        ("\tpositive\ttext", ["empty id"]),
        ("105\tpositive\t", ["empty text"]),
        ("", ["blank line"]),
    ],
)
def test_malformed_row(tmp_path, bad_row, fragments):
    path = testing.write_4a_file(
        tmp_path / "bad.tsv", [ROWS[0], ROWS[1], bad_row, ROWS[2]]
    )
    with testing.expect_data_error(path, 3, *fragments):
        read_4a(path)


def test_error_in_a_later_file_names_that_file(tmp_path):
    good = testing.write_4a_file(tmp_path / "good.tsv", ROWS)
    bad = testing.write_4a_file(tmp_path / "bad.tsv", [ROWS[0], "9\tmixed\tx"])
    with testing.expect_data_error(bad, 2, "'mixed'"):
        read_4a_files([good, bad])


# A latin-1 byte and an empty file: datn_tf/data/_io_test.py (every reader).


def test_no_files(tmp_path):
    with pytest.raises(ValueError):
        read_4a_files([])


@pytest.mark.skipif(
    not all((REAL_FOLDER / name).is_file() for name in S1_FILES),
    reason="real SemEval-2016 4A files not present",
)
def test_real_s1_matches_table_2():
    s1 = read_4a_files([REAL_FOLDER / name for name in S1_FILES])
    assert len(s1) == 28631  # Table 2: S1, duplicates kept.
    assert len(read_4a_files([REAL_FOLDER / n for n in S1_FILES], dedupe=True)) == (
        28631 - s1.duplicates
    )
