"""End to end: `make ablate` on generated fixture data, resumable, and the table from per-run JSON."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datn_tf import io_utils, metrics, testing
from datn_tf.data import datasets

REPO = Path(__file__).resolve().parents[1]
TINY = "--batch_size=8 --hidden_size=6 --attention_size=5 --mlp_hidden_units=7 --eval_every=3 --max_steps=3"


def _make(data_dir, results, configs, seeds=1, extra="", env=None):
    cmd = ["make", "-s", "-o", "install", "ablate", f"PYTHON={sys.executable}", f"DATA_DIR={data_dir}",
           f"CONFIGS={configs}", f"SEEDS={seeds}",
           # --readme: never the repository's README (the e2 stage writes a block into it)
           f"EXTRA=--results_dir={results} --readme={results}/README.md {TINY} {extra}"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_make_ablate_end_to_end_resumable_and_table(tmp_path):
    data_dir = testing.make_fixture_data_dir(tmp_path / "data")
    results = tmp_path / "results"
    proc = _make(data_dir, results, "base,datn2-released-sim", seeds=2)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [line.split(":")[0] for line in proc.stdout.splitlines() if "ETA for" in line] == [
        f"[ablate] ETA for the remaining {n}" for n in ("3 runs", "2 runs", "1 run")]
    out = results / "semeval" / "ablations"
    payload = io_utils.read_json(out / "datn2-released-sim-seed1.json")
    assert payload["variant"] == "datn2" and payload["seed"] == 1
    assert payload["train_config"]["similarity"] == "released"
    assert payload["train_config"]["task_loss_reduction"] == "sum"
    assert payload["train_config"]["max_steps"] == 3  # the flags given to the command apply to every run
    assert 0.0 < payload["mean_max_alpha_t"] <= 1.0 and -1.0 <= payload["mean_cos_alpha_s_alpha_t"] <= 1.0
    assert io_utils.read_json(out / "base-seed0.json")["mean_max_alpha_t"] is None

    # The table is computed from those files: mean Jaccard and the ensembles' McNemar.
    table = (results / "semeval" / "ablations.md").read_text()
    runs = [io_utils.read_json(out / f"datn2-released-sim-seed{s}.json")["dev"]["jaccard"] for s in (0, 1)]
    row = next(line for line in table.splitlines() if line.startswith("| datn2-released-sim |"))
    assert f"{np.mean(runs):.3f} ± {np.std(runs, ddof=1):.3f}" in row
    gold = datasets.load_task("semeval", str(data_dir)).dev.labels

    def ensemble(name):
        probs = metrics.ensemble_probabilities(
            [np.load(out / "probs" / f"{name}-seed{s}-dev.npy").astype(np.float32) for s in (0, 1)])
        return metrics.predict_labels(probs, metrics.tune_threshold(gold, probs)[0])

    p_value = metrics.mcnemar(gold, ensemble("datn2-released-sim"), ensemble("base"))["p_value"]
    assert f"| {p_value:.3f} |" in row

    # A second invocation skips the finished runs.
    again = _make(data_dir, results, "base,datn2-released-sim", seeds=2)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("finished, skipped") == 4

    # A per-run JSON cut short is named and rewritten from its finished run folder.
    damaged = out / "datn2-released-sim-seed0.json"
    whole = io_utils.read_json(damaged)
    damaged.write_text(damaged.read_text()[:60])
    again = _make(data_dir, results, "datn2-released-sim", seeds=1)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"[ablate] {damaged}: not a readable run record (JSONDecodeError: " in again.stdout
    assert f"; rewritten from its finished run folder {results / 'semeval' / 'runs'}" in again.stdout
    assert io_utils.read_json(damaged)["dev"] == whole["dev"]

    # A finished run elsewhere in runs/ with the same variant, seed and settings (as `reproduce`
    # leaves one) is linked and scored, not trained again.
    runs = results / "semeval" / "runs"
    before = io_utils.read_json(out / "base-seed0.json")
    (runs / "ablate-base-seed0").rename(runs / "base-seed0")
    (out / "base-seed0.json").unlink()
    linked = _make(data_dir, results, "base", seeds=1)
    assert linked.returncode == 0, linked.stderr[-3000:]
    assert "has the same settings; linked" in linked.stdout and "datn-tf | semeval" not in linked.stdout
    assert (runs / "ablate-base-seed0").is_symlink()
    after = io_utils.read_json(out / "base-seed0.json")
    assert after["dev"] == before["dev"] and after["best_step"] == before["best_step"]

    # A finished run whose settings differ from what its configuration resolves to now (the
    # defaults changed since) is refused, naming the setting, instead of joining the table.
    path = out / "base-seed1.json"
    payload = io_utils.read_json(path)
    payload["train_config"]["input_dropout"] = 0.3
    del payload["train_config"]["pretrained_vocab_size"]  # absent: the run had the default, not stale
    io_utils.write_json(path, payload)
    stale = _make(data_dir, results, "base", seeds=2)
    assert stale.returncode != 0
    assert f"{path} is a finished run with other settings (input_dropout: 0.3 then, 0.5 now); pin them in " \
        "CONFIGS (experiments/ablate.py) for base, or delete the file to run it again" in stale.stderr
    assert "pretrained_vocab_size" not in stale.stderr and "Traceback" not in stale.stderr


@pytest.mark.slow
def test_e2_configurations_write_their_own_table_with_ranking_metrics(tmp_path):
    pytest.importorskip("gensim")
    data_dir = testing.make_fixture_data_dir(tmp_path / "data")
    results = tmp_path / "results"
    env = {**os.environ, "DATN_TF_CACHE": str(tmp_path / "cache")}
    readme = results / "README.md"
    results.mkdir()
    readme.write_text("# E2\n\n<!-- ablate:e2 -->\nold table\n<!-- /ablate:e2 -->\n\nafter\n")
    proc = _make(data_dir, results, "e2-base-random,e2-base-word2vec,e2-base", extra="--embedding_dim=8", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    payload = io_utils.read_json(results / "ren_cecps" / "ablations" / "e2-base-word2vec-seed0.json")
    assert payload["train_config"]["dataset"] == "ren_cecps"
    assert payload["train_config"]["embedding_init"] == "word2vec"
    assert list((tmp_path / "cache" / "word2vec").glob("*-8d.txt"))
    table = (results / "ren_cecps" / "ablations.md").read_text()
    assert table.startswith("# Ablations on E2 dev")
    assert "| AP | one-error |" in table
    row = next(line for line in table.splitlines() if line.startswith("| e2-base-word2vec |"))
    assert f"{payload['dev']['average_precision']:.3f} ± 0.000" in row
    assert not (results / "semeval").exists()
    # The e2 stage's summary replaces the README's generated block, and nothing else.
    text = readme.read_text()
    assert text.startswith("# E2\n\n<!-- ablate:e2 -->\n| system | seeds | Jaccard |") and text.endswith(
        "<!-- /ablate:e2 -->\n\nafter\n")
    assert "old table" not in text and "e2-base-random" not in text
    e2_base = io_utils.read_json(results / "ren_cecps" / "ablations" / "e2-base-seed0.json")
    row = next(line for line in text.splitlines() if line.startswith("| Base |"))
    assert row.startswith(f"| Base | 1 | {e2_base['dev']['jaccard']:.3f} ± 0.000 [0.368] |")


@pytest.mark.slow
def test_ablate_rejects_unknown_configuration(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.ablate", "--configs=base,bogus", f"--results_dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "unknown configuration(s) bogus" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_confirm_stage_is_the_kept_configurations_and_rows_pin_the_paper_preset():
    from experiments import ablate

    assert [a.name for a in ablate.selected("confirm", None)] == list(ablate.CONFIRM)
    assert {"base", "sp"} <= set(ablate.CONFIRM)
    # E1 rows are changes from --preset=paper, so a later change of defaults cannot move them.
    assert all(a.preset == "paper" for a in ablate.CONFIGS.values() if a.dataset == "semeval")
    with pytest.raises(ValueError, match="--stage must be one of"):
        ablate.selected("bogus", None)


@pytest.mark.slow
def test_ablate_runs_its_grid_with_the_local_launcher(tmp_path):
    data_dir = testing.make_fixture_data_dir(tmp_path / "data")
    results = tmp_path / "results"
    proc = _make(data_dir, results, "base,datn2", extra="--launcher=local --max_parallel=2 --cpus_per_run=1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[ablate] local: 2 runs at once, 1 x 1 threads each" in proc.stdout
    assert "[ablate] runs: 2 done, 0 running, 0 pending of 2" in proc.stdout
    out = results / "semeval" / "ablations"
    for name in ("base-seed0", "datn2-seed0"):
        payload = io_utils.read_json(out / f"{name}.json")
        assert payload["config"] == name.split("-")[0] and payload["train_config"]["max_steps"] == 3
        assert proc.stdout.count(f"{name}: dev jaccard") == 1  # the job's own lines, echoed once
    assert "| datn2 |" in (results / "semeval" / "ablations.md").read_text()


def _record(out, name, config, variant, seed, gold):
    """A per-run JSON and its dev probabilities as an older `run_all` wrote them (seeded noise; the
    probabilities under their older name, `probs/<name>.npy`, still read)."""
    probs = np.random.default_rng(seed).uniform(size=gold.shape).astype(np.float32)
    io_utils.save_npy(out / "probs" / f"{name}.npy", probs.astype(np.float16))
    io_utils.write_json(out / f"{name}.json", {
        "config": config, "about": config, "stage": "reference", "dataset": "semeval", "overrides": {},
        "variant": variant, "seed": seed, "threshold": 0.5, "best_step": 3, "steps": 3, "wall_seconds": 60.0,
        "dev": metrics.emotion_metrics(gold, metrics.predict_labels(probs, 0.5)), "test_evaluated": False,
        "mean_max_alpha_t": None, "mean_max_alpha_s": None, "mean_cos_alpha_s_alpha_t": None})
    return out / f"{name}.json"


def _table_only(results, data_dir):
    return subprocess.run([sys.executable, "-m", "experiments.ablate", "--table_only", f"--results_dir={results}",
                           f"--data_dir={data_dir}", "--readme="], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_table_only_names_a_damaged_or_misplaced_record(data_dir, tmp_path):
    out = tmp_path / "semeval" / "ablations"
    gold = datasets.load_task("semeval", str(data_dir)).dev.labels
    _record(out, "base-seed0", "base", "base", 0, gold)
    path = _record(out, "sp-seed0", "sp", "sp", 0, gold)
    assert _table_only(tmp_path, data_dir).returncode == 0

    path.write_text(path.read_text()[:50])  # cut short
    proc = _table_only(tmp_path, data_dir)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-3000:]
    assert proc.stderr.startswith(f"error: {path}: not a readable run record (JSONDecodeError: ")
    assert proc.stderr.endswith("; delete it and run `python -m experiments.ablate --configs sp --seeds 1` (same "
                                "settings and --results_dir) to train that run again\n")

    io_utils.write_json(path, {"config": "sp", "seed": 0})
    proc = _table_only(tmp_path, data_dir)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}: not a whole run record (no variant, dev, best_step, steps, ")

    _record(out, "sp-seed0", "sp", "datn2", 0, gold)  # configuration sp, but a DATN-2 run
    proc = _table_only(tmp_path, data_dir)
    assert proc.returncode == 2
    assert proc.stderr == (f"error: {path} holds a datn2 run, but sp is sp: delete it and run "
                           "`python -m experiments.ablate --configs sp --seeds 1`\n")

    path.unlink()
    _record(out, "sp-seed1", "sp", "sp", 0, gold)  # seed 0's record under seed 1's name
    proc = _table_only(tmp_path, data_dir)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {out / 'sp-seed1.json'} holds the run of sp, seed 0, not sp-seed1")


@pytest.mark.slow
def test_no_seeds_is_an_error_also_for_the_table(data_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.ablate", "--table_only", "--seeds=0",
                           f"--results_dir={tmp_path}", f"--data_dir={data_dir}", "--readme="],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr == "error: --seeds must be >= 1; got 0\n" and proc.stdout == ""
