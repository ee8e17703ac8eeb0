"""Train one system of Table 3: `python -m datn_tf.train --dataset=semeval --variant=datn2`.

Thin command line over `datn_tf.trainer`; `--helpfull` documents every flag. Re-running
the same command with the same --output_dir resumes from the last checkpoint.
"""

import contextlib
import sys

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

from absl import app, flags  # noqa: E402

from datn_tf import config as config_lib  # noqa: E402
from datn_tf import runtime  # noqa: E402

FLAGS = flags.FLAGS

config_lib.define_flags()  # one flag per TrainConfig field (datn_tf/config.py)
flags.DEFINE_integer("logical_cpus", None, "Split the CPU into this many logical devices "
                     "(to try --strategy=mirrored without GPUs).", lower_bound=1,
                     upper_bound=config_lib.MAX_LOGICAL_CPUS)
runtime.define_thread_flags()


def config_from_flags():
    """The run's TrainConfig: defaults < --preset < explicitly given flags."""
    return config_lib.from_flags()


def split_cpu(n):
    """Makes `n` logical CPU devices (must run before TensorFlow touches a device)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def run(config, data=None):
    """Trains one run (preparing its data unless given); returns the metrics dict."""
    from datn_tf import trainer
    from datn_tf.data.prepare import prepare_data

    return trainer.Trainer(config, data or prepare_data(config)).fit()


@contextlib.contextmanager
def user_errors(argv, prefix=""):
    """What a training command does with a user's mistake or Ctrl-C: one line on stderr and
    exit status 2 (bad input, including stray positional words) or 130 (interrupted)."""
    from datn_tf.data.errors import DataFormatError
    from datn_tf.trainer import TrainingInterrupted

    if len(argv) > 1:
        print(f"error: unexpected argument(s) {' '.join(argv[1:])!r}; settings are flags, e.g. --variant=base",
              file=sys.stderr)
        sys.exit(2)
    try:
        yield
    except (DataFormatError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except TrainingInterrupted as e:
        print(f"{prefix}{e}", file=sys.stderr)
        sys.exit(130)


def main(argv):
    with user_errors(argv):
        config = config_from_flags().validate()
        if FLAGS.logical_cpus:
            split_cpu(FLAGS.logical_cpus)
        runtime.configure_threads_from_flags()
        runtime.quiet_logging()
        from datn_tf import run_dir

        # Before the data is read: a second trainer on the same folder stops at once (RunLocked).
        with run_dir.RunLock(config.output_dir):
            run(config)


if __name__ == "__main__":
    app.run(main)
