"""Attention fed with the other feature space's weights (Section 2.2.2, DATN)."""

import keras
import tensorflow as tf

from datn_tf.layers.attention import attention_pool
from datn_tf.layers.attention import masked_softmax


@keras.saving.register_keras_serializable(package="datn_tf")
class AttentionFedAttention(keras.layers.Layer):
    """The dual-attention layer of DATN (Section 2.2.2 of the paper).

    Like `Attention` (Eq. 1-2) but the score of each token also sees the
    attention weight `alpha'_j` that the *other* feature space gave to it:

        u_j     = v_t^T tanh(W_h h_j + w_alpha alpha'_j + W_z z)
        alpha_j = exp(u_j) / sum_{l real} exp(u_l)
        H       = sum_j alpha_j h_j

    In DATN-1 `alpha'` is the shared layer's `alpha^s` and this layer computes
    the target-specific `alpha^t`; DATN-2 swaps the roles. No bias, as written.
    Kernels are stored as `W_h` `[D, a]`, `W_z` `[Dz, a]`, `w_alpha` `[a]` and
    `v` `[a]`.

    Args:
        attention_size: int. The attention dimension `a`. Defaults to 200.
        kernel_initializer: initializer for all four weights. Defaults to
            `"glorot_uniform"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        h: float tensor `[B, T, D]`, this feature space's hidden states.
        z: float tensor `[B, Dz]`, this feature space's summary vector.
        alpha_other: float tensor `[B, T]`, the other feature space's attention
            weights (treated as an ordinary input: gradients flow through it,
            as in the paper's joint objective).
        mask: optional bool tensor `[B, T]`, True for real tokens. If omitted,
            the Keras mask attached to `h` is used, as in `Attention`.

    Masking:
        Same as `Attention`: zero weight on padding, real weights sum to 1, an
        all-padding row gives zero weights and `H = 0`.

    Returns:
        A tuple `(H, alpha)` with shapes `[B, D]` and `[B, T]`.
    """

    def __init__(
        self,
        attention_size=200,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attention_size = int(attention_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # Consume the token mask (explicit or Keras-propagated) quietly; the
        # outputs have no time axis, so compute_mask passes nothing on.
        self.supports_masking = True

    def build(self, h_shape, z_shape=None, alpha_other_shape=None):
        hidden_dim = h_shape[-1]
        z_dim = hidden_dim if z_shape is None else z_shape[-1]
        self.W_h = self.add_weight(
            name="W_h",
            shape=(hidden_dim, self.attention_size),
            initializer=self.kernel_initializer,
        )
        self.w_alpha = self.add_weight(
            name="w_alpha",
            shape=(self.attention_size,),
            initializer=self.kernel_initializer,
        )
        self.W_z = self.add_weight(
            name="W_z",
            shape=(z_dim, self.attention_size),
            initializer=self.kernel_initializer,
        )
        self.v = self.add_weight(
            name="v",
            shape=(self.attention_size,),
            initializer=self.kernel_initializer,
        )
        self.built = True

    def call(self, h, z, alpha_other, mask=None):
        if mask is None:
            # Keras fills `mask` from the input only for single-input layers,
            # so read the mask BiLSTMEncoder attached to `h` ourselves.
            mask = getattr(h, "_keras_mask", None)
        h = tf.convert_to_tensor(h, dtype=self.compute_dtype)
        z = tf.convert_to_tensor(z, dtype=self.compute_dtype)
        alpha_other = tf.convert_to_tensor(alpha_other, dtype=self.compute_dtype)
        projected = tf.tanh(
            tf.einsum("btd,da->bta", h, self.W_h)
            + alpha_other[:, :, tf.newaxis] * self.w_alpha
            + tf.matmul(z, self.W_z)[:, tf.newaxis, :]
        )
        scores = tf.einsum("bta,a->bt", projected, self.v)
        alpha = masked_softmax(scores, mask)
        return attention_pool(h, alpha), alpha

    def compute_mask(self, h, mask=None):
        return None

    def compute_output_shape(self, h_shape, z_shape=None, alpha_other_shape=None):
        return (h_shape[0], h_shape[-1]), (h_shape[0], h_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "attention_size": self.attention_size,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
