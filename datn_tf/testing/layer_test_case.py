"""Shared checks for the layer tests (not collected by pytest itself)."""

import os

import keras
import numpy as np
import tensorflow as tf


def _numpy_list(outputs):
    return [np.asarray(t) for t in tf.nest.flatten(outputs)]


class LayerTestCase(tf.test.TestCase):
    """`tf.test.TestCase` plus the round-trip checks every layer test runs."""

    # tf.test.TestCase's deprecated `test_session` helper is not a test; hide
    # it from pytest's collection (it is reported as skipped otherwise).
    test_session = None

    def setUp(self):
        super().setUp()
        # Deterministic initialisers and dropout masks per test.
        keras.utils.set_random_seed(1234)

    def assert_config_round_trip(self, layer, call):
        """`from_config(get_config())` rebuilds an equal layer.

        `call(layer)` must run the layer on fixed inputs; with the weights
        copied over, the clone must give the same outputs.
        """
        expected = call(layer)
        config = layer.get_config()
        clone = layer.__class__.from_config(config)
        self.assertEqual(clone.get_config(), config)
        # The registered name also round-trips through Keras serialisation.
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        )
        self.assertIsInstance(revived, layer.__class__)
        self.assertEqual(revived.get_config(), config)
        call(clone)  # builds the clone's weights
        clone.set_weights(layer.get_weights())
        for want, got in zip(_numpy_list(expected), _numpy_list(call(clone))):
            self.assertAllClose(want, got, rtol=1e-6, atol=1e-6)

    def assert_eager_matches_tf_function(self, call, atol=1e-6):
        """`call()` gives the same outputs eagerly and inside a tf.function."""
        eager = _numpy_list(call())
        graph = _numpy_list(tf.function(call)())
        for want, got in zip(eager, graph):
            self.assertAllClose(want, got, rtol=atol, atol=atol)

    def assert_save_reload(self, model, inputs):
        """`model.save(.keras)` + `load_model` gives identical outputs."""
        expected = _numpy_list(model(inputs))
        path = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(path)
        restored = keras.models.load_model(path)
        for want, got in zip(expected, _numpy_list(restored(inputs))):
            np.testing.assert_array_equal(want, got)
        return restored

    def assert_training_step_changes_weights(self, layer, loss_fn):
        """One Adam step on `loss_fn()` gives every trainable weight of `layer`
        a finite gradient and changes it."""
        weights = layer.trainable_weights
        self.assertNotEmpty(weights)
        before = [w.numpy().copy() for w in weights]
        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, weights)
        for weight, grad in zip(weights, grads):
            self.assertIsNotNone(grad, msg=weight.path)
            self.assertTrue(np.all(np.isfinite(grad)), msg=weight.path)
        keras.optimizers.Adam(learning_rate=1e-2).apply_gradients(
            zip(grads, weights)
        )
        for weight, old in zip(weights, before):
            self.assertFalse(np.allclose(old, weight.numpy()), msg=weight.path)
