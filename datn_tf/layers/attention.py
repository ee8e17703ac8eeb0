"""Additive attention over BiLSTM states (Eq. 1-2 of Yu et al., 2018)."""

import keras
import tensorflow as tf


def masked_softmax(scores, mask=None):
    """Softmax over the last axis restricted to the positions where `mask` is True.

    Weights on masked positions are exactly 0 and the weights of each row sum to
    1 over its real positions. A row with no real position gets all-zero weights
    (not NaN), so an empty sentence pools to a zero vector.

    Args:
        scores: float tensor `[B, T]`.
        mask: bool (or 0/1) tensor `[B, T]`, True for real positions; `None`
            means every position is real.

    Returns:
        A float tensor `[B, T]` of the same dtype as `scores`.
    """
    scores = tf.convert_to_tensor(scores)
    if mask is None:
        return tf.nn.softmax(scores, axis=-1)
    mask = tf.cast(mask, tf.bool)
    # Shift by the row max over real positions only, so that a huge score on a
    # padding position can neither overflow exp() nor underflow the real ones.
    # The shift is a constant (softmax is shift invariant): no gradient needed.
    row_max = tf.reduce_max(
        tf.where(mask, scores, scores.dtype.min), axis=-1, keepdims=True
    )
    row_max = tf.stop_gradient(
        tf.where(tf.reduce_any(mask, axis=-1, keepdims=True), row_max, 0.0)
    )
    # tf.where (not a multiplication) so that inf/NaN scores on padding cannot
    # leak into the result or its gradient.
    exp = tf.where(mask, tf.exp(tf.where(mask, scores - row_max, 0.0)), 0.0)
    # divide_no_nan: an all-padding row has a zero denominator -> zero weights.
    return tf.math.divide_no_nan(exp, tf.reduce_sum(exp, axis=-1, keepdims=True))


def attention_pool(h, alpha):
    """`H = sum_j alpha_j h_j` (Eq. 2): `[B, T, D]` x `[B, T]` -> `[B, D]`."""
    return tf.einsum("bt,btd->bd", alpha, h)


@keras.saving.register_keras_serializable(package="datn_tf")
class Attention(keras.layers.Layer):
    """Additive attention with a sentence-summary query (Eq. 1-2 of the paper).

    For hidden states `h_j` (`[B, T, D]`) and a summary vector `z` (`[B, Dz]`,
    the paper's final hidden state `h_n`):

        u_j     = v^T tanh(W_h h_j + W_z z)                     (Eq. 1)
        alpha_j = exp(u_j) / sum_{l real} exp(u_l)              (Eq. 1)
        H       = sum_j alpha_j h_j                             (Eq. 2)

    As written in the paper there is no bias term. `W_h` is stored as a
    `[D, attention_size]` kernel and `W_z` as `[Dz, attention_size]` (the
    transposes of the paper's `a x d` matrices, so they right-multiply the
    row-vector states); `v` has shape `[attention_size]`.

    With `use_bias=True` a bias `b` is added inside the tanh,
    `u_j = v^T tanh(W_h h_j + W_z z + b)`, as in the authors' released code.

    Args:
        attention_size: int. The attention dimension `a`. Defaults to 200
            (the paper's hidden size).
        use_bias: bool. Add a bias inside the tanh. Defaults to False (Eq. 1).
        kernel_initializer: initializer for `W_h`, `W_z` and `v`. Defaults to
            `"glorot_uniform"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`
            (`name`, `dtype`, `trainable`, ...).

    Call arguments:
        h: float tensor `[B, T, D]`, the per-token hidden states.
        z: float tensor `[B, Dz]`, the sentence summary vector.
        mask: optional bool tensor `[B, T]`, True for real tokens. If omitted,
            the Keras mask attached to `h` is used (`BiLSTMEncoder` attaches
            one); without either, every token is real.
        training: bool. Only picks how the scores are computed: with a mask and
            `training` false, for the real tokens only (gathered); otherwise for
            every position. Both give the same `H` and `alpha`.

    Masking:
        The softmax runs over real tokens only: weights on padding are exactly 0
        and the real weights of a row sum to 1. A row without any real token
        gets all-zero weights and `H = 0` (never NaN). The layer does not
        propagate a Keras mask (its outputs have no time axis to mask).

    Returns:
        A tuple `(H, alpha)`: `H` `[B, D]` the attention-pooled sentence vector
        and `alpha` `[B, T]` the attention weights.

    Example:

    >>> layer = Attention(attention_size=8)
    >>> h = tf.random.normal([2, 5, 6])
    >>> mask = tf.sequence_mask([5, 3], 5)
    >>> H, alpha = layer(h, h[:, -1], mask=mask)
    >>> H.shape, alpha.shape
    (TensorShape([2, 6]), TensorShape([2, 5]))
    """

    def __init__(
        self,
        attention_size=200,
        kernel_initializer="glorot_uniform",
        use_bias=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.attention_size = int(attention_size)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # Consume the token mask (explicit or Keras-propagated) quietly; the
        # outputs have no time axis, so compute_mask passes nothing on.
        self.supports_masking = True

    def build(self, h_shape, z_shape=None):
        hidden_dim = h_shape[-1]
        # z defaults to the same width as h (the BiLSTM's last state).
        z_dim = hidden_dim if z_shape is None else z_shape[-1]
        self.W_h = self.add_weight(
            name="W_h",
            shape=(hidden_dim, self.attention_size),
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
        self.b = None
        if self.use_bias:
            self.b = self.add_weight(name="b", shape=(self.attention_size,), initializer="zeros")
        self.built = True

    def call(self, h, z, mask=None, training=None):
        return self._attend(h, z, mask, training)

    def _attend(self, h, z, mask, training, fed=None):
        """Eq. 1-2. `fed = (alpha_other [B, T], w_alpha [a])` adds `w_alpha alpha'_j`
        inside the tanh (the attention-fed attention of Section 2.2.2)."""
        if mask is None:
            # Keras fills `mask` from the input only for single-input layers,
            # so read the mask BiLSTMEncoder attached to `h` ourselves.
            mask = getattr(h, "_keras_mask", None)
        h = tf.convert_to_tensor(h, dtype=self.compute_dtype)
        z = tf.convert_to_tensor(z, dtype=self.compute_dtype)
        if mask is None or training:
            # Every position, padding included: cheaper than gathering when batches
            # are length-bucketed (training), and the only choice without a mask.
            # [B, T, a] + [B, 1, a]: W_z z is shared by every position.
            pre = tf.einsum("btd,da->bta", h, self.W_h) + self._query(z)[:, tf.newaxis, :]
            if fed is not None:
                pre += fed[0][:, :, tf.newaxis] * fed[1]
            scores = tf.einsum("bta,a->bt", tf.tanh(pre), self.v)
        else:
            # Inference: the real tokens only ([N, D] rows), so the projection and the
            # tanh skip the padding, most of a serving batch's [B, T]. Padding gets
            # score 0; its softmax weight is 0 whatever its score.
            mask = tf.cast(mask, tf.bool)
            real = tf.where(mask)
            pre = tf.matmul(tf.gather_nd(h, real), self.W_h) + tf.gather(self._query(z), real[:, 0])
            if fed is not None:
                pre += tf.gather_nd(fed[0], real)[:, tf.newaxis] * fed[1]
            real_scores = tf.linalg.matvec(tf.tanh(pre), self.v)
            scores = tf.scatter_nd(real, real_scores, tf.shape(mask, out_type=tf.int64))
        alpha = masked_softmax(scores, mask)
        return attention_pool(h, alpha), alpha

    def _query(self, z):
        """`W_z z` (+ b): the part of the score shared by every position, [B, a]."""
        query = tf.matmul(z, self.W_z)
        return query if self.b is None else query + self.b

    def compute_mask(self, h, mask=None):
        return None

    def compute_output_shape(self, h_shape, z_shape=None):
        return (h_shape[0], h_shape[-1]), (h_shape[0], h_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "attention_size": self.attention_size,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
