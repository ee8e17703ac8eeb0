"""A run's data, encoded: vocabulary (training splits only), token ids and the lookup table E.

`prepare_data(config)` is what one run needs; `PreparedDataCache` serves the runs of a
grid (reproduce, ablate), computing the seed-free parts once.
"""

import dataclasses

import numpy as np

from datn_tf import embeddings as embeddings_lib
from datn_tf import input_pipeline, progress
from datn_tf.data import datasets
from datn_tf.vocab import Vocabulary


@dataclasses.dataclass
class PreparedData:
    """Everything the loop needs, encoded: ids per split, labels, vocabulary, table E."""

    task: datasets.TaskData
    vocab: Vocabulary
    embedding_matrix: np.ndarray
    coverage: embeddings_lib.Coverage
    embeddings_name: str
    ids: dict  # split -> list of int32 arrays ("train", "dev", "test", "sentiment")

    def eval_splits(self):
        """{split: EmotionExamples} of the splits scored at the end (dev, and test when present)."""
        return {s: ex for s, ex in self.task.splits().items() if s != "train"}


def prepare_data(config, task=None, vocab=None):
    """Reads the data, builds the vocabulary (training splits only) and the lookup table E."""
    return _with_embedding_matrix(config, _seed_free_parts(config, task, vocab))


class PreparedDataCache:
    """`prepare_data` for the runs of a grid: the seed-free parts are computed once.

    The data, the vocabulary, the token ids and the pretrained vectors depend only on the
    data and tokenization settings, not on the seed or the model; only the random rows of
    E do. The `size` most recently used data settings are kept (a grid that alternates
    between a few, seed after seed, prepares each once).
    """

    def __init__(self, size=4):
        self.size = size
        self._entries = {}  # key -> parts, least recently used first

    @staticmethod
    def key(config):
        """The settings the seed-free parts depend on (`config.data_setting`)."""
        from datn_tf.config import data_settings

        return tuple(getattr(config, name) for name in data_settings())

    def prepare(self, config):
        key = self.key(config)
        parts = self._entries.pop(key, None) or _seed_free_parts(config)
        self._entries[key] = parts
        while len(self._entries) > self.size:
            self._entries.pop(next(iter(self._entries)))
        return _with_embedding_matrix(config, parts)


def _seed_free_parts(config, task=None, vocab=None):
    task = task or datasets.load_task(config.dataset, config.data_dir, config.cv_fold, config.cv_folds, files=config)
    language = task.language
    init = config.validate().resolved_embedding_init()
    # The sentences E may learn from before training: the emotion-train split and the
    # sentiment set (never dev or test).
    train_tokens = None
    if vocab is None or init == "word2vec":
        train_tokens = input_pipeline.tokenize_corpus(list(task.train.texts) + list(task.sentiment.texts), language,
                                                      config.normalize_tokens)
    if vocab is None:
        vocab = Vocabulary.build(train_tokens)
    dim = config.embedding_dim or datasets.get(config.dataset).embedding_dim
    if init == "pretrained":
        vectors, dim = embeddings_lib.load_vectors(config.embeddings or None, words=set(vocab.tokens),
                                                   allow_multiword_keys=config.allow_multiword_embedding_keys,
                                                   first=config.pretrained_vocab_size)
        name = str(config.embeddings) if config.embeddings else embeddings_lib.DEFAULT_EMBEDDINGS
        embeddings_lib.check_dim(config.embedding_dim, dim, name)
        if config.pretrained_vocab_size:
            # `vectors` is in file order and holds every one of the file's first N words.
            vocab = vocab.extended(w for i, w in enumerate(vectors) if i < config.pretrained_vocab_size)
    elif init == "word2vec":
        from datn_tf import word2vec  # gensim is imported only when asked for

        vectors, path = word2vec.train_word_vectors(train_tokens, dim, seed=0, log=progress.log,
                                                    words=set(vocab.tokens))
        name = f"word2vec-{dim}d ({path.name})"
    else:
        vectors, name = None, f"random-{dim}d"
    table = vocab.lookup_table()
    ids = {}
    for split, examples in list(task.splits().items()) + [("sentiment", task.sentiment)]:
        ids[split] = input_pipeline.encode_texts(
            examples.texts, vocab, language, table=table, max_length=config.max_length,
            normalize=config.normalize_tokens)
    return task, vocab, vectors, dim, name, ids


def _with_embedding_matrix(config, parts):
    task, vocab, vectors, dim, name, ids = parts
    if vectors is None:
        matrix, coverage = embeddings_lib.random_embedding_matrix(vocab, dim, seed=config.seed,
                                                                   scale=config.random_init_scale)
    else:
        matrix, coverage = embeddings_lib.build_embedding_matrix(vocab, vectors, dim, seed=config.seed,
                                                                  scale=config.random_init_scale)
        embeddings_lib.check_coverage(coverage, config.embeddings or name, config.min_embedding_coverage)
    return PreparedData(task, vocab, matrix, coverage, name, ids)
