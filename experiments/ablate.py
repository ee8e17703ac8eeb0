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
continues where it stopped.

Configurations run on E1 (SemEval) unless they name a dataset (`e2-*`: Ren-CECps, S2 -> E2);
with `--dataset=files` (and its file flags, docs/own-data.md) every chosen one runs on your files.
Per run it writes `<results>/<dataset>/ablations/<config>-seed<k>.json` (dev metrics, best
step, the attention-health figures, the resolved settings) and the dev probabilities
(`probs/<config>-seed<k>.npy`, float16) for ensembles and McNemar; the table
`<results>/<dataset>/ablations.md` is generated from those files only.
"""

import dataclasses
import statistics
import time
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import experiments  # noqa: E402
from datn_tf import cli  # noqa: E402
from datn_tf import train as train_cli  # noqa: E402  (registers the training flags)
from experiments import launch, records  # noqa: E402

FLAGS = flags.FLAGS


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
        # Beyond the paper: all-MiniLM-L6-v2 in E's place (`make minilm`, docs/encoders.md), from the
        # defaults of the day. The first three are the README table's runs (`make reproduce-minilm`).
        Ablation("minilm-base", "base", dict(encoder="minilm"), "encoder", "Base over frozen MiniLM", preset=None),
        Ablation("minilm-sp", "sp", dict(encoder="minilm"), "encoder", "SP over frozen MiniLM", preset=None),
        Ablation("minilm-datn2", "datn2", dict(encoder="minilm"), "encoder", "DATN-2 over frozen MiniLM",
                 preset=None),
        # How the paper's BiLSTMs map onto one transformer: a position-wise layer per path instead.
        Ablation("minilm-base-dense", "base", dict(encoder="minilm", path_layer="dense"), "encoder",
                 "Base over frozen MiniLM, a dense layer in place of the BiLSTM", preset=None),
        Ablation("minilm-sp-dense", "sp", dict(encoder="minilm", path_layer="dense"), "encoder",
                 "SP over frozen MiniLM, dense path layers", preset=None),
        Ablation("minilm-datn2-dense", "datn2", dict(encoder="minilm", path_layer="dense"), "encoder",
                 "DATN-2 over frozen MiniLM, dense path layers", preset=None),
        Ablation("minilm-datn2-len64", "datn2", dict(encoder="minilm", max_length=64), "encoder",
                 "DATN-2 over frozen MiniLM, 64 wordpieces", preset=None),
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

flags.DEFINE_string("stage", None, f"Run every configuration of one stage: {', '.join(STAGES)}.")
flags.DEFINE_string("configs", None, "Configurations to run, separated by commas (see CONFIGS in this file).")
flags.DEFINE_integer("seeds", 3, "Seeds per configuration (0 .. seeds-1): 3 to screen, 5 to compare.")
# (once: the tests import both drivers, which define these three each with its own help)
launch.define_once(flags.DEFINE_string, "results_dir", experiments.DEFAULT_RESULTS_DIR,
                   "Where <dataset>/ablations/ and <dataset>/ablations.md are written.")
launch.define_once(flags.DEFINE_bool, "table_only", False, "Only rebuild ablations.md from the per-run JSON.")
launch.define_once(flags.DEFINE_string, "readme", None, "A Markdown file whose generated blocks "
                   "(`<!-- ablate:STAGE -->` ... `<!-- /ablate:STAGE -->`) get the table; files without them are "
                   f"left alone. Default: {experiments.REPRODUCING_PAGE} when --results_dir is the default, else none.")
launch.define_flags()

def selected(stage, names):
    if names:
        chosen = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in chosen if n not in CONFIGS]
        if unknown:
            raise ValueError(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
        return [CONFIGS[n] for n in chosen]
    if stage:
        if stage not in STAGES:
            raise ValueError(f"--stage must be one of {', '.join(STAGES)}")
        if stage == "confirm":
            return [CONFIGS[n] for n in CONFIRM]
        return [a for a in CONFIGS.values() if a.stage == stage]
    raise ValueError("give --stage, --configs or --table_only")


def attention_health(model, token_ids, batch_size=256):
    """Dev means of max_j alpha_t,j, max_j alpha_s,j and cos(alpha_s, alpha_t) (None without alpha_t)."""
    import tensorflow as tf

    from datn_tf import input_pipeline, losses

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


def _ablation(job):
    return Ablation(**job.extra)


def run_folder(out_dir, name):
    """The run folder of the per-run JSON `name` of `out_dir` (beside reproduce's runs)."""
    return out_dir.parent / "runs" / f"ablate-{name}"


def read_record(path, keys=records.ABLATE_KEYS):
    """The per-run JSON at `path` (None when absent), checked: it parses, holds every key of
    `keys` (the table's), and is the run its name says (configuration, seed, the configuration's
    variant).

    Raises:
        records.RecordError: naming the file and the command that rewrites it.
    """
    from datn_tf import run_dir as run_dir_lib

    config, seed, _ = run_dir_lib.parse_run_name(path.stem) or (path.stem, 0, None)
    command = f"python -m experiments.ablate --configs {config} --seeds {seed + 1}"
    folder = run_folder(path.parent, path.stem)
    remedy = (f"run `{command}` (same settings and --results_dir): it rewrites it from its finished run folder "
              f"{folder}" if run_dir_lib.is_finished(folder) else
              f"delete it and run `{command}` (same settings and --results_dir) to train that run again")
    payload = records.read(path, keys, remedy)
    if payload is None:
        return None
    records.check_identity(path, path.stem, (payload["config"], payload["seed"], None))
    if payload["config"] in CONFIGS and payload["variant"] != CONFIGS[payload["config"]].variant:
        raise records.RecordError(f"{path} holds a {payload['variant']} run, but {payload['config']} is "
                                  f"{CONFIGS[payload['config']].variant}: delete it and run `{command}`")
    return payload


def _json_path(job):
    return Path(job.results) / f"{job.name}.json"


def _run_dir(job):
    return Path(job.config.output_dir)


def resolve(ablations, seeds, out_dir):
    """The grid's jobs (seed by seed), each with the settings its configuration resolves to:
    defaults < its preset < the command's flags < its overrides."""
    from datn_tf import config as config_lib
    from datn_tf import run_dir as run_dir_lib

    given = config_lib.given_flags()
    pairs = [(a, s) for s in range(seeds) for a in ablations]
    jobs = []
    for i, (ablation, seed) in enumerate(pairs):
        name = run_dir_lib.run_name(ablation.name, seed)
        settings = {"preset": ablation.preset, **given, **ablation.overrides, "dataset": ablation.dataset,
                    "variant": ablation.variant, "seed": seed,
                    "output_dir": str(run_folder(out_dir, name))}
        jobs.append(launch.Job(driver=__spec__.name if __spec__ else __name__, name=name,
                               label=f"{i + 1}/{len(pairs)} {name}", config=config_lib.resolve(settings).validate(),
                               results=str(out_dir), extra=dataclasses.asdict(ablation)))
    return jobs


def is_recorded(job):
    """Whether the run's JSON is written; a ValueError when it was run with other settings, or
    is damaged and its run folder not finished (a finished one rewrites it: False)."""
    from datn_tf import run_dir as run_dir_lib

    path = _json_path(job)
    try:
        record = read_record(path, (*records.ABLATE_KEYS, "train_config"))  # the settings to compare
    except records.RecordError as e:
        if not run_dir_lib.is_finished(_run_dir(job)):
            raise
        print(f"[ablate] {str(e).split(';')[0]}; rewritten from its finished run folder {_run_dir(job)}", flush=True)
        return False
    if record is None:
        return False
    changed = run_dir_lib.changed_settings(record["train_config"], job.config)
    if changed:
        raise ValueError(
            f"{path} was run with other settings than {job.extra['name']} now resolves to ("
            f"{run_dir_lib.describe_changes(changed)}). Pin them in CONFIGS (experiments/ablate.py) "
            "or delete the file to run it again.")
    return True


def link_twin(job):
    """A finished twin of the run (the same variant, seed and settings: e.g. `reproduce`'s run
    with the defaults), linked at its folder, or None."""
    from datn_tf import run_dir as run_dir_lib

    out = _run_dir(job)
    twin = run_dir_lib.link_finished_twin(out, job.config, run_dir_lib.finished_runs(out.parent))
    if twin is not None:
        print(f"[ablate] {job.label}: the finished run {twin} has the same settings; linked", flush=True)
    return twin


def train(job, data, before_training=None):
    """Trains the run (resuming from its checkpoint); its metrics."""
    import keras

    if before_training is not None:
        before_training()
    print(f"[ablate] {job.label}: {_ablation(job).about} -> {_run_dir(job)}", flush=True)
    keras.backend.clear_session()
    return train_cli.run(job.config, data)


def score(job, data):
    """(attention health on dev, dev probabilities) of the finished run's best weights."""
    from datn_tf import run_dir as run_dir_lib

    _, _, model = run_dir_lib.load_run(_run_dir(job))
    health = attention_health(model, data.ids["dev"])
    return health, np.load(run_dir_lib.probabilities_path(_run_dir(job), "dev"))


def write(job, result, health, probs):
    """The run's dev probabilities (float16) and its JSON, last: a run is recorded whole or not at all."""
    from datn_tf import io_utils

    ablation = _ablation(job)
    io_utils.save_npy(Path(job.results) / "probs" / f"{job.name}.npy", probs.astype(np.float16))
    payload = {"config": ablation.name, "about": ablation.about, "stage": ablation.stage,
               "dataset": ablation.dataset,
               "overrides": ablation.overrides, "train_config": dataclasses.asdict(job.config),
               **{k: result[k] for k in ("variant", "seed", "threshold", "best_step", "steps", "wall_seconds")},
               "dev": result["dev"], "test_evaluated": result["test_evaluated"], **health}
    io_utils.write_json(_json_path(job), payload)
    print(f"[ablate] {job.name}: dev jaccard {result['dev']['jaccard']:.4f} (best step {result['best_step']} "
          f"of {result['steps']}); max alpha_t {health['mean_max_alpha_t']}; "
          f"cos {health['mean_cos_alpha_s_alpha_t']}", flush=True)


def run_job(job, before_training=None):
    """One run: linked to a finished twin or trained (under its folder's lock), scored, written.
    A run someone else holds is left to them ({"status": "locked"})."""
    from datn_tf import run_dir as run_dir_lib

    if is_recorded(job):
        print(f"[ablate] {job.label}: finished, skipped", flush=True)
        return {"status": "done"}
    data = launch.data_cache().prepare(job.config)
    if link_twin(job) is not None:
        write(job, run_dir_lib.read_metrics(_run_dir(job)), *score(job, data))
        return {"status": "done"}
    try:
        lock = run_dir_lib.RunLock(_run_dir(job)).acquire()
    except run_dir_lib.RunLocked as e:
        print(f"[ablate] {job.label}: being trained by {run_dir_lib.describe_holder(e.holder)}; left to it",
              flush=True)
        return {"status": "locked"}
    try:
        if is_recorded(job):  # by the lock's previous holder
            print(f"[ablate] {job.label}: finished, skipped", flush=True)
            return {"status": "done"}
        started = time.time()
        result = train(job, data, before_training)
        wall = time.time() - started
        write(job, result, *score(job, data))
        return {"status": "trained", "wall_seconds": wall}
    finally:
        lock.release()


def run_all(ablations, seeds, out_dir, options=None):
    """Runs the grid's unrecorded runs with `options`' launcher; False when it returned without
    waiting for them (--no_wait)."""
    pending = []
    for job in resolve(ablations, seeds, out_dir):
        if is_recorded(job):
            print(f"[ablate] {job.label}: finished, skipped", flush=True)
        else:
            pending.append(job)
    # The ETA counts only the runs without a JSON when the command started: a resumed stage
    # skips its finished rows in no time.
    return launch.run_jobs(pending, run_job, is_recorded, options, "[ablate]", out_dir.parent / "runs" / "submitit")


def build_table(out_dir, data_dir, dataset="semeval", readme=None, files=None):
    """<dataset>/ablations.md from the per-run JSON and dev probabilities (nothing typed in);
    `readme`: a Markdown file whose generated blocks get the summaries of `README_STAGES`;
    `files`: the --dataset=files settings (its dev gold)."""
    from datn_tf import io_utils, metrics, tables
    from datn_tf import run_dir as run_dir_lib
    from datn_tf.data import datasets

    payloads = {}
    for path in sorted(out_dir.glob("*.json")):
        p = read_record(path)
        payloads.setdefault(p["config"], []).append(p)
    if not payloads:
        return None
    gold = datasets.load_task(dataset, data_dir, files=files).dev.labels
    candidates = REFERENCE.get(dataset, DEFAULT_REFERENCE)
    reference = next((r for r in candidates if r in payloads), candidates[0])

    def ensemble(config, seeds=None):
        runs = sorted(payloads[config], key=lambda p: p["seed"])
        seeds = [p["seed"] for p in runs] if seeds is None else seeds
        probs = [np.load(out_dir / "probs" / f"{run_dir_lib.run_name(config, s)}.npy").astype(np.float32)
                 for s in seeds]
        mean = metrics.ensemble_probabilities(probs)
        gamma, _ = metrics.tune_threshold(gold, mean)
        return metrics.predict_labels(mean, gamma)

    order = [n for n in CONFIGS if n in payloads] + sorted(n for n in payloads if n not in CONFIGS)
    ensemble_jaccard, p_values = {}, {}
    base_seeds = {p["seed"] for p in payloads.get(reference, [])}
    columns = tables.metric_columns(dataset)
    lines = [
        f"# Ablations on {datasets.get(dataset).dev_title}",
        "",
        "Each configuration is a variant with settings changed from `--preset=paper` (the paper's "
        "reading; the `e2` stage: from the defaults) (`experiments/ablate.py`, `CONFIGS`). Figures are "
        "mean ± std over seeds; the best step is chosen on dev and gamma is tuned on dev, so these are "
        "dev figures and optimistic. "
        "max α_t / max α_s: dev mean of the largest attention weight of a sentence (1.0: all on one "
        "token); cos: dev mean of cos(α_s, α_t). Ensemble: mean probabilities of all seeds, gamma "
        "tuned on dev; McNemar (exact label set as one label) of that ensemble against Base's "
        f"ensemble of the same seeds (`{reference}`).",
    ]
    rows = []
    for name in order:
        runs = sorted(payloads[name], key=lambda p: p["seed"])
        best = f"{statistics.mean(p['best_step'] for p in runs):.0f} / {runs[0]['steps']}"
        last = sum(p["best_step"] == p["steps"] for p in runs)
        if last:
            best += f" ({last} at the end)"
        pred = ensemble(name)
        ens_jaccard = metrics.emotion_metrics(gold, pred)["jaccard"]
        p_value = tables.MISSING
        seeds = [p["seed"] for p in runs]
        if base_seeds and name != reference:
            # Against Base's ensemble of the same seeds, so that both average as many runs.
            if set(seeds) <= base_seeds:
                p_value = f"{metrics.mcnemar(gold, pred, ensemble(reference, seeds))['p_value']:.3f}"
            else:
                p_value = f"(Base lacks seed {min(set(seeds) - base_seeds)})"
        ensemble_jaccard[name], p_values[name] = ens_jaccard, p_value
        rows.append([name, runs[0]["variant"], len(runs),
                     *tables.metric_cells(columns, [p["dev"] for p in runs]),
                     best, tables.mean_std([p["mean_max_alpha_t"] for p in runs], 2),
                     tables.mean_std([p.get("mean_max_alpha_s") for p in runs], 2),
                     tables.mean_std([p["mean_cos_alpha_s_alpha_t"] for p in runs], 2), f"{ens_jaccard:.3f}",
                     p_value, f"{statistics.mean(p['wall_seconds'] for p in runs) / 60:.1f} min"])
    lines += ["", *tables.markdown_table(
        ["configuration", "variant", "seeds", *(c.heading for c in columns), "best step / steps", "max α_t",
         "max α_s", "cos(α_s, α_t)", "ensemble Jaccard", "McNemar p vs Base", "wall / run"], rows)]
    lines += ["", "Settings of each configuration (changes from the paper preset, or from the defaults):", ""]
    for name in order:
        p = payloads[name][0]
        changes = ", ".join(f"{k}={v}" for k, v in p["overrides"].items()) or "none"
        start = "defaults" if name in CONFIGS and CONFIGS[name].preset is None else "paper"
        about = CONFIGS[name].about if name in CONFIGS else p["about"]
        lines.append(f"- `{name}`: {about} ({start}: {changes})")
    lines += ["", f"Generated by `python -m experiments.ablate --table_only` on {time.strftime('%Y-%m-%d')}."]
    text = "\n".join(lines) + "\n"
    io_utils.write_text(out_dir.parent / "ablations.md", text)
    for stage in README_STAGES.get(dataset, ()) if readme is not None else ():
        names = [n for n in order if n in CONFIGS and CONFIGS[n].stage == stage]
        if names:
            summary = stage_summary(dataset, stage, {n: payloads[n] for n in names}, ensemble_jaccard, p_values,
                                    reference)
            io_utils.update_generated_block(readme, f"ablate:{stage}", summary)
    return text


def stage_summary(dataset, stage, payloads, ensemble_jaccard, p_values, reference):
    """A stage's rows as a short table for docs/reproducing.md: the paper's test figures in brackets."""
    from datn_tf import paper, tables
    from datn_tf.variants import get_variant

    columns = tables.metric_columns(dataset)
    rows = []
    for name, runs in payloads.items():
        variant = runs[0]["variant"]
        refs = paper.TABLE3.get(dataset, {}).get(variant, {})
        cells = tables.metric_cells(columns, [p["dev"] for p in runs], refs)
        rows.append([get_variant(variant).title, len(runs), *cells, f"{ensemble_jaccard[name]:.3f}", p_values[name]])
    lines = tables.markdown_table(["system", "seeds", *(c.heading for c in columns), "ensemble Jaccard",
                                   "McNemar p vs Base"], rows)
    lines += ["", f"Dev figures (mean ± std over seeds; ensemble: the seeds' mean probabilities; McNemar against "
              f"`{reference}`'s ensemble); in brackets the paper's Table 3 (test set, ten runs). Generated by "
              f"`python -m experiments.ablate --table_only` from `experiments/results/{dataset}/ablations/` "
              f"(the `{stage}` stage) on {time.strftime('%Y-%m-%d')}."]
    return "\n".join(lines)


def results_dir(dataset):
    return Path(FLAGS.results_dir) / dataset / "ablations"


def main(argv):
    from datn_tf.data import datasets

    with train_cli.user_errors(argv, prefix="[ablate] "):
        # --table_only: every dataset's; else the datasets run
        tables = tuple(n for n, d in datasets.REGISTRY.items() if d.reads_data_dir)
        # --dataset names data found in flags of its own (your own files): every configuration runs on it.
        own = FLAGS.dataset if FLAGS["dataset"].present and not datasets.get(FLAGS.dataset).reads_data_dir else None
        if own:
            tables = (own,)
        cli.check_outputs({"--results_dir": FLAGS.results_dir, "--readme": FLAGS.readme},
                          inputs={"--data_dir": FLAGS.data_dir, "--embeddings": FLAGS.embeddings})
        if FLAGS.seeds < 1:
            raise ValueError("--seeds must be >= 1")
        if not FLAGS.table_only:
            ablations = selected(FLAGS.stage, FLAGS.configs)
            options = launch.options_from_flags()
            if FLAGS["dataset"].present and not own:
                raise ValueError("--dataset is set by each configuration (e2-* run on Ren-CECps); leave it out "
                                 "(or give --dataset=files: every configuration then runs on your files)")
            if own:
                ablations = [dataclasses.replace(a, dataset=own) for a in ablations]
            train_cli.runtime.configure_threads_from_flags()
            train_cli.runtime.quiet_logging()
            start = time.time()
            tables = tuple(dict.fromkeys(a.dataset for a in ablations))  # in the order selected
            waited = True
            for dataset in tables:
                results_dir(dataset).mkdir(parents=True, exist_ok=True)
                waited &= run_all([a for a in ablations if a.dataset == dataset], FLAGS.seeds, results_dir(dataset),
                                  options)
            if not waited:
                return  # --no_wait: the tables once the job arrays have finished (--table_only)
            print(f"[ablate] finished in {(time.time() - start) / 60:.1f} min", flush=True)
        # Only datasets with finished runs: a missing Ren-CECps folder cannot stop the E1 table.
        readme = experiments.readme_to_update(FLAGS.readme, FLAGS.results_dir, experiments.REPRODUCING_PAGE)
        files = train_cli.config_lib.resolve(train_cli.config_lib.given_flags())  # --dataset=files: its files
        texts = [build_table(results_dir(d), FLAGS.data_dir, d, readme, files) for d in sorted(tables)
                 if any(results_dir(d).glob("*.json"))]
    print("\n".join(t for t in texts if t) or "no finished runs")


if __name__ == "__main__":
    cli.run(main)
