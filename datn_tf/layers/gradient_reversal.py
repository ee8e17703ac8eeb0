"""Gradient reversal layer for adversarial training (Ganin & Lempitsky, 2015)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="datn_tf")
class GradientReversal(keras.layers.Layer):
    """Identity on the forward pass; multiplies the gradient by `-scale`.

        forward:  GRL(x) = x
        backward: dGRL/dx = -scale * I

    Placed between the shared encoder and the task discriminator of the
    adversarial shared-private model (Liu et al., 2017; the APSP baseline), so
    that minimising the discriminator's cross-entropy trains the discriminator
    while pushing the shared features to fool it (the min-max game).

    Args:
        scale: float. The gradient multiplier `lambda` (>= 0 for reversal).
            Defaults to 1.0.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: a float tensor of any shape.

    Masking:
        Supports masking: an input Keras mask is passed through unchanged.

    Returns:
        `inputs`, unchanged.
    """

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.supports_masking = True

    def call(self, inputs):
        scale = self.scale

        @tf.custom_gradient
        def _reverse(x):
            def grad(upstream):
                return tf.cast(-scale, upstream.dtype) * upstream

            return tf.identity(x), grad

        return _reverse(tf.convert_to_tensor(inputs))

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config
