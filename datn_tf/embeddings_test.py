"""Tests for reading word vectors and building the initial lookup table E.

`build_embedding_matrix` reads only `tokens`, `counts` and `len()` of a vocabulary; a
stand-in with those keeps this file free of TensorFlow (`datn_tf.vocab` imports it), so
it runs in a couple of seconds. `vocab_test.py` tests the real `Vocabulary`.
"""

import dataclasses
import gzip

import numpy as np
import pytest

from datn_tf import embeddings, testing
from datn_tf.embeddings import build_embedding_matrix, check_coverage, load_vectors, random_embedding_matrix
from datn_tf.errors import DataFormatError

PAD, OOV = "<pad>", "<unk>"  # As in datn_tf.vocab.


@dataclasses.dataclass
class Vocabulary:
    """Stand-in for `datn_tf.vocab.Vocabulary`: ordered tokens and training counts."""

    tokens: list
    counts: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def build(cls, token_lists):
        counts = {}
        for tokens in token_lists:
            for t in tokens:
                counts[t] = counts.get(t, 0) + 1
        order = sorted(counts, key=lambda t: (-counts[t], t))
        return cls([PAD, OOV] + order, counts)

GLOVE = (
    "the 0.1 -0.2 0.3\n"
    "good 1.5 2 -3e-1\n"
    ", 0 0 1\n"
    "New York 0.25 0.5 0.75\n"  # A word with a space, as in glove.840B.
    ". . . 7 8 9\n"  # glove.840B has ". . ." too.
    "trailing 4 5 6 \n"  # Trailing space before the newline.
)  # Words with spaces: read with allow_multiword_keys=True (without it they are errors).
EXPECTED = {
    "the": [0.1, -0.2, 0.3],
    "good": [1.5, 2.0, -0.3],
    ",": [0.0, 0.0, 1.0],
    "New York": [0.25, 0.5, 0.75],
    ". . .": [7.0, 8.0, 9.0],
    "trailing": [4.0, 5.0, 6.0],
}


def _write(path, text, gz=False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _check(vectors, dim, expected=EXPECTED):
    assert dim == 3
    assert set(vectors) == set(expected)
    for word, values in expected.items():
        assert vectors[word].dtype == np.float32 and vectors[word].shape == (3,)
        np.testing.assert_allclose(vectors[word], values, rtol=1e-6)


@pytest.mark.parametrize("gz", [False, True])
def test_reads_glove_text(tmp_path, gz):
    path = _write(tmp_path / ("v.txt.gz" if gz else "v.txt"), GLOVE, gz=gz)
    _check(*load_vectors(str(path), allow_multiword_keys=True))
    _check(*load_vectors(path, allow_multiword_keys=True))  # A Path works too.


def test_dimension_is_inferred(tmp_path):
    path = _write(tmp_path / "v.txt", "a 1 2 3 4 5\nb 6 7 8 9 10\n")
    vectors, dim = load_vectors(path)
    assert dim == 5
    np.testing.assert_array_equal(vectors["b"], [6, 7, 8, 9, 10])


@pytest.mark.parametrize("gz", [False, True])
def test_word2vec_header_is_skipped(tmp_path, gz):
    path = _write(tmp_path / ("v.txt.gz" if gz else "v.txt"), "6 3\n" + GLOVE, gz=gz)
    _check(*load_vectors(path, allow_multiword_keys=True))


def test_crlf_and_blank_lines(tmp_path):
    path = _write(tmp_path / "v.txt", "the 0.1 -0.2 0.3\r\n\r\ngood 1.5 2 -3e-1\r\n\n")
    _check(*load_vectors(path), expected={k: EXPECTED[k] for k in ("the", "good")})


def test_restricted_to_words(tmp_path):
    path = _write(tmp_path / "v.txt", GLOVE)
    # The dimension comes from the first line even when its word is not kept.
    vectors, dim = load_vectors(path, words={"good", "New York", "absent"}, allow_multiword_keys=True)
    assert dim == 3
    assert set(vectors) == {"good", "New York"}
    np.testing.assert_allclose(vectors["New York"], [0.25, 0.5, 0.75])
    vectors, dim = load_vectors(path, words=set(), allow_multiword_keys=True)
    assert vectors == {} and dim == 3


def test_first_words_are_kept_whatever_the_restriction_in_file_order(tmp_path):
    path = _write(tmp_path / "v.txt", "the 0.1 -0.2 0.3\ngood 1.5 2 -3e-1\nbad 1 1 1\nugly 2 2 2\n")
    vectors, _ = load_vectors(path, words={"ugly"}, first=2)
    assert list(vectors) == ["the", "good", "ugly"]


def test_packaged_default_keeps_its_most_frequent_words_first():
    vectors, _ = load_vectors(None, words={"good"}, first=3)
    assert list(vectors) == ["the", ",", ".", "good"]  # glove.6B lists words by frequency


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "body, line, fragment",
    [
        ("the 0.1 0.2 0.3\ngood 1 2\n", 2, "expected 3 numbers after the word, got 2"),
        ("the 0.1 0.2 0.3\nok 1 2 3\nbad 1 x 3\n", 3, "not a number"),
        ("the 0.1 0.2 0.3\nbad 1 2 nan? \n", 2, "not a number"),
        ("the 0.1 0.2 0.3\n\nlonely\n", 3, "expected 'word v1 ... vd'"),
        # Latin-1 bytes (an 'é' saved as 0xe9), far enough from the start that the
        # decoder fails in a later chunk than the one holding line 1.
        ("the 0.1 0.2 0.3\n" * 3000 + "caf\xe9 1 2 3\n", 3001, "UTF-8"),
        ("caf\xe9 1 2 3\n", 1, "UTF-8"),
        ("the 0.1 0.2 0.3\nbad 1 nan 3\n", 2, "holds 'nan', not a finite float32 number"),
        ("the 0.1 0.2 0.3\nok 1 2 3\nbad -inf 2 3\n", 3, "holds '-inf', not a finite float32 number"),
        ("the 0.1 0.2 0.3\nbig 1 2 1e39\n", 2, "holds '1e39'"),  # beyond float32: inf
    ],
)
def test_malformed_lines_name_the_line(tmp_path, gz, body, line, fragment):
    data = body.encode("latin-1")
    path = _write(tmp_path / ("v.txt.gz" if gz else "v.txt"), data, gz=gz)
    with testing.expect_data_error(path, line, fragment):
        load_vectors(path)


def test_restriction_does_not_hide_bad_values_of_kept_words(tmp_path):
    path = _write(tmp_path / "v.txt", "the 0.1 0.2 0.3\ngood 1 two 3\n")
    with testing.expect_data_error(path, 2, "not a number"):
        load_vectors(path, words={"good"})


def test_embedding_dim_must_match_the_file_or_be_left_out():
    embeddings.check_dim(None, 50, "v.txt")
    embeddings.check_dim(50, 50, "v.txt")
    with pytest.raises(ValueError) as err:
        embeddings.check_dim(300, 50, "v.txt")
    assert str(err.value) == ("--embedding_dim=300 does not match the 50-d vectors of v.txt: leave "
                              "--embedding_dim out (the file sets it) or give a file of 300-d vectors")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with testing.expect_data_error(path, None, "not found"):
        load_vectors(path)


@pytest.mark.parametrize("name, data", [("v.txt", b""), ("v.txt", b"\n\n"), ("v.txt.gz", b"")])
def test_file_without_vectors(tmp_path, name, data):
    path = _write(tmp_path / name, data, gz=name.endswith(".gz"))
    with testing.expect_data_error(path, None, "no vectors"):
        load_vectors(path)


def test_corrupt_gzip(tmp_path):
    path = _write(tmp_path / "v.txt.gz", b"this is not gzip data\n")
    with pytest.raises(DataFormatError) as err:
        load_vectors(path)
    assert err.value.path == str(path) and err.value.line is None


def _gzip_cut_short(data):
    return data[: len(data) // 2]


def _gzip_bad_crc(data):
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]


def _gzip_bad_block(data):
    # The first deflate byte right after the 10-byte header: block type 11 does not exist.
    return data[:10] + b"\xff" + data[11:]


@pytest.mark.parametrize("corrupt", [_gzip_cut_short, _gzip_bad_crc, _gzip_bad_block])
def test_damaged_gzip_names_the_file(tmp_path, corrupt):
    data = gzip.compress(("the 0.1 0.2 0.3\n" * 500).encode())
    path = _write(tmp_path / "v.txt.gz", corrupt(data))
    # zlib.error (the bad block) is not an OSError: it must not escape as a raw traceback.
    with testing.expect_data_error(path, None, "cannot decompress", "not gzip"):
        load_vectors(path)


def test_a_damaged_gzip_that_decompresses_into_a_wrong_line_names_the_archive(tmp_path):
    # Bytes flipped mid-stream can decompress into a short line before the checksum fails: the error
    # blamed that line ("v.txt.gz:553: expected 10 numbers after the word, got 9").
    import random

    rng = random.Random(0)
    text = "".join(f"w{i} " + " ".join(f"{rng.uniform(-1, 1):.5f}" for _ in range(10)) + "\n" for i in range(5000))
    data = bytearray(gzip.compress(text.encode()))
    data[20000:20004] = bytes(b ^ 0x5A for b in data[20000:20004])
    path = _write(tmp_path / "v.txt.gz", bytes(data))
    with testing.expect_data_error(path, None, "cannot decompress", "the file is damaged, cut short or not gzip"):
        load_vectors(path)
    # A whole archive with a wrong line still names the line.
    lines = text.splitlines()
    lines[552] = lines[552].rsplit(" ", 1)[0]
    path = _write(tmp_path / "short.txt.gz", "\n".join(lines) + "\n", gz=True)
    with testing.expect_data_error(path, 553, "expected 10 numbers after the word, got 9"):
        load_vectors(path)


# ------------------------------------------------------------------------------------
# The number of values per line

GOOD_LINES = "a 1 2 3\nb 4 5 6\nc 7 8 9\n"


@pytest.mark.parametrize("gz", [False, True])
def test_short_first_line_does_not_set_the_dimension(tmp_path, gz):
    # Taking d from line 1 (d = 2) would read every later line as a two-word key: 0% coverage, no error.
    path = _write(tmp_path / ("v.txt.gz" if gz else "v.txt"), "the 1 2\n" + GOOD_LINES, gz=gz)
    with testing.expect_data_error(path, 1, "expected 3 numbers after the word, got 2"):
        load_vectors(path, words={"a", "b", "c"})
    with testing.expect_data_error(path, 1, "expected 3 numbers after the word, got 2"):
        load_vectors(path, allow_multiword_keys=True)  # fewer values is never a longer word


@pytest.mark.parametrize("gz", [False, True])
def test_extra_number_is_an_error(tmp_path, gz):
    # Not the word "b 4" with the vector 5 6 7.
    path = _write(tmp_path / ("v.txt.gz" if gz else "v.txt"), "a 1 2 3\nb 4 5 6 7\nc 7 8 9\n", gz=gz)
    with testing.expect_data_error(path, 2, "expected 3 numbers after the word, got 4",
                                   "read only with --allow_multiword_embedding_keys"):
        load_vectors(path)


def test_words_with_spaces_need_allow_multiword_keys(tmp_path):
    path = _write(tmp_path / "v.txt", GLOVE)
    with testing.expect_data_error(path, 4, "got 4", "'New York'", "--allow_multiword_embedding_keys"):
        load_vectors(path)
    with testing.expect_data_error(path, 4, "'New York'"):
        load_vectors(path, words={"the"})  # a malformed line is an error even when its word is not kept


def test_multiword_keys_still_reject_short_lines(tmp_path):
    path = _write(tmp_path / "v.txt", GOOD_LINES + "New York 1 2 3\nd 1 2\n")
    with testing.expect_data_error(path, 5, "expected 3 numbers after the word, got 2"):
        load_vectors(path, allow_multiword_keys=True)


def test_dimension_is_the_majority_of_the_first_lines(tmp_path):
    # Two bad lines first cannot outvote the good ones.
    path = _write(tmp_path / "v.txt", "x 1\ny 1 2 3 4 5\n" + GOOD_LINES)
    with testing.expect_data_error(path, 1, "expected 3 numbers after the word, got 1"):
        load_vectors(path)
    # A bad line after the lines that decided d is found too.
    n = embeddings.DIM_SAMPLE_LINES + 50
    path = _write(tmp_path / "w.txt", "".join(f"w{i} 1 2 3\n" for i in range(n)) + "late 1 2\n")
    with testing.expect_data_error(path, n + 1, "expected 3 numbers after the word, got 2"):
        load_vectors(path)
    # ... and with the word2vec header the line numbers still count it.
    path = _write(tmp_path / "h.txt", "3 3\nthe 1 2\n" + GOOD_LINES)
    with testing.expect_data_error(path, 2, "expected 3 numbers after the word, got 2"):
        load_vectors(path)


def test_numeric_looking_words(tmp_path):
    # glove.6B has words such as "1", "-" and "-1": only the count of fields matters.
    path = _write(tmp_path / "v.txt", "1 0.5 0.25 0.125\n- 1 2 3\n-1 4 5 6\n2.5 7 8 9\n")
    vectors, dim = load_vectors(path)
    assert dim == 3 and set(vectors) == {"1", "-", "-1", "2.5"}
    np.testing.assert_array_equal(vectors["1"], [0.5, 0.25, 0.125])
    np.testing.assert_array_equal(vectors["-1"], [4, 5, 6])


def test_whitespace_only_lines_are_skipped(tmp_path):
    path = _write(tmp_path / "v.txt", "\t\n" + GOOD_LINES + "   \n")
    vectors, dim = load_vectors(path)
    assert dim == 3 and set(vectors) == {"a", "b", "c"}


def test_packaged_default_glove_6b_50d():
    vectors, dim = load_vectors(None, words={"the", "good", "qqxq-not-a-word"})
    assert dim == 50
    assert set(vectors) == {"the", "good"}
    for vec in vectors.values():
        assert vec.shape == (50,) and vec.dtype == np.float32
        assert np.all(np.isfinite(vec)) and np.linalg.norm(vec) > 1.0
    assert not np.allclose(vectors["the"], vectors["good"])
    assert embeddings.DEFAULT_EMBEDDINGS == "glove.6B.50d"


# ------------------------------------------------------------------------------------
# build_embedding_matrix

COUNTS = {"the": 5, "Good": 3, "zzz": 2, "New York": 4}
VECTORS = {
    "the": np.array([1.0, 2.0, 3.0], np.float32),
    "good": np.array([4.0, 5.0, 6.0], np.float32),
    "New York": np.array([7.0, 8.0, 9.0], np.float32),
}


def _vocab():
    return Vocabulary([PAD, OOV, "the", "Good", "zzz", "New York"], counts=COUNTS)


def test_matrix_rows():
    matrix, _ = build_embedding_matrix(_vocab(), VECTORS, 3, seed=0)
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0.0)  # Padding.
    np.testing.assert_array_equal(matrix[2], VECTORS["the"])
    np.testing.assert_array_equal(matrix[3], VECTORS["good"])  # Lower-case fallback.
    np.testing.assert_array_equal(matrix[5], VECTORS["New York"])
    # OOV and the word without a vector are random, small and not zero.
    for row in (1, 4):
        assert np.all(np.abs(matrix[row]) <= embeddings.RANDOM_SCALE)
        assert np.any(matrix[row] != 0.0)


def test_exact_case_wins_over_lower_case():
    vectors = dict(VECTORS, Good=np.array([-1.0, -2.0, -3.0], np.float32))
    matrix, _ = build_embedding_matrix(_vocab(), vectors, 3)
    np.testing.assert_array_equal(matrix[3], [-1.0, -2.0, -3.0])


def test_no_upper_case_fallback():
    vocab = Vocabulary([PAD, OOV, "paris"], counts={"paris": 1})
    matrix, coverage = build_embedding_matrix(vocab, {"Paris": np.ones(3, np.float32)}, 3)
    assert coverage.covered_types == 0
    assert np.all(np.abs(matrix[2]) <= embeddings.RANDOM_SCALE)


def test_random_rows_within_scale_and_deterministic():
    vocab = Vocabulary([PAD, OOV] + [f"w{i}" for i in range(500)])
    a, _ = build_embedding_matrix(vocab, {}, 20, seed=7, scale=0.05)
    b, _ = build_embedding_matrix(vocab, {}, 20, seed=7, scale=0.05)
    c, _ = build_embedding_matrix(vocab, {}, 20, seed=8, scale=0.05)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[1:], c[1:])
    np.testing.assert_array_equal(a[0], 0.0)
    np.testing.assert_array_equal(c[0], 0.0)
    rows = a[1:]
    assert np.all(np.abs(rows) <= 0.05)
    # Uniform on (-0.05, 0.05): 10,000 draws fill the range and centre on zero.
    assert rows.min() < -0.045 and rows.max() > 0.045
    assert abs(float(rows.mean())) < 0.003


def test_pretrained_rows_do_not_depend_on_seed():
    a, _ = build_embedding_matrix(_vocab(), VECTORS, 3, seed=1)
    b, _ = build_embedding_matrix(_vocab(), VECTORS, 3, seed=2)
    np.testing.assert_array_equal(a[[0, 2, 3, 5]], b[[0, 2, 3, 5]])
    assert not np.array_equal(a[[1, 4]], b[[1, 4]])


def test_coverage_by_hand():
    _, coverage = build_embedding_matrix(_vocab(), VECTORS, 3)
    # Types: the, Good, zzz, New York (PAD and OOV excluded); covered: all but zzz.
    assert (coverage.types, coverage.covered_types) == (4, 3)
    # Tokens: 5 + 3 + 2 + 4 = 14; covered 5 + 3 + 4 = 12.
    assert (coverage.tokens, coverage.covered_tokens) == (14, 12)
    assert coverage.type_rate == pytest.approx(0.75)
    assert coverage.token_rate == pytest.approx(12 / 14)
    assert coverage.as_dict() == {
        "types": 4,
        "covered_types": 3,
        "type_coverage": 0.75,
        "tokens": 14,
        "covered_tokens": 12,
        "token_coverage": 0.8571,
    }


def test_coverage_of_a_built_vocabulary():
    vocab = Vocabulary.build([["the", "the", "cat", "Good"], ["the", "dog"]])
    vectors = {"the": np.zeros(2, np.float32), "good": np.ones(2, np.float32)}
    _, coverage = build_embedding_matrix(vocab, vectors, 2)
    # the 3 (covered), Good 1 (covered, lower case), cat 1, dog 1.
    assert (coverage.types, coverage.covered_types) == (4, 2)
    assert (coverage.tokens, coverage.covered_tokens) == (6, 4)


def test_coverage_of_an_empty_vocabulary():
    matrix, coverage = build_embedding_matrix(Vocabulary([PAD, OOV]), VECTORS, 3)
    assert matrix.shape == (2, 3)
    assert (coverage.types, coverage.tokens) == (0, 0)
    assert coverage.type_rate == 0.0 and coverage.token_rate == 0.0


def test_random_embedding_matrix():
    matrix, coverage = random_embedding_matrix(_vocab(), 4, seed=3)
    assert matrix.shape == (6, 4)
    np.testing.assert_array_equal(matrix[0], 0.0)
    assert np.all(np.abs(matrix) <= embeddings.RANDOM_SCALE)
    assert coverage.covered_types == 0 and coverage.covered_tokens == 0
    assert coverage.types == 4 and coverage.tokens == 14
    again, _ = random_embedding_matrix(_vocab(), 4, seed=3)
    np.testing.assert_array_equal(matrix, again)


def test_loaded_vectors_feed_the_matrix(tmp_path):
    path = _write(tmp_path / "v.txt.gz", GLOVE, gz=True)
    vocab = Vocabulary.build([["the", "Good", "New York", "missing"]])
    vectors, dim = load_vectors(path, words=set(vocab.tokens) | {t.lower() for t in vocab.tokens},
                                allow_multiword_keys=True)
    matrix, coverage = build_embedding_matrix(vocab, vectors, dim)
    np.testing.assert_allclose(matrix[vocab.tokens.index("Good")], EXPECTED["good"])
    np.testing.assert_allclose(matrix[vocab.tokens.index("New York")], EXPECTED["New York"])
    assert (coverage.types, coverage.covered_types) == (4, 3)


# ------------------------------------------------------------------------------------
# check_coverage


def _coverage(covered, types):
    return embeddings.Coverage(types=types, covered_types=covered, tokens=10 * types, covered_tokens=10 * covered)


def test_check_coverage_rejects_almost_no_coverage():
    with pytest.raises(ValueError) as err:
        check_coverage(_coverage(0, 400), "vectors.txt")
    message = str(err.value)
    assert message == (
        "vectors.txt covers 0.0% of the vocabulary's word types (minimum 5%): is it a GloVe text file "
        "'word v1 ... vd' for this language? Pass --min_embedding_coverage=0 to train anyway."
    )
    assert "\n" not in message
    with pytest.raises(ValueError, match=r"covers 4\.9% .*\(minimum 5%\)"):
        check_coverage(_coverage(49, 1000), "vectors.txt")
    with pytest.raises(ValueError, match=r"^glove\.6B\.50d covers 10\.0% .*\(minimum 12\.5%\)"):
        check_coverage(_coverage(1, 10), None, minimum=0.125)  # the packaged default


def test_check_coverage_accepts():
    check_coverage(_coverage(50, 1000), "v.txt")  # exactly the minimum
    check_coverage(_coverage(900, 1000), "v.txt")
    check_coverage(_coverage(0, 1000), "v.txt", minimum=0)  # --min_embedding_coverage=0
    check_coverage(_coverage(0, 0), "v.txt")  # an empty vocabulary has nothing to cover


def test_check_coverage_of_a_wrong_file(tmp_path):
    # The silent failure this guards against: the vectors of another language.
    path = _write(tmp_path / "v.txt", "chat 1 2 3\nmaison 4 5 6\n")
    vocab = Vocabulary.build([["the", "cat", "house"]])
    vectors, dim = load_vectors(path, words=set(vocab.tokens))
    _, coverage = build_embedding_matrix(vocab, vectors, dim)
    with pytest.raises(ValueError, match="covers 0.0%"):
        check_coverage(coverage, str(path))
