import numpy as np
import pytest

pytest.importorskip("gensim")

from datn_tf import word2vec  # noqa: E402


def _corpus(n=2000, seed=0):
    """Two topics with disjoint words; a word's neighbours come from its own topic."""
    rng = np.random.default_rng(seed)
    topics = [["猫", "狗", "鱼", "鸟", "马"], ["车", "船", "飞机", "火车", "汽车"]]
    return [list(rng.choice(topics[i % 2], size=8)) for i in range(n)] + [["稀有"]]


def test_vectors_are_trained_cached_and_deterministic(tmp_path, monkeypatch):
    corpus = _corpus()
    vectors, path = word2vec.train_word_vectors(corpus, 16, seed=0, cache=tmp_path)
    assert path.parent == tmp_path / "word2vec" and path.name.endswith("-16d.txt")
    assert set(vectors) == {w for s in corpus[:-1] for w in s}  # "稀有" is seen once: below min_count
    assert all(v.shape == (16,) and v.dtype == np.float32 for v in vectors.values())

    def cos(a, b):
        return float(vectors[a] @ vectors[b] / np.linalg.norm(vectors[a]) / np.linalg.norm(vectors[b]))

    within = np.mean([cos("猫", "狗"), cos("鱼", "马"), cos("车", "船"), cos("飞机", "汽车")])
    across = np.mean([cos("猫", "车"), cos("鱼", "船"), cos("马", "飞机"), cos("鸟", "火车")])
    assert within > across + 0.1, (within, across)

    # A second call reads the cache; it does not train again.
    monkeypatch.setattr(word2vec, "_train", lambda *a: pytest.fail("trained twice"))
    again, again_path = word2vec.train_word_vectors(corpus, 16, seed=0, cache=tmp_path)
    assert again_path == path
    np.testing.assert_allclose(again["猫"], vectors["猫"], atol=1e-6)  # 6 decimals in the file


def test_same_corpus_and_seed_give_the_same_vectors_in_fresh_caches(tmp_path):
    corpus = _corpus()
    a, _ = word2vec.train_word_vectors(corpus, 8, seed=3, cache=tmp_path / "a")
    b, _ = word2vec.train_word_vectors(corpus, 8, seed=3, cache=tmp_path / "b")
    for w in a:
        np.testing.assert_array_equal(a[w], b[w])


def test_key_changes_with_the_corpus_the_dimension_and_the_seed():
    corpus = _corpus()
    key = word2vec.corpus_key(corpus, 16, 0)
    assert word2vec.corpus_key(corpus, 16, 0) == key
    assert word2vec.corpus_key(corpus[:-1], 16, 0) != key
    assert word2vec.corpus_key(corpus, 8, 0) != key
    assert word2vec.corpus_key(corpus, 16, 1) != key
    # Sentence boundaries count: ["a b"], ["a", "b"] and ["a"], ["b"] are different corpora.
    assert word2vec.corpus_key([["a", "b"]], 4, 0) != word2vec.corpus_key([["a"], ["b"]], 4, 0)


def test_tokens_with_whitespace_are_left_out_so_the_file_reads_back(tmp_path):
    corpus = [["a b", "猫", "狗"]] * 20
    vectors, _ = word2vec.train_word_vectors(corpus, 4, cache=tmp_path)
    assert set(vectors) == {"猫", "狗"}


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATN_TF_CACHE", str(tmp_path / "c"))
    assert word2vec.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DATN_TF_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert word2vec.cache_dir() == tmp_path / "x" / "datn_tf"
