"""Tests for the thread-pool defaults."""

import subprocess
import sys

import pytest

from datn_tf import runtime


@pytest.mark.parametrize(
    "cores, want",
    [(1, (1, 1)), (2, (1, 2)), (4, (1, 4)), (8, (2, 4)), (16, (4, 4)), (6, (1, 4))],
)
def test_default_threads_on_a_cpu(cores, want):
    assert runtime.default_threads(cores=cores) == want


def test_gpu_keeps_tensorflow_defaults():
    assert runtime.default_threads(cores=2, gpu=True) == (0, 0)


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_configure_threads_sets_tensorflow_pools_in_a_fresh_process():
    result = _run(
        "from datn_tf import runtime; import tensorflow as tf\n"
        "print(runtime.configure_threads(1, 3))\n"
        "t = tf.config.threading\n"
        "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())\n"
        "print(float(tf.reduce_sum(tf.ones([3]))))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["(1, 3)", "1 3", "3.0"]


def test_configure_threads_rejects_negative_counts():
    with pytest.raises(ValueError, match=">= 0"):
        runtime.configure_threads(-1, 2)
    # Each message names its flag (they named none).
    with pytest.raises(ValueError, match=r"^--inter_op_threads must be >= 0 \(0: TensorFlow's default\); got -2$"):
        runtime.configure_threads(1, -2)
    with pytest.raises(ValueError, match=r"^--intra_op_threads must be <= 1024; got 100000$"):
        runtime.configure_threads(100000, 2)

