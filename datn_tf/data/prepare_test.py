"""Tests for a run's prepared data: vocabulary from training splits, E, the coverage stop, the cache."""

import functools
import types

import numpy as np
import pytest

from datn_tf import testing
from datn_tf.data.prepare import PreparedDataCache, prepare_data


def _config(data_dir, tmp_path, **overrides):
    return testing.tiny_train_config(data_dir, tmp_path / "run", **overrides)


def test_vocabulary_and_ids_come_from_the_training_splits(data_dir, tmp_path):
    data = prepare_data(_config(data_dir, tmp_path))
    assert set(data.ids) == {"train", "dev", "sentiment"}
    assert len(data.ids["dev"]) == len(data.task.dev)
    assert data.embedding_matrix.shape == (len(data.vocab), 50)
    np.testing.assert_array_equal(data.embedding_matrix[0], 0.0)  # padding
    assert list(data.eval_splits()) == ["dev"]


def test_embeddings_that_cover_almost_nothing_stop_the_run(data_dir, tmp_path):
    glove = tmp_path / "other.txt"
    glove.write_text("".join(f"zzword{i} 0.1 0.2 0.3\n" for i in range(50)), encoding="utf-8")
    with pytest.raises(ValueError, match=r"covers 0\.0% of the vocabulary's word types \(minimum 5%\).*"
                                         r"--min_embedding_coverage=0"):
        prepare_data(_config(data_dir, tmp_path, embeddings=str(glove)))
    data = prepare_data(_config(data_dir, tmp_path, embeddings=str(glove), min_embedding_coverage=0.0))
    assert data.coverage.covered_types == 0 and data.embedding_matrix.shape[1] == 3


def test_embedding_dim_that_is_not_the_files_stops_the_run(data_dir, tmp_path):
    with pytest.raises(ValueError, match=r"^--embedding_dim=300 does not match the 50-d vectors of glove\.6B\.50d"):
        prepare_data(_config(data_dir, tmp_path, embedding_dim=300))
    assert prepare_data(_config(data_dir, tmp_path, embedding_dim=50)).embedding_matrix.shape[1] == 50


def test_cache_reuses_the_seed_free_parts(data_dir, tmp_path):
    cache = PreparedDataCache()
    a = cache.prepare(_config(data_dir, tmp_path, seed=0))
    b = cache.prepare(_config(data_dir, tmp_path, seed=1, variant="base"))
    assert a.vocab is b.vocab and a.ids is b.ids and a.task is b.task
    # Only the random rows of E depend on the seed; the pretrained rows are the same.
    assert not np.array_equal(a.embedding_matrix, b.embedding_matrix)
    fresh = prepare_data(_config(data_dir, tmp_path, seed=1))
    np.testing.assert_array_equal(fresh.embedding_matrix, b.embedding_matrix)
    c = cache.prepare(_config(data_dir, tmp_path, max_length=3))
    assert c.ids is not a.ids and max(len(x) for x in c.ids["train"]) <= 3
    # Back to the first setting: still cached (a grid alternating between settings).
    assert cache.prepare(_config(data_dir, tmp_path, seed=2)).ids is a.ids


def test_random_init_scale_bounds_the_rows_without_a_vector_and_leaves_the_pretrained_ones(data_dir, tmp_path):
    cache = PreparedDataCache()
    narrow = cache.prepare(_config(data_dir, tmp_path))
    wide = cache.prepare(_config(data_dir, tmp_path, random_init_scale=0.25))
    assert wide.ids is narrow.ids  # a model setting: the tokenized data is shared
    vocab = narrow.vocab
    same = [np.array_equal(narrow.embedding_matrix[i], wide.embedding_matrix[i]) for i in range(len(vocab))]
    covered = [i for i in range(2, len(vocab)) if same[i]]
    missing = [i for i in range(2, len(vocab)) if not same[i]]
    assert missing and covered
    assert np.abs(narrow.embedding_matrix[missing]).max() <= 0.1
    # The same draws, scaled: U(-0.25, 0.25) is U(-0.1, 0.1) times 2.5 for the same seed.
    np.testing.assert_allclose(wide.embedding_matrix[missing], 2.5 * narrow.embedding_matrix[missing],
                               rtol=1e-5, atol=1e-7)
    assert np.abs(wide.embedding_matrix[missing]).max() > 0.1
    assert len(covered) == narrow.coverage.covered_types
    np.testing.assert_array_equal(wide.embedding_matrix[0], 0.0)
    # --embedding_init=random (E2's fallback): the whole table but padding from U(-r, r).
    table = cache.prepare(_config(data_dir, tmp_path, embedding_init="random", random_init_scale=0.25)).embedding_matrix
    assert 0.1 < np.abs(table[1:]).max() <= 0.25 and np.all(table[0] == 0.0)
    with pytest.raises(ValueError, match="random_init_scale"):
        _config(data_dir, tmp_path, random_init_scale=0.0).validate()


@pytest.mark.parametrize("change", [dict(normalize_tokens=True), dict(pretrained_vocab_size=5),
                                    dict(embedding_init="random"), dict(max_length=4)])
def test_cache_key_tells_apart_every_data_setting(data_dir, tmp_path, change):
    cache = PreparedDataCache()
    plain = cache.prepare(_config(data_dir, tmp_path))
    changed = cache.prepare(_config(data_dir, tmp_path, **change))
    assert changed.ids is not plain.ids
    assert PreparedDataCache.key(_config(data_dir, tmp_path, seed=5, variant="base")) == \
        PreparedDataCache.key(_config(data_dir, tmp_path))  # the seed and the model are not data settings


def test_e2_word2vec_vectors_come_from_train_and_sentiment_sentences_only(data_dir, tmp_path, monkeypatch):
    pytest.importorskip("gensim")
    from datn_tf import input_pipeline, word2vec

    monkeypatch.setenv("DATN_TF_CACHE", str(tmp_path / "cache"))
    seen = {}

    def train(token_lists, dim, seed):  # gensim's result, recording what it was given
        seen["corpus"] = [list(t) for t in token_lists]
        return {w: np.full(dim, 0.5, np.float32) for t in token_lists for w in t if w.strip()}

    monkeypatch.setattr(word2vec, "_train", train)
    data = prepare_data(_config(data_dir, tmp_path, dataset="ren_cecps", embedding_init="word2vec",
                                embedding_dim=12))
    task = data.task
    expected = input_pipeline.tokenize_corpus(list(task.train.texts) + list(task.sentiment.texts), "zh")
    assert seen["corpus"] == expected  # dev sentences never reach word2vec
    assert data.embedding_matrix.shape == (len(data.vocab), 12)
    assert data.embeddings_name.startswith("word2vec-12d")
    covered = [i for i, t in enumerate(data.vocab.tokens) if np.all(data.embedding_matrix[i] == 0.5)]
    assert len(covered) == data.coverage.covered_types == len(data.vocab) - 2
    assert list((tmp_path / "cache" / "word2vec").glob("*-12d.txt"))


def test_embedding_init_defaults_and_conflicts(data_dir, tmp_path):
    assert _config(data_dir, tmp_path).resolved_embedding_init() == "pretrained"
    assert _config(data_dir, tmp_path, dataset="ren_cecps").resolved_embedding_init() == "word2vec"
    assert _config(data_dir, tmp_path, dataset="ren_cecps", embeddings="v.txt").resolved_embedding_init() \
        == "pretrained"
    random_e1 = prepare_data(_config(data_dir, tmp_path, embedding_init="random", embedding_dim=7))
    assert random_e1.embeddings_name == "random-7d" and random_e1.coverage.covered_types == 0
    # Conflicts are refused by validate(), before any data is read.
    for settings, message in [
        (dict(dataset="ren_cecps", embedding_init="pretrained"),
         "--embedding_init=pretrained needs --embeddings for --dataset=ren_cecps"),
        (dict(embeddings="v.txt", embedding_init="word2vec"), "cannot go with --embedding_init=word2vec"),
        (dict(embedding_init="random", pretrained_vocab_size=2), "--pretrained_vocab_size needs pretrained"),
    ]:
        with pytest.raises(ValueError, match=message):
            _config(data_dir, tmp_path, **settings).validate()


def test_pretrained_vocab_size_adds_the_files_first_words_after_the_training_words(data_dir, tmp_path):
    plain = prepare_data(_config(data_dir, tmp_path))
    train_words = set(plain.vocab.tokens[2:])
    glove = tmp_path / "glove.txt"
    unseen = ["zzfirst", "zzsecond", "zzthird"]
    rows = [(w, i + 1.0) for i, w in enumerate(unseen)] + [(w, 9.0) for w in sorted(train_words)[:5]]
    glove.write_text("".join(f"{w} {v} {v} {v}\n" for w, v in rows), encoding="utf-8")
    data = prepare_data(_config(data_dir, tmp_path, embeddings=str(glove), pretrained_vocab_size=2,
                                min_embedding_coverage=0.0))
    # The training words keep their ids; the first two lines' words follow them.
    assert data.vocab.tokens[: len(plain.vocab)] == plain.vocab.tokens
    assert data.vocab.tokens[len(plain.vocab):] == ["zzfirst", "zzsecond"]
    np.testing.assert_array_equal(data.embedding_matrix[data.vocab.id("zzsecond")], [2.0, 2.0, 2.0])
    # Coverage stays a statement about the training words.
    assert data.coverage.types == len(plain.vocab) - 2 and data.coverage.covered_types == 5
    # A dev sentence holding an added word gets its row instead of the OOV id.
    assert data.vocab.id("zzfirst") != 1


class _ReadRecorder:
    """A TrainConfig whose settings record being read; its methods and what it derives from its
    settings read through it too, but `validate` (which checks every setting and changes no data)."""

    def __init__(self, config):
        self.config, self.read = config, set()

    def __getattr__(self, name):
        derived = getattr(type(self.config), name, None)
        if isinstance(derived, functools.cached_property):  # from settings (`dataset_entry`): record those
            return derived.func(self)
        value = getattr(self.config, name)
        if name == "validate":
            return lambda: (value(), self)[1]
        if callable(value):
            return types.MethodType(getattr(type(self.config), name), self)
        self.read.add(name)
        return value


@pytest.mark.parametrize("overrides", [{}, dict(embedding_init="random", max_length=4),
                                       dict(pretrained_vocab_size=5, normalize_tokens=True)])
def test_every_setting_the_data_preparation_reads_is_in_the_cache_key(data_dir, tmp_path, overrides):
    from datn_tf import config as config_lib
    from datn_tf.data import prepare

    recorder = _ReadRecorder(_config(data_dir, tmp_path, **overrides))
    prepare._seed_free_parts(recorder)
    assert recorder.read and recorder.read <= set(config_lib.data_settings()), \
        f"mark {sorted(recorder.read - set(config_lib.data_settings()))} data_setting in config.py"
    assert PreparedDataCache.key(recorder.config) == tuple(getattr(recorder.config, n)
                                                           for n in config_lib.data_settings())


def test_the_files_readers_settings_are_in_the_cache_key(tmp_path):
    from datn_tf import config as config_lib
    from datn_tf.data import prepare

    (tmp_path / "train.tsv").write_text("text\tlabels\nwe are glad\tjoy\nso sad here\tsadness\n", encoding="utf-8")
    (tmp_path / "dev.tsv").write_text("text\tlabels\nglad here\tjoy\n", encoding="utf-8")
    config = testing.tiny_train_config(tmp_path, tmp_path / "run", dataset="files", variant="base",
                                       embedding_init="random", train_file=str(tmp_path / "train.tsv"),
                                       dev_file=str(tmp_path / "dev.tsv"))
    recorder = _ReadRecorder(config)
    prepare._seed_free_parts(recorder)
    assert {"train_file", "dev_file", "layout", "text_column"} <= recorder.read <= set(config_lib.data_settings())
