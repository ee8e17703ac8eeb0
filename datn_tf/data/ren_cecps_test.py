"""Tests for the Ren-CECps reader (fixtures only, no real data)."""

import os
from pathlib import Path

import numpy as np
import pytest

from datn_tf import testing
from datn_tf.data.examples import SENTIMENTS
from datn_tf.data.ren_cecps import (
    POLARITY,
    REN_EMOTIONS,
    SPLITS,
    read_document,
    read_ren_cecps,
    split_segmented,
    strip_pos,
)
from datn_tf.errors import DataFormatError

SENTENCES = [
    (["我", "今天", "很", "高兴", "。"], {"Joy": 0.8}, "积极"),
    (["她", "讨厌", "这", "件", "事", "！"], {"Hate": 0.6, "Anger": 0.4}, "消极"),
    (["我", ("/", "w"), ("　", "n"), ("", "v"), ("斜杠", None), "？"], {}, None),
    (["生活", "。"], [0, 0, 0, 0, 0, 0, 0, 0.3], ""),
    ([], {"Sorrow": 1.0}, "中性"),
]


# The real corpus, when present (never copied into the repository): the Makefile's
# data/ folder or $DATN_DATA_DIR.
REAL_FOLDER = (
    Path(os.environ.get("DATN_DATA_DIR", Path(__file__).parents[2] / "data"))
    / "ren-cecps"
)


def _line_of(path, needle, occurrence=0):
    """1-based line of the `occurrence`-th line of `path` containing `needle`."""
    lines = path.read_text(encoding="utf-8").split("\n")
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence]


def test_constants_match_the_paper():
    assert REN_EMOTIONS == testing.REN_EMOTIONS and len(REN_EMOTIONS) == 8
    assert {SENTIMENTS[i] for i in POLARITY.values()} == set(SENTIMENTS)
    assert SENTIMENTS[POLARITY["积极"]] == "positive"
    assert SENTIMENTS[POLARITY["消极"]] == "negative"
    assert SPLITS["train"] == (1, 560) and SPLITS["sentiment"] == (801, 1487)


def test_strip_pos():
    assert strip_pos("女儿/n") == "女儿"
    assert strip_pos("对比/vn") == "对比"
    assert strip_pos("。") == "。"
    assert strip_pos("//w") == "/"
    assert strip_pos("/") == "/"
    assert strip_pos("/n") == ""
    assert split_segmented(" 现在/t  好/a  //w  /  　/n  。") == [
        "现在",
        "好",
        "/",
        "/",
        "。",
    ]
    assert split_segmented(None) == [] and split_segmented("   ") == []


def test_read_document(tmp_path):
    path = testing.write_ren_document(
        tmp_path / "cet_7.xml", SENTENCES, paragraph_size=2
    )
    sentences = read_document(path)
    assert [s.index for s in sentences] == [1, 2, 3, 4, 5]  # Across paragraphs.
    assert {s.doc for s in sentences} == {7}
    assert sentences[0].tokens == ["我", "今天", "很", "高兴", "。"]
    assert sentences[0].text == "我 今天 很 高兴 。" and sentences[0].id == "cet_7:1"
    # "//w" is the word "/", "　/n" and "/v" are empty words, untagged words stay.
    assert sentences[2].tokens == ["我", "/", "斜杠", "？"]
    assert sentences[4].tokens == []
    assert [s.polarity for s in sentences] == [2, 0, None, None, 1]

    first = sentences[0].intensities
    assert first.dtype == np.float32 and first.shape == (8,)
    # The <Keywords Joy="0.9"> attribute is ignored: only <Joy> counts.
    np.testing.assert_allclose(first, [0.8, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(sentences[1].labels, [0, 1, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(sentences[3].labels, [0, 0, 0, 0, 0, 0, 0, 1])
    assert sentences[1].labels.dtype == np.int8


def test_read_document_with_title(tmp_path):
    path = testing.write_ren_document(
        tmp_path / "cet_9.xml", SENTENCES[:2], title=("致", "女儿"), polarity="积极"
    )
    sentences = read_document(path, include_title=True)
    assert [s.index for s in sentences] == [0, 1, 2]
    assert sentences[0].tokens == ["致", "女儿"] and sentences[0].polarity == 2
    assert not sentences[0].labels.any()
    assert read_document(path, doc=12)[0].id == "cet_12:1"


def test_corpus_from_fixture(tmp_path):
    root = testing.make_fixture_data_dir(tmp_path)
    counts = testing.FIXTURE_COUNTS
    corpus = read_ren_cecps(root / "ren-cecps")
    assert len(corpus.train) == counts["ren_train"]
    assert len(corpus.dev) == counts["ren_dev"]
    assert len(corpus.sentiment) == counts["ren_sentiment"]
    # The held-out test documents are missing: empty split, no error.
    assert len(corpus.test) == 0 and corpus.test.labels.shape == (0, 8)
    assert corpus.missing["test"] == list(range(641, 801))
    assert corpus.missing["train"] == corpus.missing["dev"] == corpus.missing["sentiment"] == []
    assert corpus.test_status() == "held out"
    assert corpus.dropped["train"] == {"no_words": 1, "no_polarity": 1}
    assert corpus.dropped["sentiment"] == {"no_words": 0, "no_polarity": 1}

    train = corpus.train
    assert train.labels.dtype == np.int8 and train.labels.shape == (13, 8)
    assert train.label_names == REN_EMOTIONS
    assert train.ids[0] == "cet_1:1" and train.ids[-1].startswith("cet_3:")
    assert "cet_1:2" not in train.ids  # No polarity.
    assert "cet_2:4" not in train.ids  # No words.
    assert "/" in " ".join(train.texts).split()
    sentences = corpus.sentences["train"]
    assert [s.id for s in sentences] == train.ids
    for sentence, text, row in zip(sentences, train.texts, train.labels):
        assert text == sentence.text == " ".join(sentence.tokens)
        np.testing.assert_array_equal(row, sentence.intensities > 0)

    sentiment = corpus.sentiment
    assert sentiment.labels.dtype == np.int32 and sentiment.label_names == SENTIMENTS
    assert all(s.polarity is not None for s in corpus.sentences["sentiment"])
    np.testing.assert_array_equal(
        sentiment.labels, [s.polarity for s in corpus.sentences["sentiment"]]
    )
    # Labels follow their cue words.
    joy = REN_EMOTIONS.index("Joy")
    for sentence in corpus.all_sentences(["train", "dev", "sentiment"]):
        if "高兴" in sentence.tokens or "快乐" in sentence.tokens:
            assert sentence.labels[joy] == 1
        if not sentence.labels.any():
            assert SENTIMENTS[sentence.polarity] == "neutral"

    assert len(corpus.all_sentences()) == len(corpus.train) + len(corpus.dev)
    assert len(corpus.all_sentences(["sentiment"])) == len(sentiment)


def test_corpus_options_and_test_split(tmp_path):
    root = testing.make_fixture_data_dir(tmp_path, with_test=True)
    folder = root / "ren-cecps"
    corpus = read_ren_cecps(folder)
    assert len(corpus.test) == testing.FIXTURE_COUNTS["ren_test"]
    assert corpus.missing["test"] == [] and corpus.test_status() == "complete"
    # Titles add one sentence per document.
    titled = read_ren_cecps(folder, include_titles=True)
    assert len(titled.train) == len(corpus.train) + 3
    assert len(titled.sentiment) == len(corpus.sentiment) + 3
    assert titled.train.ids[0] == "cet_1:0"
    # Keeping E2 sentences without polarity adds doc 1's, not S2's.
    loose = read_ren_cecps(folder, require_polarity=False)
    assert len(loose.train) == len(corpus.train) + 1
    assert len(loose.sentiment) == len(corpus.sentiment)


def test_fixture_is_deterministic(tmp_path):
    a = testing.make_fixture_data_dir(tmp_path / "a", seed=5)
    b = testing.make_fixture_data_dir(tmp_path / "b", seed=5)
    c = testing.make_fixture_data_dir(tmp_path / "c", seed=6)
    name = "ren-cecps/cet_801.xml"
    assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / name).read_bytes() != (c / name).read_bytes()


# ----------------------------------------------------------------------------
# Malformed input
# ----------------------------------------------------------------------------


@pytest.fixture
def doc_path(tmp_path):
    return testing.write_ren_document(tmp_path / "cet_5.xml", SENTENCES[:3])


def _edit(path, old, new, count=1):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_broken_xml(doc_path):
    line = _line_of(doc_path, "</sentence>", 1)
    lines = doc_path.read_text(encoding="utf-8").split("\n")
    lines[line - 1] = lines[line - 1].replace("</sentence>", "</sentenc>")
    doc_path.write_text("\n".join(lines), encoding="utf-8")
    with testing.expect_data_error(doc_path, line, "malformed XML", "mismatched tag"):
        read_document(doc_path)


def test_truncated_xml(doc_path):
    text = doc_path.read_text(encoding="utf-8")
    doc_path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"cet_5\.xml:\d+: malformed XML"):
        read_document(doc_path)


def test_unknown_polarity(doc_path):
    _edit(doc_path, "<Polarity>消极</Polarity>", "<Polarity>快乐</Polarity>")
    line = _line_of(doc_path, "<Polarity>快乐</Polarity>")
    with testing.expect_data_error(doc_path, line, "unknown polarity", "'快乐'"):
        read_document(doc_path)


def test_bad_and_missing_intensity(doc_path, tmp_path):
    # Indented as a sentence's own intensity (the document-level one is not read).
    _edit(doc_path, "            <Hate>0.6</Hate>", "            <Hate>high</Hate>")
    line = _line_of(doc_path, "<Hate>high</Hate>")
    with testing.expect_data_error(doc_path, line, "<Hate>", "'high'"):
        read_document(doc_path)
    other = testing.write_ren_document(tmp_path / "cet_6.xml", SENTENCES[:2])
    _edit(
        other, "<Expect>0.0</Expect>", "", 4
    )  # Document, title, paragraph, sentence 1.
    with testing.expect_data_error(other, _line_of(other, "<sentence "), "no <Expect>"):
        read_document(other)


def test_wrong_root(tmp_path):
    path = tmp_path / "cet_1.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<doc>\n</doc>\n', encoding="utf-8"
    )
    with testing.expect_data_error(path, 2, "<doc>", "<document>"):
        read_document(path)


# A latin-1 byte and an empty document: datn_tf/data/_io_test.py (every reader).


def test_bad_names(tmp_path):
    other = testing.write_ren_document(tmp_path / "blog.xml", SENTENCES[:1])
    with testing.expect_data_error(other, None, "cet_N.xml"):
        read_document(other)
    assert len(read_document(other, doc=3)) == 1


def test_corpus_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_ren_cecps(tmp_path / "nowhere")
    with testing.expect_data_error(tmp_path, None, "no cet_N.xml"):
        read_ren_cecps(tmp_path)
    bad = testing.write_ren_document(tmp_path / "cet_801.xml", SENTENCES[:1])
    _edit(bad, "</document>", "")
    with pytest.raises(DataFormatError, match=r"cet_801\.xml:\d+: malformed XML"):
        read_ren_cecps(tmp_path)


@pytest.mark.skipif(not REAL_FOLDER.is_dir(), reason="real Ren-CECps not present")
def test_real_corpus_matches_table_2():
    corpus = read_ren_cecps(REAL_FOLDER)
    # Table 2 of the paper: E2 train 13,841 / dev 1,972; S2 15,199.
    assert (len(corpus.train), len(corpus.dev), len(corpus.sentiment)) == (
        13841,
        1972,
        15199,
    )
    if not corpus.missing["test"]:
        assert len(corpus.test) == 3602
