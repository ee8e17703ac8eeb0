"""A position-wise path layer: the light alternative to a BiLSTM over a pretrained encoder's states."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="datn_tf")
class TokenProjection(keras.layers.Layer):
    """`h_j = tanh(W x_j + b)` at each position, and `z` the mean of the real `h_j`.

    Over contextual states (a transformer has already read the sentence) a path needs no
    recurrence of its own; this gives each path (shared, target, source) its own view of
    the states with the interface of `BiLSTMEncoder`: `(h [B, T, units], z [B, units])`,
    `z` standing in for the BiLSTM's final state as the attention's summary query.

    Args:
        units: the width of h (2 x hidden_size, a BiLSTM's).
        dropout: dropout rate on h.
        input_dropout: dropout rate on x.

    Masking: positions where `mask` is False get h = 0 and do not enter z; a row with no
    real position gets z = 0.
    """

    def __init__(self, units, dropout=0.0, input_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        self.input_dropout = float(input_dropout)
        self.dense = keras.layers.Dense(self.units, activation="tanh", dtype=self.dtype_policy, name="dense")
        self.input_dropout_layer = keras.layers.Dropout(self.input_dropout, dtype=self.dtype_policy)
        self.output_dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, x, mask=None, training=None):
        if mask is None:
            mask = tf.ones(tf.shape(x)[:2], tf.bool)
        x = tf.cast(x, self.compute_dtype)
        keep = tf.cast(mask, self.compute_dtype)[..., tf.newaxis]
        h = self.dense(self.input_dropout_layer(x, training=training)) * keep
        z = tf.math.divide_no_nan(tf.reduce_sum(h, axis=1), tf.reduce_sum(keep, axis=1))
        return self.output_dropout_layer(h, training=training) * keep, z

    def get_config(self):
        return {**super().get_config(), "units": self.units, "dropout": self.dropout,
                "input_dropout": self.input_dropout}
