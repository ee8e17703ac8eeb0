"""What both drivers do with their grid of runs (`experiments.reproduce`, `experiments.ablate`).

A driver lists its runs as jobs (`Grid.job`: a run's name and its settings, resolved once), and
each job is settled or trained:

    settle     the run is recorded (its settings compared with the job's), finished in its folder
               (recorded now), or linked to a finished twin in runs/ (the same variant, seed and
               settings) and recorded: nothing to train
    run_job    settle; else lock the run folder (`run_lock.RunLock`), settle again (the lock's
               previous holder may have finished it), train, record
    run_all    settle every job, then hand the others to the launcher (`experiments.launch`)

A record is the run's JSON and probabilities in the driver's records folder (paths:
`run_dir.record_path`, `run_dir.recorded_probabilities_path`); a table is built from records
alone. Each driver subclasses `Grid` with what is its own: what a record holds
(`write_record`), how one is read back and checked (`read_record`), and what to run about a
finished run with other settings (`other_settings_remedy`).
"""

import dataclasses
import time
from pathlib import Path

import keras
import numpy as np
from absl import flags

import experiments
from datn_tf import config as config_lib
from datn_tf import io_utils, metrics, run_lock, train
from datn_tf import run_dir as run_dir_lib
from datn_tf.config import setting
from datn_tf.errors import UserError
from datn_tf.evaluate import ensemble_of_probabilities
from experiments import launch, records

# Under the runs/ of a results folder: submitit's job files and logs.
SUBMITIT_DIR = "submitit"
# The flags `define_flags` defines belong to the driver (its --helpshort lists them).
flags.disclaim_key_flags()


@dataclasses.dataclass(frozen=True)
class GridConfig(launch.Options):
    """The settings both drivers have: where the results go, the tables, and how runs launch."""

    results_dir: str = setting(
        experiments.DEFAULT_RESULTS_DIR, "Where <dataset>/ is written: reproduce's records and table3.md, "
        "ablate's <dataset>/ablations/ and ablations.md.")
    table_only: bool = setting(False, "Only rebuild the tables (table3.md, ablations.md) from the runs' records.")
    readme: str | None = setting(
        None, "A Markdown file whose generated blocks get the tables: reproduce's `<!-- reproduce:DATASET -->` "
        "... `<!-- /reproduce:DATASET -->` (`reproduce:FOLDER/DATASET` for a --results_dir FOLDER inside "
        "experiments/results), ablate's `<!-- ablate:STAGE -->`; files without them are left alone. Default, "
        f"when --results_dir is the default: {experiments.README} (reproduce), {experiments.REPRODUCING_PAGE} "
        "(ablate); else none. '' for none.")


def define_flags(config_class):
    """A driver's flags: every training setting (each run's, `datn_tf.train`) and `config_class`'s."""
    train.define_flags()
    config_lib.define_flags(config_class=config_class)


class Grid:
    """The steps of a driver's grid; a driver subclasses it with what is its own."""

    tag = "[grid]"  # what its lines start with

    def __init__(self, driver):
        self.driver = driver  # the module a job's process imports for `run_job` and `is_done`

    # -- what a driver defines ----------------------------------------------------------------

    def read_record(self, records_dir, name, settling=False):
        """The record of run `name`, or None when there is none; `settling`: for comparing its
        settings with a job's.

        Raises:
            records.RecordError: it does not parse, lacks a key, or holds another run.
        """
        raise NotImplementedError

    def write_record(self, job, folder, data=None):
        """Records the finished run in `folder` (`data`: its prepared data, when at hand)."""
        raise NotImplementedError

    def other_settings_remedy(self, job, in_record):
        """What to do about a finished run (its record when `in_record`, else its folder) whose
        settings differ from the job's."""
        raise NotImplementedError

    def describe(self, job):
        """The training line's words for the job."""
        return "training"

    # -- the shared steps ---------------------------------------------------------------------

    def job(self, name, settings, results, label=None, extra=None):
        """The job of run `name`: `settings` ({setting: value}, `output_dir` its run folder) resolved
        and checked once (`config.resolve`); `results`: the folder of its record."""
        return launch.Job(driver=self.driver, name=name, label=label or name,
                          config=config_lib.resolve(settings).validate(), results=str(results), extra=extra)

    def say(self, job, text):
        print(f"{self.tag} {job.label}: {text}", flush=True)

    def current_record(self, job, settling=True):
        """The job's record, or None when there is none, or when it is damaged and its finished run
        folder can write it again (said in a line)."""
        try:
            return self.read_record(Path(job.results), job.name, settling)
        except records.RecordError as e:
            out = Path(job.config.output_dir)
            if not run_dir_lib.is_finished(out):
                raise
            print(f"{self.tag} {str(e).split(';')[0]}; rewritten from its finished run folder {out}", flush=True)
            return None

    def refuse_other_settings(self, job, where, saved, in_record):
        """Raises when the run saved in `where` was trained with other settings than the job's (the
        defaults changed since, or a flag): it would mix two settings in one table."""
        changed = run_dir_lib.changed_settings(saved, job.config)
        if not changed:
            return
        out = Path(job.config.output_dir)
        remedy = (f"it links to {out.resolve()}; remove the link" if not in_record and out.is_symlink()
                  else self.other_settings_remedy(job, in_record))
        raise UserError(f"{where} is a finished run with other settings "
                        f"({run_dir_lib.describe_changes(changed)}); {remedy}")

    def settle(self, job, finished):
        """True when the job's run needs no training: recorded, finished in its folder, or linked to
        a finished twin among `finished` (`run_dir.finished_runs`); the last two are recorded here."""
        out = Path(job.config.output_dir)
        record = self.current_record(job)
        if record is not None and "train_config" in record:
            self.refuse_other_settings(job, run_dir_lib.record_path(job.results, job.name), record["train_config"],
                                       in_record=True)
            self.say(job, "finished, skipped")
            return True
        if run_dir_lib.is_finished(out):
            self.refuse_other_settings(job, out, run_dir_lib.read_train_config(out), in_record=False)
            self.write_record(job, out)
            self.say(job, "finished, skipped")
            return True
        if record is not None:  # an older record without its settings, and no run folder to read them from
            self.say(job, "finished (its record predates saved settings: not compared), skipped")
            return True
        twin = run_dir_lib.link_finished_twin(out, job.config, finished)
        if twin is None:
            return False
        self.write_record(job, out)
        self.say(job, f"the finished run {twin} has the same settings; linked")
        return True

    def is_done(self, job):
        """Whether the job's run is recorded (`launch.run_jobs` waits for runs others hold by it)."""
        try:
            return self.read_record(Path(job.results), job.name) is not None
        except records.RecordError:
            if run_dir_lib.is_finished(job.config.output_dir):
                return False  # its job writes it again
            raise

    def run_job(self, job, before_training=None):
        """Settles the job's run, or trains it into its folder under the folder's lock and records
        it; a run someone else holds is left to them ({"status": "locked"})."""
        runs = Path(job.config.output_dir).parent
        # Again, just before training: another driver may have finished it or a twin since.
        if self.settle(job, run_dir_lib.finished_runs(runs)):
            return {"status": "done"}
        try:
            lock = run_lock.RunLock(job.config.output_dir).acquire()
        except run_lock.RunLocked as e:
            self.say(job, f"being trained by {run_lock.describe_holder(e.holder)}; left to it")
            return {"status": "locked"}
        try:
            if self.settle(job, run_dir_lib.finished_runs(runs)):  # finished by the lock's previous holder
                return {"status": "done"}
            data = launch.data_cache().prepare(job.config)
            if before_training is not None:
                before_training()
            self.say(job, f"{self.describe(job)} -> {job.config.output_dir}")
            keras.backend.clear_session()
            started = time.time()
            train.run(job.config, data)
            self.write_record(job, job.config.output_dir, data)
            return {"status": "trained", "wall_seconds": time.time() - started}
        finally:
            lock.release()

    def run_all(self, jobs, options, runs_dir):
        """Trains the jobs' unfinished runs with `options`' launcher; False when it returned without
        waiting for them (--no_wait).

        Every recorded or finished run and every twin is settled before anything trains, so that a
        stopped grid's table has every run already trained elsewhere, and the ETA counts only the
        runs left to train.
        """
        finished = run_dir_lib.finished_runs(Path(runs_dir))
        pending = [job for job in jobs if not self.settle(job, finished)]
        return launch.run_jobs(pending, self.run_job, self.is_done, options, self.tag,
                               Path(runs_dir) / SUBMITIT_DIR)


def write_record(records_dir, name, payload, probabilities):
    """`probabilities` ({split: array}) then the record's JSON, last: a record is whole or absent."""
    for split, probs in probabilities.items():
        io_utils.save_npy(run_dir_lib.recorded_probabilities_path(records_dir, name, split), probs)
    io_utils.write_json(run_dir_lib.record_path(records_dir, name), payload)


def read_records(records_dir, read_record):
    """{run name: record} of every record in `records_dir`, each read (and checked) by `read_record`."""
    names = [p.stem for p in sorted(Path(records_dir).glob("*.json")) if run_dir_lib.parse_run_name(p.stem)]
    return {name: read_record(records_dir, name) for name in names}


def recorded_probabilities(records_dir, name, split, run_folder=None):
    """A recorded run's probabilities on `split` (float32), or None. A record older than its
    probability files has its finished run folder's, if the folder is still here."""
    path = run_dir_lib.find_recorded_probabilities(records_dir, name, split)
    if path is None and run_folder is not None and run_dir_lib.is_finished(run_folder):
        saved = run_dir_lib.probabilities_path(run_folder, split)
        path = saved if saved.exists() else None
    if path is None:
        return None
    return io_utils.load_npy(path, what_to_do=run_dir_lib.REWRITE_METRICS).astype(np.float32)


def ensemble(per_run, gold, ranking=False):
    """The paper's ensemble (DATN-2*) of runs' probabilities `per_run` ({split: [one per run, or
    None]}): (`evaluate.ensemble_of_probabilities`' {"threshold": gamma tuned on the dev mean,
    split: metrics}, {split: the labels it predicts}), or (None, None) without dev for every run."""
    result = ensemble_of_probabilities(per_run, gold, ranking=ranking)
    if result is None:
        return None, None
    labels = {split: metrics.predict_labels(metrics.ensemble_probabilities(runs), result["threshold"])
              for split, runs in per_run.items() if split in result}
    return result, labels


def mcnemar_p(gold, a, b):
    """McNemar's p-value of the predicted labels `a` against `b` (the whole label set as one label)."""
    return metrics.mcnemar(gold, a, b)["p_value"]
