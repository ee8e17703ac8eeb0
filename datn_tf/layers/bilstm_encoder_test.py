"""Tests for BiLSTMEncoder (Section 2.1)."""

import keras
import numpy as np
import tensorflow as tf

from datn_tf.layers.attention import Attention
from datn_tf.layers.bilstm_encoder import BiLSTMEncoder
from datn_tf.testing.layer_test_case import LayerTestCase
from datn_tf.testing.references import numpy_bilstm

B, T, E, U = 3, 5, 4, 3  # batch, time, embedding size, LSTM units
LENGTHS = [5, 2, 0]


def make_inputs(lengths=LENGTHS, time_steps=T, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(lengths), time_steps, E)).astype(dtype)
    mask = np.arange(time_steps)[None, :] < np.array(lengths)[:, None]
    return x, mask


class BiLSTMEncoderTest(LayerTestCase):
    """Every test runs once per kernel (this class: Keras' LSTM; the subclass below: packed)."""

    IMPLEMENTATION = "keras"

    def make_encoder(self, **kwargs):
        return BiLSTMEncoder(implementation=self.IMPLEMENTATION, **kwargs)

    def test_shapes_padding_and_last_state(self):
        x, mask = make_inputs()
        encoder = self.make_encoder(hidden_size=U, dropout=0.5)
        h, z = encoder(x, mask=mask, training=False)
        self.assertEqual(h.shape, (B, T, 2 * U))
        self.assertEqual(z.shape, (B, 2 * U))
        h, z = h.numpy(), z.numpy()
        self.assertAllEqual(h[~mask], np.zeros(((~mask).sum(), 2 * U)))
        self.assertAllEqual(z[0], h[0, 4])
        self.assertAllEqual(z[1], h[1, 1])
        self.assertAllEqual(z[2], np.zeros(2 * U))  # the empty sentence
        self.assertTrue(np.all(np.abs(h[mask]) > 0))

    def test_matches_numpy_reference(self):
        x, mask = make_inputs(dtype="float64")
        encoder = self.make_encoder(hidden_size=U, dropout=0.5, dtype="float64")
        h, z = encoder(x, mask=mask, training=False)
        want_h, want_z = numpy_bilstm(encoder, x, LENGTHS)
        self.assertAllClose(h, want_h, rtol=1e-10, atol=1e-10)
        self.assertAllClose(z, want_z, rtol=1e-10, atol=1e-10)

    def test_tied_directions_match_numpy_reference(self):
        x, mask = make_inputs(dtype="float64")
        encoder = self.make_encoder(hidden_size=U, dropout=0.5, tie_directions=True, dtype="float64")
        h, z = encoder(x, mask=mask, training=False)
        # One LSTM: 3 weights (kernel, recurrent kernel, bias) instead of 6.
        self.assertLen(encoder.trainable_weights, 3)
        forward, backward = encoder.direction_cells()
        self.assertIs(forward, backward)
        want_h, want_z = numpy_bilstm(encoder, x, LENGTHS)
        self.assertAllClose(h, want_h, rtol=1e-10, atol=1e-10)
        self.assertAllClose(z, want_z, rtol=1e-10, atol=1e-10)
        # With one set of weights, the backward half of a sentence is the forward half
        # of the same sentence reversed.
        n = LENGTHS[0]
        h_rev, _ = encoder(x[:1, :n][:, ::-1], training=False)
        self.assertAllClose(h[0, :n, U:], h_rev[0, ::-1, :U], rtol=1e-10, atol=1e-10)

    def test_separate_input_dropout_rate(self):
        x, mask = make_inputs()
        encoder = self.make_encoder(hidden_size=U, dropout=0.0, input_dropout=0.0)
        # Both rates 0: training and inference agree.
        self.assertAllClose(encoder(x, mask=mask, training=True)[0], encoder(x, mask=mask, training=False)[0])
        encoder = self.make_encoder(hidden_size=U, dropout=0.0, input_dropout=0.9)
        self.assertNotAllClose(encoder(x, mask=mask, training=True)[0], encoder(x, mask=mask, training=False)[0])
        self.assertEqual(encoder.input_dropout.rate, 0.9)
        self.assertEqual(encoder.output_dropout.rate, 0.0)
        self.assertEqual(self.make_encoder(dropout=0.3).input_dropout.rate, 0.3)

    def test_padding_invariance(self):
        x, mask = make_inputs(lengths=[4, 2], time_steps=4)
        encoder = self.make_encoder(hidden_size=U)
        h, z = encoder(x, mask=mask, training=False)
        # The same sentences with three more padded steps: zeros, or garbage.
        for fill in (0.0, 7.0):
            padded = np.concatenate([x, np.full((2, 3, E), fill, "float32")], 1)
            padded_mask = np.pad(mask, [[0, 0], [0, 3]])
            h_pad, z_pad = encoder(padded, mask=padded_mask, training=False)
            self.assertAllClose(h_pad[:, :4], h, atol=1e-5, rtol=1e-5)
            self.assertAllEqual(h_pad[:, 4:], np.zeros((2, 3, 2 * U)))
            self.assertAllClose(z_pad, z, atol=1e-5, rtol=1e-5)
        # ... and equal to the unpadded short sentence alone (the backward
        # LSTM starts at its last real word, not at the padding).
        h_alone, z_alone = encoder(x[1:, :2], training=False)
        self.assertAllClose(h[1, :2], h_alone[0], atol=1e-5, rtol=1e-5)
        self.assertAllClose(z[1], z_alone[0], atol=1e-5, rtol=1e-5)

    def test_empty_inputs(self):
        encoder = self.make_encoder(hidden_size=U)
        h, z = encoder(np.zeros((2, 3, E), "float32"), mask=np.zeros((2, 3), bool))
        self.assertAllEqual(h, np.zeros((2, 3, 2 * U)))
        self.assertAllEqual(z, np.zeros((2, 2 * U)))
        # T = 0: no time step at all.
        h, z = encoder(np.zeros((2, 0, E), "float32"), mask=np.zeros((2, 0), bool))
        self.assertEqual(h.shape, (2, 0, 2 * U))
        self.assertAllEqual(z, np.zeros((2, 2 * U)))

    def test_dropout(self):
        x, mask = make_inputs()
        encoder = self.make_encoder(hidden_size=U, dropout=0.5)
        h_eval, _ = encoder(x, mask=mask, training=False)
        h_train, z_train = encoder(x, mask=mask, training=True)
        self.assertNotAllClose(h_eval, h_train)
        self.assertAllEqual(h_train.numpy()[~mask], np.zeros(((~mask).sum(), 2 * U)))
        self.assertAllEqual(z_train[1], h_train[1, 1])

    def test_eager_matches_tf_function(self):
        x, mask = make_inputs()
        encoder = self.make_encoder(hidden_size=U)
        self.assert_eager_matches_tf_function(
            lambda: encoder(x, mask=mask, training=False), atol=1e-6
        )

    def test_no_retracing_across_lengths(self):
        encoder = self.make_encoder(hidden_size=U)
        encoder(*make_inputs())  # build outside the traced function
        traces = []

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, E], tf.float32),
                tf.TensorSpec([None, None], tf.bool),
            ]
        )
        def encode(x, mask):
            traces.append(1)  # runs once per trace
            return encoder(x, mask=mask, training=False)

        for lengths, time_steps in (([3, 1], 3), ([5, 2, 4], 5), ([7], 7)):
            x, mask = make_inputs(lengths, time_steps)
            h, z = encode(x, mask)
            self.assertEqual(h.shape, (len(lengths), time_steps, 2 * U))
            eager_h, _ = encoder(x, mask=mask, training=False)
            self.assertAllClose(h, eager_h, atol=1e-6, rtol=1e-6)
        self.assertLen(traces, 1)

    def test_mask_reaches_attention_through_keras_masking(self):
        ids = keras.Input((None,), dtype="int32")
        embedded = keras.layers.Embedding(10, E, mask_zero=True)(ids)
        h, z = self.make_encoder(hidden_size=U)(embedded)
        _, alpha = Attention(attention_size=5)(h, z)
        model = keras.Model(ids, alpha)
        alpha = model(np.array([[1, 2, 0, 0], [3, 0, 0, 0]])).numpy()
        self.assertAllEqual(alpha[:, 2:], np.zeros((2, 2)))
        self.assertAllEqual(alpha[1], [1.0, 0.0, 0.0, 0.0])
        self.assertAllClose(alpha.sum(axis=1), [1.0, 1.0])

    def test_config_round_trip(self):
        x, mask = make_inputs()
        encoder = self.make_encoder(hidden_size=U, dropout=0.25)
        self.assertEqual(encoder.get_config()["hidden_size"], U)
        self.assertEqual(encoder.get_config()["dropout"], 0.25)
        self.assertEqual(encoder.get_config()["implementation"], self.IMPLEMENTATION)
        self.assert_config_round_trip(
            encoder, lambda layer: layer(x, mask=mask, training=False)
        )

    def test_save_reload(self):
        x, mask = make_inputs()
        x_in = keras.Input((None, E))
        mask_in = keras.Input((None,), dtype="bool")
        outputs = self.make_encoder(hidden_size=U)(x_in, mask=mask_in)
        model = keras.Model([x_in, mask_in], outputs)
        self.assert_save_reload(model, [x, mask])

    def test_training_step(self):
        x, mask = make_inputs()
        encoder = self.make_encoder(hidden_size=U, dropout=0.1)
        encoder(x, mask=mask)
        target = np.random.default_rng(1).normal(size=(B, 2 * U)).astype("float32")

        def loss():
            h, z = encoder(x, mask=mask, training=True)
            return tf.reduce_mean(tf.square(z - target)) + tf.reduce_mean(h)

        self.assertLen(encoder.trainable_weights, 6)  # 2 x (kernel, recurrent, bias)
        self.assert_training_step_changes_weights(encoder, loss)



class PackedBiLSTMEncoderTest(BiLSTMEncoderTest):
    IMPLEMENTATION = "packed"


class KernelChoiceTest(LayerTestCase):
    def make_pair(self, dtype="float32"):
        """A Keras-kernel and a packed-kernel encoder with the same weights."""
        x, mask = make_inputs(lengths=[2, 5, 0, 3, 5, 1], time_steps=6, dtype=dtype)
        keras_encoder = BiLSTMEncoder(hidden_size=U, implementation="keras", dtype=dtype)
        packed_encoder = BiLSTMEncoder(hidden_size=U, implementation="packed", dtype=dtype)
        keras_encoder(x, mask=mask)
        packed_encoder(x, mask=mask)
        packed_encoder.set_weights(keras_encoder.get_weights())
        return keras_encoder, packed_encoder, x, mask

    def test_packed_equals_keras(self):
        keras_encoder, packed_encoder, x, mask = self.make_pair("float64")
        for want, got in zip(keras_encoder(x, mask=mask), packed_encoder(x, mask=mask)):
            self.assertAllClose(want, got, rtol=1e-12, atol=1e-12)

    def test_packed_gradients_equal_keras(self):
        keras_encoder, packed_encoder, x, mask = self.make_pair("float64")
        x = tf.constant(x)
        weight = np.random.default_rng(2).normal(size=(1, 6, 2 * U))

        def gradients(encoder):
            with tf.GradientTape() as tape:
                tape.watch(x)
                h, z = encoder(x, mask=mask, training=False)
                loss = tf.reduce_sum(h * weight) + tf.reduce_sum(tf.sin(z))
            # The packed kernel's gather gives x an IndexedSlices gradient.
            return [tf.convert_to_tensor(g) for g in tape.gradient(loss, [x, *encoder.trainable_weights])]

        for want, got in zip(gradients(keras_encoder), gradients(packed_encoder)):
            self.assertAllClose(want, got, rtol=1e-10, atol=1e-10)

    def test_auto_picks_packed_for_inference_without_a_gpu(self):
        encoder = BiLSTMEncoder(hidden_size=U)
        self.assertEqual(encoder.implementation, "auto")
        self.assertEqual(encoder.uses_packed_kernel(training=False), not tf.config.list_logical_devices("GPU"))
        self.assertFalse(encoder.uses_packed_kernel(training=True))
        self.assertTrue(BiLSTMEncoder(hidden_size=U, implementation="packed").uses_packed_kernel(training=True))
        self.assertTrue(BiLSTMEncoder(hidden_size=U, implementation="packed").uses_packed_kernel())
        self.assertFalse(BiLSTMEncoder(hidden_size=U, implementation="keras").uses_packed_kernel())

    def test_rejects_unknown_implementation(self):
        with self.assertRaisesRegex(ValueError, "implementation must be one of"):
            BiLSTMEncoder(hidden_size=U, implementation="cudnn")


if __name__ == "__main__":
    tf.test.main()
