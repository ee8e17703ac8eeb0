"""Tests for TokenProjection (a position-wise path layer over contextual states)."""

import numpy as np

from datn_tf.layers.token_projection import TokenProjection
from datn_tf.testing.layer_test_case import LayerTestCase

B, T, D, UNITS = 3, 5, 4, 6


class TokenProjectionTest(LayerTestCase):
    def test_matches_numpy_reference_with_masking(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(B, T, D))
        mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
        layer = TokenProjection(UNITS, dtype="float64")
        h, z = layer(x, mask)
        w, b = [v.numpy() for v in layer.weights]
        want_h = np.tanh(x @ w + b) * mask[..., None]
        want_z = np.stack([want_h[i][mask[i]].mean(axis=0) if mask[i].any() else np.zeros(UNITS) for i in range(B)])
        self.assertAllClose(h, want_h, atol=1e-12)
        self.assertAllClose(z, want_z, atol=1e-12)  # a row with no real position: z = 0, not NaN

    def test_dropout_only_in_training(self):
        x = np.random.default_rng(1).normal(size=(B, T, D)).astype("float32")
        layer = TokenProjection(UNITS, dropout=0.5, input_dropout=0.5)
        self.assertAllClose(layer(x, training=False)[0], layer(x, training=False)[0])
        self.assertNotAllClose(layer(x, training=True)[0], layer(x, training=False)[0])

    def test_config_round_trip(self):
        x = np.random.default_rng(2).normal(size=(B, T, D)).astype("float32")
        self.assert_config_round_trip(TokenProjection(UNITS, dropout=0.1, input_dropout=0.2), lambda l: l(x))
