"""Tests for AttentionFedAttention (Section 2.2.2)."""

import keras
import numpy as np
import tensorflow as tf

from datn_tf.layers.attention_fed_attention import AttentionFedAttention
from datn_tf.testing.layer_test_case import LayerTestCase
from datn_tf.testing.references import numpy_fed_attention

B, T, D, A = 3, 5, 4, 6
LENGTHS = [5, 2, 0]


def make_inputs(dtype="float32"):
    rng = np.random.default_rng(0)
    h = rng.normal(size=(B, T, D)).astype(dtype)
    z = rng.normal(size=(B, D)).astype(dtype)
    mask = np.arange(T)[None, :] < np.array(LENGTHS)[:, None]
    # A valid attention distribution of the other feature space.
    other = np.where(mask, rng.uniform(size=(B, T)), 0.0)
    other = other / np.maximum(other.sum(1, keepdims=True), 1e-12)
    return h, z, other.astype(dtype), mask


def reference(layer, h, z, other, mask):
    weights = [
        w.numpy().astype("float64")
        for w in (layer.W_h, layer.w_alpha, layer.W_z, layer.v)
    ]
    return numpy_fed_attention(
        h.astype("float64"), z.astype("float64"), other.astype("float64"), mask, *weights
    )


class AttentionFedAttentionTest(LayerTestCase):
    def test_matches_numpy_reference_float64(self):
        h, z, other, mask = make_inputs("float64")
        layer = AttentionFedAttention(attention_size=A, dtype="float64")
        H, alpha = layer(h, z, other, mask=mask)
        want_H, want_alpha = reference(layer, h, z, other, mask)
        self.assertAllClose(alpha, want_alpha, rtol=1e-12, atol=1e-12)
        self.assertAllClose(H, want_H, rtol=1e-12, atol=1e-12)

    def test_matches_numpy_reference_float32(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        H, alpha = layer(h, z, other, mask=mask)
        want_H, want_alpha = reference(layer, h, z, other, mask)
        self.assertAllClose(alpha, want_alpha, rtol=1e-6, atol=1e-6)
        self.assertAllClose(H, want_H, rtol=1e-5, atol=1e-6)

    def test_training_and_inference_paths_agree(self):
        # As for Attention: the gathered real-token scores (inference) equal the
        # all-position ones (training), gradients into alpha_other included.
        h, z, other, mask = make_inputs("float64")
        layer = AttentionFedAttention(attention_size=A, dtype="float64")
        layer(h, z, other, mask=mask)
        other = tf.Variable(other)
        results = []
        for training in (False, True):
            with tf.GradientTape() as tape:
                H, alpha = layer(h, z, other, mask=mask, training=training)
                loss = tf.reduce_sum(H * np.arange(D)) + tf.reduce_sum(alpha**2)
            grads = tape.gradient(loss, [other] + layer.trainable_weights)
            results.append([H, alpha] + grads)
        for inference, training in zip(*results):
            self.assertAllClose(inference, training, rtol=1e-12, atol=1e-12)

    def test_masking(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        H, alpha = layer(h, z, other, mask=mask)
        alpha = alpha.numpy()
        self.assertAllEqual(alpha[~mask], np.zeros((~mask).sum()))
        self.assertAllClose(alpha.sum(axis=1), [1.0, 1.0, 0.0], atol=1e-6)
        self.assertAllEqual(H[2], np.zeros(D))
        self.assertTrue(np.all(np.isfinite(H)))

    def test_other_attention_changes_the_weights(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        _, alpha = layer(h, z, other, mask=mask)
        _, alpha_flat = layer(h, z, np.zeros_like(other), mask=mask)
        self.assertNotAllClose(alpha[:2], alpha_flat[:2])

    def test_gradient_flows_into_other_attention(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        other = tf.Variable(other)
        with tf.GradientTape() as tape:
            H, _ = layer(h, z, other, mask=mask)
            loss = tf.reduce_sum(H)
        grad = tape.gradient(loss, other).numpy()
        self.assertGreater(np.abs(grad[0]).sum(), 0.0)
        self.assertTrue(np.all(np.isfinite(grad)))

    def test_weight_names(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        layer(h, z, other, mask=mask)
        shapes = {w.name: tuple(w.shape) for w in layer.weights}
        self.assertEqual(
            shapes, {"W_h": (D, A), "w_alpha": (A,), "W_z": (D, A), "v": (A,)}
        )

    def test_eager_matches_tf_function(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        self.assert_eager_matches_tf_function(lambda: layer(h, z, other, mask=mask))

    def test_config_round_trip(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A, name="fed")
        self.assert_config_round_trip(layer, lambda l: l(h, z, other, mask=mask))

    def test_save_reload(self):
        h, z, other, mask = make_inputs()
        h_in = keras.Input((None, D))
        z_in = keras.Input((D,))
        other_in = keras.Input((None,))
        mask_in = keras.Input((None,), dtype="bool")
        outputs = AttentionFedAttention(attention_size=A)(
            h_in, z_in, other_in, mask=mask_in
        )
        model = keras.Model([h_in, z_in, other_in, mask_in], outputs)
        self.assert_save_reload(model, [h, z, other, mask])

    def test_training_step(self):
        h, z, other, mask = make_inputs()
        layer = AttentionFedAttention(attention_size=A)
        layer(h, z, other, mask=mask)
        target = np.random.default_rng(1).normal(size=(B, D)).astype("float32")
        self.assert_training_step_changes_weights(
            layer,
            lambda: tf.reduce_mean(
                tf.square(layer(h, z, other, mask=mask)[0] - target)
            ),
        )


if __name__ == "__main__":
    tf.test.main()
