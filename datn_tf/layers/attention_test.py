"""Tests for Attention (Eq. 1-2) and masked_softmax."""

import keras
import numpy as np
import tensorflow as tf

from datn_tf.layers.attention import Attention, masked_softmax
from datn_tf.testing.layer_test_case import LayerTestCase
from datn_tf.testing.references import numpy_attention

B, T, D, A = 3, 5, 4, 6
LENGTHS = [5, 2, 0]  # full, padded and empty rows


def make_inputs(dtype="float32"):
    rng = np.random.default_rng(0)
    h = rng.normal(size=(B, T, D)).astype(dtype)
    z = rng.normal(size=(B, D)).astype(dtype)
    mask = np.arange(T)[None, :] < np.array(LENGTHS)[:, None]
    return h, z, mask


class MaskedSoftmaxTest(LayerTestCase):
    def test_zero_on_padding_and_rows_sum_to_one(self):
        scores = tf.constant([[1.0, 2.0, 3.0], [0.5, 1e9, -1e9], [4.0, 5.0, 6.0]])
        mask = tf.constant([[True, True, True], [True, False, False], [False] * 3])
        weights = masked_softmax(scores, mask).numpy()
        e = np.exp([1.0, 2.0, 3.0])
        self.assertAllClose(weights[0], e / e.sum(), atol=1e-7)
        # A huge score on padding neither receives weight nor overflows.
        self.assertAllEqual(weights[1], [1.0, 0.0, 0.0])
        self.assertAllEqual(weights[2], [0.0, 0.0, 0.0])

    def test_no_mask_is_plain_softmax(self):
        scores = tf.random.normal([2, 4])
        self.assertAllClose(masked_softmax(scores), tf.nn.softmax(scores))

    def test_gradient_is_finite_for_empty_rows(self):
        scores = tf.Variable([[1.0, -2.0], [3.0, 4.0]])
        mask = tf.constant([[True, False], [False, False]])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(masked_softmax(scores, mask) * [[1.0, 2.0]])
        grad = tape.gradient(loss, scores).numpy()
        self.assertTrue(np.all(np.isfinite(grad)))
        self.assertAllEqual(grad[1], [0.0, 0.0])


class AttentionTest(LayerTestCase):
    def test_matches_numpy_reference_float64(self):
        h, z, mask = make_inputs("float64")
        layer = Attention(attention_size=A, dtype="float64")
        H, alpha = layer(h, z, mask=mask)
        self.assertEqual(H.dtype, tf.float64)
        want_H, want_alpha = numpy_attention(
            h, z, mask, layer.W_h.numpy(), layer.W_z.numpy(), layer.v.numpy()
        )
        self.assertAllClose(alpha, want_alpha, rtol=1e-12, atol=1e-12)
        self.assertAllClose(H, want_H, rtol=1e-12, atol=1e-12)

    def test_matches_numpy_reference_float32(self):
        h, z, mask = make_inputs()
        layer = Attention(attention_size=A)
        H, alpha = layer(h, z, mask=mask)
        want_H, want_alpha = numpy_attention(
            h.astype("float64"),
            z.astype("float64"),
            mask,
            *[w.numpy().astype("float64") for w in (layer.W_h, layer.W_z, layer.v)],
        )
        self.assertAllClose(alpha, want_alpha, rtol=1e-6, atol=1e-6)
        self.assertAllClose(H, want_H, rtol=1e-5, atol=1e-6)

    def test_bias_matches_numpy_reference_on_both_paths(self):
        h, z, mask = make_inputs("float64")
        layer = Attention(attention_size=A, use_bias=True, dtype="float64")
        layer(h, z, mask=mask)
        self.assertEqual(layer.b.shape, (A,))
        self.assertAllEqual(layer.b, np.zeros(A))  # starts at zero: Eq. 1 until trained
        layer.b.assign(np.random.default_rng(3).normal(size=A))
        want_H, want_alpha = numpy_attention(
            h, z, mask, layer.W_h.numpy(), layer.W_z.numpy(), layer.v.numpy(), layer.b.numpy()
        )
        for training in (False, True):
            H, alpha = layer(h, z, mask=mask, training=training)
            self.assertAllClose(alpha, want_alpha, rtol=1e-12, atol=1e-12)
            self.assertAllClose(H, want_H, rtol=1e-12, atol=1e-12)
        self.assertTrue(layer.get_config()["use_bias"])
        self.assert_config_round_trip(layer, lambda l: l(h, z, mask=mask))

    def test_training_and_inference_paths_agree(self):
        # training=True scores every position, inference only the gathered real
        # tokens: same outputs and gradients (incl. the empty row and garbage padding).
        h, z, mask = make_inputs("float64")
        h = np.where(mask[:, :, None], h, 1e3)
        layer = Attention(attention_size=A, dtype="float64")
        layer(h, z, mask=mask)
        h = tf.Variable(h)
        results = []
        for training in (False, True):
            with tf.GradientTape() as tape:
                H, alpha = layer(h, z, mask=mask, training=training)
                loss = tf.reduce_sum(H * np.arange(D)) + tf.reduce_sum(alpha**2)
            grads = tape.gradient(loss, [h] + layer.trainable_weights)
            results.append([H, alpha] + grads)
        for inference, training in zip(*results):
            self.assertAllClose(inference, training, rtol=1e-12, atol=1e-12)

    def test_masking(self):
        h, z, mask = make_inputs()
        # Garbage on padding must not matter.
        h_noisy = np.where(mask[:, :, None], h, 1e3).astype("float32")
        layer = Attention(attention_size=A)
        H, alpha = layer(h, z, mask=mask)
        H_noisy, alpha_noisy = layer(h_noisy, z, mask=mask)
        alpha = alpha.numpy()
        self.assertAllEqual(alpha[~mask], np.zeros((~mask).sum()))
        self.assertAllClose(alpha.sum(axis=1), [1.0, 1.0, 0.0], atol=1e-6)
        self.assertAllEqual(H[2], np.zeros(D))  # the empty row
        self.assertTrue(np.all(np.isfinite(H)))
        self.assertAllClose(H, H_noisy)
        self.assertAllClose(alpha, alpha_noisy)

    def test_weight_names_and_shapes(self):
        h, z, mask = make_inputs()
        layer = Attention(attention_size=A)
        layer(h, z[:, :3], mask=mask)  # z may be narrower than h
        shapes = {w.name: tuple(w.shape) for w in layer.weights}
        self.assertEqual(shapes, {"W_h": (D, A), "W_z": (3, A), "v": (A,)})

    def test_mask_read_from_keras_mask_of_h(self):
        h, z, mask = make_inputs()
        layer = Attention(attention_size=A)
        h_tensor = tf.constant(h)
        h_tensor._keras_mask = tf.constant(mask)
        _, alpha_implicit = layer(h_tensor, z)
        _, alpha_explicit = layer(h, z, mask=mask)
        self.assertAllClose(alpha_implicit, alpha_explicit)

    def test_eager_matches_tf_function(self):
        h, z, mask = make_inputs()
        layer = Attention(attention_size=A)
        self.assert_eager_matches_tf_function(lambda: layer(h, z, mask=mask))

    def test_config_round_trip(self):
        h, z, mask = make_inputs()
        layer = Attention(attention_size=A, kernel_initializer="he_normal")
        self.assertEqual(layer.get_config()["attention_size"], A)
        self.assert_config_round_trip(layer, lambda l: l(h, z, mask=mask))

    def test_save_reload(self):
        h, z, mask = make_inputs()
        h_in = keras.Input((None, D))
        z_in = keras.Input((D,))
        mask_in = keras.Input((None,), dtype="bool")
        outputs = Attention(attention_size=A)(h_in, z_in, mask=mask_in)
        model = keras.Model([h_in, z_in, mask_in], outputs)
        self.assert_save_reload(model, [h, z, mask])

    def test_training_step(self):
        h, z, mask = make_inputs()
        layer = Attention(attention_size=A)
        layer(h, z, mask=mask)
        target = np.random.default_rng(1).normal(size=(B, D)).astype("float32")
        self.assert_training_step_changes_weights(
            layer,
            lambda: tf.reduce_mean(tf.square(layer(h, z, mask=mask)[0] - target)),
        )


if __name__ == "__main__":
    tf.test.main()
