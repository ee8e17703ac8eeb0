"""Tests for EmotionMLP (Eq. 3's MLP)."""

import keras
import numpy as np
import tensorflow as tf

from datn_tf.layers.emotion_mlp import EmotionMLP
from datn_tf.testing.layer_test_case import LayerTestCase

B, D, HIDDEN, K = 4, 6, 5, 12


def make_inputs(dtype="float32"):
    return np.random.default_rng(0).normal(size=(B, D)).astype(dtype)


class EmotionMLPTest(LayerTestCase):
    def test_matches_numpy_reference(self):
        x = make_inputs("float64")
        layer = EmotionMLP(K, hidden_units=HIDDEN, dtype="float64")
        logits = layer(x)
        self.assertEqual(logits.shape, (B, K))
        w1, b1, w2, b2 = [w.numpy() for w in layer.weights]
        self.assertEqual(w1.shape, (D, HIDDEN))
        want = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
        self.assertAllClose(logits, want, rtol=1e-12, atol=1e-12)

    def test_returns_logits_not_probabilities(self):
        layer = EmotionMLP(K, hidden_units=HIDDEN)
        logits = layer(make_inputs() * 10.0).numpy()
        self.assertNotAllClose(logits.sum(axis=1), np.ones(B))
        self.assertTrue(np.any(logits < 0))

    def test_activation_and_dropout(self):
        x = make_inputs()
        layer = EmotionMLP(K, hidden_units=HIDDEN, activation="tanh", dropout=0.5)
        logits = layer(x, training=False)
        w1, b1, w2, b2 = [w.numpy() for w in layer.weights]
        self.assertAllClose(logits, np.tanh(x @ w1 + b1) @ w2 + b2, atol=1e-5)
        self.assertNotAllClose(layer(x, training=True), logits)

    def test_eager_matches_tf_function(self):
        x = make_inputs()
        layer = EmotionMLP(K, hidden_units=HIDDEN, dropout=0.3)
        self.assert_eager_matches_tf_function(lambda: layer(x, training=False))

    def test_config_round_trip(self):
        x = make_inputs()
        layer = EmotionMLP(K, hidden_units=HIDDEN, activation="tanh", dropout=0.2)
        config = layer.get_config()
        self.assertEqual(
            {k: config[k] for k in ("num_outputs", "hidden_units", "dropout")},
            {"num_outputs": K, "hidden_units": HIDDEN, "dropout": 0.2},
        )
        self.assert_config_round_trip(layer, lambda l: l(x, training=False))

    def test_save_reload(self):
        inputs = keras.Input((D,))
        model = keras.Model(inputs, EmotionMLP(K, hidden_units=HIDDEN)(inputs))
        self.assert_save_reload(model, make_inputs())

    def test_training_step(self):
        x = make_inputs()
        labels = np.arange(B) % K
        layer = EmotionMLP(K, hidden_units=HIDDEN, dropout=0.1)
        layer(x)
        self.assert_training_step_changes_weights(
            layer,
            lambda: tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels, layer(x, training=True)
                )
            ),
        )


if __name__ == "__main__":
    tf.test.main()
