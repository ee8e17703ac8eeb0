"""Export a trained run as a TensorFlow SavedModel that takes raw text.

    python -m datn_tf.export --run_dir runs/semeval-datn2-seed0 --output exports/semeval-datn2 [--overwrite]

The SavedModel is written with Keras 3's `keras.export.ExportArchive` and holds the whole
path from text to emotions: the project's tokenizer (TensorFlow string ops,
`datn_tf.tokenizer`), the vocabulary (a `keras.layers.StringLookup` giving the training
ids: `<pad>` = 0, `<unk>` = 1, then the vocabulary in id order), the model with the run's
best weights, and the run's dev-tuned threshold gamma. Loading it needs TensorFlow only.

Signatures (input `text`: tf.string [B], raw UTF-8; B may be 0):

    serving_default  probabilities float32 [B, K]   emotion scores
                     labels        bool    [B, K]   probabilities > gamma
                     label_names   string  [B, K]   the K emotion names, repeated per row
    explain          tokens        string  [B, T]   the tokens the model read, padded with ""
                     token_ids     int32   [B, T]   their vocabulary ids (0 = padding)
                     alpha_s       float32 [B, T]   shared-encoder attention
                     alpha_t       float32 [B, T]   target-encoder attention (zeros when the
                                                    variant has no target encoder)
                     probabilities float32 [B, K]

The run's facts (threshold, dataset, variant, language, label order, datn-tf version) are
written to `assets/datn_tf.json` (a tracked `tf.saved_model.Asset`, reachable after loading
as `loaded.datn_tf_metadata.asset_path`) and to `assets.extra/datn_tf.json` (TF Serving's
folder for files the graph does not read).

The export is written to a temporary sibling folder and renamed onto `--output` only when
complete, so an interrupted export leaves nothing half-written at the destination.
"""

import dataclasses
import json
import tempfile
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from datn_tf import cli, encoders, io_utils, run_weights, runtime, tokenizer  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import run_dir as run_dir_lib  # noqa: E402
from datn_tf.config import ENCODER_MAX_LENGTH, setting  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402
from datn_tf.saved_model_format import (  # noqa: E402
    EXPLAIN_SIGNATURE,
    EXTRA_DIR,
    METADATA_FILE,
    METADATA_PATH,
    SERVING_SIGNATURE,
)
from datn_tf.vocab import OOV, PAD, PAD_ID  # noqa: E402

TEXT_SPEC = tf.TensorSpec([None], tf.string, name="text")


EXTRA_METADATA = Path(EXTRA_DIR) / METADATA_FILE


def _check_destination(run_dir, output, overwrite):
    """Refuses a destination that would lose data; returns nothing."""
    cli.check_outputs({"--output": output}, runs={"--run_dir": run_dir})
    if output.exists() or output.is_symlink():
        if not output.is_dir() or output.is_symlink():
            raise UserError(f"--output {output} exists and is not a folder")
        if any(output.iterdir()) and not overwrite:
            raise UserError(f"--output {output} exists and is not empty; pass --overwrite to replace it")
        # --overwrite replaces an earlier export, never a folder of other files (data, another run).
        if any(output.iterdir()) and not (output / "saved_model.pb").is_file():
            raise UserError(f"--output {output} holds files that are not a SavedModel; --overwrite replaces "
                            "only an earlier export: choose a new or empty folder")
        if any(output.iterdir()) and not any((output / p).is_file() for p in (METADATA_PATH, EXTRA_METADATA)):
            raise UserError(f"--output {output} holds a SavedModel that is not a datn-tf export; --overwrite "
                            "replaces only an earlier export: choose a new or empty folder")


def build_lookup(vocab):
    """A `StringLookup` that maps tokens to exactly the training ids (checked)."""
    lookup = keras.layers.StringLookup(
        vocabulary=vocab.tokens[2:], mask_token=PAD, oov_token=OOV, num_oov_indices=1, name="vocabulary"
    )
    got = lookup(tf.constant(vocab.tokens)).numpy()
    if lookup.vocabulary_size() != len(vocab) or not np.array_equal(got, np.arange(len(vocab))):
        raise ValueError("the StringLookup ids differ from the vocabulary's training ids")
    return lookup


def run_metadata(run_dir, config, metrics_payload):
    """The facts a client needs, as written to assets/datn_tf.json."""
    train_config = config["train_config"]
    names = list(config["emotion_names"])
    return {
        "format": "datn-tf SavedModel",
        "datn_tf_version": datn_tf.__version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "run": Path(run_dir).resolve().name,
        "dataset": metrics_payload.get("dataset", train_config["dataset"]),
        "variant": metrics_payload.get("variant", train_config["variant"]),
        "seed": train_config.get("seed"),
        "language": config["language"],
        "normalize_tokens": bool(train_config.get("normalize_tokens", False)),  # absent before the option
        "input": "raw UTF-8 text" if config["language"] == "en"
        else "whitespace-segmented Chinese words (as in Ren-CECps)",
        "threshold": float(metrics_payload["threshold"]),
        "threshold_source": metrics_payload.get("threshold_source"),
        "best_step": metrics_payload.get("best_step"),
        "dev": metrics_payload.get("dev"),
        "label_names": names,
        "num_labels": len(names),
        "vocab_size": int(config["model_config"]["vocab_size"]),
        "max_length": max_length(config),
        "encoder": train_config.get("encoder", encoders.BILSTM),
        # Ops the SavedModel needs registered before loading (a pretrained encoder's WordPiece).
        "requires": [] if train_config.get("encoder", encoders.BILSTM) == encoders.BILSTM else ["tensorflow_text"],
        "signatures": {
            SERVING_SIGNATURE: {"inputs": {"text": "string [B]"},
                                "outputs": {"probabilities": "float32 [B, K]", "labels": "bool [B, K]",
                                            "label_names": "string [B, K]"}},
            EXPLAIN_SIGNATURE: {"inputs": {"text": "string [B]"},
                                "outputs": {"tokens": "string [B, T]", "token_ids": "int32 [B, T]",
                                            "alpha_s": "float32 [B, T]", "alpha_t": "float32 [B, T]",
                                            "probabilities": "float32 [B, K]"}},
        },
    }


def max_length(config):
    """The truncation the training pipeline applied (wordpieces for a pretrained encoder)."""
    train_config = config["train_config"]
    if train_config.get("encoder", encoders.BILSTM) == encoders.BILSTM:
        return train_config.get("max_length")
    limit = config["model_config"]["backbone_config"]["max_sequence_length"] - 2
    return min(train_config.get("max_length") or ENCODER_MAX_LENGTH, limit)


class _Endpoints:
    """The two serving functions over one model, tokenizer and threshold.

    `lookup` is the vocabulary's `StringLookup` for the project's tokenizer, or, for a
    pretrained encoder, its `encoders.WordPieceVocab`.
    """

    def __init__(self, model, lookup, language, threshold, label_names, max_length=None, normalize=False):
        self.model = model
        self.language = language
        self.normalize = bool(normalize)
        self.threshold = float(threshold)
        self.label_names = list(label_names)
        self.max_length = max_length
        self.wordpiece = None
        if isinstance(lookup, encoders.WordPieceVocab):
            self.vocab = lookup
            self.wordpiece = lookup.tokenizer()
        else:
            self.lookup = lookup

    def _encode(self, text):
        """(tokens [B, T'] padded with "", the model's ids [B, T], their ids [B, T'] aligned with the attention)."""
        if self.wordpiece is not None:
            ids = encoders.encode_graph(self.wordpiece, text, self.vocab.cls_id, self.vocab.sep_id, self.max_length)
            rest = ids[:, 1:]  # the model attends over the positions after [CLS], [SEP] masked
            mask = tf.logical_and(tf.not_equal(rest, PAD_ID), tf.not_equal(rest, self.vocab.sep_id))
            tokens = tf.where(mask, tf.gather(tf.constant(self.vocab.tokens), rest), "")
            return tokens, ids, tf.where(mask, rest, PAD_ID)
        tokens = tokenizer.tokenize(text, self.language, self.normalize)  # ragged [B, None]
        if self.max_length:
            tokens = tokens[:, : self.max_length]  # the training pipeline's truncation
        ids = tf.ragged.map_flat_values(lambda t: tf.cast(self.lookup(t), tf.int32), tokens).to_tensor(PAD_ID)
        return tokens.to_tensor(""), ids, ids

    def serve(self, text):
        _, ids, _ = self._encode(text)
        probs = self.model(ids, training=False)["probabilities"]
        # Compared in float64, as `metrics.predict_labels` compares the float32 scores
        # with the Python float gamma: the labels are the trainer's bit for bit.
        labels = tf.cast(probs, tf.float64) > tf.constant(self.threshold, tf.float64)
        names = tf.tile(tf.constant(self.label_names, tf.string)[tf.newaxis, :], [tf.shape(probs)[0], 1])
        return {"probabilities": probs, "labels": labels, "label_names": names}

    def explain(self, text):
        tokens, ids, token_ids = self._encode(text)
        out = self.model(ids, training=False)
        alpha_s = out["alpha_s"]
        alpha_t = out["alpha_t"] if "alpha_t" in out else tf.zeros_like(alpha_s)
        return {
            "tokens": tokens,
            "token_ids": token_ids,
            "alpha_s": alpha_s,
            "alpha_t": alpha_t,
            "probabilities": out["probabilities"],
        }


def _write_archive(archive, path, metadata_text):
    """Writes the SavedModel into `path` (an empty folder) plus assets.extra/."""
    archive.write_out(str(path), verbose=False)
    extra = Path(path) / EXTRA_DIR
    extra.mkdir(exist_ok=True)
    (extra / METADATA_FILE).write_text(metadata_text, encoding="utf-8")


def export_run(run_dir, output, overwrite=False):
    """Exports the finished run in `run_dir` as a SavedModel at `output`; returns its path.

    Raises:
        FileNotFoundError: `run_dir` is not a finished run.
        UserError: `output` exists and is not empty (without `overwrite`), is a file,
            or is (or holds) the run folder.
    """
    run_dir, output = Path(run_dir), Path(output)
    _check_destination(run_dir, output, overwrite)
    if not (run_dir / run_dir_lib.METRICS_FILE).exists():
        raise FileNotFoundError(
            f"{run_dir} is not a finished run (no {run_dir_lib.METRICS_FILE}; it holds the dev-tuned threshold)"
        )
    config, vocab, model = run_weights.load_run(run_dir)
    metrics_payload = run_dir_lib.read_metrics(run_dir)
    run_dir_lib.read_threshold(run_dir, metrics_payload)
    metadata = run_metadata(run_dir, config, metrics_payload)
    lookup = vocab if isinstance(vocab, encoders.WordPieceVocab) else build_lookup(vocab)
    endpoints = _Endpoints(model, lookup, metadata["language"], metadata["threshold"],
                           metadata["label_names"], metadata["max_length"], metadata["normalize_tokens"])

    archive = keras.export.ExportArchive()
    archive.track(model)
    if endpoints.wordpiece is None:
        archive.track(lookup)  # lookup tables must be tracked explicitly (WordPiece's model is a graph constant)
    archive.add_endpoint(SERVING_SIGNATURE, endpoints.serve, input_signature=[TEXT_SPEC])
    archive.add_endpoint(EXPLAIN_SIGNATURE, endpoints.explain, input_signature=[TEXT_SPEC])

    metadata_text = json.dumps(metadata, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with tempfile.TemporaryDirectory(prefix="datn_tf_export_") as scratch:
        source = Path(scratch) / METADATA_FILE
        source.write_text(metadata_text, encoding="utf-8")
        # Saving copies the file into the SavedModel's assets/. ExportArchive has no public
        # hook for a plain Asset (track() keeps only lookup-table resources), so it is
        # attached to the archive's root object, which is what gets saved.
        archive._tf_trackable.datn_tf_metadata = tf.saved_model.Asset(str(source))
        with io_utils.atomic_path(output, is_dir=True) as tmp:
            _write_archive(archive, tmp, metadata_text)
    return output


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """The command's settings, one flag each (--run_dir and --output must be given)."""

    run_dir: str = setting(None, "A finished training run (config.json, vocab.txt, best/, metrics.json).")
    output: str = setting(None, "Folder to write the SavedModel to (e.g. exports/semeval-datn2).")
    overwrite: bool = setting(False, "Replace --output if it exists and is not empty.")


def define_flags():
    """The command's flags; defined only when run as a program, so importing this module
    next to other commands (which also define --output) never collides."""
    config_lib.define_flags(config_class=ExportConfig)


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(ExportConfig)
        runtime.quiet_logging()  # no per-file INFO lines from the saver unless --verbosity asks
        tf.get_logger().setLevel("ERROR")
        path = export_run(settings.run_dir, settings.output, overwrite=settings.overwrite)
        meta = io_utils.read_json(path / EXTRA_DIR / METADATA_FILE)
    print(f"exported {settings.run_dir} ({meta['dataset']} / {meta['variant']}, gamma {meta['threshold']:.2f}, "
          f"{meta['num_labels']} labels) to {path}")
    print(f"signatures: {SERVING_SIGNATURE}, {EXPLAIN_SIGNATURE}; "
          f"inspect with: saved_model_cli show --all --dir {path}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
