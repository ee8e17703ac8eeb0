"""Ablation study on dev: which difference between the paper and the released code moves Table 3.

    python -m experiments.ablate --data_dir data --stage similarity --seeds 3
    python -m experiments.ablate --data_dir data --configs "base,sp,datn2-mean" --seeds 5
    python -m experiments.ablate --table_only          # rebuild ablations.md from the per-run JSON
    (or: make ablate DATA_DIR=data STAGE=similarity SEEDS=3)

Every configuration is a variant plus `TrainConfig` overrides (`CONFIGS` below); the
runs are ordinary training runs with dev selection (the test split is never read for a
choice). Runs go one at a time in this process, and share what does not depend on the
seed or the model: the data, the vocabulary, the token ids and the pretrained vectors
(`datn_tf.data.prepare.PreparedDataCache`). A finished run (its JSON present) is skipped and an
interrupted one resumes from its last checkpoint, so re-running the same command
continues where it stopped. The steps shared with `experiments.reproduce` (settle, lock, train,
record) are `experiments.grid`'s.

Configurations run on E1 (SemEval) unless they name a dataset (`e2-*`: Ren-CECps, S2 -> E2);
with `--dataset=files` (and its file flags, docs/own-data.md) every chosen one runs on your files.
Per run it records, in `<results>/<dataset>/ablations/` (`run_dir.ablation_records_dir`), its
JSON (dev metrics, best step, the attention-health figures, the resolved settings) and its dev
probabilities (float16) for ensembles and McNemar; the table `<results>/<dataset>/ablations.md`
is generated from those files only.
"""

import dataclasses
import statistics
import time
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import experiments  # noqa: E402
from datn_tf import cli, input_pipeline, io_utils, losses, run_weights, runtime, tables  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import run_dir as run_dir_lib  # noqa: E402
from datn_tf import variants as variants_lib  # noqa: E402
from datn_tf.config import setting  # noqa: E402
from datn_tf.data import datasets  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402
from experiments import grid, launch, records  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Ablation:
    name: str
    variant: str
    overrides: dict
    stage: str
    about: str
    dataset: str = "semeval"
    # What the overrides change: the paper preset, so that a row keeps its meaning when the
    # defaults of `TrainConfig` change; None: the defaults of the day (the `e2` stage).
    preset: str | None = "paper"


# Where `make glove-100d` writes the 100-d vectors (relative to the repository).
GLOVE_100D = "data/glove.6B.100d.txt"
_RELEASED_HEAD = dict(mlp_activation="tanh", mlp_dropout=0.5)
_RELEASED_DROPOUT = dict(input_dropout=0.0, lstm_dropout=0.5, mlp_dropout=0.5)

CONFIGS = {
    a.name: a
    for a in (
        Ablation("base", "base", {}, "reference", "Base, the paper's reading"),
        Ablation("sp", "sp", {}, "reference", "SP, the paper's reading"),
        # 1. the similarity term
        Ablation("datn2", "datn2", {}, "similarity", "DATN-2, the paper's reading (lambda sum_i cos)"),
        Ablation("datn2-mean", "datn2", dict(similarity="mean"), "similarity", "lambda mean_i cos"),
        Ablation("datn2-released-sim", "datn2", dict(similarity="released", task_loss_reduction="sum"),
                 "similarity", "released term: lambda mean_i (1 - a_s.a_t), KL and CE summed over the batch"),
        Ablation("datn2-lambda0", "datn2", dict(lambda_sim=0.0), "similarity", "no similarity term"),
        # Between the mean at lambda = 0.05 (alpha_t pushed off alpha_s) and lambda = 0 (alpha_t
        # close to alpha_s): a weaker push.
        Ablation("datn2-mean-lambda0.01", "datn2", dict(similarity="mean", lambda_sim=0.01), "similarity",
                 "lambda = 0.01, mean_i cos"),
        Ablation("datn2-mean-lambda0.002", "datn2", dict(similarity="mean", lambda_sim=0.002), "similarity",
                 "lambda = 0.002, mean_i cos"),
        Ablation("datn1", "datn1", {}, "similarity", "DATN-1, the paper's reading (lambda sum_i cos)"),
        Ablation("datn1-mean", "datn1", dict(similarity="mean"), "similarity", "lambda mean_i cos"),
        Ablation("datn1-released-sim", "datn1", dict(similarity="released", task_loss_reduction="sum"),
                 "similarity", "released term, KL and CE summed"),
        Ablation("datn1-lambda0", "datn1", dict(lambda_sim=0.0), "similarity", "no similarity term"),
        # 2. the head and the dropout
        Ablation("datn2-mean-head", "datn2", dict(similarity="mean", **_RELEASED_HEAD), "head",
                 "mean + released head (tanh MLP, dropout 0.5 on its hidden layer)"),
        Ablation("datn2-mean-dropout", "datn2", dict(similarity="mean", **_RELEASED_DROPOUT), "head",
                 "mean + released dropout (none on inputs, 0.5 on LSTM outputs and MLP hidden)"),
        Ablation("datn2-released-sim-dropout", "datn2",
                 dict(similarity="released", task_loss_reduction="sum", **_RELEASED_DROPOUT), "head",
                 "released term + released dropout"),
        Ablation("base-dropout", "base", dict(_RELEASED_DROPOUT), "head", "Base with the released dropout"),
        Ablation("sp-dropout", "sp", dict(_RELEASED_DROPOUT), "head", "SP with the released dropout"),
        # 3. the length of training
        Ablation("datn2-mean-8ep", "datn2", dict(similarity="mean", epochs=8, eval_every=50), "length",
                 "mean, 8 epochs, dev every 50 steps"),
        Ablation("sp-8ep", "sp", dict(epochs=8, eval_every=50), "length", "SP, 8 epochs, dev every 50 steps"),
        # Base's epochs are passes over the emotion set (16 by default, about as many emotion steps as
        # the alternating variants' 4): 32 matches the 8-epoch rows above.
        Ablation("base-8ep", "base", dict(epochs=32, eval_every=50), "length",
                 "Base, 32 passes over E1 (the emotion steps of 8 alternating epochs), dev every 50 steps"),
        # 4. the rest, one at a time
        Ablation("datn2-mean-att400bias", "datn2", dict(similarity="mean", attention_size=400, attention_bias=True),
                 "other", "mean + attention a = 400 with bias"),
        Ablation("datn2-mean-tied", "datn2", dict(similarity="mean", tie_lstm_directions=True), "other",
                 "mean + one LSTM for both directions"),
        Ablation("datn2-mean-emofirst", "datn2", dict(similarity="mean", step_order="emotion_first"), "other",
                 "mean + emotion mini-batch first"),
        Ablation("datn2-mean-tags", "datn2", dict(similarity="mean", normalize_tokens=True), "other",
                 "mean + ekphrasis-style tags (<url>, <user>, <number>, emoticons)"),
        Ablation("datn2-mean-vocab100k", "datn2", dict(similarity="mean", pretrained_vocab_size=100_000), "other",
                 "mean + the 100k most frequent GloVe words in the vocabulary (dev words keep their vectors)"),
        Ablation("datn2-mean-init025", "datn2", dict(similarity="mean", random_init_scale=0.25), "other",
                 "mean + the released U(-0.25, 0.25) for the rows of E without a GloVe vector"),
        # Our one optimiser deviation (docs/fidelity.md): plain dense Adam on E, as the paper.
        Ablation("base-dense-adam", "base", dict(dense_embedding_updates=True), "other",
                 "Base with dense Adam on the lookup table E (the paper's; the default is row-wise)"),
        Ablation("datn2-released", "datn2", dict(preset="released"), "other",
                 "--preset=released (1 epoch, dev every 50 steps, ekphrasis-style tags)"),
        Ablation("sp-released", "sp", dict(preset="released"), "other", "SP, --preset=released"),
        Ablation("base-released", "base", dict(preset="released"), "other",
                 "Base, --preset=released (5 epochs over the emotion set, as the released Base)"),
        # 5. the size of the word vectors: the paper's 300-d GloVe is not installable offline; glove.6B
        # 100-d is (`make glove-100d`, datn_tf/data/glove_100d.py).
        Ablation("base-100d", "base", dict(embeddings=GLOVE_100D), "embeddings", "Base, glove.6B 100-d"),
        Ablation("sp-100d", "sp", dict(embeddings=GLOVE_100D), "embeddings", "SP, glove.6B 100-d"),
        Ablation("datn2-mean-100d", "datn2", dict(similarity="mean", embeddings=GLOVE_100D), "embeddings",
                 "DATN-2 (mean), glove.6B 100-d"),
        # Beyond the paper: all-MiniLM-L6-v2 in E's place (`make minilm`, docs/encoders.md). The first
        # three are the README table's runs (`make reproduce-minilm`): the defaults, i.e. the paper
        # preset with the mean similarity term.
        Ablation("minilm-base", "base", dict(encoder="minilm"), "encoder", "Base over frozen MiniLM"),
        Ablation("minilm-sp", "sp", dict(encoder="minilm"), "encoder", "SP over frozen MiniLM"),
        Ablation("minilm-datn2", "datn2", dict(encoder="minilm", similarity="mean"), "encoder",
                 "DATN-2 (mean) over frozen MiniLM"),
        # The schedule: the paper's length (4 alternating epochs, 16 passes for Base), against the
        # encoder default of a quarter of it (`datasets.ENCODER_EPOCHS`), chosen on these rows.
        Ablation("minilm-base-16ep", "base", dict(encoder="minilm", epochs=16), "encoder",
                 "Base over frozen MiniLM, the paper's 16 passes over E1"),
        Ablation("minilm-sp-4ep", "sp", dict(encoder="minilm", epochs=4), "encoder",
                 "SP over frozen MiniLM, the paper's 4 epochs"),
        # How the paper's BiLSTMs map onto one transformer: a position-wise layer per path instead.
        Ablation("minilm-base-dense", "base", dict(encoder="minilm", path_layer="dense"), "encoder",
                 "Base over frozen MiniLM, a dense layer in place of the BiLSTM"),
        Ablation("minilm-sp-dense", "sp", dict(encoder="minilm", path_layer="dense"), "encoder",
                 "SP over frozen MiniLM, dense path layers"),
        Ablation("minilm-datn2-dense", "datn2", dict(encoder="minilm", similarity="mean", path_layer="dense"),
                 "encoder", "DATN-2 (mean) over frozen MiniLM, dense path layers"),
        # Fine-tuning: MiniLM's top layer trained too, at --encoder_learning_rate (its lower layers'
        # states are cached, so a step costs one transformer layer more).
        Ablation("minilm-base-top1", "base", dict(encoder="minilm", encoder_trainable_layers=1), "encoder",
                 "Base over MiniLM, its top layer fine-tuned"),
        Ablation("minilm-datn2-top1", "datn2", dict(encoder="minilm", similarity="mean", encoder_trainable_layers=1),
                 "encoder", "DATN-2 (mean) over MiniLM, its top layer fine-tuned"),
        # E2 (Ren-CECps): where E starts, measured with Base
        Ablation("e2-base-random", "base", dict(embedding_init="random"), "e2-init",
                 "Base, E from U(-0.1, 0.1)", "ren_cecps"),
        Ablation("e2-base-word2vec", "base", dict(embedding_init="word2vec"), "e2-init",
                 "Base, E from word2vec trained on E2 train + S2 (datn_tf/word2vec.py)", "ren_cecps"),
        # E2 with the defaults chosen on E1 dev (and E2's word2vec start)
        Ablation("e2-base", "base", {}, "e2", "Base, defaults", "ren_cecps", None),
        Ablation("e2-sp", "sp", {}, "e2", "SP, defaults", "ren_cecps", None),
        Ablation("e2-datn2", "datn2", {}, "e2", "DATN-2, defaults", "ren_cecps", None),
    )
}
STAGES = ("reference", "similarity", "head", "length", "other", "embeddings", "e2-init", "e2", "confirm",
          "encoder")
# The configurations kept from the screens, compared at 5 seeds (`--stage confirm --seeds 5`):
# the similarity forms that work, and each with the released dropout, with Base and SP beside them.
CONFIRM = ("base", "sp", "datn2-mean", "datn2-released-sim",
           "base-dropout", "sp-dropout", "datn2-released-sim-dropout")
# Stages whose summary table is also written into docs/reproducing.md (`--readme`, between markers).
README_STAGES = {"ren_cecps": ("e2",)}
# The configuration each dataset's McNemar tests compare against: the first with runs (the
# table's title is the dataset's registry entry's `dev_title`).
REFERENCE = {"ren_cecps": ("e2-base", "e2-base-random")}
DEFAULT_REFERENCE = ("base",)


@dataclasses.dataclass(frozen=True)
class AblateConfig(grid.GridConfig):
    """ablate's settings; every training flag also reaches each run (a configuration's overrides win)."""

    stage: str | None = setting(None, f"Run every configuration of one stage: {', '.join(STAGES)}.")
    configs: str | None = setting(None, "Configurations to run, separated by commas (see CONFIGS in this file).")
    seeds: int = setting(3, "Seeds per configuration (0 .. seeds-1): 3 to screen, 5 to compare.", minimum=1)


def selected(stage, names):
    if names:
        chosen = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in chosen if n not in CONFIGS]
        if unknown:
            raise UserError(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
        return [CONFIGS[n] for n in chosen]
    if stage:
        if stage not in STAGES:
            raise UserError(f"--stage must be one of {', '.join(STAGES)}")
        if stage == "confirm":
            return [CONFIGS[n] for n in CONFIRM]
        return [a for a in CONFIGS.values() if a.stage == stage]
    raise UserError("give --stage, --configs or --table_only")


def attention_health(model, token_ids, batch_size=256):
    """Dev means of max_j alpha_t,j, max_j alpha_s,j and cos(alpha_s, alpha_t) (None without alpha_t)."""
    if model.target_attention is None:
        return {"mean_max_alpha_t": None, "mean_cos_alpha_s_alpha_t": None, "mean_max_alpha_s": None}
    max_t, max_s, cos = [], [], []
    for _, batch in input_pipeline.eval_batches(token_ids, batch_size):
        out = model(tf.constant(batch), training=False)
        max_t.append(tf.reduce_max(out["alpha_t"], axis=1).numpy())
        max_s.append(tf.reduce_max(out["alpha_s"], axis=1).numpy())
        cos.append(losses.attention_cosine_similarity(out["alpha_s"], out["alpha_t"]).numpy())
    return {"mean_max_alpha_t": float(np.mean(np.concatenate(max_t))),
            "mean_max_alpha_s": float(np.mean(np.concatenate(max_s))),
            "mean_cos_alpha_s_alpha_t": float(np.mean(np.concatenate(cos)))}


class AblationGrid(grid.Grid):
    """ablate's records: `<dataset>/ablations/<run>.json`, the configuration, its dev metrics and
    attention health, and the dev probabilities (float16)."""

    tag = "[ablate]"

    def read_record(self, records_dir, name, settling=False):
        """Checked as the table reads it (`records.ABLATE_KEYS`; `settling`: with the settings to
        compare), and as the run its name says (configuration, seed, the configuration's variant)."""
        records_dir = Path(records_dir)
        path = run_dir_lib.record_path(records_dir, name)
        config, seed, _ = run_dir_lib.parse_run_name(name) or (name, 0, None)
        command = f"python -m experiments.ablate --configs {config} --seeds {seed + 1}"
        folder = run_dir_lib.grid_run_folder(records_dir.parent, name, ablation=True)
        remedy = (f"run `{command}` (same settings and --results_dir): it rewrites it from its finished run folder "
                  f"{folder}" if run_dir_lib.is_finished(folder) else
                  f"delete it and run `{command}` (same settings and --results_dir) to train that run again")
        keys = (*records.ABLATE_KEYS, "train_config") if settling else records.ABLATE_KEYS
        payload = records.read(path, keys, remedy)
        if payload is None:
            return None
        records.check_identity(path, name, (payload["config"], payload["seed"], None))
        if payload["config"] in CONFIGS and payload["variant"] != CONFIGS[payload["config"]].variant:
            raise records.RecordError(f"{path} holds a {payload['variant']} run, but {payload['config']} is "
                                      f"{CONFIGS[payload['config']].variant}: delete it and run `{command}`")
        return payload

    def write_record(self, job, folder, data=None):
        """Scores the finished run's best weights (attention health on dev) and records it with its
        dev probabilities."""
        ablation = Ablation(**job.extra)
        data = data or launch.data_cache().prepare(job.config)
        _, _, model = run_weights.load_run(folder)
        health = attention_health(model, data.ids["dev"])
        probs = np.load(run_dir_lib.probabilities_path(folder, "dev")).astype(np.float16)
        result = run_dir_lib.read_metrics(folder)
        payload = {"config": ablation.name, "about": ablation.about, "stage": ablation.stage,
                   "dataset": ablation.dataset, "overrides": ablation.overrides,
                   "train_config": dataclasses.asdict(job.config),
                   **{k: result[k] for k in ("variant", "seed", "threshold", "best_step", "steps", "wall_seconds")},
                   "dev": result["dev"], "test_evaluated": result["test_evaluated"], **health}
        grid.write_record(job.results, job.name, payload, {"dev": probs})
        print(f"[ablate] {job.name}: dev jaccard {result['dev']['jaccard']:.4f} (best step {result['best_step']} "
              f"of {result['steps']}); max alpha_t {health['mean_max_alpha_t']}; "
              f"cos {health['mean_cos_alpha_s_alpha_t']}", flush=True)

    def other_settings_remedy(self, job, in_record):
        what = "delete the file to run it again" if in_record else "delete that folder to train it again"
        return f"pin them in CONFIGS (experiments/ablate.py) for {job.extra['name']}, or {what}"

    def describe(self, job):
        return job.extra["about"]


GRID = AblationGrid(__spec__.name if __spec__ else __name__)
# What a job's process calls (`launch.execute`).
run_job, is_done = GRID.run_job, GRID.is_done


def jobs(ablations, seeds, records_dir):
    """The grid's jobs (seed by seed), each with the settings its configuration resolves to:
    defaults < its preset < the command's flags < its overrides."""
    given = config_lib.given_flags()
    pairs = [(a, s) for s in range(seeds) for a in ablations]
    jobs_ = []
    for i, (ablation, seed) in enumerate(pairs):
        name = run_dir_lib.run_name(ablation.name, seed)
        settings = {"preset": ablation.preset, **given, **ablation.overrides, "dataset": ablation.dataset,
                    "variant": ablation.variant, "seed": seed,
                    "output_dir": str(run_dir_lib.grid_run_folder(Path(records_dir).parent, name, ablation=True))}
        jobs_.append(GRID.job(name, settings, records_dir, label=f"{i + 1}/{len(pairs)} {name}",
                              extra=dataclasses.asdict(ablation)))
    return jobs_


@dataclasses.dataclass
class Row:
    """One configuration's figures over its seeds."""

    name: str
    runs: list  # its records, by seed
    ensemble_jaccard: float  # of the seeds' mean probabilities, gamma tuned on dev
    p_value: str  # McNemar of that ensemble against the reference's of the same seeds


@dataclasses.dataclass
class AblationTable:
    dataset: str
    reference: str  # the configuration McNemar compares against
    rows: list  # `Row`s, in the order of CONFIGS


def ablation_table(dataset, records_dir, data_dir, files=None):
    """The rows of ablations.md from the records and their dev probabilities (nothing typed in);
    None without records. `files`: the --dataset=files settings (its dev gold)."""
    payloads = {}
    for record in grid.read_records(records_dir, GRID.read_record).values():
        payloads.setdefault(record["config"], []).append(record)
    if not payloads:
        return None
    gold = datasets.load_task(dataset, data_dir, files=files).dev.labels
    candidates = REFERENCE.get(dataset, DEFAULT_REFERENCE)
    reference = next((r for r in candidates if r in payloads), candidates[0])

    def ensemble(config, seeds=None):
        """(dev Jaccard, dev labels) of the ensemble of `config`'s runs of `seeds` (all when None)."""
        runs = sorted(payloads[config], key=lambda p: p["seed"])
        seeds = [p["seed"] for p in runs] if seeds is None else seeds
        probs = []
        for seed in seeds:
            name = run_dir_lib.run_name(config, seed)
            probs.append(grid.recorded_probabilities(records_dir, name, "dev"))
            if probs[-1] is None:
                raise records.RecordError(
                    f"{run_dir_lib.recorded_probabilities_path(records_dir, name, 'dev')} is missing: the record "
                    f"{run_dir_lib.record_path(records_dir, name)} is not whole; delete it and run "
                    f"`python -m experiments.ablate --configs {config} --seeds {seed + 1}` (same settings and "
                    "--results_dir)")
        result, labels = grid.ensemble({"dev": probs}, {"dev": gold})
        return result["dev"]["jaccard"], labels["dev"]

    order = [n for n in CONFIGS if n in payloads] + sorted(n for n in payloads if n not in CONFIGS)
    base_seeds = {p["seed"] for p in payloads.get(reference, [])}
    rows = []
    for name in order:
        runs = sorted(payloads[name], key=lambda p: p["seed"])
        ens_jaccard, pred = ensemble(name)
        p_value = tables.MISSING
        seeds = [p["seed"] for p in runs]
        if base_seeds and name != reference:
            # Against Base's ensemble of the same seeds, so that both average as many runs.
            if set(seeds) <= base_seeds:
                p_value = f"{grid.mcnemar_p(gold, pred, ensemble(reference, seeds)[1]):.3f}"
            else:
                p_value = f"(Base lacks seed {min(set(seeds) - base_seeds)})"
        rows.append(Row(name, runs, ens_jaccard, p_value))
    return AblationTable(dataset, reference, rows)


def render(table):
    """ablations.md's text."""
    columns = tables.metric_columns(datasets.get(table.dataset).ranking_metrics)
    lines = [
        f"# Ablations on {datasets.get(table.dataset).dev_title}",
        "",
        "Each configuration is a variant with settings changed from `--preset=paper` (the paper's "
        "reading; the `e2` stage: from the defaults) (`experiments/ablate.py`, `CONFIGS`). Figures are "
        "mean ± std over seeds; the best step is chosen on dev and gamma is tuned on dev, so these are "
        "dev figures and optimistic. "
        "max α_t / max α_s: dev mean of the largest attention weight of a sentence (1.0: all on one "
        "token); cos: dev mean of cos(α_s, α_t). Ensemble: mean probabilities of all seeds, gamma "
        "tuned on dev; McNemar (exact label set as one label) of that ensemble against Base's "
        f"ensemble of the same seeds (`{table.reference}`).",
    ]
    cells = []
    for row in table.rows:
        runs = row.runs
        best = f"{statistics.mean(p['best_step'] for p in runs):.0f} / {runs[0]['steps']}"
        last = sum(p["best_step"] == p["steps"] for p in runs)
        if last:
            best += f" ({last} at the end)"
        cells.append([row.name, runs[0]["variant"], len(runs), *tables.metric_cells(columns, [p["dev"] for p in runs]),
                      best, tables.mean_std([p["mean_max_alpha_t"] for p in runs], 2),
                      tables.mean_std([p.get("mean_max_alpha_s") for p in runs], 2),
                      tables.mean_std([p["mean_cos_alpha_s_alpha_t"] for p in runs], 2), f"{row.ensemble_jaccard:.3f}",
                      row.p_value, f"{statistics.mean(p['wall_seconds'] for p in runs) / 60:.1f} min"])
    lines += ["", *tables.markdown_table(
        ["configuration", "variant", "seeds", *(c.heading for c in columns), "best step / steps", "max α_t",
         "max α_s", "cos(α_s, α_t)", "ensemble Jaccard", "McNemar p vs Base", "wall / run"], cells)]
    lines += ["", "Settings of each configuration (changes from the paper preset, or from the defaults):", ""]
    for row in table.rows:
        p = row.runs[0]
        changes = ", ".join(f"{k}={v}" for k, v in p["overrides"].items()) or "none"
        start = "defaults" if row.name in CONFIGS and CONFIGS[row.name].preset is None else "paper"
        about = CONFIGS[row.name].about if row.name in CONFIGS else p["about"]
        lines.append(f"- `{row.name}`: {about} ({start}: {changes})")
    lines += ["", f"Generated by `python -m experiments.ablate --table_only` on {time.strftime('%Y-%m-%d')}."]
    return "\n".join(lines) + "\n"


def render_stage(table, stage):
    """A stage's rows as a short table for docs/reproducing.md, the paper's test figures in
    brackets; None when the stage has no rows."""
    columns = tables.metric_columns(datasets.get(table.dataset).ranking_metrics)
    cells = []
    for row in table.rows:
        if row.name not in CONFIGS or CONFIGS[row.name].stage != stage:
            continue
        variant = row.runs[0]["variant"]
        refs = (datasets.get(table.dataset).table3 or {}).get(variant, {})
        cells.append([variants_lib.get_variant(variant).title, len(row.runs),
                      *tables.metric_cells(columns, [p["dev"] for p in row.runs], refs),
                      f"{row.ensemble_jaccard:.3f}", row.p_value])
    if not cells:
        return None
    lines = tables.markdown_table(["system", "seeds", *(c.heading for c in columns), "ensemble Jaccard",
                                   "McNemar p vs Base"], cells)
    lines += ["", f"Dev figures (mean ± std over seeds; ensemble: the seeds' mean probabilities; McNemar against "
              f"`{table.reference}`'s ensemble); in brackets the paper's Table 3 (test set, ten runs). Generated by "
              f"`python -m experiments.ablate --table_only` from `experiments/results/{table.dataset}/ablations/` "
              f"(the `{stage}` stage) on {time.strftime('%Y-%m-%d')}."]
    return "\n".join(lines)


def build_table(dataset, records_dir, data_dir, readme=None, files=None):
    """Writes <dataset>/ablations.md from the records (`ablation_table`, `render`), and the
    summaries of `README_STAGES` into `readme`'s generated blocks; returns its text, or None
    without records."""
    table = ablation_table(dataset, records_dir, data_dir, files)
    if table is None:
        return None
    text = render(table)
    io_utils.write_text(Path(records_dir).parent / "ablations.md", text)
    for stage in README_STAGES.get(dataset, ()) if readme is not None else ():
        summary = render_stage(table, stage)
        if summary is not None:
            io_utils.update_generated_block(readme, f"ablate:{stage}", summary)
    return text


def main(argv):
    with cli.user_errors(argv, prefix="[ablate] "):
        settings = config_lib.from_flags(config_class=AblateConfig).validate()
        given = config_lib.given_flags()
        command = config_lib.from_flags()  # the training flags (--dataset=files: its files)
        # --table_only: every dataset's; else the datasets run
        names = tuple(n for n, d in datasets.REGISTRY.items() if d.reads_data_dir)
        # --dataset names data found in flags of its own (your own files): every configuration runs on it.
        own = command.dataset if "dataset" in given and not datasets.get(command.dataset).reads_data_dir else None
        if own:
            names = (own,)
        cli.check_outputs({"--results_dir": settings.results_dir, "--readme": settings.readme},
                          inputs={"--data_dir": command.data_dir, "--embeddings": command.embeddings})

        def records_dir(dataset):
            return run_dir_lib.ablation_records_dir(Path(settings.results_dir) / dataset)

        if not settings.table_only:
            ablations = selected(settings.stage, settings.configs)
            if "dataset" in given and not own:
                raise UserError("--dataset is set by each configuration (e2-* run on Ren-CECps); leave it out "
                                "(or give --dataset=files: every configuration then runs on your files)")
            if own:
                ablations = [dataclasses.replace(a, dataset=own) for a in ablations]
            runtime.configure_threads_from_flags()
            runtime.quiet_logging()
            start = time.time()
            names = tuple(dict.fromkeys(a.dataset for a in ablations))  # in the order selected
            waited = True
            for dataset in names:
                records_dir(dataset).mkdir(parents=True, exist_ok=True)
                grid_jobs = jobs([a for a in ablations if a.dataset == dataset], settings.seeds, records_dir(dataset))
                waited &= GRID.run_all(grid_jobs, settings, Path(settings.results_dir) / dataset / run_dir_lib.RUNS_DIR)
            if not waited:
                return  # --no_wait: the tables once the job arrays have finished (--table_only)
            print(f"[ablate] finished in {(time.time() - start) / 60:.1f} min", flush=True)
        # Only datasets with finished runs: a missing Ren-CECps folder cannot stop the E1 table.
        readme = experiments.readme_to_update(settings.readme, settings.results_dir, experiments.REPRODUCING_PAGE)
        texts = [build_table(d, records_dir(d), command.data_dir, readme, command) for d in sorted(names)
                 if any(records_dir(d).glob("*.json"))]
    print("\n".join(t for t in texts if t) or "no finished runs")


if __name__ == "__main__":
    grid.define_flags(AblateConfig)
    cli.run(main)
