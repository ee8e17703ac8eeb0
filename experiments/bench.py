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

import contextlib
import dataclasses
import datetime
import gc
import io
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from datn_tf import config as config_lib  # noqa: E402
from datn_tf import runtime  # noqa: E402
from datn_tf.config import LSTM_IMPLEMENTATIONS, setting  # noqa: E402
from datn_tf.variants import VARIANT_NAMES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = "experiments/results/bench.json"

# Token counts per sentence length (datn_tf.tokenizer, English): the 6,838 SemEval-2018 E-c
# training tweets (E1) and the 28,631 SemEval-2016 4A tweets of the paper's S1 set.
EC_LENGTH_COUNTS = {
    1: 3, 2: 19, 3: 50, 4: 79, 5: 102, 6: 113, 7: 176, 8: 170, 9: 211, 10: 190,
    11: 246, 12: 241, 13: 247, 14: 227, 15: 234, 16: 250, 17: 232, 18: 230, 19: 272, 20: 236,
    21: 243, 22: 283, 23: 283, 24: 318, 25: 327, 26: 306, 27: 312, 28: 288, 29: 252, 30: 204,
    31: 164, 32: 113, 33: 86, 34: 53, 35: 32, 36: 23, 37: 6, 38: 6, 39: 5, 40: 2,
    42: 3, 85: 1,
}  # fmt: skip
S1_LENGTH_COUNTS = {
    1: 1, 2: 1, 3: 1, 4: 1, 5: 5, 6: 22, 7: 60, 8: 102, 9: 182, 10: 255,
    11: 360, 12: 514, 13: 625, 14: 724, 15: 799, 16: 980, 17: 1058, 18: 1194, 19: 1318, 20: 1391,
    21: 1660, 22: 1859, 23: 2003, 24: 1957, 25: 2002, 26: 1919, 27: 1870, 28: 1544, 29: 1238, 30: 981,
    31: 740, 32: 518, 33: 341, 34: 190, 35: 95, 36: 58, 37: 28, 38: 17, 39: 11, 40: 1,
    41: 2, 44: 1, 45: 2, 54: 1,
}  # fmt: skip
# Share of E-c training tweets carrying each emotion (anger ... trust); S1 class shares.
EC_LABEL_RATES = (0.372, 0.143, 0.381, 0.182, 0.362, 0.102, 0.290, 0.116, 0.294, 0.053, 0.052)
S1_CLASS_RATES = (0.157, 0.459, 0.384)  # negative, neutral, positive
E1_SIZES = {"train": 6838, "dev": 886, "sentiment": 28631}  # Table 2 of the paper
# Frequent tokens at the head of the synthetic vocabulary (each one token for the tokenizer).
HEAD_TOKENS = (".", "!", ",", "#", "@user", "?", "...", "😂", "❤", ":)")

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
def length_sampler(counts):
    """(lengths, probabilities) of a `{length: count}` histogram."""
    lengths = np.array(sorted(counts), dtype=np.int64)
    weights = np.array([counts[n] for n in lengths], dtype=np.float64)
    return lengths, weights / weights.sum()


def histogram_mean(counts):
    lengths, p = length_sampler(counts)
    return float((lengths * p).sum())


def synthetic_tokens(vocab_size):
    """`vocab_size - 2` distinct tokens the tokenizer keeps whole: HEAD_TOKENS, then
    lower-case pseudo-words of three consonant-vowel syllables."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    n = vocab_size - 2 - len(HEAD_TOKENS)
    if n < 1 or n > len(syllables) ** 3:
        raise ValueError(f"vocabulary size must be in [{len(HEAD_TOKENS) + 3}, "
                         f"{len(syllables) ** 3 + len(HEAD_TOKENS) + 2}]")
    words = []
    for i in range(n):
        a, rest = divmod(i, len(syllables) ** 2)
        b, c = divmod(rest, len(syllables))
        words.append(syllables[c] + syllables[b] + syllables[a])
    return list(HEAD_TOKENS) + words


class SyntheticCorpus:
    """Token ids with E1/S1 length distributions and Zipf-distributed words."""

    def __init__(self, vocab_size, seed=0, zipf_exponent=1.0):
        self.vocab_size = vocab_size
        self.rng = np.random.default_rng(seed)
        ranks = np.arange(1, vocab_size - 1, dtype=np.float64)  # ids 2 .. V-1 (0 pad, 1 unk)
        p = ranks ** -zipf_exponent
        self.word_p = p / p.sum()

    def sentences(self, n, length_counts):
        """`n` int32 id arrays with lengths drawn from `length_counts`."""
        lengths, p = length_sampler(length_counts)
        sizes = self.rng.choice(lengths, size=n, p=p)
        flat = self.rng.choice(self.vocab_size - 2, size=int(sizes.sum()), p=self.word_p).astype(np.int32) + 2
        return np.split(flat, np.cumsum(sizes)[:-1])

    def emotion_labels(self, n):
        return (self.rng.random((n, len(EC_LABEL_RATES))) < np.array(EC_LABEL_RATES)).astype(np.int8)

    def sentiment_labels(self, n):
        return self.rng.choice(len(S1_CLASS_RATES), size=n, p=S1_CLASS_RATES).astype(np.int32)


def render(ids, vocab):
    """Raw text of an id sequence (tokens joined by spaces: the tokenizer gives the ids back)."""
    return " ".join(vocab.tokens[i] for i in ids)


def make_prepared_data(vocab_size, embedding_dim, sizes=None, seed=0):
    """A `PreparedData` shaped like S1 -> E1, with random embeddings of `embedding_dim`."""
    from datn_tf import embeddings as embeddings_lib
    from datn_tf.data import datasets, semeval_ec
    from datn_tf.data.examples import SENTIMENTS, EmotionExamples, SentimentExamples
    from datn_tf.data.prepare import PreparedData
    from datn_tf.vocab import OOV, PAD, Vocabulary

    sizes = dict(E1_SIZES, **(sizes or {}))
    corpus = SyntheticCorpus(vocab_size, seed=seed)
    ids = {
        "train": corpus.sentences(sizes["train"], EC_LENGTH_COUNTS),
        "dev": corpus.sentences(sizes["dev"], EC_LENGTH_COUNTS),
        "sentiment": corpus.sentences(sizes["sentiment"], S1_LENGTH_COUNTS),
    }
    tokens = synthetic_tokens(vocab_size)
    counts = np.bincount(np.concatenate(ids["train"] + ids["sentiment"]), minlength=vocab_size)
    vocab = Vocabulary([PAD, OOV] + tokens, counts={t: int(counts[i + 2]) for i, t in enumerate(tokens)})
    names = tuple(semeval_ec.EMOTIONS)

    def emotion(split):
        n = len(ids[split])
        # Only dev texts are read (Trainer.fit writes dev predictions); the rest stay empty.
        texts = [render(x, vocab) for x in ids[split]] if split == "dev" else [""] * n
        return EmotionExamples([f"{split}-{i}" for i in range(n)], texts, corpus.emotion_labels(n),
                               names, "synthetic")

    n_sent = len(ids["sentiment"])
    sentiment = SentimentExamples([f"s-{i}" for i in range(n_sent)], [""] * n_sent,
                                  corpus.sentiment_labels(n_sent), SENTIMENTS, "synthetic")
    task = datasets.TaskData("semeval", "en", names, emotion("train"), emotion("dev"), None, sentiment,
                             notes=["synthetic benchmark data"])
    matrix, coverage = embeddings_lib.random_embedding_matrix(vocab, embedding_dim, seed=seed)
    return PreparedData(task, vocab, matrix, coverage, f"random-{embedding_dim}d", ids)


def synthetic_tweets(vocab, n, seed):
    """`n` raw tweets (str) with E-c lengths, for serving."""
    corpus = SyntheticCorpus(len(vocab), seed=seed)
    return [render(x, vocab) for x in corpus.sentences(n, EC_LENGTH_COUNTS)]


# -- measurements ---------------------------------------------------------------------
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
    from datn_tf.config import DEFAULT_EPOCHS

    step, alternating = make_train_step(trainer, seed=trainer.config.seed)
    first, windows = timed_windows(step, settings["warmup_steps"], settings["windows"], settings["window_steps"])
    summary = summarize_windows(windows, settings["window_steps"])
    rate = summary.pop("items_per_second")
    _, _, per_epoch = trainer.plan()
    epoch_steps_name = "sentiment" if alternating else "emotion"
    result = {
        "variant": trainer.config.variant,
        "embedding_dim": int(trainer.data.embedding_matrix.shape[1]),
        "embedding_updates": "row-wise Adam" if trainer.sparse_embedding else "dense Adam",
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
    epochs = DEFAULT_EPOCHS[("semeval", trainer.spec.schedule)]
    epoch["default_epochs"] = epochs
    epoch["training_seconds_estimate"] = epochs * epoch["seconds"]  # without dev evaluation
    result["epoch"] = epoch
    return result


def directory_mib(path):
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20, 2)


def export_trained(trainer, workdir):
    """Finishes `trainer` with a few `fit` steps into a run folder and exports it."""
    from datn_tf import export

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # fit's progress lines
        trainer.fit()
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = export.export_run(trainer.config.output_dir, Path(workdir) / "export")
    return path, {"fit_seconds": round(fit_seconds, 2), "export_seconds": round(time.perf_counter() - t0, 2),
                  "fit_steps": trainer.config.max_steps, "savedmodel_mib": directory_mib(path)}


def bench_serving(path, vocab, settings, batch_size, seed):
    """Throughput at `batch_size` and single-sentence latency of a SavedModel."""
    import tensorflow as tf

    t0 = time.perf_counter()
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    load_seconds = time.perf_counter() - t0
    n_batches = settings["infer_windows"] * settings["infer_batches_per_window"]
    tweets = synthetic_tweets(vocab, batch_size * n_batches, seed=seed + 1000)
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


def cpu_matmul_gflops(seconds=0.5):
    """NumPy float32 matmul speed at the LSTM step's shape, all cores: a calibration.

    The benchmark machines are shared virtual machines whose speed drifts (the same
    commit measured 35-50% slower on a busier day); runs are comparable only when this
    figure is too.
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
    import keras
    import tensorflow as tf

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
    dense_embedding_updates: bool = setting(False, "Keras' dense Adam on E instead of row-wise Adam.")
    lstm_implementation: str = setting("auto", "BiLSTM kernel (see datn_tf.layers.BiLSTMEncoder).",
                                       choices=LSTM_IMPLEMENTATIONS)
    deterministic: bool = setting(True, "Deterministic TensorFlow ops, as in training (the default).")
    full_epoch: bool = setting(False, "Also run one whole E1 epoch per variant instead of estimating it.")
    serving: bool = setting(True, "Export a SavedModel and time serving (--noserving: training only).")
    label: str = setting("", "Free text stored in the JSON (e.g. 'before row-wise Adam').")
    batch_size: int = setting(60, "Training batch size (each task).", minimum=1)
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
                raise ValueError(f"--{key} must be positive")
        if not s["embedding_dims"] or min(s["embedding_dims"]) < 1:
            raise ValueError("--embedding_dims must be positive sizes")
        return s


def validate(cfg):
    """Raises ValueError (with the flag's name) for settings the run cannot use."""
    from datn_tf import variants as variants_lib

    if not cfg.variants:
        raise ValueError("--variants is empty")
    for v in cfg.variants:
        variants_lib.get_variant(v)
    settings = cfg.settings()
    lo, hi = len(HEAD_TOKENS) + 3, 90**3 + len(HEAD_TOKENS) + 2
    if not lo <= settings["vocab_size"] <= hi:
        raise ValueError(f"--vocab_size must be in [{lo}, {hi}]")


def run(cfg, log=None):
    """Runs every measurement of `cfg`; returns the JSON payload."""
    start = time.perf_counter()
    if log is None:
        def log(msg):
            print(f"[bench {time.perf_counter() - start:6.1f}s] {msg}", flush=True)
    import keras
    import tensorflow as tf

    from datn_tf.config import TrainConfig
    from datn_tf.trainer import Trainer

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
        "peak_rss_mib": peak_rss_mib(),
    }


def markdown_table(payload):
    """The one table printed at the end."""
    from datn_tf.progress import fmt_time

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
    if len(argv) > 1:
        print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
        sys.exit(2)
    try:
        # Before TensorFlow runs anything; the same defaults as training and predict.
        runtime.configure_threads_from_flags()
        runtime.quiet_logging()
        cfg = config_lib.from_flags(config_class=BenchConfig)
        validate(cfg)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    payload = run(cfg)
    from datn_tf import io_utils

    io_utils.write_json(cfg.output, payload)
    print(markdown_table(payload))
    print(f"\nwritten to {cfg.output}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
