"""TensorFlow thread pools, set once per process before TensorFlow runs anything.

The model's work is a few independent LSTM chains (two directions per encoder; DATN-2
serves two encoders), each a chain of small matmuls (`[batch, 250] x [250, 800]`).
TensorFlow's default on a CPU is one pool of `cores` threads for every op plus as many
op-scheduling threads; a matmul that small does not gain from a second thread, while two
chains running side by side, one thread each, use both cores (the measurements:
docs/performance.md, "Threads"). So, with no GPU, the default is `inter_op = min(cores, 4)` ops at a time (4: DATN-2's
four LSTM chains) and `intra_op = cores // inter_op` threads each: 1 and 2 on two cores.
With a GPU the CPU only feeds it, and TensorFlow's defaults are kept. Only the 2-core
case was measured; `--intra_op_threads` / `--inter_op_threads` override (0 = TensorFlow's
own default).

TF Serving reads neither this module nor these flags: give it
`--tensorflow_intra_op_parallelism=1 --tensorflow_inter_op_parallelism=2` (2 cores).
"""

import os

from absl import flags
from absl import logging as absl_logging

from datn_tf.errors import UserError

MAX_CONCURRENT_LOOPS = 4
MAX_THREADS = 1024  # per pool; far beyond any machine's cores


def usable_cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads(cores=None, gpu=False):
    """`(intra_op, inter_op)` for a machine with `cores` usable cores (0, 0: TF's default)."""
    if gpu:
        return 0, 0
    cores = usable_cores() if cores is None else cores
    inter_op = max(1, min(cores, MAX_CONCURRENT_LOOPS))
    return max(1, cores // inter_op), inter_op


def configure_threads(intra_op=None, inter_op=None):
    """Sets TensorFlow's thread pools; `None` takes `default_threads()`.

    Must run before TensorFlow executes its first op (TensorFlow refuses later changes
    with a RuntimeError). Returns the `(intra_op, inter_op)` set.
    """
    import tensorflow as tf  # here, not on top: the launcher reads `default_threads` without TensorFlow

    if intra_op is None or inter_op is None:
        default_intra, default_inter = default_threads(gpu=bool(tf.config.list_physical_devices("GPU")))
        intra_op = default_intra if intra_op is None else intra_op
        inter_op = default_inter if inter_op is None else inter_op
    for flag, value in (("--intra_op_threads", intra_op), ("--inter_op_threads", inter_op)):
        if value < 0:
            raise UserError(f"{flag} must be >= 0 (0: TensorFlow's default); got {value}")
        if value > MAX_THREADS:
            raise UserError(f"{flag} must be <= {MAX_THREADS}; got {value}")
    threading = tf.config.threading
    if (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()) != (
        intra_op,
        inter_op,
    ):
        threading.set_intra_op_parallelism_threads(intra_op)
        threading.set_inter_op_parallelism_threads(inter_op)
    return intra_op, inter_op


def define_thread_flags():
    """`--intra_op_threads` and `--inter_op_threads` for a command (defined once)."""
    if "intra_op_threads" in flags.FLAGS:
        return
    flags.DEFINE_integer(
        "intra_op_threads", None, "Threads per TensorFlow op. Default: 1 per op on a CPU with up to 4 cores "
        "(see datn_tf/runtime.py); 0: TensorFlow's default.", lower_bound=0, upper_bound=MAX_THREADS
    )
    flags.DEFINE_integer(
        "inter_op_threads", None, "TensorFlow ops run at once. Default: min(cores, 4) without a GPU; "
        "0: TensorFlow's default.", lower_bound=0, upper_bound=MAX_THREADS
    )


def configure_threads_from_flags():
    return configure_threads(flags.FLAGS.intra_op_threads, flags.FLAGS.inter_op_threads)


def quiet_logging():
    """Hides TensorFlow's Python-side INFO lines (two per checkpoint write) unless the user
    asked for them with absl's --verbosity (e.g. --verbosity=0 shows INFO)."""
    import tensorflow as tf  # (see `configure_threads`)

    if "verbosity" in flags.FLAGS and flags.FLAGS["verbosity"].present:
        return
    absl_logging.set_verbosity(absl_logging.WARNING)
    tf.get_logger().setLevel("ERROR")
