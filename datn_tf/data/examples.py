"""Containers shared by all readers: labelled sentences as plain lists and NumPy arrays."""

import dataclasses
import hashlib
import json

import numpy as np

# Index order of every sentiment label array in the project (S1 and S2).
SENTIMENTS = ("negative", "neutral", "positive")


@dataclasses.dataclass
class EmotionExamples:
    """Multi-label emotion data (E1: SemEval-18 E-c; E2: Ren-CECps).

    Attributes:
        ids: one ID per example (official tweet ID, or `cet_{doc}:{index}`).
        texts: the official raw tweet (E-c, untouched) or the whitespace-joined
            segmented words (Ren-CECps).
        labels: int8 `[N, K]` 0/1 array in `label_names` order, or `None` in
            prediction mode (an official unlabelled file with NONE labels).
        label_names: the K emotion names.
        source: the file or folder the examples came from.
    """

    ids: list[str]
    texts: list[str]
    labels: np.ndarray | None
    label_names: tuple[str, ...]
    source: str

    def __post_init__(self):
        if len(self.ids) != len(self.texts):
            raise ValueError(f"{len(self.ids)} ids but {len(self.texts)} texts")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int8).reshape(
                len(self.ids), len(self.label_names)
            )

    def __len__(self):
        return len(self.ids)

    def digest(self):
        """SHA-256 of the examples in order (ids, texts, labels, label names): the same for the
        same data read from any copy of its files, another for a row changed or moved."""
        digest = hashlib.sha256(json.dumps([list(self.label_names), list(self.ids), list(self.texts)],
                                           ensure_ascii=False).encode("utf-8"))
        if self.labels is not None:
            digest.update(np.ascontiguousarray(self.labels, dtype=np.int8).tobytes())
        return digest.hexdigest()

    def select(self, indices):
        """A new `EmotionExamples` holding the given rows (for splits and folds)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        return EmotionExamples(
            ids=[self.ids[i] for i in indices],
            texts=[self.texts[i] for i in indices],
            labels=None if self.labels is None else self.labels[indices],
            label_names=self.label_names,
            source=self.source,
        )


@dataclasses.dataclass
class SentimentExamples:
    """Single-label sentiment data (S1: SemEval-16 4A; S2: Ren-CECps polarity).

    Attributes:
        ids: one ID per example.
        texts: the (unquoted, unescaped) tweet or the whitespace-joined words.
        labels: int32 `[N]` indexes into `label_names` (always `SENTIMENTS`).
        label_names: `SENTIMENTS`.
        source: the file(s) or folder the examples came from.
        duplicates: how many rows repeat the ID of an earlier row (kept unless
            the reader was asked to drop them).
    """

    ids: list[str]
    texts: list[str]
    labels: np.ndarray
    label_names: tuple[str, ...]
    source: str
    duplicates: int = 0

    def __post_init__(self):
        if len(self.ids) != len(self.texts):
            raise ValueError(f"{len(self.ids)} ids but {len(self.texts)} texts")
        self.labels = np.asarray(self.labels, dtype=np.int32).reshape(len(self.ids))

    def __len__(self):
        return len(self.ids)

    def select(self, indices):
        """A new `SentimentExamples` holding the given rows; `duplicates` is recounted."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        ids = [self.ids[i] for i in indices]
        return SentimentExamples(
            ids=ids,
            texts=[self.texts[i] for i in indices],
            labels=self.labels[indices],
            label_names=self.label_names,
            source=self.source,
            duplicates=len(ids) - len(set(ids)),
        )
