"""Speed and memory of training and serving on E1-shaped synthetic data (no real data needed).

    python -m experiments.bench [--quick] [--output experiments/results/bench.json]
        [--embedding_dims 50,300] [--variants datn2,base] [--dense_embedding_updates]
        [--full_epoch] [--label "before row-wise Adam"]
    (or: make bench EXTRA="--label=..." )

What it measures, on data shaped like S1 -> E1 (vocabulary 30,000, 28,631 sentiment and
6,838 emotion training sentences, 886 dev sentences, batch 60, hidden 200):

1. Training throughput of one step of each variant, called as `Trainer.fit` calls it:
   `Trainer.sentiment_step` then `Trainer.emotion_step` (alternating schedule, DATN-2:
   sentence pairs per second; a pair is one sentiment + one emotion sentence) or
   `Trainer.emotion_step` alone (Base: emotion sentences per second), on the
   length-bucketed batches of `input_pipeline.Batcher` fed through the same `tf.data`
   pipeline as training. Warm-up steps (tracing included) are excluded; the figure is the
   median over a few timed windows.
2. The time of one E1 epoch (478 DATN-2 steps: one pass over 28,631 sentiment sentences;
   114 Base steps: one pass over the emotion set). An ESTIMATE, steps x the median
   seconds per step, unless `--full_epoch` runs the whole epoch.
3. SavedModel serving: the first variant (DATN-2 by default) at the largest embedding size
   is trained for a few steps with `Trainer.fit` into a run folder, exported with
   `datn_tf.export.export_run` (raw strings in, `serving_default` signature), loaded back
   with `tf.saved_model.load`, and timed on synthetic raw tweets: sentences per second at
   batch 256 and the median latency of a single sentence (after warm-up).
4. Peak memory (max RSS of this process) and the environment (TensorFlow version, CPUs,
   GPUs, thread settings, load average, a NumPy matmul speed) so runs can be compared.

Sentence lengths are drawn from hard-coded histograms of token counts (the project's
tokenizer) of the SemEval-2018 E-c training tweets (mean 19.5, 1-85 tokens) and of the
28,631 S1 tweets (mean 22.6, 1-54 tokens); token ids follow a Zipf law over the
vocabulary; labels follow E-c's label rates. Only these counts are kept, no text.

The result is printed as one markdown table and written (atomically) as JSON with a
`config` block. `--quick` shrinks everything (tiny model, small vocabulary, few steps) for
the smoke test; its numbers mean nothing. `--dense_embedding_updates` switches E to Keras'
dense Adam, to compare with the default row-wise update.
"""

import dataclasses
import datetime
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

from datn_tf import cli, io_utils, runtime  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import variants as variants_lib  # noqa: E402
from datn_tf.config import TrainConfig, same_setting, setting  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402
from datn_tf.progress import fmt_time  # noqa: E402
from datn_tf.trainer import Trainer  # noqa: E402
from datn_tf.variants import VARIANT_NAMES  # noqa: E402
from experiments.bench_data import (  # noqa: E402
    E1_SIZES,
    EC_LABEL_RATES,
    EC_LENGTH_COUNTS,
    HEAD_TOKENS,
    S1_LENGTH_COUNTS,
    histogram_mean,
    make_encoder_data,
    make_prepared_data,
    synthetic_wordpiece_tweets,
)
from experiments.bench_serving import bench_serving, export_trained  # noqa: E402
from experiments.bench_timing import bench_training, environment, peak_rss_mib  # noqa: E402

DEFAULT_OUTPUT = "experiments/results/bench.json"

# Full benchmark (paper-sized model) and --quick (smoke test) settings; flags override.
PRESETS = {
    "full": dict(vocab_size=30000, hidden_size=200, embedding_dims=(50, 300), warmup_steps=5,
                 window_steps=10, windows=5, export_train_steps=5, dev_size=E1_SIZES["dev"],
                 infer_windows=5, infer_batches_per_window=4, latency_warmup=10, latency_runs=100),
    "quick": dict(vocab_size=2000, hidden_size=16, embedding_dims=(16,), warmup_steps=2,
                  window_steps=2, windows=3, export_train_steps=2, dev_size=120,
                  infer_windows=2, infer_batches_per_window=1, latency_warmup=2, latency_runs=5),
}


# -- synthetic data -------------------------------------------------------------------
# -- the run --------------------------------------------------------------------------
@dataclasses.dataclass
class BenchConfig:
    """The benchmark's settings; flags are generated from these fields (`datn_tf.config`)."""

    quick: bool = setting(False, "Smoke test: tiny model, small vocabulary, few steps (numbers mean nothing).")
    output: str = setting(DEFAULT_OUTPUT, "JSON file to write (atomically).")
    variants: tuple = setting(("datn2", "base"), "Comma-separated variants to time; the first one is exported "
                              "and served (at the largest embedding size).", choices=VARIANT_NAMES)
    embedding_dims: tuple | None = setting(None, "Comma-separated embedding sizes (default 50,300; quick: 16).",
                                           minimum=1, item_type=int)
    dense_embedding_updates: bool = same_setting("dense_embedding_updates")
    lstm_implementation: str = same_setting("lstm_implementation")
    deterministic: bool = same_setting("deterministic")
    full_epoch: bool = setting(False, "Also run one whole E1 epoch per variant instead of estimating it.")
    serving: bool = setting(True, "Export a SavedModel and time serving (--noserving: training only).")
    label: str = setting("", "Free text stored in the JSON (e.g. 'before row-wise Adam').")
    batch_size: int = same_setting("batch_size")
    infer_batch_size: int = setting(256, "Serving batch size for the throughput figure.", minimum=1)
    vocab_size: int | None = setting(None, "Vocabulary size (default 30000; quick: 2000).", minimum=1)
    hidden_size: int | None = setting(None, "LSTM, attention and MLP size (default 200; quick: 16).", minimum=1)
    warmup_steps: int | None = setting(None, "Untimed steps first, tracing included (default 5; quick: 2).",
                                       minimum=1)
    window_steps: int | None = setting(None, "Steps per timed window (default 10; quick: 2).", minimum=1)
    windows: int | None = setting(None, "Timed windows; the median is reported (default 5; quick: 3).", minimum=1)
    infer_windows: int | None = setting(None, "Timed serving windows of 4 batches (default 5; quick: 2; each "
                                        "window is 1 batch in quick).", minimum=1)
    latency_runs: int | None = setting(None, "Timed single-sentence calls (default 100; quick: 5).", minimum=1)
    seed: int = setting(0, "Seed of the synthetic data, weights and batch order.", minimum=0)
    encoder_dir: str | None = setting(
        None, "Also time the variants over a pretrained encoder in this folder (e.g. data/minilm, `make "
        "minilm`), frozen, on random cached states, and serve its SavedModel (quick: a tiny BERT).")

    def settings(self):
        s = dict(PRESETS["quick" if self.quick else "full"])
        for key in ("embedding_dims", "vocab_size", "hidden_size", "warmup_steps", "window_steps", "windows",
                    "infer_windows", "latency_runs"):
            if getattr(self, key) is not None:
                s[key] = getattr(self, key)
        s["embedding_dims"] = tuple(int(d) for d in s["embedding_dims"])
        for key in ("warmup_steps", "window_steps", "windows", "infer_windows", "latency_runs", "vocab_size",
                    "hidden_size", "batch_size", "infer_batch_size"):
            if (s[key] if key in s else getattr(self, key)) < 1:
                raise UserError(f"--{key} must be positive")
        if not s["embedding_dims"] or min(s["embedding_dims"]) < 1:
            raise UserError("--embedding_dims must be positive sizes")
        return s


def validate(cfg):
    """Raises UserError (with the flag's name) for settings the run cannot use."""
    if not cfg.variants:
        raise UserError("--variants is empty")
    for v in cfg.variants:
        variants_lib.get_variant(v)
    settings = cfg.settings()
    lo, hi = len(HEAD_TOKENS) + 3, 90**3 + len(HEAD_TOKENS) + 2
    if not lo <= settings["vocab_size"] <= hi:
        raise UserError(f"--vocab_size must be in [{lo}, {hi}]")


def run(cfg, log=None):
    """Runs every measurement of `cfg`; returns the JSON payload."""
    start = time.perf_counter()
    if log is None:
        def log(msg):
            print(f"[bench {time.perf_counter() - start:6.1f}s] {msg}", flush=True)
    tf.get_logger().setLevel("ERROR")
    validate(cfg)
    settings = cfg.settings()
    load_start = os.getloadavg()
    env = environment()
    env["load_average_start"] = [round(x, 2) for x in load_start]
    serve_variant, serve_dim = cfg.variants[0], max(settings["embedding_dims"])
    hidden = settings["hidden_size"]
    training, serving, export_info = [], None, None
    with tempfile.TemporaryDirectory(prefix="datn_tf_bench_") as workdir:
        for dim in settings["embedding_dims"]:
            data = make_prepared_data(settings["vocab_size"], dim, sizes={"dev": settings["dev_size"]},
                                      seed=cfg.seed)
            for variant in cfg.variants:
                exporting = cfg.serving and (variant, dim) == (serve_variant, serve_dim)
                keras.backend.clear_session()
                gc.collect()
                config = TrainConfig(
                    dataset="semeval", variant=variant, output_dir=str(Path(workdir) / f"run-{variant}-{dim}"),
                    seed=cfg.seed, batch_size=cfg.batch_size, hidden_size=hidden, attention_size=hidden,
                    mlp_hidden_units=hidden, deterministic=cfg.deterministic,
                    dense_embedding_updates=cfg.dense_embedding_updates,
                    lstm_implementation=cfg.lstm_implementation,
                    # Only used by the short fit before the export.
                    max_steps=settings["export_train_steps"], eval_every=settings["export_train_steps"],
                    log_every=10**6,
                )
                log(f"{variant} {dim}-d: timing {settings['warmup_steps']} warm-up + "
                    f"{settings['windows']} x {settings['window_steps']} steps"
                    + (" + one full epoch" if cfg.full_epoch else ""))
                trainer = Trainer(config, data)
                result = bench_training(trainer, settings, cfg.full_epoch)
                result["peak_rss_mib_after"] = peak_rss_mib()
                training.append(result)
                log(f"  {result['ms_per_step']:.1f} ms/step, {result['throughput']:.1f} "
                    f"{result['throughput_unit']}")
                if exporting:
                    log(f"{variant} {dim}-d: {settings['export_train_steps']} fit steps, SavedModel export")
                    path, export_info = export_trained(trainer, workdir)
                    export_vocab = data.vocab
                del trainer
            del data
        if export_info is not None:
            keras.backend.clear_session()
            gc.collect()
            log(f"SavedModel: batch {cfg.infer_batch_size} throughput, single-sentence latency")
            serving = {
                "variant": serve_variant, "embedding_dim": serve_dim, "hidden_size": hidden,
                "vocab_size": settings["vocab_size"], **export_info,
                **bench_serving(path, export_vocab, settings, cfg.infer_batch_size, cfg.seed),
            }
        encoder = None
        if cfg.encoder_dir or cfg.quick:
            encoder_training, encoder_serving = _bench_encoder(cfg, settings, workdir, log)
            encoder = {"training": encoder_training, "serving": encoder_serving}
    env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    config_block = {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()},
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
        "attention_size": hidden, "mlp_hidden_units": hidden, "dropout": TrainConfig.lstm_dropout,
        "learning_rate": TrainConfig.learning_rate,
        "data": {
            "sentiment_sentences": E1_SIZES["sentiment"], "emotion_sentences": E1_SIZES["train"],
            "dev_sentences": settings["dev_size"], "num_emotions": len(EC_LABEL_RATES),
            "emotion_mean_tokens": round(histogram_mean(EC_LENGTH_COUNTS), 2),
            "sentiment_mean_tokens": round(histogram_mean(S1_LENGTH_COUNTS), 2),
            "length_range": [1, max(max(EC_LENGTH_COUNTS), max(S1_LENGTH_COUNTS))],
            "words": "Zipf (exponent 1) over the vocabulary",
            "batching": "input_pipeline.Batcher (length-bucketed), tf.data as in Trainer.fit",
        },
    }
    return {
        "label": cfg.label,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "experiments.bench", *sys.argv[1:]]),
        "config": config_block,
        "environment": env,
        "training": training,
        "serving": serving,
        "encoder": encoder,
        "peak_rss_mib": peak_rss_mib(),
    }


def _bench_encoder(cfg, settings, workdir, log):
    """The variants' training over a frozen pretrained encoder, and its SavedModel's serving."""
    folder = cfg.encoder_dir
    if folder is None:  # --quick: a tiny BERT, so the smoke test needs no download
        from datn_tf.testing import tiny_bert  # test helpers: only for --quick

        folder = str(Path(workdir) / "tiny-bert")
        tiny_bert.write_tiny_bert(folder)
    data = make_encoder_data(folder, sizes={"dev": settings["dev_size"]}, seed=cfg.seed)
    hidden, training, serving = settings["hidden_size"], [], None
    for variant in cfg.variants:
        keras.backend.clear_session()
        gc.collect()
        config = TrainConfig(
            dataset="semeval", variant=variant, output_dir=str(Path(workdir) / f"run-{variant}-encoder"),
            seed=cfg.seed, batch_size=cfg.batch_size, hidden_size=hidden, attention_size=hidden,
            mlp_hidden_units=hidden, deterministic=cfg.deterministic, lstm_implementation=cfg.lstm_implementation,
            encoder="bert", encoder_dir=folder, max_steps=settings["export_train_steps"],
            eval_every=settings["export_train_steps"], log_every=10**6)
        log(f"{variant} over the encoder in {folder}: timing {settings['warmup_steps']} warm-up + "
            f"{settings['windows']} x {settings['window_steps']} steps")
        trainer = Trainer(config, data)
        result = bench_training(trainer, settings, cfg.full_epoch)
        result["encoder"] = folder
        result["peak_rss_mib_after"] = peak_rss_mib()
        training.append(result)
        log(f"  {result['ms_per_step']:.1f} ms/step, {result['throughput']:.1f} {result['throughput_unit']}")
        if cfg.serving and variant == cfg.variants[0]:
            log(f"{variant} over the encoder: {settings['export_train_steps']} fit steps, SavedModel export")
            path, info = export_trained(trainer, Path(workdir) / "encoder")
            keras.backend.clear_session()
            gc.collect()
            tweets = synthetic_wordpiece_tweets(data.vocab, cfg.infer_batch_size * settings["infer_windows"]
                                                * settings["infer_batches_per_window"], cfg.seed + 1000)
            serving = {"variant": variant, "encoder": folder, "hidden_size": hidden, **info,
                       **bench_serving(path, data.vocab, settings, cfg.infer_batch_size, cfg.seed, tweets=tweets)}
        del trainer
    return training, serving


def markdown_table(payload):
    """The one table printed at the end."""
    cfg, env = payload["config"], payload["environment"]
    rows = ["| measurement | variant | emb. dim | value | unit | notes |", "|---|---|---|---:|---|---|"]
    for r in payload["training"]:
        rows.append(f"| training throughput | {r['variant']} | {r['embedding_dim']} | {r['throughput']:.1f} | "
                    f"{r['throughput_unit']} | {r['ms_per_step']:.1f} ms/step, median of {len(r['window_seconds'])} "
                    f"windows x {cfg['window_steps']} steps; E: {r['embedding_updates']} |")
        e = r["epoch"]
        kind = "estimate" if e["estimated"] else "measured"
        rows.append(f"| E1 epoch time ({kind}) | {r['variant']} | {r['embedding_dim']} | {e['seconds']:.0f} | s | "
                    f"{e['steps']} steps ({fmt_time(e['seconds'])}); x{e['default_epochs']} epochs = "
                    f"{fmt_time(e['training_seconds_estimate'])} without dev evaluation |")
    s = payload["serving"]
    if s:
        rows.append(f"| SavedModel throughput | {s['variant']} | {s['embedding_dim']} | "
                    f"{s['sentences_per_second']:.1f} | sentences/s | batch {s['batch_size']} raw tweets "
                    f"({s['batch_ms']:.1f} ms/batch); "
                    f"hidden {s['hidden_size']}, vocab {s['vocab_size']:,} |")
        rows.append(f"| SavedModel latency | {s['variant']} | {s['embedding_dim']} | {s['latency_ms_median']:.2f} | "
                    f"ms | one sentence, median of {s['latency_runs']} (p90 {s['latency_ms_p90']:.2f} ms) |")
    for r in (payload.get("encoder") or {}).get("training", []):
        rows.append(f"| training throughput, encoder | {r['variant']} | {r['embedding_dim']} | {r['throughput']:.1f} | "
                    f"{r['throughput_unit']} | {r['ms_per_step']:.1f} ms/step; frozen {r['encoder']}, random "
                    f"cached states |")
        e = r["epoch"]
        rows.append(f"| E1 epoch time, encoder (estimate) | {r['variant']} | {r['embedding_dim']} | "
                    f"{e['seconds']:.0f} | s | {e['steps']} steps ({fmt_time(e['seconds'])}) |")
    s = (payload.get("encoder") or {}).get("serving")
    if s:
        rows.append(f"| SavedModel throughput, encoder | {s['variant']} | {s['encoder']} | "
                    f"{s['sentences_per_second']:.1f} | sentences/s | batch {s['batch_size']} raw texts "
                    f"({s['batch_ms']:.1f} ms/batch); {s['savedmodel_mib']:.0f} MiB |")
        rows.append(f"| SavedModel latency, encoder | {s['variant']} | {s['encoder']} | "
                    f"{s['latency_ms_median']:.2f} | ms | one sentence, median of {s['latency_runs']} "
                    f"(p90 {s['latency_ms_p90']:.2f} ms) |")
    threads = env["threads"]
    rows.append(f"| peak memory | | | {payload['peak_rss_mib']:.0f} | MiB | max RSS of the process |")
    title = (f"datn-tf bench{' --quick (smoke test: numbers mean nothing)' if cfg['quick'] else ''}"
             f"{' [' + payload['label'] + ']' if payload['label'] else ''}: batch {cfg['batch_size']}, "
             f"hidden {cfg['hidden_size']}, vocab {cfg['vocab_size']:,}, synthetic E1-shaped data")
    footer = (f"TensorFlow {env['tensorflow_version']}, {env['cpus_usable']} CPU(s) ({env['cpu_model']}), "
              f"GPU {'visible: ' + ', '.join(env['gpus']) if env['gpu_visible'] else 'not visible'}, "
              f"threads intra {threads['intra_op_parallelism']} / inter {threads['inter_op_parallelism']} "
              f"(0 = default), load average {env['load_average_start'][0]:.2f} at start, "
              f"{env['load_average_end'][0]:.2f} at end, NumPy matmul {env.get('cpu_matmul_gflops', '?')} "
              f"GFLOP/s (host speed calibration)")
    return "\n".join([title, "", *rows, "", footer])


FLAGS = flags.FLAGS


def define_flags():
    """Defined only when run as a program, so importing this module defines no flags."""
    config_lib.define_flags(config_class=BenchConfig)
    runtime.define_thread_flags()


def main(argv):
    with cli.user_errors(argv):
        # Before TensorFlow runs anything; the same defaults as training and predict.
        runtime.configure_threads_from_flags()
        runtime.quiet_logging()
        cfg = config_lib.from_flags(config_class=BenchConfig)
        validate(cfg)
        payload = run(cfg)
        io_utils.write_json(cfg.output, payload)
        print(markdown_table(payload))
        print(f"\nwritten to {cfg.output}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
