"""Tests for GradientReversal."""

import keras
import numpy as np
import tensorflow as tf

from datn_tf.layers.gradient_reversal import GradientReversal
from datn_tf.testing.layer_test_case import LayerTestCase


def make_inputs():
    return np.random.default_rng(0).normal(size=(3, 4)).astype("float32")


class GradientReversalTest(LayerTestCase):
    def test_identity_forward(self):
        x = make_inputs()
        self.assertAllEqual(GradientReversal(scale=0.3)(x), x)

    def test_gradient_is_negated_and_scaled(self):
        x = tf.Variable(make_inputs())
        upstream = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
        for scale in (1.0, 0.25, 0.0):
            layer = GradientReversal(scale=scale)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x) * upstream)
            self.assertAllClose(tape.gradient(loss, x), -scale * upstream)

    def test_gradient_inside_tf_function(self):
        layer = GradientReversal(scale=2.0)
        x = tf.Variable(make_inputs())

        @tf.function
        def grad():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x))
            return tape.gradient(loss, x)

        self.assertAllClose(grad(), -2.0 * np.ones((3, 4)))

    def test_passes_keras_mask_through(self):
        x = tf.constant(make_inputs())
        mask = tf.constant([True, False, True])
        x._keras_mask = mask
        self.assertAllEqual(GradientReversal()(x)._keras_mask, mask)

    def test_eager_matches_tf_function(self):
        x = make_inputs()
        layer = GradientReversal(scale=0.5)
        self.assert_eager_matches_tf_function(lambda: layer(x))

    def test_config_round_trip(self):
        x = make_inputs()
        layer = GradientReversal(scale=0.5, name="grl")
        self.assertEqual(layer.get_config()["scale"], 0.5)
        self.assert_config_round_trip(layer, lambda l: l(x))

    def test_save_reload(self):
        inputs = keras.Input((4,))
        outputs = keras.layers.Dense(2)(GradientReversal(scale=0.5)(inputs))
        model = keras.Model(inputs, outputs)
        restored = self.assert_save_reload(model, make_inputs())
        self.assertEqual(restored.layers[1].scale, 0.5)

    def test_training_step_ascends_below_the_reversal(self):
        # Dense -> GRL -> loss: a descent step on the loss moves the Dense
        # layer *up* the loss (the adversarial min-max of Liu et al., 2017).
        x = make_inputs()
        dense = keras.layers.Dense(2)
        layer = GradientReversal(scale=1.0)
        dense(x)
        w = dense.kernel
        with tf.GradientTape() as tape:
            reversed_loss = tf.reduce_sum(tf.square(layer(dense(x))))
        with tf.GradientTape() as tape_plain:
            plain_loss = tf.reduce_sum(tf.square(dense(x)))
        grad = tape.gradient(reversed_loss, w)
        self.assertAllClose(grad, -tape_plain.gradient(plain_loss, w))
        keras.optimizers.SGD(learning_rate=1e-2).apply_gradients([(grad, w)])
        self.assertGreater(tf.reduce_sum(tf.square(dense(x))), plain_loss)


if __name__ == "__main__":
    tf.test.main()
