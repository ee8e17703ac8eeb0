"""Attention fed with the other feature space's weights (Section 2.2.2, DATN)."""

import keras
import tensorflow as tf

from datn_tf.layers.attention import Attention


@keras.saving.register_keras_serializable(package="datn_tf")
class AttentionFedAttention(Attention):
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
        training: bool, as in `Attention` (how the scores are computed only).

    Masking:
        Same as `Attention`: zero weight on padding, real weights sum to 1, an
        all-padding row gives zero weights and `H = 0`.

    Returns:
        A tuple `(H, alpha)` with shapes `[B, D]` and `[B, T]`.
    """

    def build(self, h_shape, z_shape=None, alpha_other_shape=None):
        super().build(h_shape, z_shape)
        self.w_alpha = self.add_weight(
            name="w_alpha",
            shape=(self.attention_size,),
            initializer=self.kernel_initializer,
        )

    def call(self, h, z, alpha_other, mask=None, training=None):
        alpha_other = tf.convert_to_tensor(alpha_other, dtype=self.compute_dtype)
        # w_alpha alpha'_j: each position's weight in the other space, projected to a dims.
        return self._attend(h, z, mask, training, fed=(alpha_other, self.w_alpha))

    def compute_output_shape(self, h_shape, z_shape=None, alpha_other_shape=None):
        return super().compute_output_shape(h_shape, z_shape)
