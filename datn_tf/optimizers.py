"""Row-wise (sparse) Adam for the lookup table E.

A mini-batch touches a few hundred of E's ~57,000 rows. Keras' Adam densifies the
embedding gradient and updates every row, moments included, at every step: on a 2-core
CPU that is over half of a training step. `RowwiseAdam` applies the Adam update only to
the rows whose words are in the mini-batch (the "lazy Adam" of TF1's contrib): those rows
get exactly Adam's update with the global step's bias correction, and the other rows and
their moments stay as they are instead of drifting on stale momentum. docs/fidelity.md
records this; `--dense_embedding_updates` restores plain Adam on E.
"""

import keras
import tensorflow as tf


def _tf_variable(variable):
    # Keras 3 variables wrap a tf.Variable (`.value`), which has the scatter methods.
    return getattr(variable, "value", variable)


class RowwiseAdam(tf.Module):
    """Adam (Kingma and Ba, 2014; Keras' formulation and defaults) applied row-wise.

    Args:
        variable: the embedding table [V, d] (a Keras or TensorFlow variable).
        learning_rate, beta_1, beta_2, epsilon: as `keras.optimizers.Adam`.
    """

    def __init__(self, variable, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None):
        super().__init__(name=name)
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        var = _tf_variable(variable)
        self.m = tf.Variable(tf.zeros_like(var), trainable=False, name="m")
        self.v = tf.Variable(tf.zeros_like(var), trainable=False, name="v")
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")

    def apply(self, gradient, variable):
        """One Adam step on the rows `gradient` (tf.IndexedSlices, or dense) touches."""
        var = _tf_variable(variable)
        if isinstance(gradient, tf.IndexedSlices):
            # Rows repeated in the batch (a word used twice) contribute the sum of their gradients.
            rows, positions = tf.unique(gradient.indices)
            grad = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(rows)[0])
        else:
            rows = tf.range(tf.shape(var, out_type=tf.int32)[0])
            grad = tf.convert_to_tensor(gradient)
        grad = tf.cast(grad, var.dtype)
        t = tf.cast(self.iterations + 1, var.dtype)
        alpha = self.learning_rate * tf.sqrt(1.0 - tf.pow(self.beta_2, t)) / (1.0 - tf.pow(self.beta_1, t))
        m_rows = tf.gather(self.m, rows)
        v_rows = tf.gather(self.v, rows)
        m_rows = m_rows + (grad - m_rows) * (1.0 - self.beta_1)
        v_rows = v_rows + (tf.square(grad) - v_rows) * (1.0 - self.beta_2)
        self.m.scatter_update(tf.IndexedSlices(m_rows, rows))
        self.v.scatter_update(tf.IndexedSlices(v_rows, rows))
        var.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))
        self.iterations.assign_add(1)


class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate rising linearly from `peak / steps` to `peak` over `steps` updates, then flat."""

    def __init__(self, peak, steps):
        self.peak = float(peak)
        self.steps = int(steps)

    def __call__(self, step):
        if not self.steps:
            return self.peak
        step = keras.ops.cast(step, "float32")
        return self.peak * keras.ops.minimum(1.0, (step + 1.0) / float(self.steps))

    def get_config(self):
        return {"peak": self.peak, "steps": self.steps}


class TaskOptimizers:
    """The optimisers of the alternating schedule: one Adam per objective (Section 2.2.3).

    As two TF1 train ops would, the emotion objective (every parameter) and the sentiment
    objective (the left part) each have their own Adam, with its own moments and step
    count. With `sparse_embedding`, the lookup table E is left out of both and updated by a
    `RowwiseAdam` per objective instead. The trained layers of a pretrained encoder have an
    Adam of their own per objective, at the smaller `encoder_learning_rate` after a linear
    warm-up of `encoder_warmup_steps` updates.

    Args:
        model: an `EmotionTransferModel` (built).
        uses_sentiment_data: whether the variant has sentiment steps.
        learning_rate: Adam's learning rate.
        sparse_embedding: update E row-wise.
        encoder_learning_rate, encoder_warmup_steps: the pretrained encoder's schedule.
    """

    def __init__(self, model, uses_sentiment_data, learning_rate, sparse_embedding=True,
                 encoder_learning_rate=None, encoder_warmup_steps=0):
        self.variables = {"emotion": model.emotion_variables,
                          "sentiment": model.left_variables if uses_sentiment_data else []}
        embedding = model.embedding.embeddings if model.embedding is not None else None
        self.embedding = embedding if sparse_embedding else None
        encoder = model.pretrained_encoder
        encoder_ids = {id(v) for v in encoder.trainable_variables} if encoder is not None else set()
        self.dense = {k: [v for v in vs if v is not self.embedding and id(v) not in encoder_ids]
                      for k, vs in self.variables.items()}
        self.encoder = {k: [v for v in vs if id(v) in encoder_ids] for k, vs in self.variables.items()}
        self.adam, self.rowwise, self.encoder_adam = {}, {}, {}
        for kind in ("emotion", "sentiment") if uses_sentiment_data else ("emotion",):
            # Built here, before any tracing, so the step functions create no variables.
            self.adam[kind] = keras.optimizers.Adam(learning_rate)
            self.adam[kind].build(self.dense[kind])
            if self.embedding is not None:
                self.rowwise[kind] = RowwiseAdam(embedding, learning_rate, name=f"{kind}_embedding_adam")
            if self.encoder[kind]:
                self.encoder_adam[kind] = keras.optimizers.Adam(
                    LinearWarmup(encoder_learning_rate, encoder_warmup_steps))
                self.encoder_adam[kind].build(self.encoder[kind])

    def apply(self, kind, tape, loss):
        """Gradients of `loss` applied to the step kind's group (E row-wise when sparse)."""
        dense, encoder = self.dense[kind], self.encoder[kind]
        sparse = [self.embedding] if self.embedding is not None else []
        grads = tape.gradient(loss, sparse + dense + encoder)
        if sparse:
            self.rowwise[kind].apply(grads[0], self.embedding)
        self.adam[kind].apply(grads[len(sparse) : len(sparse) + len(dense)], dense)
        if encoder:
            self.encoder_adam[kind].apply(grads[len(sparse) + len(dense) :], encoder)

    def trackables(self):
        """Checkpoint entries: `{kind}_optimizer`, `{kind}_embedding_optimizer`, `{kind}_encoder_optimizer`."""
        return {**{f"{k}_optimizer": o for k, o in self.adam.items()},
                **{f"{k}_embedding_optimizer": o for k, o in self.rowwise.items()},
                **{f"{k}_encoder_optimizer": o for k, o in self.encoder_adam.items()}}
