"""Reproduce Table 3: every system x RUNS seeds, then `experiments/results/<dataset>/table3.md`.

    python -m experiments.reproduce --dataset semeval --data_dir data --runs 10 --variants "base sp datn2"
    (or: make reproduce-e1 RUNS=10 VARIANTS="base sp datn2")

Accepts every `datn_tf.train` flag (epochs, batch size, ...). Run folders (checkpoints,
predictions: they contain the data's text) live in `<results>/<dataset>/runs/`, which git
ignores. A finished run is recorded in the results folder, which is committed: its JSON (its
metrics and resolved settings) and its probabilities per split, numbers only (`run_dir`
names both). The table is built from those records alone, and a run with a record is finished
even when its run folder is gone (another machine, a new checkout); an interrupted run resumes
from its last checkpoint, so an interrupted reproduction continues where it stopped. The steps
shared with `experiments.ablate` (settle, lock, train, record) are `experiments.grid`'s.
"""

import dataclasses
import json
import os
import statistics
import time
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import numpy as np  # noqa: E402

import experiments  # noqa: E402
from datn_tf import cli, io_utils, metrics, runtime, tables  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import run_dir as run_dir_lib  # noqa: E402
from datn_tf import variants as variants_lib  # noqa: E402
from datn_tf.config import setting  # noqa: E402
from datn_tf.data import datasets  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402
from experiments import grid, records  # noqa: E402


@dataclasses.dataclass(frozen=True)
class ReproduceConfig(grid.GridConfig):
    """reproduce's settings; every training flag also reaches each run."""

    runs: int = setting(10, "Seeds per system (the paper averages ten runs).", minimum=1)
    variants: str = setting(" ".join(variants_lib.VARIANT_NAMES), "Systems to run, separated by spaces or commas.")
    cv_variants: str = setting("", "ren_cecps: also run these systems over the ten-fold cross-validation of the "
                               "whole corpus (Table 3's Base† and DATN-2†: \"base datn2\").")


def parse_variants(text):
    names = list(dict.fromkeys(v for v in text.replace(",", " ").split() if v))  # a repeat runs once
    for name in names:
        variants_lib.get_variant(name)
    return names


def rerun_command(dataset_dir, name):
    """The command that trains (or resumes) run `name` and writes its record."""
    variant, seed, fold = run_dir_lib.parse_run_name(name) or (name, 0, None)
    which = f"--variants {variant} --runs {seed + 1}" if fold is None else f"--variants '' --cv_variants {variant}"
    return f"python -m experiments.reproduce --dataset {dataset_dir.name} {which} (same settings and --results_dir)"


def record_run(dataset_dir, name, folder):
    """Records the finished run in `folder` as run `name`: metrics.json plus the resolved
    train_config and the dev history, and its probabilities per split; returns the record."""
    folder = Path(folder)
    payload = run_dir_lib.read_metrics(folder)
    payload["train_config"] = run_dir_lib.read_train_config(folder)
    payload["history"] = run_dir_lib.read_history(folder)
    probabilities = {split: np.load(path) for split, path in run_dir_lib.saved_probabilities(folder).items()}
    grid.write_record(dataset_dir, name, payload, probabilities)
    return payload


class Table3Grid(grid.Grid):
    """reproduce's records: `<dataset>/<run>.json`, metrics.json with the run's settings and history."""

    tag = "[reproduce]"

    def read_record(self, records_dir, name, settling=False):
        # A record written before records carried their settings has no train_config (its
        # settings cannot be compared).
        records_dir = Path(records_dir)
        path = run_dir_lib.record_path(records_dir, name)
        remedy = (f"delete it and run `{rerun_command(records_dir, name)}`: it trains or resumes "
                  f"{run_dir_lib.grid_run_folder(records_dir, name)} and writes the record again")
        record = records.read(path, records.REPRODUCE_KEYS, remedy)
        if record is not None:
            records.check_identity(path, name, records.saved_identity(record))
        return record

    def write_record(self, job, folder, data=None):
        record_run(Path(job.results), job.name, folder)

    def other_settings_remedy(self, job, in_record):
        return "pass those settings, or use another --results_dir"


GRID = Table3Grid(__spec__.name if __spec__ else __name__)
# What a job's process calls (`launch.execute`).
run_job, is_done = GRID.run_job, GRID.is_done


def jobs(dataset_dir, variants, runs, cv_variants=()):
    """The grid's jobs (seed by seed, then the cross-validation folds), each with its settings
    resolved once: defaults < --preset < the command's flags, per variant."""
    given = config_lib.given_flags()
    cells = [(v, seed, None) for seed in range(runs) for v in variants]
    cells += [(v, 0, fold) for fold in range(config_lib.resolve(given).cv_folds) for v in cv_variants]
    jobs_ = []
    for variant, seed, fold in cells:
        name = run_dir_lib.run_name(variant, seed, fold)
        # Resolved per variant, not copied from one config: a preset may differ by variant
        # (`config.PRESET_VARIANTS`: the released Base's 5 epochs).
        settings = {**given, "variant": variant, "seed": seed, "cv_fold": fold,
                    "output_dir": str(run_dir_lib.grid_run_folder(dataset_dir, name))}
        jobs_.append(GRID.job(name, settings, dataset_dir))
    return jobs_


def backfill_records(dataset_dir):
    """Records the finished run folders under `<dataset_dir>/runs` whose record is missing,
    damaged or older than records with settings and probabilities (`record_run`). A folder
    holding another run than its name says is an error."""
    for folder in sorted((dataset_dir / run_dir_lib.RUNS_DIR).glob("*")):
        parsed = run_dir_lib.parse_run_name(folder.name)
        # runs/ also holds ablate's folders: not reproduce's to record.
        if (parsed is None or run_dir_lib.is_ablation_folder(folder.name) or parsed[0] not in variants_lib.VARIANT_NAMES
                or not run_dir_lib.is_finished(folder)):
            continue
        records.check_identity(folder, folder.name, records.saved_identity(run_dir_lib.read_train_config(folder)))
        try:
            record = GRID.read_record(dataset_dir, folder.name)
        except records.RecordError as e:
            print(f"[reproduce] {str(e).split(';')[0]}; rewritten from its finished run folder {folder}", flush=True)
            record = None
        if (record is None or "train_config" not in record
                or run_dir_lib.find_recorded_probabilities(dataset_dir, folder.name, "dev") is None):
            record_run(dataset_dir, folder.name, folder)


def recorded_runs(dataset_dir, variant=None, cv=False):
    """{run name: record} of the recorded runs of `variant` (of any when None): its seeds, or
    with `cv` its cross-validation folds; each checked by `read_record`."""
    return {name: record for name, record in grid.read_records(dataset_dir, GRID.read_record).items()
            if (parsed := run_dir_lib.parse_run_name(name)) and variant in (None, parsed[0])
            and (parsed[2] is not None) == cv}


def settings_line(recorded, dataset):
    """What the runs changed from `--preset=paper`, read from their records (a setting with
    several values across runs lists them all, so a mixed table shows)."""
    changes, unrecorded = {}, 0
    for saved in (r.get("train_config") for r in recorded):
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


@dataclasses.dataclass
class Table3:
    """table3.md's content: what `render` writes out."""

    dataset: str
    split: str  # the split the figures are of: test, or dev when the test split is held out
    notes: list  # why (the task's notes)
    settings: str  # `settings_line`
    headings: list
    rows: list  # per system, then the ensembles
    cv_headings: list
    cv_rows: list  # the cross-validation folds' systems
    block: str  # the README block (`block_name`)


def table3(dataset, dataset_dir, data_dir, variants, files=None):
    """The rows of Table 3 from the runs' records (`record_run`): mean ± std, the paper's
    numbers where it has them, McNemar, wall time; None without records. `files`: the
    --dataset=files settings (its gold labels)."""
    task = datasets.load_task(dataset, data_dir, files=files)
    ranking = datasets.get(dataset).ranking_metrics
    finished = {v: runs for v in variants if (runs := recorded_runs(dataset_dir, v))}
    cv_variants = sorted({run_dir_lib.parse_run_name(name)[0] for name in recorded_runs(dataset_dir, cv=True)})
    cv_finished = {v: recorded_runs(dataset_dir, v, cv=True) for v in cv_variants}
    if not finished and not cv_finished:
        return None
    all_payloads = [p for runs in finished.values() for p in runs.values()]
    split = "test" if all_payloads and all(p.get("test_evaluated") for p in all_payloads) else "dev"
    gold = {s: ex.labels for s, ex in task.splits().items() if s != "train"}
    columns = tables.metric_columns(ranking)
    paper = datasets.get(dataset).table3 or {}

    def probabilities(name, s):
        return grid.recorded_probabilities(dataset_dir, name, s, run_dir_lib.grid_run_folder(dataset_dir, name))

    def labels(name, payload):
        probs = probabilities(name, split)
        return None if probs is None else metrics.predict_labels(probs, payload["threshold"])

    def mcnemar_p(v, ref):
        """The median p-value over seed-matched pairs of runs of `v` and `ref`."""
        if v == ref or ref not in finished:
            return tables.MISSING
        ref_by_seed = {p["seed"]: (name, p) for name, p in finished[ref].items()}
        ps = []
        for name, payload in finished[v].items():
            if payload["seed"] in ref_by_seed:
                a, b = labels(name, payload), labels(*ref_by_seed[payload["seed"]])
                if a is not None and b is not None:
                    ps.append(grid.mcnemar_p(gold[split], a, b))
        return f"{statistics.median(ps):.3f}" if ps else tables.MISSING

    rows = []
    for v, runs in finished.items():
        payloads = list(runs.values())
        cells = tables.metric_cells(columns, [p[split] for p in payloads if split in p], paper.get(v, {}))
        wall = statistics.mean(p["wall_seconds"] for p in payloads)
        rows.append([variants_lib.get_variant(v).title, len(runs), *cells, mcnemar_p(v, "base"), mcnemar_p(v, "sp"),
                     f"{wall / 60:.1f} min"])
    for v, runs in finished.items():
        if len(runs) < 2 or v not in ("base", "datn2"):
            continue
        per_run = {s: [probabilities(name, s) for name in runs] for s in {"dev", split}}
        result, _ = grid.ensemble(per_run, gold, ranking=ranking)
        if result is not None and split in result:
            refs = paper.get(f"{v}_ensemble", {})
            cells = [tables.with_reference(tables.value(result[split].get(c.key), c.digits), refs.get(c.key),
                                           c.digits) for c in columns]
            rows.append([f"{variants_lib.get_variant(v).title}* (ensemble)", len(runs), *cells, "", "", ""])
    cv_rows = []
    for v, runs in cv_finished.items():
        payloads = list(runs.values())
        wall = statistics.mean(p["wall_seconds"] for p in payloads)
        cv_rows.append([f"{variants_lib.get_variant(v).title}† ({len(payloads)} folds)",
                        *tables.metric_cells(columns, [p["test"] for p in payloads]), f"{wall / 60:.1f} min"])
    heads = [c.table3_heading for c in columns]
    recorded = [p for runs in (*finished.values(), *cv_finished.values()) for p in runs.values()]
    return Table3(dataset=dataset, split=split, notes=list(task.notes), settings=settings_line(recorded, dataset),
                  headings=["system", "runs", *heads, "McNemar p vs Base", "vs SP", "wall time / run"], rows=rows,
                  cv_headings=["system", *heads, "wall time / run"], cv_rows=cv_rows,
                  block=block_name(dataset_dir, dataset))


def render(table):
    """table3.md's text."""
    paper_figures = bool(datasets.get(table.dataset).table3)
    lines = [
        f"# Table 3 reproduction: {table.dataset} ({'test' if table.split == 'test' else 'DEV'} set)",
        "",
        "Mean ± std over the finished seeds"
        + ("; the paper's numbers (test set, ten runs, 300-d GloVe for E1) in brackets" if paper_figures
           else " (the paper has no figures for this dataset)")
        + ". McNemar: median p-value over seed-matched pairs (whole label set as one label).",
        "",
    ]
    if table.split == "dev":
        lines += ["**The test split is held out here: these are dev-set figures, the same data the "
                  "checkpoint and gamma were selected on (optimistic).** "
                  + "".join(f"{n[0].upper()}{n[1:]}. " for n in table.notes).rstrip(), ""]
    lines += [table.settings, "", *tables.markdown_table(table.headings, table.rows)]
    if table.cv_rows:
        lines += ["", "Cross-validation over the whole corpus (each fold's held-out documents; mean ± std over folds):",
                  "", *tables.markdown_table(table.cv_headings, table.cv_rows)]
    results_flag = (f" --results_dir {experiments.DEFAULT_RESULTS_DIR}/{table.block.rsplit('/', 1)[0]}"
                    if "/" in table.block else "")
    lines += ["", f"Generated by `python -m experiments.reproduce --dataset {table.dataset}{results_flag} "
              f"--table_only` on {time.strftime('%Y-%m-%d')}."]
    return "\n".join(lines) + "\n"


def build_table(dataset, dataset_dir, data_dir, variants, readme=None, files=None):
    """Writes table3.md from the runs' records (`table3`, `render`), and into `readme`'s
    `reproduce:<block_name>` block if it has one; returns its text, or None without records."""
    table = table3(dataset, dataset_dir, data_dir, variants, files)
    if table is None:
        return None
    text = render(table)
    io_utils.write_text(dataset_dir / "table3.md", text)
    if readme is not None:
        block = readme_block(text, dataset_dir / "table3.md", readme,
                             paper_figures=bool(datasets.get(dataset).table3))
        io_utils.update_generated_block(readme, f"reproduce:{table.block}", block)
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
    with cli.user_errors(argv, prefix="[reproduce] "):
        settings = config_lib.from_flags(config_class=ReproduceConfig).validate()
        command = config_lib.from_flags()  # the training flags (--dataset=files: its files)
        variants = parse_variants(settings.variants)
        if not variants and not (settings.cv_variants.strip() and not settings.table_only):
            raise UserError(f"--variants names no system; give some of {', '.join(variants_lib.VARIANT_NAMES)}")
        if parse_variants(settings.cv_variants) and not datasets.get(command.dataset).cross_validation:
            cv = " or ".join(f"--dataset={n}" for n, d in datasets.REGISTRY.items() if d.cross_validation)
            raise UserError(f"--cv_variants is for {cv} (its cross-validation), not --dataset={command.dataset}; "
                            "leave it out")
        cli.check_outputs({"--results_dir": settings.results_dir, "--readme": settings.readme},
                          inputs={"--data_dir": command.data_dir, "--embeddings": command.embeddings})
        dataset_dir = Path(settings.results_dir) / command.dataset
        dataset_dir.mkdir(parents=True, exist_ok=True)
        backfill_records(dataset_dir)
        if not settings.table_only:
            runtime.configure_threads_from_flags()
            runtime.quiet_logging()
            start = time.time()
            grid_jobs = jobs(dataset_dir, variants, settings.runs, parse_variants(settings.cv_variants))
            if not GRID.run_all(grid_jobs, settings, dataset_dir / run_dir_lib.RUNS_DIR):
                return  # --no_wait: the table once the job array has finished (--table_only)
            print(f"[reproduce] all runs finished in {(time.time() - start) / 60:.1f} min", flush=True)
        readme = experiments.readme_to_update(settings.readme, settings.results_dir)
        text = build_table(command.dataset, dataset_dir, command.data_dir, variants, readme, command)
    print(text or "no finished runs")


if __name__ == "__main__":
    grid.define_flags(ReproduceConfig)
    cli.run(main)
