"""A BiLSTM that computes real tokens only: the CPU kernel of `BiLSTMEncoder`.

Keras' LSTM steps every row of the batch through every time step up to the batch's
longest sentence and masks the padding afterwards; at serving batch 256 about half of
that work is padding (E-c tweets average 20 tokens, a batch's longest is near 40). This
kernel does what cuDNN's packed sequences do, in plain TensorFlow ops:

1. sort the rows by length, longest first, so that the rows still running at step `t`
   are a prefix of the batch (`active[t]` of them), and gather each direction's inputs
   time major in that order (the backward pass reads each row from its own last real
   token back to its first);
2. step `t` multiplies only that prefix: `z = [x_t; h_{t-1}] @ [W; U] + b`, one matmul
   per step for the input and the recurrence together, and keeps only the prefix's
   states (no padded copy per step);
3. one gather per direction puts the packed states back at `[B, T]`, in the rows'
   original order, with exact zeros at padding.

The arithmetic is the Keras `LSTMCell`'s (gates `i, f, c, o`; `sigmoid` and `tanh`; zero
initial state), on the same weights, so outputs agree with Keras to float rounding. The
two directions step in one `tf.while_loop` as independent ops, so with inter-op
parallelism they run on two cores at once.

The input projection `x @ W` is computed per step, not for all steps before the loop:
TensorFlow's matmul with an inner size of 50 is slow and its `[T * B, 4u]` result does not
stay in cache. What was measured, taken or not: docs/performance.md.
"""

import tensorflow as tf


def _gates_ifoc(weight, units):
    """Reorders Keras' gate columns `i, f, c, o` to `i, f, o, c` (one sigmoid, one tanh)."""
    i_f, c, o = weight[..., : 2 * units], weight[..., 2 * units : 3 * units], weight[..., 3 * units :]
    return tf.concat([i_f, o, c], axis=-1)


def _lstm_over_prefixes(inputs, active, steps, directions):
    """LSTM directions over rows sorted longest first, stepped together in one loop.

    Args:
        inputs: one `[steps, B, d]` tensor per direction, rows sorted by length,
            longest first.
        active: int32 `[steps]`, how many rows have a real token at step t.
        steps: int32 scalar, the number of steps to run (at least 1).
        directions: one `(kernel, recurrent_kernel, bias)` per direction, Keras
            LSTMCell weights `[d, 4u]`, `[u, 4u]`, `[4u]`.

    Returns:
        One `[sum(active) + 1, u]` tensor per direction: the hidden states of the real
        tokens, step after step (row `r` of step `t` at `offset[t] + r`, `offset` the
        exclusive cumulative sum of `active`), then one row of zeros for the padding.
    """
    dtype = inputs[0].dtype
    units = directions[0][1].shape[0]
    weights, biases = [], []
    for kernel, recurrent_kernel, bias in directions:
        weights.append(_gates_ifoc(tf.concat([tf.cast(kernel, dtype), tf.cast(recurrent_kernel, dtype)], 0), units))
        biases.append(_gates_ifoc(tf.cast(bias, dtype), units))
    batch = tf.shape(inputs[0])[1]
    state_shape = tf.TensorShape([None, units])

    def step(t, hs, cs, outputs):
        n = active[t]
        hs, cs, outputs = list(hs), list(cs), list(outputs)
        # The directions are independent ops in one loop body: inter-op parallelism runs
        # them side by side, with one loop's control overhead instead of two.
        for k, (x, weight, bias) in enumerate(zip(inputs, weights, biases)):
            # h, c hold the rows active at step t - 1, a superset of those active now.
            z = tf.matmul(tf.concat([x[t, :n], hs[k][:n]], axis=-1), weight) + bias
            gates = tf.sigmoid(z[:, : 3 * units])
            cs[k] = gates[:, units : 2 * units] * cs[k][:n] + gates[:, :units] * tf.tanh(z[:, 3 * units :])
            hs[k] = gates[:, 2 * units :] * tf.tanh(cs[k])
            # Only the active rows are kept (no padded copy per step).
            outputs[k] = outputs[k].write(t, hs[k])
        return t + 1, hs, cs, outputs

    zeros = [tf.zeros([batch, units], dtype) for _ in inputs]
    outputs = [tf.TensorArray(dtype, size=steps, element_shape=state_shape, infer_shape=False) for _ in inputs]
    _, _, _, outputs = tf.while_loop(
        lambda t, *_: t < steps,
        step,
        [tf.constant(0), zeros, list(zeros), outputs],
        shape_invariants=[
            tf.TensorShape([]),
            [state_shape] * len(inputs),
            [state_shape] * len(inputs),
            [None] * len(inputs),
        ],
    )
    return [tf.concat([o.concat(), tf.zeros([1, units], dtype)], axis=0) for o in outputs]


def packed_bilstm(x, lengths, forward_weights, backward_weights):
    """Bidirectional LSTM over the real tokens of right-padded rows.

    Args:
        x: float `[B, T, d]`.
        lengths: int `[B]`, real tokens per row (the mask must be right-padded).
        forward_weights, backward_weights: `(kernel, recurrent_kernel, bias)` of each
            direction's Keras `LSTMCell`.

    Returns:
        `[B, T, 2u]`: `[->h_j; <-h_j]` at real tokens, exactly 0 at padding and in rows of
        length 0.
    """
    x = tf.convert_to_tensor(x)
    lengths = tf.cast(lengths, tf.int32)
    time_steps = tf.shape(x)[1]
    # Longest first; stable so that equal lengths keep their order (deterministic).
    order = tf.argsort(lengths, direction="DESCENDING", stable=True)
    sorted_lengths = tf.gather(lengths, order)
    # At least one step, so that the outputs have a shape even for B = 0 or all-empty rows
    # (that step multiplies 0 rows).
    steps = tf.maximum(tf.reduce_max(tf.concat([sorted_lengths, [0]], axis=0)), 1)
    t = tf.range(steps)[:, tf.newaxis]
    active = tf.reduce_sum(tf.cast(sorted_lengths[tf.newaxis, :] > t, tf.int32), axis=1)
    x = tf.pad(x, [[0, 0], [0, tf.maximum(steps - time_steps, 0)], [0, 0]])

    # Both directions' inputs, time major and sorted, in one gather each: the backward
    # pass reads row r at position length_r - 1 - t (inactive rows read anything, unused).
    rows = tf.broadcast_to(order[tf.newaxis, :], [steps, tf.shape(order)[0]])
    forward_steps = tf.broadcast_to(t, tf.shape(rows))
    backward_steps = tf.maximum(sorted_lengths[tf.newaxis, :] - 1 - t, 0)
    forward, backward = _lstm_over_prefixes(
        [tf.gather_nd(x, tf.stack([rows, forward_steps], -1)), tf.gather_nd(x, tf.stack([rows, backward_steps], -1))],
        active,
        steps,
        [forward_weights, backward_weights],
    )

    # Back to [B, T]: row b's state at step s is packed row offset[s] + rank[b]; padding
    # reads the final zero row. One gather per direction undoes the sort, the backward
    # reversal and the packing.
    offsets = tf.cumsum(active, exclusive=True)
    rank = tf.math.invert_permutation(order)[:, tf.newaxis]
    j = tf.range(time_steps)[tf.newaxis, :]
    real = j < lengths[:, tf.newaxis]
    zero_row = tf.shape(forward)[0] - 1

    def packed_rows(step):
        return tf.where(real, tf.gather(offsets, tf.clip_by_value(step, 0, steps - 1)) + rank, zero_row)

    return tf.concat(
        [tf.gather(forward, packed_rows(j)), tf.gather(backward, packed_rows(lengths[:, tf.newaxis] - 1 - j))],
        axis=-1,
    )
