"""Train one system of Table 3: `python -m datn_tf.train --dataset=semeval --variant=datn2`.

Thin command line over `datn_tf.trainer`; `--helpfull` documents every flag. Re-running
the same command with the same --output_dir resumes from the last checkpoint.
"""

import os

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

from datn_tf import cli, run_dir, run_lock, runtime, trainer  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf.data.prepare import prepare_data  # noqa: E402

FLAGS = flags.FLAGS
# The TrainConfig fields that name files or folders a run reads.
INPUT_PATHS = ("data_dir", "train_file", "dev_file", "test_file", "sentiment_file", "label_names_file", "embeddings")



def define_flags():
    """One flag per TrainConfig field (datn_tf/config.py), and the process's: threads, logical CPUs.
    Defined when a command runs (this one, or a driver whose runs take them), not at import."""
    config_lib.define_flags()
    runtime.define_thread_flags()
    if "logical_cpus" not in FLAGS:
        flags.DEFINE_integer("logical_cpus", None, "Split the CPU into this many logical devices "
                             "(to try --strategy=mirrored without GPUs).", lower_bound=1,
                             upper_bound=config_lib.MAX_LOGICAL_CPUS)


def config_from_flags():
    """The run's TrainConfig: defaults < --preset < explicitly given flags."""
    return config_lib.from_flags()


def split_cpu(n):
    """Makes `n` logical CPU devices (must run before TensorFlow touches a device)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def run(config, data=None):
    """Trains one run (preparing its data unless given); returns the metrics dict."""
    return trainer.Trainer(config, data or prepare_data(config)).fit()


# The one way every command reports a user's mistake, an OS error or Ctrl-C (datn_tf/cli.py).
user_errors = cli.user_errors


def check_paths(config):
    """Stops before anything is written when --output_dir is, holds or lies in a file the run
    reads, or is a folder with files that are not a datn-tf run's."""
    inputs = {f"--{name}": getattr(config, name) for name in INPUT_PATHS if getattr(config, name, None)}
    if not config.dataset_entry.reads_data_dir:
        inputs.pop("--data_dir", None)
    cli.check_outputs({"--output_dir": config.output_dir}, inputs=inputs, own_run=True)
    cli.check_run_folder(config.output_dir)


def main(argv):
    with user_errors(argv):
        config = config_from_flags().validate()
        check_paths(config)
        if FLAGS.logical_cpus:
            split_cpu(FLAGS.logical_cpus)
        runtime.configure_threads_from_flags()
        runtime.quiet_logging()
        # Before the data is read: a second trainer on the same folder stops at once (RunLocked).
        created = not os.path.lexists(config.output_dir)
        try:
            with run_lock.RunLock(config.output_dir):
                run(config)
        except BaseException:
            if created:  # stopped before it wrote anything (bad data, Ctrl-C): no empty folder left behind
                run_dir.remove_if_empty(config.output_dir)
            raise


if __name__ == "__main__":
    define_flags()
    cli.run(main)
