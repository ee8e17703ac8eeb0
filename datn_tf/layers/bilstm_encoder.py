"""Masked bidirectional LSTM sentence encoder (Section 2.1 of Yu et al., 2018)."""

import keras
import tensorflow as tf

from datn_tf.layers.packed_lstm import packed_bilstm

IMPLEMENTATIONS = ("auto", "keras", "packed")


@keras.saving.register_keras_serializable(package="datn_tf")
class BiLSTMEncoder(keras.layers.Layer):
    """One-layer BiLSTM over right-padded word vectors (Section 2.1).

        ->h_j = LSTM(->h_{j-1}, x_j),   <-h_j = LSTM(<-h_{j+1}, x_j),
        h_j   = [->h_j; <-h_j],         z = h_n (the last real token's state).

    Dropout is applied to the embedded input and to the BiLSTM outputs (the
    paper uses rate 0.5). The LSTM keeps Keras' default `tanh`/`sigmoid`
    activations and no recurrent dropout so that, on a GPU, Keras runs the
    cuDNN kernel. The mask is handed to the LSTM, so each direction sees only
    the real tokens: the backward LSTM starts at the last real token, not at
    the padding, and outputs do not depend on how much padding follows.

    `z` is `h` at index `length - 1`, i.e. `[->h_n; <-h_n]` as in the paper's
    "final hidden state h_n" (note `<-h_n` has only read the last token).

    Two kernels compute the same function on the same weights (the Keras LSTM's):
    `"keras"` runs `keras.layers.Bidirectional(LSTM)` (cuDNN on a GPU; on a CPU it
    steps every row through the batch's longest sentence); `"packed"` runs
    `packed_lstm.packed_bilstm`, which sorts the rows by length and steps only the
    rows that still have tokens, as cuDNN's packed sequences do. `"auto"` picks
    `"packed"` for inference on a machine without a GPU and `"keras"` otherwise:
    training batches are length-bucketed (little padding to skip), and there the
    Keras LSTM's gradient is faster (docs/performance.md). The choice is made when
    the call is traced, so a SavedModel keeps the kernel of the machine that
    exported it.

    With `tie_directions=True` one LSTM (one set of weights) reads the sentence
    in both directions, as the authors' released code does by passing one cell
    object as both `cell_fw` and `cell_bw`; the backward pass reads each
    sentence's real tokens reversed. The paper's `Theta_f` and `Theta_b` are
    separate (the default).

    Args:
        hidden_size: int. Units of each LSTM direction; outputs have
            `2 * hidden_size` features. Defaults to 200.
        dropout: float in `[0, 1)`. Dropout rate on the outputs `h` (and on the
            input unless `input_dropout` is given). Defaults to 0.5.
        input_dropout: float in `[0, 1)` or None. Dropout rate on the embedded
            input; None takes `dropout`. Defaults to None.
        tie_directions: bool. One set of LSTM weights for both directions.
            Defaults to False.
        implementation: `"auto"` (default), `"keras"` or `"packed"`; see above.
        **kwargs: other keyword arguments passed to `keras.layers.Layer`.

    Call arguments:
        x: float tensor `[B, T, d]`, the embedded words.
        mask: optional bool tensor `[B, T]`, True for real tokens. It must be
            right-padded (`[True, ..., True, False, ...]`), which is also what
            cuDNN requires. Defaults to all tokens real; if omitted and `x`
            carries a Keras mask (e.g. from `Embedding(mask_zero=True)`), Keras
            passes that one.
        training: bool, whether dropout is active.

    Masking:
        Padded positions of `h` are exactly 0. A row with length 0 (an empty
        sentence) gives `h = 0` and `z = 0` rather than an error; so does a
        batch with `T = 0`. The mask is attached to `h` as its Keras mask
        (none on `z`), so a following `Attention(h, z)` picks it up when it is
        not passed explicitly.

    Returns:
        A tuple `(h, z)`: `h` `[B, T, 2 * hidden_size]` and
        `z` `[B, 2 * hidden_size]`.
    """

    def __init__(self, hidden_size=200, dropout=0.5, implementation="auto", input_dropout=None,
                 tie_directions=False, **kwargs):
        super().__init__(**kwargs)
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
        self.hidden_size = int(hidden_size)
        self.dropout = float(dropout)
        self.input_dropout_rate = None if input_dropout is None else float(input_dropout)
        self.tie_directions = bool(tie_directions)
        self.implementation = implementation
        # Accept an explicit or Keras-propagated mask without a warning; see
        # compute_mask for what is passed on.
        self.supports_masking = True
        self.input_dropout = keras.layers.Dropout(
            self.dropout if input_dropout is None else self.input_dropout_rate,
            dtype=self.dtype_policy,
            name="input_dropout",
        )
        self.output_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="output_dropout"
        )
        if self.tie_directions:
            # One LSTM read forwards and, over reversed sentences, backwards.
            self.lstm = keras.layers.LSTM(
                self.hidden_size, return_sequences=True, dtype=self.dtype_policy, name="lstm"
            )
            self.bilstm = None
            return
        lstm = keras.layers.LSTM(self.hidden_size, return_sequences=True, dtype=self.dtype_policy)
        # Keep the template LSTM alive (untracked): Bidirectional copies and drops it, and
        # during `load_model` Keras keys objects by id(), so a freed template's id reused by
        # a later encoder's LSTM would make loading a two-encoder model fail at random.
        object.__setattr__(self, "_lstm_template", lstm)
        self.bilstm = keras.layers.Bidirectional(
            lstm,
            merge_mode="concat",
            dtype=self.dtype_policy,
            name="bilstm",
        )

    def build(self, x_shape):
        self.input_dropout.build(x_shape)
        if self.tie_directions:
            self.lstm.build(x_shape)
        else:
            self.bilstm.build(x_shape)
        self.output_dropout.build(tuple(x_shape[:-1]) + (2 * self.hidden_size,))
        self.built = True

    def direction_cells(self):
        """The (forward, backward) LSTM cells; the same cell twice when tied."""
        if self.tie_directions:
            return self.lstm.cell, self.lstm.cell
        return self.bilstm.forward_layer.cell, self.bilstm.backward_layer.cell

    def uses_packed_kernel(self, training=False):
        """Whether a call traced now runs the packed kernel (see the class docstring)."""
        if self.implementation == "auto":
            return not training and not tf.config.list_logical_devices("GPU")
        return self.implementation == "packed"

    def call(self, x, mask=None, training=None):
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        batch_size, time_steps = tf.shape(x)[0], tf.shape(x)[1]
        if mask is None:
            mask = tf.ones([batch_size, time_steps], dtype=tf.bool)
        mask = tf.cast(mask, tf.bool)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        if self.uses_packed_kernel(bool(training)):
            return self._call_packed(x, lengths, training)
        return self._call_keras(x, mask, lengths, time_steps, training)

    def _call_packed(self, x, lengths, training):
        x = self.input_dropout(x, training=training)
        h = packed_bilstm(x, lengths, *[(c.kernel, c.recurrent_kernel, c.bias) for c in self.direction_cells()])
        h = self.output_dropout(h, training=training)
        # The padding stays exactly 0 through dropout. A row of length 0 reads its
        # all-zero step 0, so z = 0; a batch with T = 0 gets one zero step to read.
        steps = tf.pad(h, [[0, 0], [0, tf.maximum(1 - tf.shape(h)[1], 0)], [0, 0]])
        z = tf.gather(steps, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)
        return h, z

    def _call_keras(self, x, mask, lengths, time_steps, training):
        # cuDNN rejects a row with no real step and an LSTM cannot run over
        # T = 0, so pad T up to at least 1 and let each empty row run one dummy
        # step at position 0; both are zeroed below by the (False-padded) mask.
        pad_steps = tf.maximum(1 - time_steps, 0)
        x_run = tf.pad(x, [[0, 0], [0, pad_steps], [0, 0]])
        real = tf.pad(mask, [[0, 0], [0, pad_steps]])
        first_step = tf.equal(tf.range(tf.shape(real)[1]), 0)[tf.newaxis, :]
        mask_run = tf.logical_or(
            real, tf.logical_and(first_step, tf.equal(lengths, 0)[:, tf.newaxis])
        )

        x_run = self.input_dropout(x_run, training=training)
        if self.tie_directions:
            run_lengths = tf.reduce_sum(tf.cast(mask_run, tf.int32), axis=1)
            forward = self.lstm(x_run, mask=mask_run, training=training)
            # Reversing each row's real steps keeps the padding on the right.
            reverse = lambda t: tf.reverse_sequence(t, run_lengths, seq_axis=1, batch_axis=0)  # noqa: E731
            backward = reverse(self.lstm(reverse(x_run), mask=mask_run, training=training))
            h = tf.concat([forward, backward], axis=-1)
        else:
            h = self.bilstm(x_run, mask=mask_run, training=training)
        h = self.output_dropout(h, training=training)
        # Exact zeros on padding and on the dummy steps.
        h = h * tf.cast(real, h.dtype)[:, :, tf.newaxis]
        # The state at the last real token. An empty row reads index 0 of an
        # all-zero row, so z = 0 there.
        z = tf.gather(h, tf.maximum(lengths - 1, 0), axis=1, batch_dims=1)
        h = h[:, :time_steps]
        return h, z

    def compute_mask(self, x, mask=None):
        # `h` keeps the token mask (so a following Attention receives it
        # automatically); `z` has no time axis.
        if mask is None:
            return None
        # keras.ops: this also runs on symbolic KerasTensors.
        return keras.ops.cast(mask, "bool"), None

    def compute_output_shape(self, x_shape):
        return (
            (x_shape[0], x_shape[1], 2 * self.hidden_size),
            (x_shape[0], 2 * self.hidden_size),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "dropout": self.dropout,
                "input_dropout": self.input_dropout_rate,
                "tie_directions": self.tie_directions,
                "implementation": self.implementation,
            }
        )
        return config
