"""Input pipeline: texts -> token ids -> length-bucketed, padded `tf.data` batches.

Texts are tokenized once with the project's one tokenizer (`datn_tf.tokenizer`) and
mapped to ids with the vocabulary's lookup table, the same ops the exported SavedModel
runs. Batches group sentences of similar length (padding only to the batch's longest
sentence) in an order fixed by `(seed, stream, pass)`, so a resumed run sees exactly the
batches an uninterrupted one would (`Batcher.iterate(start_step)`).
"""

import hashlib

import numpy as np
import tensorflow as tf

from datn_tf import tokenizer as tokenizer_lib
from datn_tf.vocab import PAD_ID

ENCODE_CHUNK = 4096


def _tokenized_chunks(texts, language, normalize=False):
    """The TF tokenizer's ragged output over `texts`, ENCODE_CHUNK texts at a time."""
    for start in range(0, len(texts), ENCODE_CHUNK):
        yield tokenizer_lib.tokenize(tf.constant(texts[start : start + ENCODE_CHUNK]), language, normalize)


def tokenize_corpus(texts, language, normalize=False):
    """Tokens of each text as Python strings (for building the vocabulary)."""
    out = []
    for ragged in _tokenized_chunks(texts, language, normalize):
        out.extend([t.decode("utf-8") for t in row] for row in ragged.to_list())
    return out


def encode_texts(texts, vocab, language, table=None, max_length=None, normalize=False):
    """Token ids (int32 arrays, variable length) of each text, via the TF tokenizer and table."""
    table = table or vocab.lookup_table()
    encoded = []
    for ragged in _tokenized_chunks(texts, language, normalize):
        ids = tf.ragged.map_flat_values(table.lookup, ragged)
        for row in ids.to_list():
            row = np.asarray(row, dtype=np.int32)
            encoded.append(row[:max_length] if max_length else row)
    return encoded


def pad_batch(sequences, indices):
    """Right-pads `sequences[indices]` with PAD_ID to the batch's longest (at least 1)."""
    width = max(1, max(len(sequences[i]) for i in indices))
    out = np.full((len(indices), width), PAD_ID, dtype=np.int32)
    for row, i in enumerate(indices):
        out[row, : len(sequences[i])] = sequences[i]
    return out


def _stream_seed(seed, stream, pass_index):
    digest = hashlib.sha256(f"{seed}/{stream}/{pass_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class Batcher:
    """Deterministic length-bucketed batches over one dataset.

    One pass shuffles the examples, cuts them into windows of `bucket_window` batches,
    sorts each window by length, cuts batches and shuffles the batch order. Without
    `shuffle` a pass is the examples in order (evaluation).

    Args:
        lengths: sentence lengths in tokens.
        batch_size: sentences per batch (the last batch of a pass may be smaller).
        seed: run seed; `stream` names the data stream ("sentiment", "emotion").
    """

    def __init__(self, lengths, batch_size, seed=0, stream="data", shuffle=True, bucket_window=50):
        self.lengths = np.asarray(lengths)
        self.batch_size = int(batch_size)
        self.seed = seed
        self.stream = stream
        self.shuffle = shuffle
        self.bucket_window = bucket_window
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")

    @property
    def batches_per_pass(self):
        return -(-len(self.lengths) // self.batch_size)

    def batches_for_pass(self, pass_index):
        n = len(self.lengths)
        if not self.shuffle:
            return [np.arange(s, min(n, s + self.batch_size)) for s in range(0, n, self.batch_size)]
        rng = np.random.default_rng(_stream_seed(self.seed, self.stream, pass_index))
        order = rng.permutation(n)
        window = self.batch_size * self.bucket_window
        batches = []
        for start in range(0, n, window):
            chunk = order[start : start + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[s : s + self.batch_size] for s in range(0, len(chunk), self.batch_size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def iterate(self, start_step=0):
        """Infinite stream of `(global_step, indices)` starting at `start_step` (passes cycle)."""
        per_pass = self.batches_per_pass
        if per_pass == 0:
            return
        pass_index, offset = divmod(start_step, per_pass)
        step = start_step
        while True:
            batches = self.batches_for_pass(pass_index)
            for indices in batches[offset:]:
                yield step, indices
                step += 1
            pass_index, offset = pass_index + 1, 0


def features_spec(features):
    """The TensorSpec of a batch's `features` (a pretrained encoder's cached states)."""
    return tf.TensorSpec([None, None, features.width], tf.float32)


def _labelled_dataset(token_ids, labels, key, label_spec, batcher, start_step, features=None):
    """Endless `tf.data` of `{"token_ids": [B, T] int32, key: labels[batch]}` from `batcher`'s stream,
    with `"features"` [B, T, H] when `features` (`encoder_states.TokenStates`) are given."""

    def gen():
        for _, idx in batcher.iterate(start_step):
            batch = {"token_ids": pad_batch(token_ids, idx), key: labels[idx].astype(np.int32)}
            if features is not None:
                batch["features"] = features.pad(idx, batch["token_ids"].shape[1])
            yield batch

    spec = {"token_ids": tf.TensorSpec([None, None], tf.int32), key: label_spec}
    if features is not None:
        spec["features"] = features_spec(features)
    return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(4)


def emotion_dataset(token_ids, labels, batcher, start_step=0, features=None):
    """`tf.data` of `{"token_ids": [B, T] int32, "labels": [B, K] int32}` batches."""
    spec = tf.TensorSpec([None, labels.shape[1]], tf.int32)
    return _labelled_dataset(token_ids, labels, "labels", spec, batcher, start_step, features)


def sentiment_dataset(token_ids, labels, batcher, start_step=0, features=None):
    """`tf.data` of `{"token_ids": [B, T] int32, "sentiment": [B] int32}` batches."""
    spec = tf.TensorSpec([None], tf.int32)
    return _labelled_dataset(token_ids, labels, "sentiment", spec, batcher, start_step, features)


def eval_batches(token_ids, batch_size=256):
    """Padded id batches over all examples in order, sorted by length inside for speed.

    Yields `(positions, ids)`; callers scatter results back with `positions`.
    """
    order = np.argsort([len(t) for t in token_ids], kind="stable")
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        yield idx, pad_batch(token_ids, idx)
