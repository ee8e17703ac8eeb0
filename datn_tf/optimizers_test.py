"""Tests for RowwiseAdam against Keras' Adam on the rows a mini-batch touches."""

import keras
import numpy as np
import tensorflow as tf

from datn_tf.optimizers import RowwiseAdam

V, D = 6, 3


def _keras_adam_steps(initial, dense_grads, learning_rate):
    var = keras.Variable(initial)
    adam = keras.optimizers.Adam(learning_rate)
    for grad in dense_grads:
        adam.apply([tf.constant(grad)], [var])
    return var.numpy()


def _sparse(rows, values):
    return tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(rows, tf.int32), tf.constant([V, D]))


def _dense(rows, values):
    dense = np.zeros((V, D), np.float32)
    for r, v in zip(rows, values):
        dense[r] += v  # a word used twice in a batch: its gradients add up
    return dense


def test_touched_rows_follow_keras_adam_and_the_others_stay():
    rng = np.random.default_rng(0)
    initial = rng.normal(size=(V, D)).astype(np.float32)
    steps = [([1, 3, 1], rng.normal(size=(3, D)).astype(np.float32)) for _ in range(4)]
    var = keras.Variable(initial)  # the lookup table E is a Keras variable
    opt = RowwiseAdam(var, learning_rate=0.01)
    for rows, values in steps:
        opt.apply(_sparse(rows, values), var)
    want = _keras_adam_steps(initial, [_dense(r, v) for r, v in steps], 0.01)
    np.testing.assert_allclose(var.numpy()[[1, 3]], want[[1, 3]], rtol=1e-5, atol=1e-6)
    untouched = [0, 2, 4, 5]
    np.testing.assert_array_equal(var.numpy()[untouched], initial[untouched])
    assert int(opt.iterations.numpy()) == 4


def test_a_row_left_out_of_a_batch_does_not_drift_on_its_momentum():
    rng = np.random.default_rng(1)
    initial = rng.normal(size=(V, D)).astype(np.float32)
    var = keras.Variable(initial)  # the lookup table E is a Keras variable
    opt = RowwiseAdam(var, learning_rate=0.01)
    opt.apply(_sparse([2], rng.normal(size=(1, D)).astype(np.float32)), var)
    after_first = var.numpy().copy()
    assert not np.allclose(after_first[2], initial[2])
    opt.apply(_sparse([4], rng.normal(size=(1, D)).astype(np.float32)), var)
    # Keras' dense Adam would move row 2 again (its first moment is not 0); row-wise Adam does not.
    np.testing.assert_array_equal(var.numpy()[2], after_first[2])
    assert not np.allclose(var.numpy()[4], initial[4])


def test_dense_gradient_is_plain_adam():
    rng = np.random.default_rng(2)
    initial = rng.normal(size=(V, D)).astype(np.float32)
    grads = [rng.normal(size=(V, D)).astype(np.float32) for _ in range(3)]
    var = keras.Variable(initial)  # the lookup table E is a Keras variable
    opt = RowwiseAdam(var, learning_rate=0.005)
    for g in grads:
        opt.apply(tf.constant(g), var)
    np.testing.assert_allclose(var.numpy(), _keras_adam_steps(initial, grads, 0.005), rtol=1e-5, atol=1e-6)
