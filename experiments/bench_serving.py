"""The benchmark's serving figures: export a trained run, time the SavedModel on raw tweets."""

import contextlib
import io
import statistics
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from datn_tf import export, io_utils
from datn_tf.saved_model_format import METADATA_PATH, import_required_ops
from experiments.bench_data import EC_LENGTH_COUNTS, histogram_mean, synthetic_tweets
from experiments.bench_timing import summarize_windows, timed_windows


def directory_mib(path):
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20, 2)


def export_trained(trainer, workdir):
    """Finishes `trainer` with a few `fit` steps into a run folder and exports it."""
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # fit's progress lines
        trainer.fit()
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = export.export_run(trainer.config.output_dir, Path(workdir) / "export")
    return path, {"fit_seconds": round(fit_seconds, 2), "export_seconds": round(time.perf_counter() - t0, 2),
                  "fit_steps": trainer.config.max_steps, "savedmodel_mib": directory_mib(path)}


def bench_serving(path, vocab, settings, batch_size, seed, tweets=None):
    """Throughput at `batch_size` and single-sentence latency of a SavedModel (on `tweets`, by
    default synthetic ones of `vocab`)."""
    t0 = time.perf_counter()
    import_required_ops(io_utils.read_json(Path(path) / METADATA_PATH))
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    load_seconds = time.perf_counter() - t0
    n_batches = settings["infer_windows"] * settings["infer_batches_per_window"]
    tweets = tweets or synthetic_tweets(vocab, batch_size * n_batches, seed=seed + 1000)
    batches = [tf.constant(tweets[i * batch_size:(i + 1) * batch_size]) for i in range(n_batches)]
    position = [0]

    def run_batch():
        batch = batches[position[0] % n_batches]
        position[0] += 1
        serve(text=batch)["probabilities"].numpy()
        return int(batch.shape[0])

    first, windows = timed_windows(run_batch, 2, settings["infer_windows"], settings["infer_batches_per_window"])
    summary = summarize_windows(windows, settings["infer_batches_per_window"])

    singles = [tf.constant([t]) for t in tweets[: settings["latency_warmup"] + settings["latency_runs"]]]
    for x in singles[: settings["latency_warmup"]]:
        serve(text=x)["probabilities"].numpy()
    latencies = []
    for x in singles[settings["latency_warmup"]:]:
        t0 = time.perf_counter()
        serve(text=x)["probabilities"].numpy()
        latencies.append((time.perf_counter() - t0) * 1000)
    return {
        "load_seconds": round(load_seconds, 2),
        "first_call_seconds": round(first, 3),
        "batch_size": batch_size,
        "mean_tokens_per_sentence": histogram_mean(EC_LENGTH_COUNTS),
        "sentences_per_second": summary["items_per_second"],
        "batch_ms": round(summary["seconds_per_step"] * 1000, 2),
        "window_seconds": summary["window_seconds"],
        "batches_timed": summary["steps_timed"],
        "latency_ms_median": statistics.median(latencies),
        "latency_ms_p90": float(np.percentile(latencies, 90)),
        "latency_runs": len(latencies),
    }
