"""Every message docs/troubleshooting.md lists still reaches the user as it says: one `error: ...`
line and exit status 2 (or one line and status 130 for Ctrl-C), with no traceback.

Each case does in this process what the command does (the same library call, or the command's
`main`) under `cli.user_errors`; the table's rows and the cases are matched one to one, so a row
added to the page needs its case here.
"""

import dataclasses
import errno
import importlib.util
import json
import os
import re
import socket
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from datn_tf import (
    cli,
    config,
    demo,
    divergence,
    embeddings,
    encoders,
    evaluate,
    export,
    io_utils,
    predict,
    run_lock,
    run_weights,
    runtime,
    testing,
    visualize,
)
from datn_tf import run_dir as run_dir_lib
from datn_tf.data import datasets, files, semeval_ec
from datn_tf.data import prepare as prepare_lib
from datn_tf.errors import TrainingInterrupted
from datn_tf.saved_model_format import METADATA_PATH
from experiments import launch, records, reproduce

PAGE = Path(__file__).resolve().parents[1] / "docs" / "troubleshooting.md"


def documented_messages():
    """The first cell of each row of the page's table (the message, or how it starts)."""
    rows = [line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    return [row.split(" | ")[0].removeprefix("| ") for row in rows]


# -- what each documented message needs: the cases ---------------------------------------------
# Each returns a list of (what to do, a pattern of the line it must print).


def _own_files(tmp_path, train="text,calm,eager\nso calm,1,0\nso eager,0,1\n", **settings):
    """--dataset=files settings over a two-label wide training file (also the dev file)."""
    (tmp_path / "e.csv").write_text(train)
    return config.resolve({"dataset": "files", "variant": "base", "train_file": str(tmp_path / "e.csv"),
                           "dev_file": str(tmp_path / "e.csv"), **settings})


def _load_own(tmp_path, train=None, **settings):
    kwargs = {} if train is None else {"train": train}
    return lambda: datasets.load_task_of(_own_files(tmp_path, **kwargs, **settings).validate())


def _sentiment_file(tmp_path, text):
    def call():
        (tmp_path / "s.csv").write_text(text)
        datasets.load_task_of(_own_files(tmp_path, variant="datn2", sentiment_file=str(tmp_path / "s.csv")).validate())
    return call


def _fake_run(folder, train_config=None, metrics=None, probabilities=None):
    """A run folder with the files a reader needs: config.json, metrics.json, dev probabilities."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = {"train_config": train_config or json.loads(json.dumps(dataclasses.asdict(config.TrainConfig()))),
             "model_config": {}, "emotion_names": ["calm", "eager"], "language": "en"}
    io_utils.write_json(folder / run_dir_lib.CONFIG_FILE, saved)
    io_utils.write_json(folder / run_dir_lib.METRICS_FILE, metrics or {"threshold": 0.5})
    if probabilities is not None:
        io_utils.save_npy(run_dir_lib.probabilities_path(folder, "dev"), probabilities)
    return folder


def _evaluate(**flag_values):
    """`evaluate.main` with these flags (the others unset)."""
    argv = [f"--{name}={','.join(map(str, v)) if isinstance(v, list) else v}" for name, v in flag_values.items()]
    return _command(evaluate.main, ["evaluate", *argv], evaluate.EvaluateConfig, config.TrainConfig)


def _command(main, argv, *config_classes):
    """`main` of a command whose settings are `setting()` dataclasses, with the flags of
    `config_classes` parsed from `argv` (a FlagValues of its own, as the command's process has)."""
    def call():
        flag_values = flags.FlagValues()
        for config_class in config_classes:
            config.define_flags(flag_values, config_class=config_class)
        saved, flags.FLAGS = flags.FLAGS, flag_values
        try:
            cli.parse_flags(argv)
            main(argv[:1])
        finally:
            flags.FLAGS = saved
    return call


def _run_lock(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    now = time.time()
    (run / run_dir_lib.LOCK_FILE).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now}))
    return [(lambda: run_lock.RunLock(run).acquire(), rf"^{run} is being trained by pid {os.getpid()} on host ")]


def _export_overwrite(tmp_path):
    other, foreign = tmp_path / "mine", tmp_path / "foreign"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    foreign.mkdir()
    (foreign / "saved_model.pb").write_bytes(b"x")
    return [(lambda: export._check_destination(tmp_path / "run", other, True),
             rf"^--output {other} holds files that are not a SavedModel; --overwrite replaces only an earlier export"),
            (lambda: export._check_destination(tmp_path / "run", foreign, True),
             rf"^--output {foreign} holds a SavedModel that is not a datn-tf export; --overwrite replaces only")]


def _one_path(tmp_path):
    same, gold = tmp_path / "out.txt", tmp_path / "gold.txt"
    gold.write_text("ID\tTweet\n")
    run = _fake_run(tmp_path / "run")
    return [(lambda: predict.run(tmp_path / "model", texts=["x"], output=same, table_output=same),
             rf"^--output {same} and --table_output {same} are one path"),
            (_evaluate(gold=str(gold), predictions=str(gold)),
             rf"^--predictions {gold} is the gold file --gold {gold}"),
            (_evaluate(ensemble=[str(run), str(run)]), rf"^--ensemble names {run} twice")]


def _data_line(tmp_path):
    path = tmp_path / "train.txt"
    testing.write_ec_file(path, [("2018-En-1", "so happy", [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0])])
    return [(lambda: semeval_ec.read_ec(path), rf"^{path}:2: label 'joy' must be 0 or 1, found '2'")]


def _vectors(tmp_path, text, name="v.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _vector_count(tmp_path):
    path = _vectors(tmp_path, "happy 0.1 0.2 0.3\nsad 0.1 0.2\n")
    return [(lambda: embeddings.load_vectors(str(path)), rf"^{path}:2: expected 3 numbers after the word, got 2")]


def _decompress(tmp_path):
    path = tmp_path / "v.txt.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 not gzip at all")
    return [(lambda: embeddings.load_vectors(str(path)), rf"^{path}: cannot decompress \(")]


def _coverage(tmp_path):
    coverage = types.SimpleNamespace(types=10, type_rate=0.0)
    return [(lambda: embeddings.check_coverage(coverage, "v.txt"),
             r"^v\.txt covers 0\.0% of the vocabulary's word types \(minimum 5%\)")]


def _bounds(tmp_path):
    return [(lambda: config.TrainConfig(epochs=0).validate(), r"^--epochs must be >= 1; got 0$"),
            (lambda: config.TrainConfig(hidden_size=5000).validate(), r"^--hidden_size must be <= 4096; got 5000$"),
            (lambda: config.TrainConfig(variant="datn3").validate(),
             r"^--variant must be one of base, .*; got 'datn3'")]


def _finite_setting(tmp_path):
    return [(lambda: config.TrainConfig(lambda_sim=float("nan")).validate(),
             r"^--lambda_sim must be a finite number; got nan$")]


def _vector_nan(tmp_path):
    path = _vectors(tmp_path, "happy 0.1 0.2\nsad nan 0.2\n")
    return [(lambda: embeddings.load_vectors(str(path)), rf"^{path}:2: vector holds 'nan', not a finite float32")]


def _embedding_dim(tmp_path):
    return [(lambda: embeddings.check_dim(300, 50, "v.txt"), r"^--embedding_dim=300 does not match the 50-d vectors "
             r"of v\.txt")]


def _diverged(tmp_path):
    return [(lambda: divergence.check_finite(config.TrainConfig(), 5, {"emotion_loss": float("nan")}, None),
             r"^training diverged at step 5: emotion_loss nan; the settings most likely at fault: --learning_rate=")]


def _ren_missing(tmp_path, data_dir):
    folder = tmp_path / "data" / datasets.REN_DIR
    folder.mkdir(parents=True)
    for path in (data_dir / datasets.REN_DIR).glob("cet_*.xml"):
        if path.name != "cet_1.xml":
            (folder / path.name).write_bytes(path.read_bytes())
    return [(lambda: datasets.load_task("ren_cecps", folder.parent),
             rf"^{folder}: 1 of the 560 train documents \(cet_1\.xml-cet_560\.xml\) are missing: cet_1\.xml")]


def _empty_split(tmp_path):
    (tmp_path / "dev.csv").write_text("text,calm,eager\n")
    return [(_load_own(tmp_path, dev_file=str(tmp_path / "dev.csv")),
             rf"^{tmp_path / 'dev.csv'}: the dev split of --dataset=files holds no sentences$")]


def _record(tmp_path):
    path = tmp_path / "base-seed0.json"
    whole = {"variant": "base", "seed": 0, "threshold": 0.5, "wall_seconds": 1.0, "dev": {"jaccard": 0.5}}

    def read(text):
        def call():
            path.write_text(text)
            records.read(path, records.REPRODUCE_KEYS, "run it again")
        return call

    return [(read("{"), rf"^{path}: not a readable run record \("),
            (read(json.dumps({"variant": "base"})), rf"^{path}: not a whole run record \(no seed, "),
            (read(json.dumps({**whole, "test": {"jaccard": "x"}})),
             rf"^{path}: not a whole run record \(test\.jaccard is 'x', not a finite number\)")]


def _identity(tmp_path):
    path = tmp_path / "sp-seed0.json"
    return [(lambda: records.check_identity(path, "sp-seed0", ("datn2", 0, None)),
             rf"^{path} holds the run of datn2, seed 0, not sp-seed0")]


def _reproduce(*args):
    return _command(reproduce.main, ["reproduce", *args], config.TrainConfig, reproduce.ReproduceConfig)


def _reproduce_runs(tmp_path):
    return [(_reproduce("--runs=0", "--variants=base"), r"^--runs must be >= 1; got 0$"),
            (_reproduce("--runs=1", "--variants="), r"^--variants names no system; give some of base, ")]


def _cv_variants(tmp_path):
    return [(_reproduce("--variants=base", "--cv_variants=base", f"--results_dir={tmp_path}"),
             r"^--cv_variants is for --dataset=ren_cecps \(its cross-validation\), not --dataset=semeval; leave it "
             "out$")]


def _read_only_with(tmp_path):
    return [(lambda: config.TrainConfig(train_file="x.csv").validate(),
             r"^--train_file is read only with --dataset=files, not --dataset=semeval; leave it out, or pass "
             r"--dataset=files$")]


def _launcher_option(tmp_path):
    return [(lambda: launch.Options(launcher="local", mem_gb=16).validate(),
             r"^--mem_gb is for --launcher=slurm, not --launcher=local; leave it out, or pass that launcher$")]


def _stray_argument(tmp_path):
    def call():
        with cli.user_errors(["train", "base"]):
            pass
    return [(call, r"^unexpected argument\(s\) 'base'; settings are flags")]


def _other_settings(tmp_path):
    run = _fake_run(tmp_path / "run")
    (run / run_dir_lib.CKPT_DIR).mkdir()
    return [(lambda: run_dir_lib.write_run_files(run, config.TrainConfig(seed=3), None, None),
             rf"^{run} holds a run with other settings \(seed\); use another --output_dir$")]


def _no_sentiment_file(tmp_path):
    return [(lambda: _own_files(tmp_path, variant="datn2").validate(),
             r"^--variant=datn2 transfers from a sentiment task: add --sentiment_file=FILE")]


def _sentiment_labels(tmp_path):
    return [(_sentiment_file(tmp_path, "text,neg,pos\ngood day,0,1\nbad day,1,1\n"),
             r"s\.csv:3: 2 sentiment labels; give one per row$")]


def _sentiment_classes(tmp_path):
    return [(_sentiment_file(tmp_path, "text,label\ngood day,pos\nfine day,pos\n"),
             r"s\.csv: one sentiment class \(pos\); a source task needs two or more$"),
            (_sentiment_file(tmp_path, "text,label\n"), r"s\.csv: the sentiment file holds no sentences$")]


def _label_columns(tmp_path):
    (tmp_path / "x.csv").write_text("text,eager,calm,bored\nhi,1,0,0\n")
    return [(_load_own(tmp_path, test_file=str(tmp_path / "x.csv")),
             r"x\.csv:1: label column\(s\) bored not in the training file's label set")]


def _field_count(tmp_path):
    return [(_load_own(tmp_path, train="text,calm,eager\nso calm,1,0\nso eager,0\n"),
             r"e\.csv:3: 2 field\(s\) where the first row has 3$")]


def _text_column(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,calm\ncaf\xe9,1\n".encode("latin-1"))
    return [(_load_own(tmp_path, train="words,calm,eager\nso calm,1,0\n"), r"e\.csv:1: no text column \(looked for "),
            (lambda: files.read_emotion_file(latin), rf"^{latin}: not a readable CSV file \(")]


def _unreadable_checkpoints(tmp_path):
    run = tmp_path / "run"
    step = tf.Variable(1)
    run_weights.Checkpoints(tf.train.Checkpoint(step=step), run).save(1)
    for data in (run / run_dir_lib.CKPT_DIR).glob("ckpt-1.data-*"):
        data.write_bytes(b"damaged")
    return [(lambda: run_weights.Checkpoints(tf.train.Checkpoint(step=step), run).restore_latest(),
             rf"^no checkpoint in {run / run_dir_lib.CKPT_DIR} can be read \(ckpt-1 are damaged\); delete {run} ")]


def _no_best_weights_yet(tmp_path):
    empty = tmp_path / "empty"
    return [(lambda: run_weights.read_best_weights(empty, tf.Module()),
             rf"^{empty / run_dir_lib.BEST_DIR} holds no weights \(no weights\.index\): the run has not reached its "
             "first dev evaluation")]


def _best_weights_lost(tmp_path):
    damaged, removed = tmp_path / "damaged", tmp_path / "removed"
    (damaged / run_dir_lib.BEST_DIR).mkdir(parents=True)
    (damaged / run_dir_lib.BEST_DIR / "weights.index").write_bytes(b"damaged")
    removed.mkdir()
    (removed / run_dir_lib.HISTORY_FILE).write_text("[]")
    return [(lambda: run_weights.read_best_weights(damaged, tf.Module()),
             rf"^{damaged / run_dir_lib.BEST_DIR} is damaged or from another model \(.*the run's best weights are "
             "lost"),
            (lambda: run_weights.read_best_weights(removed, tf.Module()),
             rf"^{removed / run_dir_lib.BEST_DIR} holds no weights \(no weights\.index\), though the run was "
             "evaluated on dev: the run's best weights are lost")]


def _ec_header(tmp_path):
    return [(lambda: predict.check_not_ec_file([semeval_ec.HEADER_START + "anger"], "in.txt"),
             r"^in\.txt: line 1 is the header of an official SemEval-2018 E-c file")]


def _training_interrupted(tmp_path):
    def call():
        raise TrainingInterrupted("interrupted at step 4 of 9; no checkpoint yet: re-run the same command to resume")
    return [(call, r"^interrupted at step 4 of 9; ")]


def _ctrl_c(tmp_path):
    def call():
        raise KeyboardInterrupt
    return [(call, r"^interrupted; re-run the same command to go on")]


def _flag_type(tmp_path):
    from absl import flags

    def call():
        flag_values = flags.FlagValues()
        flags.DEFINE_integer("epochs", 1, "x", flag_values=flag_values)
        saved, flags.FLAGS = flags.FLAGS, flag_values
        try:
            cli.parse_flags(["train", "--epochs=many"])
        finally:
            flags.FLAGS = saved
    return [(call, r"^flag --epochs=many: .*; --helpfull lists every flag$")]


def _output_is_input(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("x\n")
    return [(lambda: cli.check_outputs({"--output": path}, inputs={"--input": path}),
             rf"^--output {path} is the input --input {path}: writing it would destroy what the command reads")]


def _output_in_read_run(tmp_path):
    run = tmp_path / "run"
    return [(lambda: cli.check_outputs({"--output": run / "best"}, runs={"--run_dir": run}),
             rf"^--output {run / 'best'} is inside the run folder --run_dir {run}"),
            (lambda: cli.check_outputs({"--output": tmp_path}, runs={"--run_dir": run}),
             rf"^--output {tmp_path} holds the run folder --run_dir {run}")]


def _output_in_any_run(tmp_path):
    run = _fake_run(tmp_path / "run")
    return [(lambda: cli.check_outputs({"--output": run / "fig.png"}),
             rf"^--output {run / 'fig.png'} is inside the run folder {run}: a run's files are its own")]


def _not_a_run(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.json").write_text("{}")
    return [(lambda: cli.check_run_folder(mine), rf"^--output_dir {mine} holds files that are not a datn-tf run's ")]


def _file_or_folder(tmp_path):
    file, folder = tmp_path / "file", tmp_path / "folder"
    file.write_text("x")
    folder.mkdir()
    show = _command(visualize.main, ["visualize", f"--run_dirs={tmp_path / 'run'}", f"--output={folder}"],
                    visualize.VisualizeConfig)
    return [(lambda: cli.check_run_folder(file), rf"^--output_dir {file} is a file, not a folder"),
            (show, rf"^--output {folder} is a folder; give a PNG file name")]


def _full_disk(tmp_path, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def call():
        with monkeypatch.context() as patched:  # a write that fails as on a full disk
            patched.setattr(os, "replace", full)
            io_utils.write_text(tmp_path / "out.txt", "x")
    return [(call, rf"^{tmp_path / 'out.txt'}: No space left on device; free some space and re-run")]


def _unwritable(tmp_path, monkeypatch):
    file, folder = tmp_path / "file", tmp_path / "folder"
    file.write_text("x")
    folder.mkdir()

    def refused(code):
        def call():
            def mkdir(path, *args, **kwargs):
                raise OSError(code, os.strerror(code), str(path))
            with monkeypatch.context() as patched:  # as on a folder we may not write (tests may run as root)
                patched.setattr(os, "mkdir", mkdir)
                io_utils.write_text(tmp_path / "x" / "out.txt", "y")
        return call

    return [(refused(errno.EACCES), r": Permission denied; check the permissions"),
            (refused(errno.EROFS), r": Read-only file system; choose a path on a writable file system"),
            (lambda: io_utils.write_text(file / "out.txt", "y"), rf"^{file}: Not a directory"),
            (lambda: io_utils.write_text(folder, "y"), rf"^{folder}: Is a directory")]


def _run_config(tmp_path):
    cut, partial = tmp_path / "cut", _fake_run(tmp_path / "partial")
    cut.mkdir()
    (cut / run_dir_lib.CONFIG_FILE).write_text('{"train_config": ')
    io_utils.write_json(partial / run_dir_lib.CONFIG_FILE, {"train_config": {}})
    return [(lambda: run_dir_lib.read_run_config(cut), rf"^{cut / run_dir_lib.CONFIG_FILE}:1: not valid JSON "),
            (lambda: run_dir_lib.read_run_config(partial),
             rf"^{partial / run_dir_lib.CONFIG_FILE}: not a run's saved config \(no model_config, ")]


def _run_metrics(tmp_path):
    cut, no_threshold = _fake_run(tmp_path / "cut"), _fake_run(tmp_path / "none", metrics={"threshold": None})
    (cut / run_dir_lib.METRICS_FILE).write_text("{")
    return [(lambda: run_dir_lib.read_metrics(cut), rf"^{cut / run_dir_lib.METRICS_FILE}:1: not valid JSON "),
            (lambda: run_dir_lib.read_threshold(no_threshold),
             rf"^{no_threshold / run_dir_lib.METRICS_FILE}: no finite dev-tuned threshold")]


def _damaged_saved_model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"damaged")
    return [(lambda: predict.ExportedModel(model), rf"^{model} is a damaged SavedModel \(")]


def _foreign_saved_model(tmp_path):
    model = tmp_path / "model"
    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(model))
    return [(lambda: predict.ExportedModel(model), rf"^{model} is a SavedModel but not a datn-tf export")]


def _ranking_scores(tmp_path):
    gold = types.SimpleNamespace(labels=np.zeros((3, 2), np.int8))
    text, wrong = tmp_path / "scores.npy", tmp_path / "wrong.npy"
    text.write_text("0.1 0.2\n")
    np.save(wrong, np.zeros((4, 2), np.float32))
    return [(lambda: evaluate.read_ranking_scores(text, gold), rf"^{text}: not a NumPy \.npy array"),
            (lambda: evaluate.read_ranking_scores(wrong, gold), rf"^{wrong}: scores of shape \(4, 2\), but the gold")]


def _ensemble(tmp_path):
    gold = {"dev": np.zeros((3, 2), np.int8)}
    unfinished = _fake_run(tmp_path / "unfinished")
    other = _fake_run(tmp_path / "other", probabilities=np.zeros((4, 2), np.float32))
    edited = _fake_run(tmp_path / "edited", probabilities=np.full((3, 2), np.nan, np.float32))
    path = run_dir_lib.probabilities_path
    return [(lambda: evaluate.ensemble_runs([unfinished], gold), rf"^--ensemble {unfinished} has no dev probabilities"),
            (lambda: evaluate.ensemble_runs([other], gold), rf"^{path(other, 'dev')}: probabilities of shape \(4, 2\)"),
            (lambda: evaluate.ensemble_runs([edited], gold),
             rf"^{path(edited, 'dev')}: probabilities that are not finite numbers")]


def _open_quote(tmp_path):
    rows = [f"row {i},1,0" for i in range(1, 14)]
    rows[2] = '"row 3 with an open quote,0,1'
    path = tmp_path / "q.csv"
    path.write_text("text,calm,eager\n" + "\n".join(rows) + "\n")
    return [(lambda: files.read_emotion_file(path),
             rf"^{path}:4: 1 field\(s\) where the first row has 3 \(a quote opened on line 4 runs to line 14: close "
             r"it, or double a quote inside a text\)$")]


def _semicolons(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("text;calm;eager\nso quiet;1;0\nso eager;0;1\n")
    return [(lambda: files.read_emotion_file(path),
             rf"^{path}:1: no text column .*; the file reads as one column, and line 1 holds semicolon separators: "
             r"pass --delimiter=semicolon$")]


def _out_of_range(tmp_path):
    def intra_op():
        runtime.define_thread_flags()  # absl's own flags, bounds and all (defined once, in absl's FLAGS)
        try:
            cli.parse_flags(["train", "--intra_op_threads=-1"])
        finally:
            flags.FLAGS.unparse_flags()

    return [(intra_op, r"^flag --intra_op_threads=-1: .*; --helpfull lists every flag$"),
            (lambda: runtime.configure_threads(intra_op=1, inter_op=2000),
             r"^--inter_op_threads must be <= 1024; got 2000$"),
            (_command(visualize.main, ["visualize", "--run_dirs=r", "--output=f.png", "--dpi=0"],
                      visualize.VisualizeConfig), r"^--dpi must be >= 1; got 0$")]


def _not_written_by(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("my notes\n")
    return [(lambda: cli.check_replaceable({"--output": mine}, "datn_tf.predict"),
             rf"^--output {mine} exists and was not written by datn_tf.predict: pass --overwrite to replace it, or "
             "choose a new file$")]


def _data_folder(tmp_path):
    folder = tmp_path / datasets.EC_DIR
    return [(lambda: cli.check_replaceable({"--output": folder / "new.jsonl"}, "datn_tf.predict"),
             rf"^--output {folder / 'new.jsonl'} is inside the data folder {folder}: its files are what training and "
             "scoring read")]


def _output_kind(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return [(lambda: cli.check_replaceable({"--output": tmp_path}, "datn_tf.predict"),
             rf"^--output {tmp_path} is a folder; give a file name$"),
            (lambda: cli.check_replaceable({"--output": fifo}, "datn_tf.predict"),
             rf"^--output {fifo} exists and is not a regular file; choose a new file$")]


def _not_an_export(tmp_path):
    missing, run = tmp_path / "missing", _fake_run(tmp_path / "run")
    return [(lambda: predict.ExportedModel(missing), rf"^{missing} is not a SavedModel \(no saved_model\.pb\)"),
            (lambda: predict.ExportedModel(run), rf"^{run} is a training run, not an exported model; export it first")]


def _no_explain_signature(tmp_path, monkeypatch):
    model = tmp_path / "model"

    def loaded_without_explain(self, path):
        self._loaded, self.metadata = types.SimpleNamespace(signatures={}), {}

    def call():
        with monkeypatch.context() as patched:  # a SavedModel whose signatures lack `explain`
            patched.setattr(predict.ExportedModel, "__init__", loaded_without_explain)
            demo.ExplainedModel(model)
    return [(call, rf"^{model} has no 'explain' signature with alpha_s, alpha_t, ")]


def _no_gradio(tmp_path, monkeypatch):
    def call():
        find_spec = importlib.util.find_spec
        with monkeypatch.context() as patched:  # as without the demo extra
            patched.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else find_spec(name))
            demo.check_gradio()
    return [(call, r"^the demo needs Gradio, an optional extra: ")]


def _port_in_use(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def call():
        try:
            demo.check_port("127.0.0.1", port)
        finally:
            server.close()
    return [(call, rf"^--port {port} is in use on 127\.0\.0\.1 \(another server\?\); stop it or choose another")]


def _host(tmp_path):
    return [(lambda: demo.check_port("no-such-host.invalid", 7860),
             r"^--host no-such-host\.invalid is not an address of this machine \(")]


def _run_of(folder, train_config, emotion_names, splits):
    io_utils.write_json(folder / run_dir_lib.CONFIG_FILE, {
        "train_config": dataclasses.asdict(train_config), "model_config": {}, "emotion_names": emotion_names,
        "language": "en", "splits": splits})
    return folder


def _ensemble_runs(tmp_path):
    own = _own_files(tmp_path)
    splits = datasets.load_task_of(own).split_digests()
    a = _run_of(_fake_run(tmp_path / "a"), own, ["calm", "eager"], splits)
    b = _run_of(_fake_run(tmp_path / "b"), own, ["eager", "calm"], splits)
    return [(lambda: evaluate.check_one_experiment([a, b]),
             rf"^--ensemble {a} and {b} are not runs of one experiment: label names \['calm', 'eager'\] in {a}, ")]


def _ensemble_data_changed(tmp_path):
    own = _own_files(tmp_path)
    splits = datasets.load_task_of(own).split_digests()
    a = _run_of(_fake_run(tmp_path / "a"), own, ["calm", "eager"], {**splits, "dev": {"sentences": 5,
                                                                                     "sha256": "f" * 64}})
    return [(lambda: evaluate.check_one_experiment([a, a]),
             rf"^--ensemble {a}: its dev data changed since it was trained \(5 sentences, sha256 ffffffffffff then; ")]


def _encoder_folder(tmp_path, name="bert", layers=2, weights=b"not safetensors"):
    folder = tmp_path / name
    folder.mkdir()
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "so", "calm"]
    (folder / encoders.VOCAB_FILE).write_text("\n".join(vocabulary) + "\n")
    (folder / encoders.WEIGHTS_FILE).write_bytes(weights)
    io_utils.write_json(folder / encoders.CONFIG_FILE, {
        "model_type": "bert", "vocab_size": len(vocabulary), "num_hidden_layers": layers, "num_attention_heads": 2,
        "hidden_size": 8, "intermediate_size": 16, "max_position_embeddings": 32})
    return folder


def _encoder_missing(tmp_path):
    folder = tmp_path / "minilm"
    return [(lambda: encoders.check_files(encoders.MINILM, folder),
             rf"^--encoder=minilm: {folder / encoders.CONFIG_FILE} is missing; ")]


def _encoder_damaged(tmp_path):
    folder = _encoder_folder(tmp_path, "minilm")
    size = encoders.MINILM_FILES[encoders.WEIGHTS_FILE].size
    return [(lambda: encoders.check_files(encoders.MINILM, folder),
             rf"^--encoder=minilm: {folder / encoders.WEIGHTS_FILE} has 15 bytes, not {size}: damaged or incomplete; "
             f"delete {folder} and ")]


def _not_a_bert(tmp_path):
    pytest.importorskip("keras_hub")
    folder = _encoder_folder(tmp_path)
    return [(lambda: encoders.load_backbone(folder),
             rf"^{folder / encoders.WEIGHTS_FILE} cannot be loaded as a BERT \(.*\); the file is damaged or not a "
             "BERT")]


def _no_keras_hub(tmp_path, monkeypatch):
    def call():
        with monkeypatch.context() as patched:  # as without the encoder extra
            patched.setitem(sys.modules, "keras_hub", None)
            encoders.keras_hub()
    return [(call, r"^pretrained encoders need keras_hub: pip install -e \.\[encoder\]")]


def _encoder_settings(tmp_path):
    return [(lambda: config.resolve({"encoder_trainable_layers": 1}).validate(),
             r"^--encoder_trainable_layers is a setting of a pretrained encoder; it needs --encoder=minilm or "
             r"--encoder=bert$"),
            (lambda: config.resolve({"encoder": "minilm", "embeddings": "x.txt"}).validate(),
             r"^--embeddings is a setting of the lookup table E, which --encoder=minilm replaces; leave it out$")]


def _minilm_english(tmp_path):
    return [(lambda: config.resolve({"encoder": "minilm", "dataset": "ren_cecps"}).validate(),
             r"^--encoder=minilm reads English \(an uncased English WordPiece vocabulary\); --dataset=ren_cecps is not "
             "English")]


def _trained_layers(tmp_path):
    folder = _encoder_folder(tmp_path)
    settings = config.resolve({"encoder": "bert", "encoder_dir": str(folder), "encoder_trainable_layers": 3})
    return [(lambda: prepare_lib._encoder_parts(settings, None),
             rf"^--encoder_trainable_layers=3: {folder} has 2 transformer layers$")]


def _no_tensorflow_text(tmp_path, monkeypatch):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"")
    io_utils.write_json(model / METADATA_PATH, {"requires": ["tensorflow_text"]})

    def call():
        with monkeypatch.context() as patched:  # as without the encoder extra
            patched.setitem(sys.modules, "tensorflow_text", None)
            predict.ExportedModel(model)
    return [(call, rf"^{model} needs tensorflow_text \(its pretrained encoder's WordPiece ops\): pip install -e "
             r"\.\[encoder\]$")]


# The start of each message's cell in the page -> its case. Notes and warnings are no errors.
CASES = {
    "`error: <run folder> is being trained by pid N": _run_lock,
    "`--output X holds files that are not a SavedModel`": _export_overwrite,
    "`--output X and --table_output X are one path`": _one_path,
    "`error: <file>:<line>: ...`": _data_line,
    "`<file>:<line>: expected D numbers after the word": _vector_count,
    "`<file>: cannot decompress (...)`": _decompress,
    "`... covers 0.0% of the vocabulary's word types": _coverage,
    "`--epochs must be >= 1`": _bounds,
    "`--lambda_sim must be a finite number; got nan`": _finite_setting,
    "`<file>:<line>: vector holds 'nan'": _vector_nan,
    "`--embedding_dim=300 does not match": _embedding_dim,
    "`training diverged at step N": _diverged,
    "`<folder>: N of the 560 train documents": _ren_missing,
    "`note: test documents left out": None,
    "`<source>: the dev split of --dataset=... holds no sentences`": _empty_split,
    "`<results>/<run>.json: not a readable run record": _record,
    "`<record or run folder> holds the run of datn2": _identity,
    "`--runs must be >= 1`": _reproduce_runs,
    "`unexpected argument(s) 'base'`": _stray_argument,
    "`<run> holds a run with other settings": _other_settings,
    "`--variant=X transfers from a sentiment task": _no_sentiment_file,
    "`<file>:<line>: N sentiment labels": _sentiment_labels,
    "`<file>: one sentiment class (...)`": _sentiment_classes,
    "`<file>:1: label column(s) X not in the training file's label set`": _label_columns,
    "`<file>:<line>: N field(s) where the first row has M`": _field_count,
    "`<file>:1: no text column": _text_column,
    "`warning: checkpoint ... is damaged": None,
    "`no checkpoint in <run>/checkpoints can be read`": _unreadable_checkpoints,
    "`<run>/best holds no weights ...: the run has not reached": _no_best_weights_yet,
    "`<run>/best is damaged or from another model": _best_weights_lost,
    "`<file>: line 1 is the header of an official SemEval-2018 E-c file`": _ec_header,
    "`interrupted at step N ...` (exit 130)": _training_interrupted,
    "`interrupted; re-run the same command to go on ...` (exit 130)": _ctrl_c,
    "`flag --epochs=many: ...; --helpfull lists every flag`": _flag_type,
    "`--output X is the input --input X": _output_is_input,
    "`--output X is inside the run folder --run_dir R`": _output_in_read_run,
    "`--output X is inside the run folder R: a run's files are its own`": _output_in_any_run,
    "`--output_dir X holds files that are not a datn-tf run's": _not_a_run,
    "`--output_dir X is a file, not a folder`": _file_or_folder,
    "`<path>: No space left on device": _full_disk,
    "`<path>: Permission denied`": _unwritable,
    "`<run>/config.json:<line>: not valid JSON ...`": _run_config,
    "`<run>/metrics.json:<line>: not valid JSON ...`": _run_metrics,
    "`<model> is a damaged SavedModel (...)`": _damaged_saved_model,
    "`<model> is a SavedModel but not a datn-tf export`": _foreign_saved_model,
    "`<file>: not a NumPy .npy array`": _ranking_scores,
    "`--ensemble R has no dev probabilities`": _ensemble,
    "`--train_file is read only with --dataset=files": _read_only_with,
    "`--mem_gb is for --launcher=slurm": _launcher_option,
    "`--cv_variants is for --dataset=ren_cecps": _cv_variants,
    "`... (a quote opened on line N": _open_quote,
    "`...; the file reads as one column, and line 1 holds semicolon separators": _semicolons,
    "`warning: N of the K labels never occur": None,
    "`--dpi must be >= 1; got 0`": _out_of_range,
    # Ctrl-C before `cli.run` takes over: tests/test_train_cli.py sends it to a starting process.
    "`interrupted while the command was starting": None,
    "`--output X exists and was not written by datn_tf.predict": _not_written_by,
    "`--output X is inside the data folder D": _data_folder,
    "`--output X is a folder; give a file name`": _output_kind,
    "`<model> is not a SavedModel (no saved_model.pb)`": _not_an_export,
    "`<model> has no 'explain' signature": _no_explain_signature,
    "`the demo needs Gradio": _no_gradio,
    "`--port N is in use on H": _port_in_use,
    "`--host H is not an address of this machine`": _host,
    "`--ensemble A and B are not runs of one experiment": _ensemble_runs,
    "`--ensemble A: its dev data changed since it was trained": _ensemble_data_changed,
    "`--encoder=minilm: data/minilm/model.safetensors is missing": _encoder_missing,
    "`--encoder=minilm: <folder>/model.safetensors has N bytes": _encoder_damaged,
    "`<folder>/model.safetensors cannot be loaded as a BERT": _not_a_bert,
    "`pretrained encoders need keras_hub": _no_keras_hub,
    "`--encoder_trainable_layers is a setting of a pretrained encoder": _encoder_settings,
    "`--encoder=minilm reads English": _minilm_english,
    "`--encoder_trainable_layers=N: <folder> has M transformer layers`": _trained_layers,
    "`<export> needs tensorflow_text": _no_tensorflow_text,
}


def test_each_documented_message_has_one_case():
    messages = documented_messages()
    assert len(messages) > 40
    for message in messages:
        assert [k for k in CASES if message.startswith(k)] != [], f"no case for the row {message}"
    for key in CASES:
        assert sum(m.startswith(key) for m in messages) == 1, f"{key} names no row (or several)"


@pytest.mark.parametrize("key", [k for k, case in CASES.items() if case is not None])
def test_a_documented_error_is_one_line_and_its_status(key, tmp_path, data_dir, capsys, monkeypatch):
    case = CASES[key]
    extra = {"data_dir": data_dir, "monkeypatch": monkeypatch}
    steps = case(tmp_path, **{k: v for k, v in extra.items() if k in case.__code__.co_varnames})
    status = 130 if "(exit 130)" in key else 2
    for call, pattern in steps:
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            with cli.user_errors():
                call()
        err = capsys.readouterr().err
        assert info.value.code == status, err
        assert err.count("\n") == 1, err
        line = err.removesuffix("\n")
        if status == 2:
            assert line.startswith("error: "), line
            line = line.removeprefix("error: ")
        assert re.search(pattern, line), (pattern, line)
