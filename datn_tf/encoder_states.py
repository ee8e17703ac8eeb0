"""The frozen part of a pretrained encoder, run once over a data set and cached.

A pretrained encoder's embeddings and every transformer layer below the trained ones never
change during training (`layers.PretrainedEncoder`), so the states entering the first trained
layer are a function of the sentence alone. They are computed once per (weights, trained
layers, sentences) and kept on disk under $DATN_TF_CACHE, as the word2vec vectors are: the
runs of a grid (seeds, systems) then share them, and a killed computation resumes at its
last finished chunk. Stored as float32, so that training reads the numbers the exported
model computes.
"""

import hashlib
import json
import time

import numpy as np
import tensorflow as tf

from datn_tf import input_pipeline, io_utils, progress
from datn_tf.errors import UserError
from datn_tf.word2vec import cache_dir

CHUNK = 2048  # sentences per cache file
BATCH = 64


class TokenStates:
    """The states of each sentence's positions, one flat [sum of lengths, H] array.

    Args:
        flat: float32 [N_positions, H], the sentences' states one after another.
        lengths: positions per sentence (the lengths of their token ids).
    """

    def __init__(self, flat, lengths):
        self.flat = flat
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        if self.offsets[-1] != len(flat):
            raise ValueError(f"{len(flat)} cached positions for sentences of {self.offsets[-1]} positions")

    def __len__(self):
        return len(self.lengths)

    @property
    def width(self):
        return self.flat.shape[1]

    def pad(self, indices, width=None):
        """float32 [B, width, H] of the sentences `indices`, zero after each sentence's end."""
        width = width or max(1, int(self.lengths[indices].max(initial=0)))
        out = np.zeros((len(indices), width, self.width), dtype=np.float32)
        for row, i in enumerate(indices):
            start, end = self.offsets[i], self.offsets[i + 1]
            out[row, : end - start] = self.flat[start:end]
        return out


def cache_key(token_ids, weights_sha256, backbone_config, first_trained):
    """A digest of what the states depend on: the weights, the cut point and the exact ids."""
    digest = hashlib.sha256(json.dumps({"weights": weights_sha256, "backbone": backbone_config,
                                        "first_trained": first_trained}, sort_keys=True).encode())
    for ids in token_ids:
        digest.update(np.asarray(ids, dtype=np.int32).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:32]


def lower_states(encoder, token_ids, name, key, log=progress.log):
    """`TokenStates` of `encoder.lower_states` over the sentences `token_ids`, from the cache
    when there, else computed chunk by chunk (each chunk written atomically)."""
    folder = cache_dir() / "encoder_states" / key
    folder.mkdir(parents=True, exist_ok=True)
    chunks = range(0, len(token_ids), CHUNK)
    todo = [s for s in chunks if not (folder / f"{s // CHUNK:05d}.npy").exists()]
    if todo:
        fn = tf.function(encoder.lower_states, input_signature=[tf.TensorSpec([None, None], tf.int32)])
        log(f"encoding {name}: {len(token_ids)} sentences through the frozen encoder layers (once; cached at "
            f"{folder})")
        start_time, done = time.time(), 0
        total = sum(min(CHUNK, len(token_ids) - s) for s in todo)
        for s in todo:
            part = token_ids[s : s + CHUNK]
            states = [None] * len(part)
            for positions, batch in input_pipeline.eval_batches(part, BATCH):
                out = fn(tf.constant(batch)).numpy()
                for row, i in enumerate(positions):
                    states[i] = out[row, : len(part[i])]
            flat = np.concatenate(states) if states else np.zeros((0, encoder.hidden_size), np.float32)
            io_utils.save_npy(folder / f"{s // CHUNK:05d}.npy", flat.astype(np.float32))
            done += len(part)
            rate = done / max(1e-9, time.time() - start_time)
            log(f"  {name}: {done}/{total} sentences | {rate:.0f} sentences/s | "
                f"ETA {progress.fmt_time((total - done) / rate)}")
    flat = [io_utils.load_npy(folder / f"{s // CHUNK:05d}.npy", "delete it; the next run computes it again")
            for s in chunks]
    flat = np.concatenate(flat) if flat else np.zeros((0, encoder.hidden_size), np.float32)
    positions = sum(len(t) for t in token_ids)
    if len(flat) != positions:  # a cache file edited or copied from elsewhere: its key no longer says what it holds
        raise UserError(f"{folder}: {len(flat)} cached positions for sentences of {positions}; delete it, the next "
                        "run computes it again")
    return TokenStates(flat, [len(t) for t in token_ids])
