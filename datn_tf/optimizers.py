"""Row-wise (sparse) Adam for the lookup table E.

A mini-batch touches a few hundred of E's ~57,000 rows. Keras' Adam densifies the
embedding gradient and updates every row, moments included, at every step: on a 2-core
CPU that is over half of a training step. `RowwiseAdam` applies the Adam update only to
the rows whose words are in the mini-batch (the "lazy Adam" of TF1's contrib): those rows
get exactly Adam's update with the global step's bias correction, and the other rows and
their moments stay as they are instead of drifting on stale momentum. docs/fidelity.md
records this; `--dense_embedding_updates` restores plain Adam on E.
"""

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
