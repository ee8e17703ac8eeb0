"""Tests for the packed BiLSTM kernel against a NumPy LSTM."""

import numpy as np
import tensorflow as tf

from datn_tf.layers.packed_lstm import packed_bilstm
from datn_tf.testing.references import numpy_lstm

E, U = 4, 3


def random_weights(rng, dtype="float64"):
    def direction():
        return tuple(
            rng.normal(scale=0.5, size=shape).astype(dtype) for shape in ((E, 4 * U), (U, 4 * U), (4 * U,))
        )

    return direction(), direction()


def numpy_packed_reference(x, lengths, forward, backward):
    h = np.zeros(x.shape[:2] + (2 * U,))
    for i, n in enumerate(lengths):
        if n:
            h[i, :n, :U] = numpy_lstm(x[i, :n], *forward)
            h[i, :n, U:] = numpy_lstm(x[i, :n][::-1], *backward)[::-1]
    return h


class PackedBiLSTMTest(tf.test.TestCase):
    def check(self, lengths, time_steps, seed=0):
        rng = np.random.default_rng(seed)
        forward, backward = random_weights(rng)
        x = rng.normal(size=(len(lengths), time_steps, E))
        # Garbage in the padding must not leak into the outputs.
        x[np.arange(time_steps)[None, :] >= np.array(lengths, int)[:, None]] = 9.0
        got = packed_bilstm(tf.constant(x), tf.constant(lengths, tf.int32), forward, backward).numpy()
        self.assertEqual(got.shape, (len(lengths), time_steps, 2 * U))
        self.assertAllClose(got, numpy_packed_reference(x, lengths, forward, backward), rtol=1e-12, atol=1e-12)

    def test_unsorted_lengths_with_ties_and_empty_rows(self):
        # Rows come back in their own order, whatever the sort did.
        self.check([2, 6, 0, 3, 6, 1, 3], time_steps=6)

    def test_padding_beyond_the_longest_row(self):
        self.check([3, 1, 2], time_steps=7)

    def test_all_rows_empty_and_empty_batches(self):
        self.check([0, 0], time_steps=4)
        self.check([0, 0], time_steps=0)
        self.check([], time_steps=5)
        self.check([], time_steps=0)

    def test_traced_once_for_every_shape(self):
        forward, backward = random_weights(np.random.default_rng(1), "float32")
        traces = []

        @tf.function(input_signature=[tf.TensorSpec([None, None, E]), tf.TensorSpec([None], tf.int32)])
        def run(x, lengths):
            traces.append(1)
            return packed_bilstm(x, lengths, forward, backward)

        rng = np.random.default_rng(2)
        for lengths, time_steps in (([3, 1], 3), ([5, 2, 4], 6), ([], 0), ([1], 1)):
            x = rng.normal(size=(len(lengths), time_steps, E)).astype("float32")
            got = run(x, np.array(lengths, np.int32)).numpy()
            want = numpy_packed_reference(x.astype("float64"), lengths, forward, backward)
            self.assertAllClose(got, want, rtol=1e-5, atol=1e-5)
        self.assertLen(traces, 1)


if __name__ == "__main__":
    tf.test.main()
