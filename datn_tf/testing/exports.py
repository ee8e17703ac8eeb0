"""Helpers for the tests of exported SavedModels (`export_test.py`, `predict_test.py`)."""

import os
from pathlib import Path

import tensorflow as tf

from datn_tf import export, io_utils, testing
from datn_tf import run_dir as run_dir_lib
from datn_tf.data import datasets
from datn_tf.data.prepare import prepare_data
from datn_tf.saved_model_format import METADATA_PATH, import_required_ops
from datn_tf.trainer import Trainer

EXPORTED_VARIANTS = ("datn2", "base")
# Texts a serving model must take with defined outputs.
LONG_TEXT = ("So happy today!!! 😊 " * 600)[:10_000]
ROBUSTNESS_TEXTS = [
    "",  # empty
    "  \t \u00a0\u3000  ",  # whitespace only (ASCII and Unicode)
    "qwzxv plorkt zzyzzx",  # no word in the vocabulary
    "😊🎉🙏🏽❤️",  # only emoji
    LONG_TEXT,  # 10,000 characters
    "I love 北京 and Москва, مرحبا 🎉 #joy",  # mixed scripts
]
_LOADED = {}


def make_exported_runs(root):
    """Two tiny runs on fixture data, DATN-2 (two attentions) and Base (no target side), each
    trained and exported once: {"root", "data_dir", "runs", "exports", "dev"}."""
    data_dir = testing.make_fixture_data_dir(root / "data")
    runs, exports = {}, {}
    for variant in EXPORTED_VARIANTS:
        config = testing.tiny_train_config(data_dir, root / f"run-{variant}", variant=variant, epochs=1)
        Trainer(config, prepare_data(config)).fit()
        runs[variant] = root / f"run-{variant}"
        exports[variant] = export.export_run(runs[variant], root / "exports" / variant)
    dev = datasets.load_task("semeval", data_dir).dev
    return {"root": root, "data_dir": data_dir, "runs": runs, "exports": exports, "dev": dev}


def subprocess_env():
    """The environment for running a command in a subprocess: no GPU, TensorFlow quiet."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def loaded(path):
    """The SavedModel at `path`, loaded once per test session."""
    if path not in _LOADED:
        import_required_ops(io_utils.read_json(Path(path) / METADATA_PATH))
        _LOADED[path] = tf.saved_model.load(str(path))
    return _LOADED[path]


def serve(path, texts):
    out = loaded(path).signatures["serving_default"](text=tf.constant(texts, dtype=tf.string))
    return {k: v.numpy() for k, v in out.items()}


def explain(path, texts):
    out = loaded(path).signatures["explain"](text=tf.constant(texts, dtype=tf.string))
    return {k: v.numpy() for k, v in out.items()}


def run_threshold(run_dir):
    """The dev-tuned threshold gamma a finished run saved."""
    return io_utils.read_json(run_dir / run_dir_lib.METRICS_FILE)["threshold"]
