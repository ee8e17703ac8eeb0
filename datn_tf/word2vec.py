"""Word vectors trained on a dataset's own training sentences (E2 has no offline GloVe).

The paper initialises E2's 200-d table from pretrained vectors it does not name; no
Chinese vectors can be fetched here, so `--embedding_init=word2vec` trains skip-gram
word2vec (gensim, the field's standard library) on the sentences the vocabulary is
built from: the emotion training split and the sentiment set. Dev and test sentences
never reach it, so nothing about them leaks into E.

Training is deterministic (one worker, fixed seed) and cached: the file is keyed by a
hash of the tokenized corpus and every setting below, so the runs of a grid (seeds,
variants) train the vectors once. The cache is a GloVe text file, which
`embeddings.load_vectors` reads like any other.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from datn_tf import embeddings as embeddings_lib
from datn_tf import io_utils
from datn_tf.errors import UserError

# Skip-gram with negative sampling, gensim's defaults otherwise except the epochs
# (a corpus of ~30k sentences needs more than gensim's 5 passes).
SETTINGS = dict(sg=1, window=5, min_count=2, negative=5, epochs=10, sample=1e-3)


def cache_dir():
    """$DATN_TF_CACHE, else ~/.cache/datn_tf (XDG_CACHE_HOME respected)."""
    if os.environ.get("DATN_TF_CACHE"):
        return Path(os.environ["DATN_TF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "datn_tf"


def corpus_key(token_lists, dim, seed, settings=None):
    """Hash of the corpus (token by token, sentence by sentence) and the training settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"dim": dim, "seed": seed, **(settings or SETTINGS)}, sort_keys=True).encode())
    for tokens in token_lists:
        digest.update("\x1f".join(tokens).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:20]


def train_word_vectors(token_lists, dim, seed=0, cache=None, log=None, words=None):
    """{word: float32 vector} from skip-gram word2vec on `token_lists`, and the path of its cache file.

    Words seen fewer than `SETTINGS["min_count"]` times get no vector (E gives them
    random rows, like words missing from a GloVe file). `words` restricts the result, as in
    `embeddings.load_vectors`.
    """
    token_lists = [list(t) for t in token_lists]
    settings = {**SETTINGS, "gensim": _gensim_version()}
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / "word2vec" / f"{corpus_key(token_lists, dim, seed, settings)}-{dim}d.txt"
    if not path.exists():
        if log:
            log(f"training {dim}-d word2vec on {len(token_lists)} sentences (once; cached at {path})")
        vectors = _train(token_lists, dim, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        io_utils.write_text(path, "".join(w + " " + " ".join(f"{x:.6f}" for x in v) + "\n" for w, v in vectors.items()))
    # Read back even right after training, so a first run and a cached one get the same
    # (6-decimal) vectors.
    vectors, file_dim = embeddings_lib.load_vectors(str(path), words=words)
    if file_dim != dim:
        raise UserError(f"{path}: cached word2vec vectors have {file_dim} dimensions, expected {dim}; delete it")
    return vectors, path


def _gensim_version():
    try:
        import gensim  # (see `_train`)
    except ImportError as e:  # pragma: no cover - gensim is in requirements.txt
        raise UserError("--embedding_init=word2vec needs gensim: pip install gensim") from e
    return gensim.__version__


def _train(token_lists, dim, seed):
    from gensim.models import Word2Vec  # slow to import: only for a run that trains word2vec

    # A GloVe line is split on spaces, so a token holding whitespace could not be read back.
    sentences = [[t for t in tokens if t and not any(c.isspace() for c in t)] for tokens in token_lists]
    model = Word2Vec(sentences=sentences, vector_size=dim, seed=seed, workers=1, **SETTINGS)
    return {w: np.asarray(model.wv[w], dtype=np.float32) for w in model.wv.index_to_key}
