"""The run folder: its layout, what training writes there, and how other commands read it.

    <run>/config.json          the resolved TrainConfig, the model's config, labels, embeddings,
                               each split's size and digest (`TaskData.split_digests`)
    <run>/vocab.txt            the vocabulary (training splits only)
    <run>/checkpoints/         the last KEEP_CHECKPOINTS training checkpoints (resume)
    <run>/best/weights.*       the best weights by dev Jaccard accuracy
    <run>/metrics.json         the finished run's metrics (dev, and test when present)
    <run>/history.json         every dev evaluation by step; with a test split, the test curve
                               beside it (for the record, never for choices)
    <run>/predictions/         {split}.txt (official E-c format), {split}_probabilities.npy
    <run>/tensorboard/         scalars
    <run>/lock.json            while the run is trained: who trains it (`RunLock`)

`export`, `visualize`, `evaluate` and the experiment drivers read runs through this
module, never through the trainer.
"""

import dataclasses
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path

import tensorflow as tf

from datn_tf import io_utils, tables
from datn_tf.data import semeval_ec
from datn_tf.progress import fmt_time, log

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
BEST_DIR = "best"
CKPT_DIR = "checkpoints"
PREDICTIONS_DIR = "predictions"
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = "lock.json"
# A lock held from another host (its process cannot be checked) is stale when its heartbeat is
# older than this: a trainer rewrites it every HEARTBEAT_SECONDS, so only a dead host or a
# stopped job misses ten beats.
HEARTBEAT_SECONDS = 30
STALE_AFTER_SECONDS = 10 * HEARTBEAT_SECONDS
# Two, so that a checkpoint damaged on disk (a full disk, a cut copy) costs one evaluation
# interval, not the run.
KEEP_CHECKPOINTS = 2
# What a damaged checkpoint or weights file raises while being read.
_READ_ERRORS = (tf.errors.OpError, ValueError, IndexError, AssertionError, OSError)


class RunDirError(ValueError):
    """A run folder that cannot be used, with what to do about it."""


# Settings that do not change what a run computes: where things are, how often it logs, and
# the preset's name (its values are what count, and they are saved resolved).
_NOT_COMPARED = ("preset", "data_dir", "output_dir", "log_every")


def run_name(variant, seed, fold=None):
    """A run's name in an experiment's results: `<variant>-seed<seed>`, or `<variant>-cvfold<fold>`
    for a cross-validation fold."""
    return f"{variant}-seed{seed}" if fold is None else f"{variant}-cvfold{fold}"


_RUN_NAME = re.compile(r"(?P<variant>.+)-(?:seed(?P<seed>\d+)|cvfold(?P<fold>\d+))")


def parse_run_name(name):
    """(variant, seed, fold) of a `run_name` (a fold's seed is 0), or None for another name."""
    match = _RUN_NAME.fullmatch(name)
    if match is None:
        return None
    fold = match["fold"]
    return match["variant"], int(match["seed"] or 0), None if fold is None else int(fold)


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
    read from it); a RunDirError naming the file when it is missing or not a finite number."""
    import math

    payload = read_metrics(run_dir) if metrics_payload is None else metrics_payload
    threshold = payload.get("threshold") if isinstance(payload, dict) else None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise RunDirError(f"{Path(run_dir) / METRICS_FILE}: no finite dev-tuned threshold "
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
    from datn_tf import metrics

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
    (`Variant.inert_settings`: Base's similarity term).
    """
    import json

    from datn_tf.variants import get_variant

    now = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples as JSON lists, as saved
    defaults = json.loads(json.dumps({f.name: f.default for f in dataclasses.fields(config)}))
    skipped = set(_NOT_COMPARED)
    if saved.get("variant", defaults["variant"]) == config.variant:
        skipped |= get_variant(config.variant).inert_settings
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
    """The resolved TrainConfig a run saved, as a dict; a ValueError naming the file if unreadable."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        return io_utils.read_json(path)["train_config"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a run's saved config ({type(e).__name__}: {e}); "
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
    import os

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
        changed = changed_settings(io_utils.read_json(cfg_path)["train_config"], config)
        if changed and (output_dir / CKPT_DIR).exists():
            raise RunDirError(
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
    io_utils.write_json(cfg_path, payload)
    if not (output_dir / VOCAB_FILE).exists():
        data.vocab.save(output_dir / VOCAB_FILE)


class Checkpoints:
    """The training checkpoints of a run: the last KEEP_CHECKPOINTS, restored newest first."""

    def __init__(self, checkpoint, output_dir):
        self.checkpoint = checkpoint
        self.directory = Path(output_dir) / CKPT_DIR
        self.manager = tf.train.CheckpointManager(checkpoint, self.directory, max_to_keep=KEEP_CHECKPOINTS)

    def save(self, step):
        self.manager.save(checkpoint_number=step)

    def restore_latest(self):
        """Restores the newest readable checkpoint; returns its path, or None when there is none.

        A damaged checkpoint is reported and the previous one tried; if none can be read the
        run cannot resume, and the error says which folder to delete. What a save stopped by a
        full disk or a kill left (TensorFlow writes `ckpt-N_temp/` and renames its files out
        when whole) is removed: the run is locked, so no save is under way.
        """
        for partial in self.directory.glob("ckpt-*_temp"):
            shutil.rmtree(partial, ignore_errors=True)
        saved = list(reversed(self.manager.checkpoints))
        for path in saved:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except _READ_ERRORS as e:
                log(f"warning: checkpoint {path} is damaged ({_first_line(e)}); trying the previous one")
                continue
            return path
        if saved:
            raise RunDirError(
                f"no checkpoint in {self.directory} can be read ({', '.join(Path(p).name for p in saved)} are "
                f"damaged); delete {self.directory.parent} to train this run from the start"
            )
        return None


def save_best_weights(output_dir, model):
    with io_utils.atomic_path(Path(output_dir) / BEST_DIR, is_dir=True) as tmp:
        tf.train.Checkpoint(model=model).write(str(tmp / "weights"))


def read_best_weights(run_dir, model):
    """Loads `<run>/best/weights` into `model`, with an error naming the folder if it cannot."""
    best = Path(run_dir) / BEST_DIR
    # Only a run that has not been evaluated yet gets best/ by training on: once written, the best
    # weights are in no checkpoint, and a resumed run keeps selecting against their dev score.
    lost = f"the run's best weights are lost: delete {Path(run_dir)} and train the run again"
    if not (best / "weights.index").exists():
        if (Path(run_dir) / HISTORY_FILE).exists():
            raise RunDirError(f"{best} holds no weights (no weights.index), though the run was evaluated on dev: "
                              f"{lost}")
        raise RunDirError(f"{best} holds no weights (no weights.index): the run has not reached its first dev "
                          "evaluation; re-run its training command to finish it")
    try:
        tf.train.Checkpoint(model=model).read(str(best / "weights")).assert_existing_objects_matched()
    except _READ_ERRORS as e:
        raise RunDirError(f"{best} is damaged or from another model ({_first_line(e)}); {lost}") from None


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


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
    return io_utils.read_json(path) if path.exists() else {}


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
    parts that commands read: a FileNotFoundError or a RunDirError naming the file otherwise."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a training run (no {CONFIG_FILE})")
    advice = "the run folder is damaged: train it again after deleting it"
    config = io_utils.read_json(path, what_to_do=advice)
    missing = [k for k in ("train_config", "model_config", "emotion_names", "language")
               if not isinstance(config, dict) or k not in config]
    if missing:
        raise RunDirError(f"{path}: not a run's saved config (no {', '.join(missing)}); {advice}")
    return config


def load_run(run_dir):
    """(config dict, vocabulary, model with the best weights) of a finished or running run."""
    from datn_tf.models import EmotionTransferModel
    from datn_tf.vocab import Vocabulary

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    vocab = Vocabulary.load(run_dir / VOCAB_FILE)
    model = EmotionTransferModel.from_config(config["model_config"])
    model.build()
    read_best_weights(run_dir, model)
    return config, vocab, model


def remove_if_empty(folder):
    """Removes `folder` when it holds nothing (a run stopped before it wrote a file)."""
    try:
        Path(folder).rmdir()
    except OSError:  # not empty, gone, or not ours to remove
        pass


class RunLocked(RunDirError):
    """The run folder is being trained by someone else (`holder`: the lock's contents)."""

    def __init__(self, run_dir, holder):
        self.run_dir, self.holder = Path(run_dir), holder
        super().__init__(f"{run_dir} is being trained by {describe_holder(holder)}; wait for it to finish, "
                         f"or stop that process (its lock {Path(run_dir) / LOCK_FILE} is then taken over)")


def _slurm_job():
    """The Slurm job (array task) this process runs in, or None: a requeued job takes its own lock over."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def lock_holder(run_dir):
    """The lock of `run_dir` as a dict (host, pid, started, heartbeat, token, slurm_job), or None.

    A lock is never seen half-written (`RunLock` links it into place whole); a damaged one reads
    as a holder of unknown process whose heartbeat is the file's time, so it goes stale.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        text = path.read_text()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
        if isinstance(holder, dict) and {"host", "pid", "started", "heartbeat"} <= holder.keys():
            return holder
    except ValueError:
        pass
    return {"host": None, "pid": None, "started": mtime, "heartbeat": mtime}


def describe_holder(holder, now=None):
    """A lock's holder in words: "pid 123 on host h (started 2026-01-02 03:04:05 UTC, heartbeat 5 s ago)"."""
    now = time.time() if now is None else now
    who = (f"pid {holder['pid']} on host {holder['host']}" if holder.get("pid") is not None
           else "an unknown process (its lock file is damaged)")
    if holder.get("slurm_job"):
        who += f" (Slurm job {holder['slurm_job']})"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder["started"]))
    return f"{who}, started {started}, heartbeat {max(0, now - holder['heartbeat']):.0f} s ago"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def stale_reason(holder, now=None, stale_after=STALE_AFTER_SECONDS):
    """Why the lock `holder` may be taken over ("pid 12 on this host is dead", ...), or None while it holds."""
    now = time.time() if now is None else now
    if holder.get("slurm_job") and holder["slurm_job"] == _slurm_job():
        return f"it is this Slurm job's own ({holder['slurm_job']}, requeued)"
    if holder.get("host") == socket.gethostname() and holder.get("pid") is not None:
        if not _pid_alive(holder["pid"]):
            return f"pid {holder['pid']} on this host is dead"
        return None
    if now - holder["heartbeat"] > stale_after:
        return f"its heartbeat is {now - holder['heartbeat']:.0f} s old (stale after {stale_after:.0f} s)"
    return None


class RunLock:
    """The lock of a run folder while it is trained: `<run>/lock.json`, created atomically
    (written whole, then hard-linked into place), naming the host, the process and the start time, its heartbeat
    rewritten every `HEARTBEAT_SECONDS` by a thread.

    `acquire()` raises `RunLocked` naming the holder; a lock whose process is dead on this host,
    or whose heartbeat is older than `stale_after` (another host), is taken over with one line
    saying so. Use as a context manager: released on exit, also on an error.
    """

    def __init__(self, run_dir, stale_after=STALE_AFTER_SECONDS, heartbeat_seconds=HEARTBEAT_SECONDS):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.stale_after, self.heartbeat_seconds = stale_after, heartbeat_seconds
        self.token = None
        self._stop = threading.Event()
        self._thread = None

    def _claim(self):
        """Creates the lock file if none exists; True when it is ours."""
        now = time.time()
        self.token = secrets.token_hex(8)
        payload = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now,
                   "token": self.token, "slurm_job": _slurm_job()}
        # Written whole under a hidden name, then hard-linked into place: link() fails when the lock
        # exists (atomic like O_EXCL, also on NFS), and no reader ever sees a half-written lock.
        filled = self.path.with_name(f".{LOCK_FILE}.{self.token}")
        try:
            filled.write_text(json.dumps(payload))
            os.link(filled, self.path)
        except FileExistsError:
            return False
        finally:
            filled.unlink(missing_ok=True)
        return True

    def _take_over(self, holder, reason):
        """Removes a stale lock, unless another process is taking it over at the same time (its
        own O_EXCL marker) or it changed since it was read."""
        marker = self.path.with_name(LOCK_FILE + ".takeover")
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:  # a taker that died within its takeover
                if time.time() - marker.stat().st_mtime > self.stale_after:
                    marker.unlink()
            except FileNotFoundError:
                pass
            return False
        os.close(fd)
        try:
            if lock_holder(self.run_dir) != holder:
                return False
            self.path.unlink(missing_ok=True)
            log(f"{self.run_dir}: taking over the lock of {describe_holder(holder)}: {reason}")
            return self._claim()
        finally:
            marker.unlink(missing_ok=True)

    def acquire(self):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._claim():
                self._start_heartbeat()
                return self
            holder = lock_holder(self.run_dir)
            if holder is None:
                continue  # released in between
            reason = stale_reason(holder, stale_after=self.stale_after)
            if reason is None:
                raise RunLocked(self.run_dir, holder)
            if self._take_over(holder, reason):
                self._start_heartbeat()
                return self
        raise RunLocked(self.run_dir, lock_holder(self.run_dir) or {"host": None, "pid": None,
                                                                     "started": time.time(),
                                                                     "heartbeat": time.time()})

    def _owned(self):
        holder = lock_holder(self.run_dir)
        return holder is not None and holder.get("token") == self.token

    def _start_heartbeat(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lock {self.run_dir.name}", daemon=True)
        self._thread.start()

    def _beat(self):
        while not self._stop.wait(self.heartbeat_seconds):
            self.heartbeat()

    def heartbeat(self):
        """Rewrites the lock's heartbeat (atomically), unless it was taken over meanwhile."""
        holder = lock_holder(self.run_dir)
        if holder is None or holder.get("token") != self.token:
            return
        io_utils.write_json(self.path, {**holder, "heartbeat": time.time()})

    def release(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.token is not None and self._owned():
            self.path.unlink(missing_ok=True)
        self.token = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
