"""Emotions of raw texts with an exported model (`python -m datn_tf.export`).

    python -m datn_tf.predict --model exports/semeval-datn2 "I am so happy today" "what a mess"
    python -m datn_tf.predict --model exports/semeval-datn2 --input texts.txt --output out.jsonl
    echo "I am so happy today" | python -m datn_tf.predict --model exports/semeval-datn2
    python -m datn_tf.predict --model exports/semeval-datn2 --format semeval \
        --input 2018-E-c-En-test.txt --output E-C_en_pred.txt

Texts come from the positional arguments, else from `--input` (one text per line), else
from standard input (one text per line). `--format jsonl` (default) writes one JSON object
per text, in input order:

    {"text": "...", "labels": ["joy", "optimism"], "probabilities": {"anger": 0.01, ...}}

`--format table` reads a CSV or TSV file of the `--dataset=files` layouts (wide or list, with
the same --layout, --delimiter and column flags as training; its label cells, if any, are not
read) and adds each row's "id" to its JSON object. `--table_output` also writes the predicted
labels as a table: in the input's layout, delimiter and columns for `--format table`, else a
wide TSV (id, text, one 0/1 column per label; ids are 1-based text numbers). `python -m
datn_tf.evaluate` scores such a table against a gold file of the same layout.

`--format semeval` reads an official SemEval-2018 E-c file (the unlabelled test input with
NONE labels, or a labelled file) and writes the official submission file: the input's header
and IDs, each tweet as given, and 0/1 per emotion. `--output` is written atomically. An E-c
file given without `--format semeval` is refused (its header and ID/label columns would
otherwise be scored as text).

The model is loaded with `tf.saved_model.load` and called through its `serving_default`
signature (the tokenizer, vocabulary and threshold are inside it); only TensorFlow is needed
for the model, the package is used for reading and writing files.
"""

import dataclasses
import json
import sys
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402
from google.protobuf import message  # noqa: E402

from datn_tf import cli, io_utils, runtime  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import run_dir as run_dir_lib  # noqa: E402
from datn_tf.config import setting  # noqa: E402
from datn_tf.data import files as files_lib  # noqa: E402
from datn_tf.data import semeval_ec  # noqa: E402
from datn_tf.data._io import split_text_lines as split_texts  # noqa: E402  (one text per line)
from datn_tf.data.semeval_ec import HEADER_START  # noqa: E402
from datn_tf.data.semeval_ec import ec_file_text as submission_text  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402
from datn_tf.saved_model_format import METADATA_PATH, SERVING_SIGNATURE, import_required_ops  # noqa: E402

DEFAULT_BATCH_SIZE = 256


# What to do about a damaged export.
REEXPORT = "export the run again: python -m datn_tf.export --run_dir RUN --output FOLDER --overwrite"
# What `serving_default` returns (`datn_tf.export`).
SERVING_OUTPUTS = {"probabilities", "labels", "label_names"}


class ExportedModel:
    """A datn-tf SavedModel: `predict(texts)` -> (probabilities [N, K], labels [N, K] bool)."""

    def __init__(self, path):
        path = Path(path)
        if not (path / "saved_model.pb").exists():
            if (path / run_dir_lib.CONFIG_FILE).exists():
                raise UserError(f"{path} is a training run, not an exported model; export it first: "
                                f"python -m datn_tf.export --run_dir {path} --output FOLDER")
            raise FileNotFoundError(f"{path} is not a SavedModel (no saved_model.pb); see python -m datn_tf.export")
        self.path = path
        self.metadata = (io_utils.read_json(path / METADATA_PATH, what_to_do=REEXPORT)
                         if (path / METADATA_PATH).exists() else {})
        if not (path / "variables").is_dir():
            raise UserError(f"{path} is a damaged SavedModel (no variables/ folder); {REEXPORT}")
        missing = import_required_ops(self.metadata)
        if missing:
            raise UserError(f"{path} needs {', '.join(missing)} (its pretrained encoder's WordPiece ops): "
                            "pip install -e .[encoder]")
        try:
            self._loaded = tf.saved_model.load(str(path))
        except (tf.errors.OpError, OSError, ValueError, IndexError, RuntimeError, message.DecodeError) as e:
            raise UserError(f"{path} is a damaged SavedModel ({cli.first_line(e)}); {REEXPORT}") from None
        fn = self._loaded.signatures.get(SERVING_SIGNATURE)
        if fn is None or set(fn.structured_input_signature[1]) != {"text"} or not SERVING_OUTPUTS <= set(
                fn.structured_outputs):
            raise UserError(f"{path} is a SavedModel but not a datn-tf export (its {SERVING_SIGNATURE!r} "
                            f"signature does not map text to {', '.join(sorted(SERVING_OUTPUTS))}); give a "
                            "folder written by python -m datn_tf.export")
        self._fn = fn
        self.label_names = list(self.metadata.get("label_names") or self._label_names_from_model())

    def _label_names_from_model(self):
        names = self._fn(text=tf.constant(["."]))["label_names"].numpy()[0]
        return [n.decode("utf-8") for n in names]

    def predict(self, texts, batch_size=DEFAULT_BATCH_SIZE):
        k = len(self.label_names)
        probs = np.zeros((len(texts), k), np.float32)
        labels = np.zeros((len(texts), k), bool)
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            out = self._fn(text=tf.constant(batch, dtype=tf.string))
            probs[start : start + len(batch)] = out["probabilities"].numpy()
            labels[start : start + len(batch)] = out["labels"].numpy()
        return probs, labels


def _decode(data, source):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{source}: not UTF-8 text (byte {e.start})") from None


def check_not_ec_file(texts, source):
    """Refuses texts that are an official E-c file read as plain lines (jsonl mode).

    Scoring its header and its `ID<TAB>tweet<TAB>labels` rows as texts gives output that
    looks right but is not; the user meant `--format semeval`, which we do not guess.
    """
    if texts and texts[0].startswith(HEADER_START):
        how = "--format semeval" if source != "standard input" else "--format semeval --input FILE"
        raise UserError(
            f"{source}: line 1 is the header of an official SemEval-2018 E-c file ('ID<TAB>Tweet<TAB>anger...'); "
            f"pass {how} to predict its tweets and write a submission file (with --format jsonl every "
            "line, header and IDs included, would be scored as a text)"
        )


def _number(p):
    # The shortest decimal that reads back as the same float32.
    return float(str(np.float32(p)))


def jsonl_lines(texts, probs, labels, label_names, ids=None):
    for i, (text, p, y) in enumerate(zip(texts, probs, labels)):
        yield json.dumps(
            {
                **({} if ids is None else {"id": ids[i]}),
                "text": text,
                "labels": [n for n, on in zip(label_names, y) if on],
                "probabilities": {n: _number(v) for n, v in zip(label_names, p)},
            },
            ensure_ascii=False,
        )


# How the marks beside its outputs name this command (`cli.check_replaceable`).
COMMAND = "datn_tf.predict"


def _write(text, output):
    if output:
        io_utils.write_text(output, text)
        cli.mark_written(output, COMMAND)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))  # UTF-8 whatever the locale
        sys.stdout.buffer.flush()


# --table_output's layout for texts that are not read from a table.
PLAIN_TEXT_TABLE = files_lib.TableLayout("wide", "\t", True, "text", "id")
# The training flags `--format table` reads its input with (`config.TABLE_SETTINGS` but the
# label-names file: the model carries its labels).
READ_SETTINGS = ("layout", "delimiter", "text_column", "labels_column", "id_column")


def run(model_dir, texts=None, input_path=None, output=None, fmt="jsonl", batch_size=DEFAULT_BATCH_SIZE,
        stdin=None, table_output=None, columns=None, overwrite=False):
    """The command: reads texts, predicts, writes; returns the number of texts.

    Args:
        table_output: also write the predicted labels there as a table (module docstring).
        columns: `--format table`: {setting: value} of `READ_SETTINGS` for reading `input_path`.
        overwrite: replace an existing output file that this command did not write.
    """
    if batch_size < 1:
        raise UserError("--batch_size must be positive")
    cli.check_outputs({"--output": output, "--table_output": table_output},
                      inputs={"--input": input_path, "--model": model_dir})
    if output and table_output and cli.path_clash(output, table_output):
        raise UserError(f"--output {output} and --table_output {table_output} are one path: give two files")
    cli.check_replaceable({"--output": output, "--table_output": table_output}, COMMAND, overwrite)
    if fmt == "semeval":
        if table_output:
            raise UserError("--table_output is for --format jsonl or table; --format semeval writes a table")
        if texts:
            raise UserError("--format semeval reads an E-c file given with --input, not texts")
        if not input_path:
            raise UserError("--format semeval needs --input (an official E-c file)")
        examples = semeval_ec.read_ec(input_path, prediction=True)
        model = ExportedModel(model_dir)
        if list(model.label_names) != list(examples.label_names):
            raise UserError(
                f"the model's labels {model.label_names} are not the E-c emotions {list(examples.label_names)}"
            )
        _, labels = model.predict(list(examples.texts), batch_size)
        _write(submission_text(examples, labels), output)
        return len(examples)

    ids, layout = None, PLAIN_TEXT_TABLE
    if fmt == "table":
        if texts:
            raise UserError("--format table reads a CSV or TSV file given with --input, not texts")
        if not input_path:
            raise UserError("--format table needs --input (a CSV or TSV file; docs/own-data.md)")
        ids, texts, layout = files_lib.read_texts(input_path, **(columns or {}))
    elif texts:
        if input_path:
            raise UserError("give texts as arguments or with --input, not both")
    elif input_path:
        path = Path(input_path)
        if not path.is_file():
            raise FileNotFoundError(f"--input {input_path} not found")
        texts = split_texts(_decode(path.read_bytes(), input_path))
        check_not_ec_file(texts, input_path)
    else:
        stdin = stdin if stdin is not None else sys.stdin.buffer
        texts = split_texts(_decode(stdin.read(), "standard input"))
        check_not_ec_file(texts, "standard input")
    model = ExportedModel(model_dir)
    probs, labels = model.predict(list(texts), batch_size)
    lines = list(jsonl_lines(texts, probs, labels, model.label_names, ids))
    _write("".join(line + "\n" for line in lines), output)
    if table_output:
        table_ids = ids if ids is not None else [str(i + 1) for i in range(len(texts))]
        io_utils.write_text(table_output, files_lib.emotion_table_text(layout, table_ids, list(texts), labels,
                                                                       model.label_names))
        cli.mark_written(table_output, COMMAND)
    return len(texts)


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """The command's settings, one flag each; a `--format table` --input is read with the training
    settings `READ_SETTINGS` (--layout, --delimiter, the columns)."""

    model: str | None = setting(None, "An exported SavedModel folder (python -m datn_tf.export).")
    input: str | None = setting(None, "Texts, one per line (jsonl), a CSV/TSV file (table), or an official E-c "
                                "file (semeval).")
    output: str | None = setting(None, "Write here (atomically) instead of standard output: a new file, or one "
                                 "this command wrote before.")
    overwrite: bool = setting(False, "Replace an existing --output or --table_output that this command did not "
                              "write.")
    format: str = setting("jsonl", "jsonl: one JSON object per text; table: the same for the rows of a CSV/TSV "
                          "--input (docs/own-data.md); semeval: the official E-c submission file.",
                          choices=("jsonl", "table", "semeval"))
    table_output: str | None = setting(None, "Also write the predicted labels here as a table: the --input's "
                                       "layout with --format table, else a wide TSV (id, text, one 0/1 column per "
                                       "label).")
    batch_size: int = setting(DEFAULT_BATCH_SIZE, "Texts per call of the model.")


def define_flags():
    """The command's flags; defined only when run as a program (see `datn_tf.export`)."""
    config_lib.define_flags(config_class=PredictConfig)
    config_lib.define_flags(names=READ_SETTINGS)  # read as for training: --layout, --delimiter, columns
    runtime.define_thread_flags()


def main(argv):
    with cli.user_errors():
        settings = config_lib.command_settings(PredictConfig)
        if not settings.model:
            raise UserError("--model is required")
        runtime.configure_threads_from_flags()
        runtime.quiet_logging()
        run(settings.model, texts=argv[1:], input_path=settings.input, output=settings.output, fmt=settings.format,
            batch_size=settings.batch_size, table_output=settings.table_output,
            columns={name: flags.FLAGS[name].value for name in READ_SETTINGS}, overwrite=settings.overwrite)


if __name__ == "__main__":
    define_flags()
    cli.run(main)
