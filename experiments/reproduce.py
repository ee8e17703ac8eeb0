"""Reproduce Table 3: every system x RUNS seeds, then `experiments/results/<dataset>/table3.md`.

    python -m experiments.reproduce --dataset semeval --data_dir data --runs 10 --variants "base sp datn2"
    (or: make reproduce-e1 RUNS=10 VARIANTS="base sp datn2")

Accepts every `datn_tf.train` flag (epochs, batch size, ...). Run folders (checkpoints,
predictions: they contain the data's text) live in `<results>/<dataset>/runs/`, which git
ignores. A finished run is recorded in the results folder, which is committed:
`<variant>-seed<k>.json` (its metrics and resolved settings) and `probs/<variant>-seed<k>-<split>.npy`
(its probabilities, numbers only). The table is built from those records alone, and a run with a
record is finished even when its run folder is gone (another machine, a new checkout); an
interrupted run resumes from its last checkpoint, so an interrupted reproduction continues
where it stopped.
"""

import os
import statistics
import time
from pathlib import Path

import numpy as np

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

from absl import flags  # noqa: E402

import experiments  # noqa: E402
from datn_tf import cli  # noqa: E402
from datn_tf import train as train_cli  # noqa: E402  (registers the training flags)
from datn_tf import variants as variants_lib  # noqa: E402
from experiments import launch, records  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("runs", 10, "Seeds per system (the paper averages ten runs).")
flags.DEFINE_string("variants", " ".join(variants_lib.VARIANT_NAMES),
                    "Systems to run, separated by spaces or commas.")
# (once: the tests import both drivers, which define these three each with its own help)
launch.define_once(flags.DEFINE_string, "results_dir", experiments.DEFAULT_RESULTS_DIR,
                   "Where <dataset>/ is written.")
launch.define_once(flags.DEFINE_bool, "table_only", False, "Only rebuild table3.md from the finished runs.")
launch.define_once(flags.DEFINE_string, "readme", None, "A Markdown file whose generated blocks "
                   "(`<!-- reproduce:DATASET -->` ... `<!-- /reproduce:DATASET -->`; `reproduce:FOLDER/DATASET` for a "
                   "--results_dir FOLDER inside experiments/results) get the table; files without them are left "
                   "alone. Default: README.md when --results_dir is the default, else none.")
flags.DEFINE_string("cv_variants", "", "ren_cecps: also run these systems over the ten-fold "
                    "cross-validation of the whole corpus (Table 3's Base† and DATN-2†: \"base datn2\").")
launch.define_flags()


def parse_variants(text):
    names = list(dict.fromkeys(v for v in text.replace(",", " ").split() if v))  # a repeat runs once
    for name in names:
        variants_lib.get_variant(name)
    return names


def run_dir(results, variant, seed, fold=None):
    from datn_tf import run_dir as run_dir_lib

    return results / "runs" / run_dir_lib.run_name(variant, seed, fold)


PROBS_DIR = "probs"


def probs_path(dataset_dir, name, split):
    return dataset_dir / PROBS_DIR / f"{name}-{split}.npy"


def record_run(dataset_dir, name, folder):
    """Writes the record of the finished run in `folder`: `<name>.json` (metrics.json plus the
    resolved train_config) and its probabilities per split; returns the payload."""
    from datn_tf import io_utils
    from datn_tf import run_dir as run_dir_lib

    folder = Path(folder)
    payload = run_dir_lib.read_metrics(folder)
    payload["train_config"] = run_dir_lib.read_train_config(folder)
    payload["history"] = run_dir_lib.read_history(folder)
    for split, path in run_dir_lib.saved_probabilities(folder).items():
        io_utils.save_npy(probs_path(dataset_dir, name, split), np.load(path))
    io_utils.write_json(dataset_dir / f"{name}.json", payload)  # last: the record is whole or absent
    return payload


def rerun_command(dataset_dir, name):
    """The command that trains (or resumes) run `name` and writes its record."""
    from datn_tf import run_dir as run_dir_lib

    variant, seed, fold = run_dir_lib.parse_run_name(name) or (name, 0, None)
    which = f"--variants {variant} --runs {seed + 1}" if fold is None else f"--variants '' --cv_variants {variant}"
    return f"python -m experiments.reproduce --dataset {dataset_dir.name} {which} (same settings and --results_dir)"


def read_record(dataset_dir, name):
    """The record of run `name`, or None when there is none. A record written before records
    carried their settings has no train_config (its settings cannot be compared).

    Raises:
        records.RecordError: it does not parse, lacks a key, or holds another run.
    """
    path = dataset_dir / f"{name}.json"
    remedy = (f"delete it and run `{rerun_command(dataset_dir, name)}`: it trains or resumes "
              f"{dataset_dir / 'runs' / name} and writes the record again")
    record = records.read(path, records.REPRODUCE_KEYS, remedy)
    if record is not None:
        records.check_identity(path, name, records.saved_identity(record))
    return record


def record_outputs(dataset_dir, name, payload, split):
    """(probabilities, predicted labels) of a recorded run on `split`, or (None, None). Older
    records have no probability files; their run folder's, if it is still here, serve."""
    from datn_tf import metrics
    from datn_tf import run_dir as run_dir_lib

    path = probs_path(dataset_dir, name, split)
    if path.exists():
        probs = np.load(path)
        return probs, metrics.predict_labels(probs, payload["threshold"])
    folder = dataset_dir / "runs" / name
    if run_dir_lib.is_finished(folder):
        return run_dir_lib.read_split_outputs(folder, split)
    return None, None


def backfill_records(dataset_dir):
    """Records the finished run folders under `<dataset_dir>/runs` whose record is missing,
    damaged or older than records with settings and probabilities (`record_run`). A folder
    holding another run than its name says is an error."""
    from datn_tf import run_dir as run_dir_lib

    for folder in sorted((dataset_dir / "runs").glob("*")):
        parsed = run_dir_lib.parse_run_name(folder.name)
        # runs/ also holds ablate's folders (ablate-<config>-seed<k>): not reproduce's to record.
        if parsed is None or parsed[0] not in variants_lib.VARIANT_NAMES or not run_dir_lib.is_finished(folder):
            continue
        records.check_identity(folder, folder.name, records.saved_identity(run_dir_lib.read_train_config(folder)))
        try:
            record = read_record(dataset_dir, folder.name)
        except records.RecordError as e:
            print(f"[reproduce] {str(e).split(';')[0]}; rewritten from its finished run folder {folder}", flush=True)
            record = None
        if record is None or "train_config" not in record or not probs_path(dataset_dir, folder.name, "dev").exists():
            record_run(dataset_dir, folder.name, folder)


def jobs_of(dataset_dir, variants, runs, cv_variants=()):
    """The grid's jobs (seed by seed, then the cross-validation folds), each with its settings
    resolved once: defaults < --preset < the command's flags, per variant."""
    from datn_tf import config as config_lib
    from datn_tf import run_dir as run_dir_lib

    given = config_lib.given_flags()
    grid = [(v, seed, None) for seed in range(runs) for v in variants]
    grid += [(v, 0, fold) for fold in range(config_lib.resolve(given).cv_folds) for v in cv_variants]
    jobs = []
    for variant, seed, fold in grid:
        name = run_dir_lib.run_name(variant, seed, fold)
        # Resolved per variant, not copied from one config: a preset may differ by variant
        # (`config.PRESET_VARIANTS`: the released Base's 5 epochs).
        config = config_lib.resolve({**given, "variant": variant, "seed": seed,
                                     "output_dir": str(run_dir(dataset_dir, variant, seed, fold)),
                                     "cv_fold": fold}).validate()
        jobs.append(launch.Job(driver=__spec__.name if __spec__ else __name__, name=name, label=name,
                               config=config, results=str(dataset_dir)))
    return jobs


def _refuse_changed(what, saved, config, remedy):
    from datn_tf import run_dir as run_dir_lib

    changed = run_dir_lib.changed_settings(saved, config)
    if changed:  # e.g. the defaults changed since: it would mix two settings in one table
        raise ValueError(f"{what} is a finished run with other settings "
                         f"({run_dir_lib.describe_changes(changed)}); " + remedy)


def settle(job, finished):
    """True when the run is recorded, finished here or linked to a finished twin in `finished`
    (`run_dir.finished_runs`): nothing to train."""
    from datn_tf import run_dir as run_dir_lib

    dataset_dir, name, config = Path(job.results), job.name, job.config
    out = Path(config.output_dir)
    record = read_record(dataset_dir, name)
    if record is not None and "train_config" in record:
        _refuse_changed(dataset_dir / f"{name}.json", record["train_config"], config,
                        "pass those settings, or use another --results_dir")
        print(f"[reproduce] {name}: finished, skipped", flush=True)
        return True
    if run_dir_lib.is_finished(out):
        saved = run_dir_lib.read_train_config(out)
        _refuse_changed(out, saved, config, f"it links to {out.resolve()}; remove the link" if out.is_symlink()
                        else "pass those settings, or use another --results_dir")
        record_run(dataset_dir, name, out)
        print(f"[reproduce] {name}: finished, skipped", flush=True)
        return True
    if record is not None:  # an older record without its settings, and no run folder to read them from
        print(f"[reproduce] {name}: finished (its record predates saved settings: not compared), skipped",
              flush=True)
        return True
    # e.g. ablate's run of the same variant and seed under the same settings: linked, not retrained.
    same = run_dir_lib.link_finished_twin(out, config, finished)
    if same is None:
        return False
    record_run(dataset_dir, name, out)
    print(f"[reproduce] {name}: the finished run {same} has the same settings; linked", flush=True)
    return True


def is_done(job):
    """Whether the job's run is recorded (`launch.run_jobs` waits for runs others hold by it)."""
    return read_record(Path(job.results), job.name) is not None


def run_job(job, before_training=None):
    """Trains the job's run into its folder under the folder's lock and records it; a run
    someone else holds is left to them ({"status": "locked"})."""
    import keras

    from datn_tf import run_dir as run_dir_lib

    runs = Path(job.results) / "runs"
    # Again, just before training: another command (ablate) may have finished it or a twin since.
    if settle(job, run_dir_lib.finished_runs(runs)):
        return {"status": "done"}
    try:
        lock = run_dir_lib.RunLock(job.config.output_dir).acquire()
    except run_dir_lib.RunLocked as e:
        print(f"[reproduce] {job.name}: being trained by {run_dir_lib.describe_holder(e.holder)}; left to it",
              flush=True)
        return {"status": "locked"}
    try:
        if settle(job, run_dir_lib.finished_runs(runs)):  # finished by the lock's previous holder
            return {"status": "done"}
        data = launch.data_cache().prepare(job.config)
        if before_training is not None:
            before_training()
        print(f"[reproduce] {job.name}: training -> {job.config.output_dir}", flush=True)
        keras.backend.clear_session()
        started = time.time()
        train_cli.run(job.config, data)
        record_run(Path(job.results), job.name, job.config.output_dir)
        return {"status": "trained", "wall_seconds": time.time() - started}
    finally:
        lock.release()


def run_all(dataset_dir, variants, runs, cv_variants=(), options=None):
    """Trains the grid's unfinished runs with `options`' launcher; False when it returned
    without waiting for them (--no_wait)."""
    from datn_tf import run_dir as run_dir_lib

    jobs = jobs_of(dataset_dir, variants, runs, cv_variants)
    # Every finished run and twin is settled before anything trains, so that a stopped
    # reproduction's table has every run already trained elsewhere; then training, seed by seed.
    finished = run_dir_lib.finished_runs(dataset_dir / "runs")
    pending = [job for job in jobs if not settle(job, finished)]
    return launch.run_jobs(pending, run_job, is_done, options, "[reproduce]", dataset_dir / "runs" / "submitit")


def recorded_runs(dataset_dir, variant=None, cv=False):
    """{run name: record} of the recorded runs of `variant` (of any when None): its seeds, or
    with `cv` its cross-validation folds; each checked by `read_record`."""
    from datn_tf import run_dir as run_dir_lib

    names = [p.stem for p in sorted(dataset_dir.glob("*.json"))
             if (parsed := run_dir_lib.parse_run_name(p.stem)) is not None
             and variant in (None, parsed[0]) and (parsed[2] is not None) == cv]
    return {name: read_record(dataset_dir, name) for name in names}


def variants_with_cv(dataset_dir):
    from datn_tf import run_dir as run_dir_lib

    return sorted({run_dir_lib.parse_run_name(name)[0] for name in recorded_runs(dataset_dir, cv=True)})


def settings_line(records, dataset):
    """What the runs changed from `--preset=paper`, read from their records (a setting with
    several values across runs lists them all, so a mixed table shows)."""
    import json

    from datn_tf import config as config_lib
    from datn_tf import run_dir as run_dir_lib

    changes, unrecorded = {}, 0
    for saved in (r.get("train_config") for r in records):
        if saved is None:
            unrecorded += 1
            continue
        # Your own files are the data, not a change of the paper's settings.
        own_files = {k: saved[k] for k in config_lib.FILE_SETTINGS if k in saved}
        paper = config_lib.resolve(preset="paper", dataset=dataset, variant=saved["variant"], seed=saved["seed"],
                                   cv_fold=saved.get("cv_fold"), output_dir=saved["output_dir"], **own_files)
        for k, (value, _) in run_dir_lib.changed_settings(saved, paper).items():
            changes.setdefault(k, set()).add(json.dumps(value))
    note = (f" The records of {unrecorded} run{'s' * (unrecorded > 1)} predate saved settings "
            "and are not included in this line." if unrecorded else "")
    if not changes:
        return "Settings: `--preset=paper` (the paper's reading), nothing changed." + note
    listed = ", ".join(f"{k}={' / '.join(sorted(values))}" for k, values in sorted(changes.items()))
    return f"Settings: `--preset=paper` except {listed}." + note


def build_table(dataset, dataset_dir, variants, data_dir, readme=None, files=None):
    """table3.md from the runs' records (`record_run`): mean ± std, the paper's numbers where it
    has them, McNemar, wall time; also written into `readme`'s `reproduce:<block_name>` block if it
    has one. `files`: the --dataset=files settings (its gold labels)."""

    from datn_tf import io_utils, metrics, paper, tables
    from datn_tf.data import datasets
    from datn_tf.evaluate import ensemble_of_probabilities
    from datn_tf.variants import get_variant

    task = datasets.load_task(dataset, data_dir, files=files)
    ranking = datasets.get(dataset).ranking_metrics
    finished = {v: runs for v in variants if (runs := recorded_runs(dataset_dir, v))}
    cv_finished = {v: recorded_runs(dataset_dir, v, cv=True) for v in variants_with_cv(dataset_dir)}
    if not finished and not cv_finished:
        return None
    all_payloads = [p for runs in finished.values() for p in runs.values()]
    split = "test" if all_payloads and all(p.get("test_evaluated") for p in all_payloads) else "dev"
    gold = {s: ex.labels for s, ex in task.splits().items() if s != "train"}
    columns = tables.metric_columns(dataset)
    heads = [c.table3_heading for c in columns]

    def mcnemar_p(v, ref):
        if v == ref or ref not in finished:
            return tables.MISSING
        ref_by_seed = {p["seed"]: (name, p) for name, p in finished[ref].items()}
        ps = []
        for name, payload in finished[v].items():
            if payload["seed"] in ref_by_seed:
                _, a = record_outputs(dataset_dir, name, payload, split)
                _, b = record_outputs(dataset_dir, *ref_by_seed[payload["seed"]], split)
                if a is not None and b is not None:
                    ps.append(metrics.mcnemar(gold[split], a, b)["p_value"])
        return f"{statistics.median(ps):.3f}" if ps else tables.MISSING

    def ensemble(runs):
        """The paper's DATN-2* on `split` (`evaluate.ensemble_of_probabilities`), or None."""
        per_run = {s: [record_outputs(dataset_dir, name, p, s)[0] for name, p in runs.items()]
                   for s in {"dev", split}}
        result = ensemble_of_probabilities(per_run, gold, ranking=ranking)
        return None if result is None else result.get(split)

    lines = [
        f"# Table 3 reproduction: {dataset} ({'test' if split == 'test' else 'DEV'} set)",
        "",
        "Mean ± std over the finished seeds"
        + ("; the paper's numbers (test set, ten runs, 300-d GloVe for E1) in brackets" if dataset in paper.TABLE3
           else " (the paper has no figures for this dataset)")
        + ". McNemar: median p-value over seed-matched pairs (whole label set as one label).",
        "",
    ]
    if split == "dev":
        lines += ["**The test split is held out here: these are dev-set figures, the same data the "
                  "checkpoint and gamma were selected on (optimistic).** "
                  + "".join(f"{n[0].upper()}{n[1:]}. " for n in task.notes).rstrip(), ""]
    records = [p for runs in (*finished.values(), *cv_finished.values()) for p in runs.values()]
    lines += [settings_line(records, dataset), ""]
    rows = []
    for v, runs in finished.items():
        payloads = list(runs.values())
        refs = paper.TABLE3.get(dataset, {}).get(v, {})
        cells = tables.metric_cells(columns, [p[split] for p in payloads if split in p], refs)
        wall = statistics.mean(p["wall_seconds"] for p in payloads)
        rows.append([get_variant(v).title, len(runs), *cells, mcnemar_p(v, "base"), mcnemar_p(v, "sp"),
                     f"{wall / 60:.1f} min"])
    for v, runs in finished.items():
        ens = ensemble(runs) if len(runs) > 1 and v in ("base", "datn2") else None
        if ens is not None:
            refs = paper.TABLE3.get(dataset, {}).get(f"{v}_ensemble", {})
            cells = [tables.with_reference(tables.value(ens.get(c.key), c.digits), refs.get(c.key), c.digits)
                     for c in columns]
            rows.append([f"{get_variant(v).title}* (ensemble)", len(runs), *cells, "", "", ""])
    lines += tables.markdown_table(["system", "runs", *heads, "McNemar p vs Base", "vs SP", "wall time / run"], rows)
    cv_rows = []
    for v, runs in cv_finished.items():
        payloads = list(runs.values())
        wall = statistics.mean(p["wall_seconds"] for p in payloads)
        cv_rows.append([f"{get_variant(v).title}† ({len(payloads)} folds)",
                        *tables.metric_cells(columns, [p["test"] for p in payloads]),
                        f"{wall / 60:.1f} min"])
    if cv_rows:
        lines += ["", "Cross-validation over the whole corpus (each fold's held-out documents; mean ± std over folds):",
                  "", *tables.markdown_table(["system", *heads, "wall time / run"], cv_rows)]
    name = block_name(dataset_dir, dataset)
    results_flag = f" --results_dir {experiments.DEFAULT_RESULTS_DIR}/{name.rsplit('/', 1)[0]}" if "/" in name else ""
    lines += ["", f"Generated by `python -m experiments.reproduce --dataset {dataset}{results_flag} --table_only` "
              f"on {time.strftime('%Y-%m-%d')}."]
    text = "\n".join(lines) + "\n"
    io_utils.write_text(dataset_dir / "table3.md", text)
    if readme is not None:
        block = readme_block(text, dataset_dir / "table3.md", readme, paper_figures=dataset in paper.TABLE3)
        io_utils.update_generated_block(readme, f"reproduce:{name}", block)
    return text


def block_name(dataset_dir, dataset):
    """The README block of a results folder: `<dataset>` for the repository's results folder,
    `<folder>/<dataset>` for one beside it (`semeval-100d/semeval`), so their tables stand side by side."""
    try:
        return Path(dataset_dir).resolve().relative_to(Path(experiments.DEFAULT_RESULTS_DIR).resolve()).as_posix()
    except ValueError:  # elsewhere (a smoke run, a test): the dataset's own block
        return dataset


def readme_block(text, table_path, readme, paper_figures=True):
    """The README's short form of a table3.md `text`: one line for the title, split, settings and a
    link to the full notes, then the tables. The README's first screen holds both data sets' tables.
    `paper_figures`: the table has the paper's figures in brackets."""
    lines = text.splitlines()
    title = lines[0].removeprefix("# Table 3 reproduction: ")
    settings = next((line for line in lines if line.startswith("Settings: ")), "")
    held_out = any(line.startswith("**The test split is held out") for line in lines)
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    body = [line for line in lines[first:] if not line.startswith("Generated by ")]
    while body and not body[-1]:
        body.pop()
    link = Path(os.path.relpath(table_path, Path(readme).parent)).as_posix()
    brackets = ", the paper's test figures in brackets" if paper_figures else ""
    head = (f"**{title}**{': test split held out, dev figures' if held_out else ''}. Mean ± std over seeds"
            f"{brackets}. {settings} [All notes]({link}).")
    return "\n".join([head, "", *body])


def main(argv):
    with train_cli.user_errors(argv, prefix="[reproduce] "):
        if FLAGS.runs < 1:
            raise ValueError(f"--runs must be >= 1; got {FLAGS.runs}")
        variants = parse_variants(FLAGS.variants)
        if not variants and not (FLAGS.cv_variants.strip() and not FLAGS.table_only):
            raise ValueError(f"--variants names no system; give some of {', '.join(variants_lib.VARIANT_NAMES)}")
        from datn_tf.data import datasets

        if parse_variants(FLAGS.cv_variants) and not datasets.get(FLAGS.dataset).cross_validation:
            cv = " or ".join(f"--dataset={n}" for n, d in datasets.REGISTRY.items() if d.cross_validation)
            raise cli.UserError(f"--cv_variants is for {cv} (its cross-validation), not --dataset={FLAGS.dataset}; "
                                "leave it out")
        options = launch.options_from_flags()
        cli.check_outputs({"--results_dir": FLAGS.results_dir, "--readme": FLAGS.readme},
                          inputs={"--data_dir": FLAGS.data_dir, "--embeddings": FLAGS.embeddings})
        dataset_dir = Path(FLAGS.results_dir) / FLAGS.dataset
        dataset_dir.mkdir(parents=True, exist_ok=True)
        backfill_records(dataset_dir)
        if not FLAGS.table_only:
            train_cli.runtime.configure_threads_from_flags()
            train_cli.runtime.quiet_logging()
            start = time.time()
            if not run_all(dataset_dir, variants, FLAGS.runs, parse_variants(FLAGS.cv_variants), options):
                return  # --no_wait: the table once the job array has finished (--table_only)
            print(f"[reproduce] all runs finished in {(time.time() - start) / 60:.1f} min", flush=True)
        readme = experiments.readme_to_update(FLAGS.readme, FLAGS.results_dir)
        files = train_cli.config_lib.resolve(train_cli.config_lib.given_flags())  # --dataset=files: its files
        text = build_table(FLAGS.dataset, dataset_dir, variants, FLAGS.data_dir, readme, files)
    print(text or "no finished runs")


if __name__ == "__main__":
    cli.run(main)
