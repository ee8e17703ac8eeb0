"""Scoring: official E-c metrics for prediction files, McNemar between systems, ensembles.

    python -m datn_tf.evaluate --gold 2018-E-c-En-dev.txt --predictions run/predictions/dev.txt \
        [--baseline other_run/predictions/dev.txt] [--ranking_scores run/predictions/dev_probabilities.npy]
    python -m datn_tf.evaluate --ensemble runs/a,runs/b,runs/c   # the paper's DATN-2*

    python -m datn_tf.evaluate --gold my/dev.tsv --predictions dev_predictions.tsv \
        --text_column=0 --labels_column=1 --id_column=2 --label_names_file=emotions.txt

A gold file in the official E-c format is scored against a prediction file in the E-c
submission format (its header and IDs). Any other gold file is read as a `--dataset=files`
file (wide or list layout, with the training flags --layout, --delimiter, the column flags and
--label_names_file), and the predictions in the same layout (`python -m datn_tf.predict
--format table --table_output`). An ensemble averages the runs' emotion probabilities and tunes
gamma on dev; its runs must be of one experiment (`check_one_experiment`).
"""

import dataclasses
import json
import sys

import numpy as np
from absl import flags

from datn_tf import cli, io_utils, metrics, tables
from datn_tf import config as config_lib
from datn_tf import run_dir as run_dir_lib
from datn_tf.config import setting
from datn_tf.data import datasets, semeval_ec
from datn_tf.data import files as files_lib
from datn_tf.errors import DataFormatError, UserError

# How the marks beside its outputs name this command (`cli.check_replaceable`).
COMMAND = "datn_tf.evaluate"


def read_prediction_file(path, gold, columns=None):
    """Predicted labels [N, K] from a file whose IDs must match `gold` line by line: E-c format,
    or, with `columns` ({setting: value} of `config.TABLE_SETTINGS`), the layout they give."""
    if columns is None:
        pred, first_line = semeval_ec.read_ec(path), 2
        if list(pred.label_names) != list(gold.label_names):
            raise DataFormatError(path, 1, f"label columns {pred.label_names} differ from the gold file's")
    else:
        header = files_lib.has_header(*(columns.get(c) for c in ("text_column", "labels_column", "id_column")))
        # With no names file, a wide file's label columns are the gold file's, none more.
        labels_of = None if columns.get("label_names_file") else "the gold file"
        pred, first_line = _read_table(path, columns, gold.label_names, labels_of), 1 + header
    if len(pred) != len(gold):
        raise DataFormatError(path, None, f"{len(pred)} predictions for {len(gold)} gold examples")
    for i, (a, b) in enumerate(zip(pred.ids, gold.ids)):
        if a != b:
            raise DataFormatError(path, first_line + i, f"ID {a!r} where the gold file has {b!r}")
    return pred.labels


def _reading(columns):
    """The reader's arguments among `columns` (the names file is read once, by the caller)."""
    return {k: v for k, v in columns.items() if k != "label_names_file" and v is not None}


def _read_table(path, columns, label_names=None, labels_of=None):
    return files_lib.read_emotion_file(path, label_names=label_names, labels_of=labels_of, **_reading(columns))


def _layout(path, columns):
    return files_lib.read_texts(path, **_reading(columns))[2].layout


def is_ec_file(path):
    """The file starts with the header of an official E-c file."""
    with open(path, "rb") as f:
        return f.read(len(semeval_ec.HEADER_START) + 3).decode("utf-8", "replace").lstrip("\ufeff").startswith(
            semeval_ec.HEADER_START)


def read_gold(path, columns=None):
    """(gold `EmotionExamples`, the `columns` to read its predictions with: None for E-c)."""
    if columns is None or is_ec_file(path):
        return semeval_ec.read_ec(path), None
    names = columns.get("label_names_file")
    names = files_lib.read_label_names(names) if names else None
    gold = _read_table(path, columns, names)
    return gold, columns


def read_ranking_scores(path, gold):
    """Probabilities [N, K] for the N gold examples from a .npy file (a run's
    `predictions/<split>_probabilities.npy`), checked for shape and finite values."""
    scores = io_utils.load_npy(path, what_to_do="pass a run's predictions/<split>_probabilities.npy")
    if scores.shape != gold.labels.shape:
        raise DataFormatError(path, None, f"scores of shape {scores.shape}, but the gold file "
                              f"has {gold.labels.shape} (examples, emotions); pass the probabilities of the same split")
    if not np.issubdtype(scores.dtype, np.number) or not np.isfinite(scores).all():
        raise DataFormatError(path, None, "scores must be finite numbers")
    return scores


def score_files(gold_path, pred_path, baseline_path=None, scores_path=None, columns=None):
    """Metrics of `pred_path` against `gold_path` (E-c files, or with `columns` files of the
    `--dataset=files` layouts: `read_gold`), McNemar against `baseline_path`."""
    gold, columns = read_gold(gold_path, columns)
    if columns is not None and not columns.get("label_names_file") and _layout(gold_path, columns) == "list":
        # Without a names file a list file's label set is the names it holds: score on the names
        # gold and predictions hold together.
        found = set(gold.label_names).union(*(_read_table(p, columns).label_names
                                             for p in (pred_path, baseline_path) if p))
        if found != set(gold.label_names):
            gold = _read_table(gold_path, columns, tuple(sorted(found)))
    if not len(gold) or not gold.label_names:  # the metrics of nothing are undefined
        raise DataFormatError(gold_path, None, "no examples to score" if not len(gold) else
                              "no emotion label in the gold file or the predictions: nothing to score")
    pred = read_prediction_file(pred_path, gold, columns)
    scores = read_ranking_scores(scores_path, gold) if scores_path else None
    result = metrics.emotion_metrics(gold.labels, pred, scores, ranking=scores is not None)
    if baseline_path:
        base = read_prediction_file(baseline_path, gold, columns)
        result["mcnemar_vs_baseline"] = metrics.mcnemar(gold.labels, pred, base)
    return result


def ensemble_runs(run_dirs, gold_by_split, ranking=False):
    """DATN-2*-style ensemble: mean probabilities of the runs, gamma tuned on the dev ensemble.

    Args:
        run_dirs: finished runs of one dataset (their `predictions/<split>_probabilities.npy`).
        gold_by_split: {"dev": labels, "test": labels or absent}.
    """
    per_run = {split: [_run_probabilities(r, split, gold) for r in run_dirs] for split, gold in gold_by_split.items()}
    result = ensemble_of_probabilities(per_run, gold_by_split, ranking=ranking)
    if result is None:
        raise UserError("every run needs dev probabilities (predictions/dev_probabilities.npy)")
    return {"runs": [str(r) for r in run_dirs], **result}


def _run_probabilities(run, split, gold):
    """A run's probabilities on `split`, checked against the gold labels (None when it saved none
    for a split other than dev)."""
    path = run_dir_lib.probabilities_path(run, split)
    if not path.exists():
        if split == "dev":
            raise UserError(f"--ensemble {run} has no dev probabilities ({path}): give finished runs")
        return None
    run_dir_lib.read_threshold(run)  # a finished run's metrics.json, whole
    probs = io_utils.load_npy(path, what_to_do=run_dir_lib.REWRITE_METRICS)
    if probs.shape != np.shape(gold):
        raise DataFormatError(path, None, f"probabilities of shape {probs.shape}, but the {split} split has "
                              f"{np.shape(gold)} (examples, emotions): an ensemble averages runs of one dataset")
    if not np.issubdtype(probs.dtype, np.number) or not np.isfinite(probs).all():
        raise DataFormatError(path, None, f"probabilities that are not finite numbers; {run_dir_lib.REWRITE_METRICS}")
    return probs


def ensemble_of_probabilities(per_run, gold_by_split, ranking=False):
    """{"threshold": gamma, split: metrics} of the mean of `per_run` ({split: [probabilities
    [N, K] or None per run]}), gamma tuned on the dev ensemble; a split with a run missing is
    left out, and None is returned when dev is."""
    probs = {split: metrics.ensemble_probabilities(runs) for split, runs in per_run.items()
             if all(p is not None for p in runs)}
    if "dev" not in probs:
        return None
    gamma, _ = metrics.tune_threshold(gold_by_split["dev"], probs["dev"])
    out = {"threshold": gamma}
    for split, p in probs.items():
        out[split] = metrics.emotion_metrics(gold_by_split[split], metrics.predict_labels(p, gamma), p,
                                             ranking=ranking)
    return out


def report(result):
    """The metrics of `result` (one split's, or an ensemble's {split: metrics}) in the columns of
    the run summary and the tables (`tables.METRIC_COLUMNS`)."""
    if "n" in result:
        return tables.metrics_line(result) + f"  (n={result['n']})"
    return "\n".join(tables.split_line(split, result[split]) for split in ("dev", "test") if split in result)


# The settings that say which data a run read (`datasets.load_task_of`).
_DATA_SETTINGS = ("dataset", "data_dir", "cv_fold", "cv_folds", *config_lib.FILE_SETTINGS)


def _experiment(config, splits):
    """{what: value} that the runs of one ensemble share, in the order they are compared: a run's
    config.json and its `TaskData.split_digests`."""
    settings = config["train_config"]
    fields = {"dataset": settings["dataset"], "cv_fold": settings.get("cv_fold")}
    if settings.get("cv_fold") is not None:
        fields["cv_folds"] = settings.get("cv_folds")
    fields["label names"] = list(config["emotion_names"])
    fields.update({f"{split} sentences": s["sentences"] for split, s in splits.items()})
    fields.update({f"{split} data sha256": s["sha256"][:12] for split, s in splits.items()})
    return fields


def check_one_experiment(run_dirs):
    """The task the runs in `run_dirs` were trained on (the gold of their ensemble), once they are
    found to be runs of one experiment: the same dataset, fold, label names and data (each split's
    size and digest, as its config.json recorded them, else as its data read now), the data
    unchanged since the first run was trained.

    Raises:
        UserError: naming the two runs and what differs between them.
    """
    tasks = {}

    def task_of(settings):
        key = json.dumps({k: settings.get(k) for k in _DATA_SETTINGS}, sort_keys=True)
        if key not in tasks:
            tasks[key] = datasets.load_task_of(settings)
        return tasks[key]

    runs = []
    for i, run in enumerate(run_dirs):
        config = run_dir_lib.read_run_config(run)
        recorded = config.get("splits")  # absent in a run trained before it was recorded
        if i == 0 or recorded is None:
            now = task_of(config["train_config"]).split_digests()
            for split in sorted(set(recorded or ()) & set(now)):
                then, current = recorded[split], now[split]
                if then["sha256"] != current["sha256"]:
                    raise UserError(
                        f"--ensemble {run}: its {split} data changed since it was trained ({then['sentences']} "
                        f"sentences, sha256 {then['sha256'][:12]} then; {current['sentences']}, "
                        f"{current['sha256'][:12]} now): its probabilities are of other rows; restore the files "
                        "it was trained on, or train it again")
        runs.append((run, _experiment(config, recorded or now)))
    (first, shared), others = runs[0], runs[1:]
    for run, fields in others:
        for what, value in shared.items():
            # A split that one run lacks (a test split held out when it was trained) is not compared.
            if what in fields and fields[what] != value:
                raise UserError(
                    f"--ensemble {first} and {run} are not runs of one experiment: {what} {value} in {first}, "
                    f"{fields[what]} in {run}; an ensemble averages runs of the same dataset, data files, fold "
                    "and labels")
    return task_of(run_dir_lib.read_train_config(first))


def _gold_for_runs(run_dirs):
    task = check_one_experiment(run_dirs)
    gold = {split: ex.labels for split, ex in task.splits().items() if split != "train"}
    return gold, datasets.get(task.dataset).ranking_metrics, task.notes


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """The command's settings, one flag each; a gold file of your own data is read with the
    training settings `config.TABLE_SETTINGS` (--layout, --delimiter, the columns)."""

    gold: str | None = setting(None, "Gold file in the official E-c format.")
    predictions: str | None = setting(None, "Predictions in the official E-c submission format.")
    baseline: str | None = setting(None, "A second system's predictions: McNemar's test against it.")
    ranking_scores: str | None = setting(None, ".npy probabilities [N, K] for AP and one-error (E2).")
    ensemble: tuple | None = setting(None, "Run folders whose probabilities are averaged (same dataset and data).")
    output: str | None = setting(None, "Write the metrics as JSON here: a new file, or one this command wrote "
                                 "before.")
    overwrite: bool = setting(False, "Replace an existing --output that this command did not write.")


def define_flags():
    """The command's flags; defined only when run as a program (other commands define --output)."""
    config_lib.define_flags(config_class=EvaluateConfig)
    config_lib.define_flags(names=config_lib.TABLE_SETTINGS)  # how a gold file of your own data is laid out


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(EvaluateConfig)
        ensemble = list(settings.ensemble or ())
        cli.check_list("--ensemble", settings.ensemble)
        cli.check_outputs({"--output": settings.output},
                          inputs={"--gold": settings.gold, "--predictions": settings.predictions,
                                  "--baseline": settings.baseline, "--ranking_scores": settings.ranking_scores},
                          runs=[("--ensemble", r) for r in ensemble])
        cli.check_replaceable({"--output": settings.output}, COMMAND, settings.overwrite)
        if settings.gold and settings.predictions and cli.path_clash(settings.gold, settings.predictions):
            raise UserError(f"--predictions {settings.predictions} is the gold file --gold {settings.gold}: "
                            "give the predictions to score")
        if ensemble:
            repeated = [r for i, r in enumerate(ensemble) if any(cli.path_clash(r, o) == "is"
                                                                 for o in ensemble[:i])]
            if repeated:
                raise UserError(f"--ensemble names {repeated[0]} twice: an ensemble averages distinct runs")
            gold, ranking, notes = _gold_for_runs(ensemble)
            result = ensemble_runs(ensemble, gold, ranking=ranking)
            result["notes"] = notes
        elif settings.gold and settings.predictions:
            result = score_files(settings.gold, settings.predictions, settings.baseline, settings.ranking_scores,
                                 columns={name: flags.FLAGS[name].value for name in config_lib.TABLE_SETTINGS})
        else:
            raise UserError("give --gold and --predictions, or --ensemble")
        if settings.output:  # first: a path that cannot be written is the only line printed
            io_utils.write_json(settings.output, result)
            cli.mark_written(settings.output, COMMAND)
    print(io_utils.json.dumps(result, indent=2, sort_keys=True))
    print(report(result), file=sys.stderr)


if __name__ == "__main__":
    define_flags()
    cli.run(main)
