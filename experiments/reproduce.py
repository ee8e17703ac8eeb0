"""Reproduce Table 3: every system x RUNS seeds, then `experiments/results/<dataset>/table3.md`.

    python -m experiments.reproduce --dataset semeval --data_dir data --runs 10 --variants "base sp datn2"
    (or: make reproduce-e1 RUNS=10 VARIANTS="base sp datn2")

Accepts every `datn_tf.train` flag (epochs, batch size, ...). Finished runs (a
`metrics.json` in their folder) are skipped and interrupted ones resume from their last
checkpoint, so an interrupted reproduction continues where it stopped. Run folders
(checkpoints, predictions: they contain the data's text) live in `<results>/<dataset>/runs/`,
which git ignores; per-run metrics are copied to `<results>/<dataset>/<variant>-seed<k>.json`.
"""

import statistics
import time
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

from absl import app, flags  # noqa: E402

import experiments  # noqa: E402
from datn_tf import train as train_cli  # noqa: E402  (registers the training flags)
from datn_tf import variants as variants_lib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("runs", 10, "Seeds per system (the paper averages ten runs).")
flags.DEFINE_string("variants", " ".join(variants_lib.VARIANT_NAMES),
                    "Systems to run, separated by spaces or commas.")
flags.DEFINE_string("results_dir", experiments.DEFAULT_RESULTS_DIR, "Where <dataset>/ is written.")
flags.DEFINE_bool("table_only", False, "Only rebuild table3.md from the finished runs.")
flags.DEFINE_string("readme", None, "A Markdown file whose generated blocks (`<!-- reproduce:DATASET -->` ... "
                    "`<!-- /reproduce:DATASET -->`) get the table; files without them are left alone. Default: "
                    "README.md when --results_dir is the default, else none.")
flags.DEFINE_string("cv_variants", "", "ren_cecps: also run these systems over the ten-fold "
                    "cross-validation of the whole corpus (Table 3's Base† and DATN-2†: \"base datn2\").")


def parse_variants(text):
    names = list(dict.fromkeys(v for v in text.replace(",", " ").split() if v))  # a repeat runs once
    for name in names:
        variants_lib.get_variant(name)
    return names


def run_dir(results, variant, seed, fold=None):
    return results / "runs" / (f"{variant}-seed{seed}" if fold is None else f"{variant}-cvfold{fold}")


def run_all(dataset_dir, variants, runs, cv_variants=()):
    import keras

    from datn_tf import config as config_lib
    from datn_tf import io_utils
    from datn_tf import run_dir as run_dir_lib
    from datn_tf.data.prepare import PreparedDataCache

    given = config_lib.given_flags()
    jobs = [(v, seed, None) for seed in range(runs) for v in variants]
    jobs += [(v, 0, fold) for fold in range(config_lib.resolve(given).cv_folds) for v in cv_variants]

    def name_of(variant, seed, fold):
        return f"{variant}-seed{seed}" if fold is None else f"{variant}-cvfold{fold}"

    def config_of(variant, seed, fold):
        # Resolved per variant, not copied from one config: a preset may differ by variant
        # (`config.PRESET_VARIANTS`: the released Base's 5 epochs).
        return config_lib.resolve({**given, "variant": variant, "seed": seed,
                                   "output_dir": str(run_dir(dataset_dir, variant, seed, fold)),
                                   "cv_fold": fold}).validate()

    def settle(variant, seed, fold, finished):
        """None when the run is finished here or linked to a finished twin in `finished`
        (`run_dir.finished_runs`); else the resolved config to train it with."""
        name, out = name_of(variant, seed, fold), run_dir(dataset_dir, variant, seed, fold)
        config = config_of(variant, seed, fold)
        if (out / run_dir_lib.METRICS_FILE).exists():
            saved = io_utils.read_json(out / run_dir_lib.CONFIG_FILE)["train_config"]
            changed = run_dir_lib.changed_settings(saved, config)
            if changed:  # e.g. the defaults changed since: it would mix two settings in one table
                remedy = (f"it links to {out.resolve()}; remove the link" if out.is_symlink()
                          else "pass those settings, or use another --results_dir")
                raise ValueError(
                    f"{out} is a finished run with other settings ({run_dir_lib.describe_changes(changed)}); "
                    + remedy)
            print(f"[reproduce] {name}: finished, skipped", flush=True)
            return None
        # e.g. ablate's run of the same variant and seed under the same settings: linked, not retrained.
        same = run_dir_lib.link_finished_twin(out, config, finished)
        if same is None:
            return config
        io_utils.write_json(dataset_dir / f"{name}.json", io_utils.read_json(out / run_dir_lib.METRICS_FILE))
        print(f"[reproduce] {name}: the finished run {same} has the same settings; linked", flush=True)
        return None

    # Every finished run and twin is settled before anything trains, so that a stopped
    # reproduction's table has every run already trained elsewhere; then training, seed by seed.
    finished = run_dir_lib.finished_runs(dataset_dir / "runs")
    pending = [job for job in jobs if settle(*job, finished) is not None]
    cache = PreparedDataCache()  # the data, vocabulary and vectors depend on neither variant nor seed
    for variant, seed, fold in pending:
        # Again, just before training: another command (ablate) may have finished it or a twin since.
        config = settle(variant, seed, fold, run_dir_lib.finished_runs(dataset_dir / "runs"))
        if config is None:
            continue
        name = name_of(variant, seed, fold)
        data = cache.prepare(config)
        print(f"[reproduce] {name}: training -> {config.output_dir}", flush=True)
        keras.backend.clear_session()
        result = train_cli.run(config, data)
        io_utils.write_json(dataset_dir / f"{name}.json", result)


def _mean_std(values):
    if not values:
        return None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def variants_with_cv(dataset_dir):
    runs = (dataset_dir / "runs").glob("*-cvfold*")
    names = {p.name.split("-cvfold")[0] for p in runs if (p / "metrics.json").exists()}
    return sorted(names)


def settings_line(run_dirs, dataset):
    """What the runs changed from `--preset=paper`, read from their config.json (a setting with
    several values across runs lists them all, so a mixed table shows)."""
    import json

    from datn_tf import config as config_lib
    from datn_tf import io_utils
    from datn_tf import run_dir as run_dir_lib

    changes = {}
    for d in run_dirs:
        saved = io_utils.read_json(d / run_dir_lib.CONFIG_FILE)["train_config"]
        paper = config_lib.resolve(preset="paper", dataset=dataset, variant=saved["variant"], seed=saved["seed"],
                                   cv_fold=saved.get("cv_fold"), output_dir=str(d))
        for k, (value, _) in run_dir_lib.changed_settings(saved, paper).items():
            changes.setdefault(k, set()).add(json.dumps(value))
    if not changes:
        return "Settings: `--preset=paper` (the paper's reading), nothing changed."
    listed = ", ".join(f"{k}={' / '.join(sorted(values))}" for k, values in sorted(changes.items()))
    return f"Settings: `--preset=paper` except {listed}."


def build_table(dataset, dataset_dir, variants, data_dir, readme=None):
    """table3.md from the finished runs: mean ± std, the paper's numbers, McNemar, wall time;
    also written into `readme`'s `reproduce:<dataset>` block if it has one."""

    from datn_tf import io_utils, metrics, paper
    from datn_tf.data import datasets
    from datn_tf.evaluate import ensemble_runs, run_split_outputs
    from datn_tf.variants import get_variant

    task = datasets.load_task(dataset, data_dir)
    ranking = datasets.DATASET_DEFAULTS[dataset]["ranking_metrics"]
    finished = {}
    for v in variants:
        dirs = sorted(p for p in (dataset_dir / "runs").glob(f"{v}-seed*") if (p / "metrics.json").exists())
        if dirs:
            finished[v] = dirs
    if not finished and not variants_with_cv(dataset_dir):
        return None
    all_payloads = [io_utils.read_json(d / "metrics.json") for ds in finished.values() for d in ds]
    split = "test" if all_payloads and all(p.get("test_evaluated") for p in all_payloads) else "dev"
    gold = {s: ex.labels for s, ex in task.splits().items() if s != "train"}
    keys = ["jaccard", "macro_f1", "micro_f1"] + (["average_precision", "one_error"] if ranking else [])
    heads = {"jaccard": "Jaccard acc.", "macro_f1": "macro-F1", "micro_f1": "micro-F1",
             "average_precision": "AP", "one_error": "one-error"}

    def seed_of(d):
        return int(d.name.rsplit("seed", 1)[1])

    def mcnemar_p(v, ref):
        if v == ref or ref not in finished:
            return "–"
        ref_by_seed = {seed_of(d): d for d in finished[ref]}
        ps = []
        for d in finished[v]:
            if seed_of(d) in ref_by_seed:
                _, a = run_split_outputs(d, split)
                _, b = run_split_outputs(ref_by_seed[seed_of(d)], split)
                ps.append(metrics.mcnemar(gold[split], a, b)["p_value"])
        return f"{statistics.median(ps):.3f}" if ps else "–"

    lines = [
        f"# Table 3 reproduction: {dataset} ({'test' if split == 'test' else 'DEV'} set)",
        "",
        "Mean ± std over the finished seeds; the paper's numbers (test set, ten runs, 300-d GloVe for E1) "
        "in brackets. McNemar: median p-value over seed-matched pairs (whole label set as one label).",
        "",
    ]
    if split == "dev":
        lines += ["**The test split is held out here: these are dev-set figures, the same data the "
                  "checkpoint and gamma were selected on (optimistic).** "
                  + "".join(f"{n[0].upper()}{n[1:]}. " for n in task.notes).rstrip(), ""]
    cv_finished = {v: [d for d in sorted((dataset_dir / "runs").glob(f"{v}-cvfold*")) if (d / "metrics.json").exists()]
                   for v in variants_with_cv(dataset_dir)}
    lines += [settings_line([d for ds in (*finished.values(), *cv_finished.values()) for d in ds], dataset), ""]
    lines.append("| system | runs | " + " | ".join(heads[k] for k in keys)
                 + " | McNemar p vs Base | vs SP | wall time / run |")
    lines.append("|---|---|" + "---|" * len(keys) + "---|---|---|")
    for v, dirs in finished.items():
        payloads = [io_utils.read_json(d / "metrics.json") for d in dirs]
        cells = []
        for k in keys:
            ms = _mean_std([p[split][k] for p in payloads if split in p])
            ref = paper.TABLE3.get(dataset, {}).get(v, {}).get(k)
            cells.append(f"{ms[0]:.3f} ± {ms[1]:.3f}" + (f" [{ref:.3f}]" if ref is not None else ""))
        wall = statistics.mean(p["wall_seconds"] for p in payloads)
        lines.append(f"| {get_variant(v).title} | {len(dirs)} | " + " | ".join(cells)
                     + f" | {mcnemar_p(v, 'base')} | {mcnemar_p(v, 'sp')} | {wall / 60:.1f} min |")
    for v, dirs in finished.items():
        if len(dirs) > 1 and v in ("base", "datn2"):
            ens = ensemble_runs(dirs, {s: g for s, g in gold.items() if s in ("dev", split)}, ranking=ranking)
            ref = paper.TABLE3.get(dataset, {}).get(f"{v}_ensemble", {})
            cells = [f"{ens[split][k]:.3f}" + (f" [{ref[k]:.3f}]" if k in ref else "") for k in keys]
            lines.append(f"| {get_variant(v).title}* (ensemble) | {len(dirs)} | " + " | ".join(cells)
                         + " | | | |")
    cv_lines = []
    for v, dirs in cv_finished.items():
        payloads = [io_utils.read_json(d / "metrics.json") for d in dirs]
        cells = []
        for k in keys:
            ms = _mean_std([p["test"][k] for p in payloads])
            cells.append(f"{ms[0]:.3f} ± {ms[1]:.3f}")
        cv_lines.append(f"| {get_variant(v).title}† ({len(payloads)} folds) | " + " | ".join(cells) + " |")
    if cv_lines:
        lines += ["", "Cross-validation over the whole corpus (each fold's held-out documents; mean ± std over folds):",
                  "", "| system | " + " | ".join(heads[k] for k in keys) + " |",
                  "|---|" + "---|" * len(keys)] + cv_lines
    lines += ["", f"Generated by `python -m experiments.reproduce --dataset {dataset} --table_only` "
              f"on {time.strftime('%Y-%m-%d')}."]
    text = "\n".join(lines) + "\n"
    io_utils.write_text(dataset_dir / "table3.md", text)
    if readme is not None:
        # The title becomes a bold line: it says whether these are dev or test figures.
        io_utils.update_generated_block(readme, f"reproduce:{dataset}", "\n".join([f"**{lines[0][2:]}**", *lines[1:]]))
    return text


def main(argv):
    with train_cli.user_errors(argv, prefix="[reproduce] "):
        variants = parse_variants(FLAGS.variants)
        dataset_dir = Path(FLAGS.results_dir) / FLAGS.dataset
        dataset_dir.mkdir(parents=True, exist_ok=True)
        if not FLAGS.table_only:
            train_cli.runtime.configure_threads_from_flags()
            train_cli.runtime.quiet_logging()
            start = time.time()
            run_all(dataset_dir, variants, FLAGS.runs, parse_variants(FLAGS.cv_variants))
            print(f"[reproduce] all runs finished in {(time.time() - start) / 60:.1f} min", flush=True)
        readme = experiments.readme_to_update(FLAGS.readme, FLAGS.results_dir)
        text = build_table(FLAGS.dataset, dataset_dir, variants, FLAGS.data_dir, readme)
    print(text or "no finished runs")


if __name__ == "__main__":
    app.run(main)
