"""The benchmark's training timing and the host it ran on (`experiments/bench.py` drives it).

Training is timed through `Trainer.train_iteration`, the iteration `Trainer.fit` runs, so
the benchmark can never time a different loop.
"""

import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mib():
    """Max resident set size of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def timed_windows(step, warmup_steps, windows, window_steps):
    """Runs `step()` (returns items processed) warmup + windows x window_steps times.

    Returns (first_step_seconds, [(seconds, items) per timed window]).
    """
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    for _ in range(warmup_steps - 1):
        step()
    out = []
    for _ in range(windows):
        items = 0
        t0 = time.perf_counter()
        for _ in range(window_steps):
            items += step()
        out.append((time.perf_counter() - t0, items))
    return first, out


def summarize_windows(windows, steps_per_window):
    """Median rate and median seconds per step over timed windows."""
    rates = [items / seconds for seconds, items in windows]
    per_step = [seconds / steps_per_window for seconds, _ in windows]
    return {
        "window_seconds": [round(s, 4) for s, _ in windows],
        "items_per_second": statistics.median(rates),
        "seconds_per_step": statistics.median(per_step),
        "steps_timed": len(windows) * steps_per_window,
    }


def make_train_step(trainer, seed, start_step=0):
    """A closure running one iteration of `Trainer.fit`'s loop (`Trainer.train_iteration`: the
    same batches, steps and loss reads); returns the sentences it read."""
    streams = trainer.batch_streams(start_step=start_step, seed=seed)

    def step():
        return trainer.train_iteration(streams)[1]

    return step, "sentiment" in streams


def bench_training(trainer, settings, full_epoch):
    """Throughput and epoch time of one Trainer; see the module docstring."""
    step, alternating = make_train_step(trainer, seed=trainer.config.seed)
    first, windows = timed_windows(step, settings["warmup_steps"], settings["windows"], settings["window_steps"])
    summary = summarize_windows(windows, settings["window_steps"])
    rate = summary.pop("items_per_second")
    _, _, per_epoch = trainer.plan()
    epoch_steps_name = "sentiment" if alternating else "emotion"
    result = {
        "variant": trainer.config.variant,
        "embedding_dim": int(trainer.model.model_config.embedding_dim),
        "embedding_updates": ("pretrained encoder" if trainer.model.pretrained_encoder is not None
                              else "row-wise Adam" if trainer.sparse_embedding else "dense Adam"),
        "schedule": trainer.spec.schedule,
        "first_step_seconds": round(first, 3),  # includes tracing; not in the figures below
        **summary,
        "ms_per_step": round(summary["seconds_per_step"] * 1000, 2),
        "steps_per_second": 1.0 / summary["seconds_per_step"],
        "sentences_per_second": rate,
        # Alternating: a step reads one sentiment and one emotion batch of the same size.
        "throughput": rate / 2 if alternating else rate,
        "throughput_unit": "sentence pairs/s" if alternating else "emotion sentences/s",
    }
    epoch = {
        "steps": per_epoch,
        "definition": f"one pass over the {len(getattr(trainer.data.task, 'sentiment' if alternating else 'train'))} "
                      f"{epoch_steps_name} training sentences in batches of {trainer.config.batch_size}",
        "seconds": per_epoch * summary["seconds_per_step"],
        "estimated": True,
        "basis": "steps x median seconds per step of the timed windows",
    }
    if full_epoch:
        step, _ = make_train_step(trainer, seed=trainer.config.seed + 1)
        t0 = time.perf_counter()
        for _ in range(per_epoch):
            step()
        epoch.update(seconds=time.perf_counter() - t0, estimated=False, basis="measured: one full epoch run")
    epochs = trainer.config.dataset_entry.epochs[trainer.spec.schedule]
    epoch["default_epochs"] = epochs
    epoch["training_seconds_estimate"] = epochs * epoch["seconds"]  # without dev evaluation
    result["epoch"] = epoch
    return result


def cpu_matmul_gflops(seconds=0.5):
    """NumPy float32 matmul speed at the LSTM step's shape, all cores: a calibration.

    The benchmark machines are shared virtual machines whose speed drifts
    (docs/performance.md); runs are comparable only when this figure is too.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 250), dtype=np.float32)
    b = rng.standard_normal((250, 800), dtype=np.float32)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return round(n * 2 * 256 * 250 * 800 / (time.perf_counter() - start) / 1e9, 1)


def environment():
    threading = tf.config.threading
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "gpu_visible": bool(gpus),
        "gpus": [g.name for g in gpus],
        "cpu_matmul_gflops": cpu_matmul_gflops(),
        "threads": {
            "intra_op_parallelism": threading.get_intra_op_parallelism_threads(),
            "inter_op_parallelism": threading.get_inter_op_parallelism_threads(),
            "note": "0 = TensorFlow's default (one thread per usable core)",
            **{k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                               "TF_NUM_INTEROP_THREADS")},
        },
        "load_average_start": None,  # filled by run()
        "niceness": os.nice(0),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
