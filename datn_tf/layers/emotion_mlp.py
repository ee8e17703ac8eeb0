"""One-hidden-layer MLP output head (Eq. 3 of Yu et al., 2018)."""

import keras


@keras.saving.register_keras_serializable(package="datn_tf")
class EmotionMLP(keras.layers.Layer):
    """The MLP of Eq. 3, `o = softmax(MLP(H))`, returning the logits.

        logits = W_2 dropout(f(W_1 H + b_1)) + b_2

    The softmax of Eq. 3 is left to the loss (`datn_tf.losses.emotion_kl_loss`
    uses `log_softmax`) or to the caller at prediction time, because a softmax
    followed by a log in the loss is numerically unstable.

    Args:
        num_outputs: int. Number of logits, e.g. the number of emotions (plus
            one for the "none" class when `emotion_target_distribution` is
            used).
        hidden_units: int. Width of the hidden layer. Defaults to 200.
        activation: activation of the hidden layer. Defaults to `"relu"`.
        dropout: float. Dropout rate on the hidden activations. Defaults to 0.
        kernel_initializer: initializer of both kernels. Defaults to
            `"glorot_uniform"`.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        inputs: float tensor `[B, D]`, the sentence representation (`H`, or
            `[H_c; H_t]` in the transfer models).
        training: bool, whether dropout is active.

    Masking:
        Not applicable (no time axis); no Keras mask is propagated.

    Returns:
        Logits `[B, num_outputs]`.
    """

    def __init__(
        self,
        num_outputs,
        hidden_units=200,
        activation="relu",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_outputs = int(num_outputs)
        self.hidden_units = int(hidden_units)
        self.activation = keras.activations.get(activation)
        self.dropout = float(dropout)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.hidden_dense = keras.layers.Dense(
            self.hidden_units,
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.hidden_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="hidden_dropout"
        )
        self.output_dense = keras.layers.Dense(
            self.num_outputs,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="logits",
        )

    def build(self, inputs_shape):
        self.hidden_dense.build(inputs_shape)
        hidden_shape = tuple(inputs_shape[:-1]) + (self.hidden_units,)
        self.hidden_dropout.build(hidden_shape)
        self.output_dense.build(hidden_shape)
        self.built = True

    def call(self, inputs, training=None):
        hidden = self.hidden_dense(inputs)
        hidden = self.hidden_dropout(hidden, training=training)
        return self.output_dense(hidden)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.num_outputs,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_outputs": self.num_outputs,
                "hidden_units": self.hidden_units,
                "activation": keras.activations.serialize(self.activation),
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
