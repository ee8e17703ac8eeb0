"""The benchmark's synthetic data: E1-shaped sentences, labels and raw tweets, no real text.

Sentence lengths are drawn from hard-coded histograms of token counts (the project's
tokenizer) of the SemEval-2018 E-c training tweets (mean 19.5, 1-85 tokens) and of the
28,631 S1 tweets (mean 22.6, 1-54 tokens); token ids follow a Zipf law over the
vocabulary; labels follow E-c's label rates. Only these counts are kept, no text.
"""

from pathlib import Path

import numpy as np

from datn_tf import embeddings as embeddings_lib
from datn_tf import encoders
from datn_tf.data import datasets, semeval_ec
from datn_tf.data.examples import SENTIMENTS, EmotionExamples, SentimentExamples
from datn_tf.data.prepare import PreparedData
from datn_tf.encoder_states import TokenStates
from datn_tf.vocab import OOV, PAD, Vocabulary

# Token counts per sentence length (datn_tf.tokenizer, English): the 6,838 SemEval-2018 E-c
# training tweets (E1) and the 28,631 SemEval-2016 4A tweets of the paper's S1 set.
EC_LENGTH_COUNTS = {
    1: 3, 2: 19, 3: 50, 4: 79, 5: 102, 6: 113, 7: 176, 8: 170, 9: 211, 10: 190,
    11: 246, 12: 241, 13: 247, 14: 227, 15: 234, 16: 250, 17: 232, 18: 230, 19: 272, 20: 236,
    21: 243, 22: 283, 23: 283, 24: 318, 25: 327, 26: 306, 27: 312, 28: 288, 29: 252, 30: 204,
    31: 164, 32: 113, 33: 86, 34: 53, 35: 32, 36: 23, 37: 6, 38: 6, 39: 5, 40: 2,
    42: 3, 85: 1,
}  # fmt: skip
S1_LENGTH_COUNTS = {
    1: 1, 2: 1, 3: 1, 4: 1, 5: 5, 6: 22, 7: 60, 8: 102, 9: 182, 10: 255,
    11: 360, 12: 514, 13: 625, 14: 724, 15: 799, 16: 980, 17: 1058, 18: 1194, 19: 1318, 20: 1391,
    21: 1660, 22: 1859, 23: 2003, 24: 1957, 25: 2002, 26: 1919, 27: 1870, 28: 1544, 29: 1238, 30: 981,
    31: 740, 32: 518, 33: 341, 34: 190, 35: 95, 36: 58, 37: 28, 38: 17, 39: 11, 40: 1,
    41: 2, 44: 1, 45: 2, 54: 1,
}  # fmt: skip
# Share of E-c training tweets carrying each emotion (anger ... trust); S1 class shares.
EC_LABEL_RATES = (0.372, 0.143, 0.381, 0.182, 0.362, 0.102, 0.290, 0.116, 0.294, 0.053, 0.052)
S1_CLASS_RATES = (0.157, 0.459, 0.384)  # negative, neutral, positive
E1_SIZES = {"train": 6838, "dev": 886, "sentiment": 28631}  # Table 2 of the paper
# Frequent tokens at the head of the synthetic vocabulary (each one token for the tokenizer).
HEAD_TOKENS = (".", "!", ",", "#", "@user", "?", "...", "😂", "❤", ":)")


def length_sampler(counts):
    """(lengths, probabilities) of a `{length: count}` histogram."""
    lengths = np.array(sorted(counts), dtype=np.int64)
    weights = np.array([counts[n] for n in lengths], dtype=np.float64)
    return lengths, weights / weights.sum()


def histogram_mean(counts):
    lengths, p = length_sampler(counts)
    return float((lengths * p).sum())


def synthetic_tokens(vocab_size):
    """`vocab_size - 2` distinct tokens the tokenizer keeps whole: HEAD_TOKENS, then
    lower-case pseudo-words of three consonant-vowel syllables."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    n = vocab_size - 2 - len(HEAD_TOKENS)
    if n < 1 or n > len(syllables) ** 3:
        raise ValueError(f"vocabulary size must be in [{len(HEAD_TOKENS) + 3}, "
                         f"{len(syllables) ** 3 + len(HEAD_TOKENS) + 2}]")
    words = []
    for i in range(n):
        a, rest = divmod(i, len(syllables) ** 2)
        b, c = divmod(rest, len(syllables))
        words.append(syllables[c] + syllables[b] + syllables[a])
    return list(HEAD_TOKENS) + words


class SyntheticCorpus:
    """Token ids with E1/S1 length distributions and Zipf-distributed words."""

    def __init__(self, vocab_size, seed=0, zipf_exponent=1.0):
        self.vocab_size = vocab_size
        self.rng = np.random.default_rng(seed)
        ranks = np.arange(1, vocab_size - 1, dtype=np.float64)  # ids 2 .. V-1 (0 pad, 1 unk)
        p = ranks ** -zipf_exponent
        self.word_p = p / p.sum()

    def sentences(self, n, length_counts):
        """`n` int32 id arrays with lengths drawn from `length_counts`."""
        lengths, p = length_sampler(length_counts)
        sizes = self.rng.choice(lengths, size=n, p=p)
        flat = self.rng.choice(self.vocab_size - 2, size=int(sizes.sum()), p=self.word_p).astype(np.int32) + 2
        return np.split(flat, np.cumsum(sizes)[:-1])

    def emotion_labels(self, n):
        return (self.rng.random((n, len(EC_LABEL_RATES))) < np.array(EC_LABEL_RATES)).astype(np.int8)

    def sentiment_labels(self, n):
        return self.rng.choice(len(S1_CLASS_RATES), size=n, p=S1_CLASS_RATES).astype(np.int32)


def render(ids, vocab):
    """Raw text of an id sequence (tokens joined by spaces: the tokenizer gives the ids back)."""
    return " ".join(vocab.tokens[i] for i in ids)


def make_prepared_data(vocab_size, embedding_dim, sizes=None, seed=0):
    """A `PreparedData` shaped like S1 -> E1, with random embeddings of `embedding_dim`."""
    sizes = dict(E1_SIZES, **(sizes or {}))
    corpus = SyntheticCorpus(vocab_size, seed=seed)
    ids = {
        "train": corpus.sentences(sizes["train"], EC_LENGTH_COUNTS),
        "dev": corpus.sentences(sizes["dev"], EC_LENGTH_COUNTS),
        "sentiment": corpus.sentences(sizes["sentiment"], S1_LENGTH_COUNTS),
    }
    tokens = synthetic_tokens(vocab_size)
    counts = np.bincount(np.concatenate(ids["train"] + ids["sentiment"]), minlength=vocab_size)
    vocab = Vocabulary([PAD, OOV] + tokens, counts={t: int(counts[i + 2]) for i, t in enumerate(tokens)})
    names = tuple(semeval_ec.EMOTIONS)

    def emotion(split):
        n = len(ids[split])
        # Only dev texts are read (Trainer.fit writes dev predictions); the rest stay empty.
        texts = [render(x, vocab) for x in ids[split]] if split == "dev" else [""] * n
        return EmotionExamples([f"{split}-{i}" for i in range(n)], texts, corpus.emotion_labels(n),
                               names, "synthetic")

    n_sent = len(ids["sentiment"])
    sentiment = SentimentExamples([f"s-{i}" for i in range(n_sent)], [""] * n_sent,
                                  corpus.sentiment_labels(n_sent), SENTIMENTS, "synthetic")
    task = datasets.TaskData("semeval", "en", names, emotion("train"), emotion("dev"), None, sentiment,
                             notes=["synthetic benchmark data"])
    matrix, coverage = embeddings_lib.random_embedding_matrix(vocab, embedding_dim, seed=seed)
    return PreparedData(task, vocab, matrix, coverage, f"random-{embedding_dim}d", ids)


def synthetic_tweets(vocab, n, seed):
    """`n` raw tweets (str) with E-c lengths, for serving."""
    corpus = SyntheticCorpus(len(vocab), seed=seed)
    return [render(x, vocab) for x in corpus.sentences(n, EC_LENGTH_COUNTS)]


# WordPieces per token of the project's tokenizer (all-MiniLM-L6-v2's uncased vocabulary): E1
# train 1.30, S1 1.42 (`make minilm`; docs/performance.md).
WORDPIECES_PER_TOKEN = {"emotion": 1.30, "sentiment": 1.42}


def make_encoder_data(folder, sizes=None, seed=0):
    """A `PreparedData` shaped like S1 -> E1 over the pretrained encoder in `folder`: WordPiece
    ids of E1's and S1's lengths (from the token histograms x WORDPIECES_PER_TOKEN, plus [CLS]
    and [SEP]) and random cached states in place of the frozen encoder's (timing only)."""
    sizes = dict(E1_SIZES, **(sizes or {}))
    config = encoders.backbone_config(folder)
    vocab = encoders.WordPieceVocab.load(Path(folder) / encoders.VOCAB_FILE)
    rng = np.random.default_rng(seed)
    low = min(1000, len(vocab) // 2)  # past the special and unused ids of a BERT vocabulary

    def sentences(n, counts, ratio):
        lengths, p = length_sampler(counts)
        pieces = np.maximum(1, np.round(rng.choice(lengths, size=n, p=p) * ratio)).astype(np.int64)
        return [np.concatenate([[vocab.cls_id], rng.integers(low, len(vocab), size=k), [vocab.sep_id]]).astype(np.int32)
                for k in pieces]

    ids = {"train": sentences(sizes["train"], EC_LENGTH_COUNTS, WORDPIECES_PER_TOKEN["emotion"]),
           "dev": sentences(sizes["dev"], EC_LENGTH_COUNTS, WORDPIECES_PER_TOKEN["emotion"]),
           "sentiment": sentences(sizes["sentiment"], S1_LENGTH_COUNTS, WORDPIECES_PER_TOKEN["sentiment"])}
    features = {split: TokenStates(rng.standard_normal((sum(map(len, x)), config["hidden_dim"]), dtype=np.float32),
                                   [len(s) for s in x]) for split, x in ids.items()}
    names = tuple(semeval_ec.EMOTIONS)
    corpus = SyntheticCorpus(len(vocab), seed=seed)

    def emotion(split):
        n = len(ids[split])
        texts = [" ".join(vocab.tokens[i] for i in x[1:-1]) for x in ids[split]] if split == "dev" else [""] * n
        return EmotionExamples([f"{split}-{i}" for i in range(n)], texts, corpus.emotion_labels(n), names, "synthetic")

    n_sent = len(ids["sentiment"])
    sentiment = SentimentExamples([f"s-{i}" for i in range(n_sent)], [""] * n_sent, corpus.sentiment_labels(n_sent),
                                  SENTIMENTS, "synthetic")
    task = datasets.TaskData("semeval", "en", names, emotion("train"), emotion("dev"), None, sentiment,
                             notes=["synthetic benchmark data"])
    coverage = embeddings_lib.Coverage(types=len(vocab), covered_types=len(vocab), tokens=1, covered_tokens=1)
    return PreparedData(task, vocab, None, coverage, f"encoder {folder} (random states)", ids, features=features,
                        encoder_weights=None, backbone_config=config)


def synthetic_wordpiece_tweets(vocab, n, seed):
    """`n` raw texts of E1's lengths made of the encoder's whole-word tokens, for serving."""
    rng = np.random.default_rng(seed)
    words = [t for t in vocab.tokens[min(1000, len(vocab) // 2):] if t.isalpha()] or ["happy"]
    lengths, p = length_sampler(EC_LENGTH_COUNTS)
    return [" ".join(rng.choice(words, size=k)) for k in rng.choice(lengths, size=n, p=p)]
