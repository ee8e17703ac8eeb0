"""Vocabulary: token <-> id, built from training splits only.

Id 0 is padding (so a right-padded batch's mask is `ids != 0`) and id 1 stands for every
out-of-vocabulary token. The same table is used by the input pipeline and, as a
`tf.lookup.StaticHashTable`, inside the exported SavedModel.
"""

import collections

import numpy as np
import tensorflow as tf

from datn_tf import io_utils
from datn_tf.errors import DataFormatError

PAD = "<pad>"
OOV = "<unk>"
PAD_ID = 0
OOV_ID = 1


class Vocabulary:
    """An ordered list of tokens with counts from the training data.

    Args:
        tokens: tokens in id order; must start with `PAD`, `OOV`.
        counts: optional training counts per token (used for coverage statistics).
    """

    def __init__(self, tokens, counts=None):
        tokens = list(tokens)
        if tokens[:2] != [PAD, OOV]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {OOV!r}; got {tokens[:2]}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.tokens = tokens
        self.counts = dict(counts or {})
        self._index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, token_lists, min_count=1, max_size=None):
        """Counts tokens over `token_lists` (iterables of str); most frequent first, ties by text."""
        counter = collections.Counter()
        for tokens in token_lists:
            counter.update(tokens)
        counter.pop(PAD, None)
        counter.pop(OOV, None)
        items = sorted(
            ((t, c) for t, c in counter.items() if c >= min_count), key=lambda tc: (-tc[1], tc[0])
        )
        if max_size is not None:
            items = items[: max(0, max_size - 2)]
        return cls([PAD, OOV] + [t for t, _ in items], counts=dict(items))

    def extended(self, extra_tokens):
        """This vocabulary plus `extra_tokens` not already in it (in order, training count 0)."""
        extra = [t for t in dict.fromkeys(extra_tokens) if t not in self._index and t not in (PAD, OOV)]
        return Vocabulary(self.tokens + extra, counts=self.counts)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._index

    def id(self, token):
        return self._index.get(token, OOV_ID)

    def ids(self, tokens):
        return np.array([self._index.get(t, OOV_ID) for t in tokens], dtype=np.int32)

    def lookup_table(self):
        """A TensorFlow string -> int64 table (unknown -> OOV_ID) for graphs and SavedModels."""
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.tokens, tf.string), tf.range(len(self.tokens), dtype=tf.int64)
        )
        return tf.lookup.StaticHashTable(init, default_value=OOV_ID)

    def save(self, path):
        """One `token<TAB>count` line per id (atomic)."""
        lines = [f"{t}\t{self.counts.get(t, 0)}" for t in self.tokens]
        io_utils.write_text(path, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path):
        tokens, counts = [], {}
        with open(path, encoding="utf-8") as f:
            try:
                lines = list(f)
            except UnicodeDecodeError as e:
                raise DataFormatError(path, None, f"not UTF-8 text (byte {e.start})") from None
        for line_no, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[1].isdigit():
                raise DataFormatError(path, line_no, "expected 'token<TAB>count'")
            tokens.append(parts[0])
            counts[parts[0]] = int(parts[1])
        try:
            return cls(tokens, counts)
        except ValueError as e:
            raise DataFormatError(path, None, str(e)) from None
