"""The run folder: its layout, what training writes there, and how other commands read it; and
every run's name and every path of the drivers' results. No TensorFlow: the checkpoints, the
best weights and the model loaded from them are `run_weights`', the lock is `run_lock`'s.

    <run>/config.json          the resolved TrainConfig, the model's config, labels, embeddings,
                               each split's size and digest (`TaskData.split_digests`)
    <run>/vocab.txt            the vocabulary (training splits only)
    <run>/checkpoints/         the last training checkpoints (resume; `run_weights.Checkpoints`)
    <run>/best/weights.*       the best weights by dev Jaccard accuracy
    <run>/metrics.json         the finished run's metrics (dev, and test when present)
    <run>/history.json         every dev evaluation by step; with a test split, the test curve
                               beside it (for the record, never for choices)
    <run>/predictions/         {split}.txt (official E-c format), {split}_probabilities.npy
    <run>/tensorboard/         scalars
    <run>/lock.json            while the run is trained: who trains it (`run_lock.RunLock`)

The drivers' results (`experiments.reproduce`, `experiments.ablate`), per dataset:

    <results>/<dataset>/<run>.json                  reproduce's record of run <variant>-seed<k>
    <results>/<dataset>/probs/<run>-<split>.npy     its probabilities
    <results>/<dataset>/ablations/<run>.json        ablate's record of run <configuration>-seed<k>
    <results>/<dataset>/ablations/probs/...         its probabilities, named as reproduce's
    <results>/<dataset>/runs/<run>/                 reproduce's run folders (not committed)
    <results>/<dataset>/runs/ablate-<run>/          ablate's, beside them

`export`, `visualize`, `evaluate` and the experiment drivers read runs through this
module, never through the trainer.
"""

import dataclasses
import json
import math
import os
import re
from pathlib import Path

from datn_tf import io_utils, metrics, tables
from datn_tf.data import semeval_ec
from datn_tf.errors import UserError
from datn_tf.progress import fmt_time

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
BEST_DIR = "best"
CKPT_DIR = "checkpoints"
PREDICTIONS_DIR = "predictions"
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = "lock.json"
# The drivers' results folder of a dataset holds these.
RUNS_DIR = "runs"
ABLATIONS_DIR = "ablations"
PROBS_DIR = "probs"
# ablate's run folders lie beside reproduce's in runs/, under this prefix.
ABLATION_PREFIX = "ablate-"
# Where `train` puts a run without --output_dir.
DEFAULT_RUNS_ROOT = "runs"


# Settings that do not change what a run computes: where things are, how often it logs, and
# the preset's name (its values are what count, and they are saved resolved).
_NOT_COMPARED = ("preset", "data_dir", "output_dir", "log_every")


def run_name(variant, seed, fold=None):
    """A run's name: `<variant>-seed<seed>`; a cross-validation fold's `<variant>-cvfold<fold>`
    (`<variant>-seed<seed>-cvfold<fold>` for a seed other than 0). `variant` may be an ablation's
    configuration."""
    if fold is None:
        return f"{variant}-seed{seed}"
    return f"{variant}-cvfold{fold}" if seed == 0 else f"{variant}-seed{seed}-cvfold{fold}"


_RUN_NAME = re.compile(r"(?P<variant>.+?)-(?:seed(?P<seed>\d+)(?:-cvfold(?P<seed_fold>\d+))?|cvfold(?P<fold>\d+))")


def parse_run_name(name):
    """(variant, seed, fold) of a `run_name` (fold None when it is none), or None for another name."""
    match = _RUN_NAME.fullmatch(name)
    if match is None:
        return None
    fold = match["fold"] or match["seed_fold"]
    return match["variant"], int(match["seed"] or 0), None if fold is None else int(fold)


def default_output_dir(dataset, variant, seed, fold=None, root=DEFAULT_RUNS_ROOT):
    """`train`'s run folder without --output_dir: `runs/<dataset>-<run name>`."""
    return f"{root}/{dataset}-{run_name(variant, seed, fold)}"


def grid_run_folder(dataset_dir, name, ablation=False):
    """A driver's run folder of run `name` in the results folder of a dataset: reproduce's
    `runs/<name>`, ablate's (`ablation`) `runs/ablate-<name>` beside them."""
    return Path(dataset_dir) / RUNS_DIR / (ABLATION_PREFIX + name if ablation else name)


def is_ablation_folder(folder_name):
    """Whether a folder in runs/ is ablate's (`grid_run_folder`)."""
    return folder_name.startswith(ABLATION_PREFIX)


def ablation_records_dir(dataset_dir):
    """Where ablate records the runs of a dataset (reproduce: `dataset_dir` itself)."""
    return Path(dataset_dir) / ABLATIONS_DIR


def record_path(records_dir, name):
    """A driver's record of run `name` (its metrics and settings)."""
    return Path(records_dir) / f"{name}.json"


def recorded_probabilities_path(records_dir, name, split):
    """Where a driver records the probabilities of run `name` on `split`."""
    return Path(records_dir) / PROBS_DIR / f"{name}-{split}.npy"


def find_recorded_probabilities(records_dir, name, split):
    """The recorded probabilities of run `name` on `split`, or None. ablate recorded dev alone as
    `probs/<name>.npy` before both drivers named them alike; those are still read."""
    path = recorded_probabilities_path(records_dir, name, split)
    if path.exists():
        return path
    older = Path(records_dir) / PROBS_DIR / f"{name}.npy"
    return older if split == "dev" and older.exists() else None


def is_finished(run_dir):
    """Whether the run wrote its metrics (its last file: a stopped run has none)."""
    return (Path(run_dir) / METRICS_FILE).exists()


# metrics.json is a run's last file: training again with the same command restores the last
# checkpoint and writes it anew.
REWRITE_METRICS = "re-run the run's training command (same flags): it resumes at the end and rewrites it"


def read_metrics(run_dir):
    """A finished run's metrics.json: dev-tuned threshold, per-split metrics, wall time."""
    return io_utils.read_json(Path(run_dir) / METRICS_FILE, what_to_do=REWRITE_METRICS)


def read_threshold(run_dir, metrics_payload=None):
    """The dev-tuned threshold gamma in a finished run's metrics.json (or in `metrics_payload`,
    read from it); a UserError naming the file when it is missing or not a finite number."""
    payload = read_metrics(run_dir) if metrics_payload is None else metrics_payload
    threshold = payload.get("threshold") if isinstance(payload, dict) else None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise UserError(f"{Path(run_dir) / METRICS_FILE}: no finite dev-tuned threshold "
                        f"(\"threshold\": {threshold!r}); {REWRITE_METRICS}")
    return float(threshold)


def probabilities_path(run_dir, split):
    return Path(run_dir) / PREDICTIONS_DIR / f"{split}_probabilities.npy"


def saved_probabilities(run_dir):
    """{split: path of its probabilities [N, K]} that a run saved."""
    suffix = "_probabilities.npy"
    return {p.name[: -len(suffix)]: p for p in sorted((Path(run_dir) / PREDICTIONS_DIR).glob(f"*{suffix}"))}


def read_split_outputs(run_dir, split):
    """(probabilities [N, K], labels predicted at the run's threshold) of a finished run on
    `split`, or (None, None) when it saved none for that split."""
    path = probabilities_path(run_dir, split)
    if not path.exists():
        return None, None
    probs = io_utils.load_npy(path, what_to_do=REWRITE_METRICS)
    return probs, metrics.predict_labels(probs, read_threshold(run_dir))


def changed_settings(saved, config):
    """{setting: (saved value, value in `config`)} where a run's saved train_config differs.

    A setting added to the library after the run started is absent from its config.json; at
    its default it keeps the old behaviour (new options never change defaults), so it does
    not count as changed. Nor does a setting the variant never reads
    (`TrainConfig.inert_settings`: Base's similarity term).
    """
    now = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples as JSON lists, as saved
    defaults = json.loads(json.dumps({f.name: f.default for f in dataclasses.fields(config)}))
    skipped = set(_NOT_COMPARED)
    if saved.get("variant", defaults["variant"]) == config.variant:
        skipped |= config.inert_settings()
    return {k: (saved.get(k, defaults[k]), v) for k, v in now.items()
            if k not in skipped and saved.get(k, defaults[k]) != v}


def describe_changes(changed):
    """`changed_settings`' result in words: "lambda_sim: 0.1 then, 0.05 now; ..."."""
    return "; ".join(f"{k}: {old!r} then, {new!r} now" for k, (old, new) in changed.items())


def finished_runs(runs_root):
    """{run folder: its saved train config} for the finished, non-linked runs under `runs_root`
    (`equivalent_run` looks twins up in it: `experiments.reproduce` and `experiments.ablate` link
    a run to a finished twin instead of training it again)."""
    finished = {}
    for d in sorted(runs_root.glob("*")):
        if d.is_symlink() or not is_finished(d):
            continue
        finished[d] = read_train_config(d)
    return finished


def read_train_config(run_dir):
    """The resolved TrainConfig a run saved, as a dict; a UserError naming the file if unreadable."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        return io_utils.read_json(path)["train_config"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a run's saved config ({type(e).__name__}: {e}); "
                        "fix or remove that run folder") from None


def equivalent_run(finished, config):
    """A run in `finished` (`finished_runs`) that trained what `config` would (same variant,
    seed and every setting it reads: `changed_settings`), or None."""
    for d, saved in finished.items():
        if not changed_settings(saved, config):
            return d
    return None


def link_finished_twin(out, config, finished):
    """Links the run folder `out` to a finished twin of `config` in `finished`
    (`finished_runs`, `equivalent_run`) and returns the twin; None when there is no twin or
    `out` already holds a run of its own (finished or started here: the caller's to judge).

    A link at `out` whose run is gone or being retrained is removed first: a command must
    never train through it into another command's folder.
    """
    out = Path(out)
    if out.is_symlink() and not is_finished(out):
        out.unlink()
    if out.exists():
        return None
    twin = equivalent_run(finished, config)
    if twin is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.symlink_to(os.path.relpath(twin, out.parent))  # relative: the results folder can move
    return twin


def write_run_files(output_dir, config, model, data):
    """config.json and vocab.txt; refuses a folder holding a run with other settings."""
    output_dir = Path(output_dir)
    cfg_path = output_dir / CONFIG_FILE
    train_config = dataclasses.asdict(config)
    if cfg_path.exists():
        changed = changed_settings(read_train_config(output_dir), config)
        if changed and (output_dir / CKPT_DIR).exists():
            raise UserError(
                f"{output_dir} holds a run with other settings ({', '.join(sorted(changed))}); "
                "use another --output_dir"
            )
    payload = {
        "train_config": train_config,
        "model_config": model.get_config(),
        "emotion_names": list(data.task.emotion_names),
        "language": data.task.language,
        "embeddings": data.embeddings_name,
        "coverage": data.coverage.as_dict(),
        "splits": data.task.split_digests(),
    }
    if getattr(data.vocab, "lowercase", None) is not None:  # a pretrained encoder's WordPiece vocabulary
        payload["lowercase"] = data.vocab.lowercase
    io_utils.write_json(cfg_path, payload)
    if not (output_dir / VOCAB_FILE).exists():
        data.vocab.save(output_dir / VOCAB_FILE)


def write_split_outputs(output_dir, split, examples, predicted, probabilities):
    """predictions/{split}.txt (official E-c format) and {split}_probabilities.npy."""
    semeval_ec.write_ec_file(Path(output_dir) / PREDICTIONS_DIR / f"{split}.txt", examples, predicted)
    io_utils.save_npy(probabilities_path(output_dir, split), probabilities)


def append_history(output_dir, step, point):
    """Sets `history.json`'s entry for `step` (a resumed run that evaluates a step again
    rewrites it with the same numbers); written atomically."""
    path = Path(output_dir) / HISTORY_FILE
    history = read_history(output_dir)
    history[str(step)] = point
    io_utils.write_json(path, dict(sorted(history.items(), key=lambda kv: int(kv[0]))))


def read_history(run_dir):
    """{step (str): evaluation} of a run, or {} when it has none."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return {}
    return io_utils.read_json(path, what_to_do="delete it to go on (it then records the evaluations from the next on)")


def write_metrics(output_dir, payload):
    io_utils.write_json(Path(output_dir) / METRICS_FILE, payload)


def summary_text(payload):
    """The one-screen end-of-run summary."""
    rows = [f"== {payload['dataset']} / {payload['variant']} / seed {payload['seed']} ==",
            f"best dev step {payload['best_step']} of {payload['steps']}; gamma {payload['threshold']:.2f} "
            f"({payload['threshold_source']}); wall {fmt_time(payload['wall_seconds'])}"]
    for split in ("dev", "test"):
        if split in payload:
            rows.append(tables.split_line(split, payload[split]))
    if not payload["test_evaluated"]:
        rows.append("; ".join(payload["notes"]) or "test split not evaluated")
    return "\n".join(rows)


def read_run_config(run_dir):
    """A run's whole config.json (train and model config, labels, language), checked for the
    parts that commands read: a FileNotFoundError or a UserError naming the file otherwise."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a training run (no {CONFIG_FILE})")
    advice = "the run folder is damaged: train it again after deleting it"
    config = io_utils.read_json(path, what_to_do=advice)
    missing = [k for k in ("train_config", "model_config", "emotion_names", "language")
               if not isinstance(config, dict) or k not in config]
    if missing:
        raise UserError(f"{path}: not a run's saved config (no {', '.join(missing)}); {advice}")
    return config


def remove_if_empty(folder):
    """Removes `folder` when it holds nothing (a run stopped before it wrote a file)."""
    try:
        Path(folder).rmdir()
    except OSError:  # not empty, gone, or not ours to remove
        pass
