"""End to end: `make reproduce-e1 RUNS=1 VARIANTS=base` on generated fixture data, then the table."""

import subprocess
import sys
from pathlib import Path

import pytest

from datn_tf import io_utils, run_lock
from datn_tf import run_dir as run_dir_lib

REPO = Path(__file__).resolve().parents[1]
# A tiny model, so that each `make` trains in seconds.
TINY = "--batch_size=8 --hidden_size=6 --attention_size=5 --mlp_hidden_units=7"


def _make(target, data_dir, results, extra, *variables):
    # -o install: use the interpreter running the tests instead of (re)building .venv.
    cmd = ["make", "-s", "-o", "install", target, f"PYTHON={sys.executable}", f"DATA_DIR={data_dir}",
           "RUNS=1", "VARIANTS=base", *variables,
           # --readme: never the repository's README (the table is written into its block)
           f"EXTRA=--results_dir={results} --readme={results}/README.md {extra}"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def _make_ok(*args):
    """`_make`, which must succeed (its output in the failure message)."""
    proc = _make(*args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_make_reproduce_e1_end_to_end_and_resumable(data_dir, tmp_path):
    results = tmp_path / "results"
    tiny = f"--epochs=1 {TINY} --eval_every=3"
    results.mkdir()
    (results / "README.md").write_text("# E1\n\n<!-- reproduce:semeval -->\nold\n<!-- /reproduce:semeval -->\nafter\n")
    proc = _make_ok("reproduce-e1", data_dir, results, tiny)
    run = results / "semeval" / "runs" / "base-seed0"
    payload = run_dir_lib.read_metrics(run)
    assert payload["variant"] == "base" and not payload["test_evaluated"]
    assert io_utils.read_json(results / "semeval" / "base-seed0.json")["dev"] == payload["dev"]
    table = (results / "semeval" / "table3.md").read_text()
    assert "| Base | 1 |" in table and "[0.569]" in table and "DEV" in table
    assert "test split not evaluated" in proc.stdout
    # The table says what its runs changed from the paper preset (here the tiny test settings).
    settings = next(line for line in table.splitlines() if line.startswith("Settings:"))
    assert "batch_size=8" in settings and "hidden_size=6" in settings and "epochs=1" in settings
    # Base never reads the similarity term, the default's one departure from the paper preset.
    assert "similarity" not in settings and "lambda_sim" not in settings
    assert "seed" not in settings.replace("Settings", "")
    # The README's block gets the same table in its short form (`readme_block`).
    readme = (results / "README.md").read_text()
    assert readme.startswith("# E1\n\n<!-- reproduce:semeval -->\n**semeval (DEV set)**: test split held out")
    assert "\nold\n" not in readme and "| Base | 1 |" in readme and settings in readme
    assert readme.endswith("<!-- /reproduce:semeval -->\nafter\n")

    # A second invocation skips the finished run instead of training again (a repeated variant
    # counts once).
    again = _make("reproduce-e1", data_dir, results, tiny, "VARIANTS=base,base")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("finished, skipped") == 1 and again.stdout.count("| Base | 1 |") == 1

    # With other settings (the defaults changed since, or a flag), the finished run is not
    # mixed into the table: the command stops and names what differs.
    other = _make("reproduce-e1", data_dir, results, tiny + " --lstm_dropout=0.3")
    assert other.returncode == 2
    assert "is a finished run with other settings (lstm_dropout: 0.5 then, 0.3 now)" in other.stderr
    assert "Traceback" not in other.stderr

    # A finished run elsewhere in runs/ with the same variant, seed and settings (ablate's) is
    # linked instead of trained again; one with other settings is not.
    import shutil

    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run, elsewhere / "semeval" / "runs" / "ablate-base-seed0")
    linked = _make_ok("reproduce-e1", data_dir, elsewhere, tiny)
    assert "has the same settings; linked" in linked.stdout and "training" not in linked.stdout
    link = elsewhere / "semeval" / "runs" / "base-seed0"
    assert link.is_symlink() and run_dir_lib.read_metrics(link)["dev"] == payload["dev"]
    assert io_utils.read_json(elsewhere / "semeval" / "base-seed0.json")["dev"] == payload["dev"]
    assert "| Base | 1 |" in (elsewhere / "semeval" / "table3.md").read_text()
    # A link whose run is no longer finished (gone, or being retrained) is dropped, and the run
    # is trained in its own folder, never through the link into the other command's.
    twin = elsewhere / "semeval" / "runs" / "ablate-base-seed0"
    (twin / run_dir_lib.METRICS_FILE).unlink()
    (elsewhere / "semeval" / "base-seed0.json").unlink()  # else its record stands for the run
    relinked = _make_ok("reproduce-e1", data_dir, elsewhere, tiny)
    assert "base-seed0: training" in relinked.stdout
    assert not link.is_symlink() and run_dir_lib.is_finished(link) and not run_dir_lib.is_finished(twin)
    shutil.rmtree(elsewhere / "semeval")
    shutil.copytree(run, elsewhere / "semeval" / "runs" / "ablate-base-seed0")
    retrained = _make("reproduce-e1", data_dir, elsewhere, tiny + " --batch_size=4")
    assert retrained.returncode == 0 and "base-seed0: training" in retrained.stdout


@pytest.mark.slow
def test_a_finished_run_with_a_damaged_config_is_named(data_dir, tmp_path):
    # Twins are looked up among every finished run in runs/: one that cannot be read stops the
    # command with the file named, not a traceback.
    run = tmp_path / "semeval" / "runs" / "ablate-base-seed0"
    run.mkdir(parents=True)
    (run / run_dir_lib.METRICS_FILE).write_text("{}")
    (run / run_dir_lib.CONFIG_FILE).write_text('{"no_train_config": 1}')
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.reproduce", "--variants=base", "--runs=1", f"--results_dir={tmp_path}",
         f"--data_dir={data_dir}", "--readme="],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert f"{run / 'config.json'}: not a run's saved config (KeyError" in proc.stderr
    assert "fix or remove that run folder" in proc.stderr and "Traceback" not in proc.stderr


def test_the_readme_is_rewritten_only_for_the_repositorys_results():
    import experiments

    assert experiments.readme_to_update(None, experiments.DEFAULT_RESULTS_DIR) == Path("README.md")
    assert experiments.readme_to_update(None, "experiments/results/") == Path("README.md")
    assert experiments.readme_to_update(None, "/tmp/smoke") is None  # a smoke run elsewhere
    assert experiments.readme_to_update("", experiments.DEFAULT_RESULTS_DIR) is None
    assert experiments.readme_to_update("docs/x.md", "/tmp/smoke") == Path("docs/x.md")
    # ablate's blocks live in docs/reproducing.md, under the same rule.
    page = experiments.REPRODUCING_PAGE
    assert experiments.readme_to_update(None, experiments.DEFAULT_RESULTS_DIR, page) == Path("docs/reproducing.md")
    assert experiments.readme_to_update(None, "/tmp/smoke", page) is None



def test_a_results_folder_beside_the_default_gets_its_own_readme_block(tmp_path):
    import experiments
    from experiments import reproduce

    root = Path(experiments.DEFAULT_RESULTS_DIR)
    assert reproduce.block_name(root / "semeval", "semeval") == "semeval"
    assert reproduce.block_name(root / "semeval-100d" / "semeval", "semeval") == "semeval-100d/semeval"
    absolute = (REPO / root / "semeval-100d" / "semeval").resolve()
    assert reproduce.block_name(absolute, "semeval") == "semeval-100d/semeval"
    assert reproduce.block_name(tmp_path / "results" / "semeval", "semeval") == "semeval"  # elsewhere


@pytest.mark.slow
def test_reproduce_rejects_unknown_variant(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.reproduce", "--variants=base,bogus", f"--results_dir={tmp_path}",
         "--data_dir=/nonexistent"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "unknown variant 'bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_make_reproduce_e2_with_cross_validation(data_dir, tmp_path):
    results = tmp_path / "results"
    tiny = f"--epochs=1 {TINY} --eval_every=3 --embedding_dim=8 --cv_folds=4"
    _make_ok("reproduce-e2", data_dir, results, tiny, "CV_VARIANTS=base")
    runs = results / "ren_cecps" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["base-cvfold0", "base-cvfold1", "base-cvfold2",
                                                      "base-cvfold3", "base-seed0"]
    table = (results / "ren_cecps" / "table3.md").read_text()
    assert "| Base† (4 folds) |" in table and "AP" in table and "one-error" in table


@pytest.mark.slow
def test_reproduce_resolves_a_preset_per_variant(data_dir, tmp_path):
    # --preset=released gives Base the released Base's 5 epochs (config.PRESET_VARIANTS), in
    # reproduce as in train: each variant's config is resolved, not copied from one.
    results = tmp_path / "results"
    tiny = f"--preset=released {TINY} --max_steps=2"
    _make_ok("reproduce-e1", data_dir, results, tiny)
    saved = run_dir_lib.read_train_config(results / "semeval" / "runs" / "base-seed0")
    assert saved["preset"] == "released" and saved["epochs"] == 5 and saved["attention_size"] == 5


@pytest.mark.slow
def test_a_recorded_run_needs_no_run_folder(data_dir, tmp_path):
    # The record (per-run JSON with its settings, and its probabilities) is what is committed:
    # on a new checkout the run folders are gone, and the table and the resume must not need them.
    import shutil

    import numpy as np

    results = tmp_path / "results"
    tiny = f"--epochs=1 {TINY} --eval_every=3"
    _make_ok("reproduce-e1", data_dir, results, tiny, "VARIANTS=base sp")
    e1 = results / "semeval"
    record = io_utils.read_json(e1 / "sp-seed0.json")
    assert record["train_config"]["variant"] == "sp" and record["train_config"]["batch_size"] == 8
    saved = np.load(run_dir_lib.probabilities_path(e1 / "runs" / "sp-seed0", "dev"))
    assert np.array_equal(np.load(e1 / "probs" / "sp-seed0-dev.npy"), saved)
    table = (e1 / "table3.md").read_text()
    assert "| SP | 1 |" in table and "| Base | 1 |" in table

    shutil.rmtree(e1 / "runs")
    again = _make_ok("reproduce-e1", data_dir, results, tiny, "VARIANTS=base sp")
    assert again.stdout.count("finished, skipped") == 2 and "training" not in again.stdout
    assert (e1 / "table3.md").read_text() == table  # McNemar and all, from the records alone
    # Its settings are still compared: other settings stop the command, naming the record.
    other = _make("reproduce-e1", data_dir, results, tiny + " --lstm_dropout=0.3", "VARIANTS=base")
    assert other.returncode == 2
    assert f"{e1 / 'base-seed0.json'} is a finished run with other settings (lstm_dropout: 0.5 then" in other.stderr


@pytest.mark.slow
def test_table_only_records_finished_run_folders(data_dir, tmp_path):
    # A run folder finished by an older driver (a bare metrics copy, no settings, no probabilities)
    # is recorded in full by the next command, --table_only included.
    results = tmp_path / "results"
    tiny = f"--epochs=1 {TINY} --eval_every=3"
    assert _make("reproduce-e1", data_dir, results, tiny).returncode == 0
    e1 = results / "semeval"
    bare = run_dir_lib.read_metrics(e1 / "runs" / "base-seed0")
    io_utils.write_json(e1 / "base-seed0.json", bare)
    (e1 / "probs" / "base-seed0-dev.npy").unlink()
    _make_ok("reproduce-e1", data_dir, results, "--table_only")
    assert "train_config" in io_utils.read_json(e1 / "base-seed0.json")
    assert (e1 / "probs" / "base-seed0-dev.npy").exists()


@pytest.mark.slow
def test_selection_gap_on_fixture_data_with_a_test_split(data_dir_with_test, tmp_path):
    results = tmp_path / "results"
    _make_ok("reproduce-e1", data_dir_with_test, results, f"--epochs=1 {TINY} --eval_every=3")
    record = io_utils.read_json(results / "semeval" / "base-seed0.json")
    assert record["test_evaluated"] and record["history"][str(record["best_step"])]["test"] == record["test"]
    gap = subprocess.run([sys.executable, "-m", "experiments.selection_gap", f"--results_dir={results}"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert gap.returncode == 0, gap.stderr[-2000:]
    row = next(line for line in gap.stdout.splitlines() if line.startswith("| Base | 1 |"))
    dev_selected, test_selected = (float(x) for x in row.split("|")[3:5])
    assert dev_selected == round(record["test"]["jaccard"], 3) and test_selected >= dev_selected
    assert (results / "semeval" / "selection_gap.md").exists()


def test_readme_block_keeps_the_tables_and_shortens_the_notes(tmp_path):
    from experiments import reproduce

    text = ("# Table 3 reproduction: semeval (DEV set)\n\nMean ± std over the finished seeds.\n\n"
            "**The test split is held out here: these are dev-set figures.** Test split not evaluated.\n\n"
            "Settings: `--preset=paper` except similarity=\"mean\".\n\n"
            "| system | runs |\n|---|---|\n| Base | 5 |\n\nCross-validation:\n\n| system |\n|---|\n| Base† |\n\n"
            "Generated by `python -m experiments.reproduce --dataset semeval --table_only` on 2026-01-01.\n")
    block = reproduce.readme_block(text, tmp_path / "results" / "semeval" / "table3.md", tmp_path / "README.md")
    assert block == (
        "**semeval (DEV set)**: test split held out, dev figures. Mean ± std over seeds, the paper's test "
        "figures in brackets. Settings: `--preset=paper` except similarity=\"mean\". "
        "[All notes](results/semeval/table3.md).\n\n"
        "| system | runs |\n|---|---|\n| Base | 5 |\n\nCross-validation:\n\n| system |\n|---|\n| Base† |")


# The launcher tests' grid: two systems, one seed, a few steps.
GRID = ["--variants=base,sp", "--runs=1", "--max_steps=4", "--eval_every=2", *TINY.split()]


def _reproduce(data_dir, results, *args):
    """`experiments.reproduce` started in the background (stdout and stderr together)."""
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.reproduce", f"--data_dir={data_dir}", f"--results_dir={results}",
         "--readme=", *GRID, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc):
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-4000:]
    return out


def _records(results):
    """{run: its record without what depends on where and how long it ran}."""
    records = {}
    for path in sorted((results / "semeval").glob("*-seed*.json")):
        record = io_utils.read_json(path)
        del record["wall_seconds"], record["train_config"]["output_dir"]
        records[path.stem] = record
    return records


def _table(results):
    """table3.md without its wall-time column and date."""
    lines = (results / "semeval" / "table3.md").read_text().splitlines()
    return [line.rsplit("|", 2)[0] if line.startswith("|") else line for line in lines if "Generated" not in line]


@pytest.mark.slow
def test_two_drivers_at_once_train_each_run_once_and_give_the_serial_table(data_dir, tmp_path):
    serial = tmp_path / "serial"
    _finish(_reproduce(data_dir, serial, "--intra_op_threads=1", "--inter_op_threads=1"))
    shared = tmp_path / "shared"
    first = _reproduce(data_dir, shared, "--intra_op_threads=1", "--inter_op_threads=1")
    second = _reproduce(data_dir, shared, "--launcher=local", "--max_parallel=2", "--cpus_per_run=1")
    outs = [_finish(first), _finish(second)]
    both = "".join(outs)
    for name in ("base-seed0", "sp-seed0"):
        assert both.count(f"{name}: training ->") == 1, both[-4000:]
    assert _records(shared) == _records(serial)
    assert _table(shared) == _table(serial)
    assert not list((shared / "semeval" / "runs").glob(f"*/{run_dir_lib.LOCK_FILE}"))


@pytest.mark.slow
def test_local_launcher_gives_the_serial_runs_with_the_same_threads(data_dir, tmp_path):
    serial, local = tmp_path / "serial", tmp_path / "local"
    _finish(_reproduce(data_dir, serial, "--intra_op_threads=1", "--inter_op_threads=1"))
    out = _finish(_reproduce(data_dir, local, "--launcher=local", "--max_parallel=2", "--cpus_per_run=1"))
    assert "local: 2 runs at once, 1 x 1 threads each" in out
    assert "runs: 2 done, 0 running, 0 pending of 2" in out
    assert _records(local) == _records(serial) and len(_records(local)) == 2
    for name in ("base-seed0", "sp-seed0"):
        a = run_dir_lib.read_metrics(serial / "semeval" / "runs" / name)
        b = run_dir_lib.read_metrics(local / "semeval" / "runs" / name)
        assert {k: v for k, v in a.items() if k != "wall_seconds"} == {k: v for k, v in b.items()
                                                                         if k != "wall_seconds"}


@pytest.mark.slow
def test_a_killed_driver_leaves_a_lock_that_is_taken_over_and_its_run_resumes(data_dir, tmp_path):
    import signal
    import time

    results = tmp_path / "results"
    run = results / "semeval" / "runs" / "base-seed0"
    slow = ("--variants=base", "--max_steps=200", "--eval_every=2")  # killed long before its end
    proc = _reproduce(data_dir, results, *slow)
    deadline = time.time() + 300
    while not list((run / run_dir_lib.CKPT_DIR).glob("*.index")) and time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.5)
    holder = run_lock.lock_holder(run)
    assert holder["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert run_lock.lock_holder(run) == holder  # left behind by the killed driver
    out = _finish(_reproduce(data_dir, results, *slow))
    assert f"taking over the lock of pid {proc.pid} on host " in out and "is dead" in out
    assert "resumed from" in out
    assert run_dir_lib.is_finished(run) and run_lock.lock_holder(run) is None


@pytest.mark.slow
def test_a_stale_claim_from_another_host_is_taken_over(data_dir, tmp_path):
    import json
    import time

    results = tmp_path / "results"
    run = results / "semeval" / "runs" / "base-seed0"
    run.mkdir(parents=True)
    old = time.time() - 2 * run_lock.STALE_AFTER_SECONDS
    (run / run_dir_lib.LOCK_FILE).write_text(json.dumps(
        {"host": "node-elsewhere", "pid": 4242, "started": old, "heartbeat": old}))
    out = _finish(_reproduce(data_dir, results, "--variants=base"))
    assert "taking over the lock of pid 4242 on host node-elsewhere" in out
    assert f"s old (stale after {run_lock.STALE_AFTER_SECONDS} s)" in out
    assert "base-seed0: training ->" in out and run_dir_lib.is_finished(run)
    assert run_lock.lock_holder(run) is None


def _reproduce_now(results, data_dir, *args):
    """`experiments.reproduce`, waited for."""
    return subprocess.run(
        [sys.executable, "-m", "experiments.reproduce", f"--results_dir={results}", f"--data_dir={data_dir}",
         "--readme=", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _fake_run(data_dir, variant, seed=0):
    """(dev probabilities, metrics.json payload) of a run that was never trained (seeded noise)."""
    import dataclasses

    import numpy as np

    from datn_tf import metrics
    from datn_tf.config import TrainConfig
    from datn_tf.data import datasets

    gold = datasets.load_task("semeval", str(data_dir)).dev.labels
    probs = np.random.default_rng(seed).uniform(size=gold.shape).astype(np.float32)
    payload = {"dataset": "semeval", "variant": variant, "seed": seed, "threshold": 0.5,
               "dev": metrics.emotion_metrics(gold, metrics.predict_labels(probs, 0.5)), "test_evaluated": False,
               "wall_seconds": 60.0, "best_step": 3, "steps": 3}
    config = dataclasses.asdict(TrainConfig(variant=variant, seed=seed))
    return probs, payload, config


def _write_run_folder(folder, data_dir, variant, seed=0):
    probs, payload, config = _fake_run(data_dir, variant, seed)
    io_utils.write_json(folder / run_dir_lib.CONFIG_FILE, {"train_config": config})
    io_utils.save_npy(run_dir_lib.probabilities_path(folder, "dev"), probs)
    io_utils.write_json(folder / run_dir_lib.METRICS_FILE, payload)


def _write_record(e1, name, data_dir, variant, seed=0):
    probs, payload, config = _fake_run(data_dir, variant, seed)
    io_utils.save_npy(e1 / "probs" / f"{name}-dev.npy", probs)
    io_utils.write_json(e1 / f"{name}.json", {**payload, "train_config": config})


@pytest.mark.slow
def test_table_only_refuses_a_run_saved_under_another_runs_name(data_dir, tmp_path):
    e1 = tmp_path / "semeval"
    _write_record(e1, "sp-seed0", data_dir, "datn2")  # a DATN-2 record where SP's belongs
    proc = _reproduce_now(tmp_path, data_dir, "--table_only", "--variants=sp")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr == (f"error: {e1 / 'sp-seed0.json'} holds the run of datn2, seed 0, not sp-seed0: it was "
                           "copied or renamed; move it back to its own name or delete it\n")
    assert not (e1 / "table3.md").exists()
    # A run folder holding another run is refused the same way (it would be recorded under its name).
    (e1 / "sp-seed0.json").unlink()
    _write_run_folder(e1 / "runs" / "sp-seed0", data_dir, "datn2")
    _write_run_folder(e1 / "runs" / "ablate-datn2-mean-seed0", data_dir, "datn2")  # ablate's: not reproduce's
    proc = _reproduce_now(tmp_path, data_dir, "--table_only", "--variants=sp")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.startswith(f"error: {e1 / 'runs' / 'sp-seed0'} holds the run of datn2, seed 0, not sp-seed0")
    assert not (e1 / "sp-seed0.json").exists() and not (e1 / "ablate-datn2-mean-seed0.json").exists()


@pytest.mark.slow
def test_a_damaged_record_is_named_and_rewritten_from_its_finished_run_folder(data_dir, tmp_path):
    e1 = tmp_path / "semeval"
    _write_record(e1, "sp-seed0", data_dir, "sp")
    path = e1 / "sp-seed0.json"
    path.write_text(path.read_text()[:40])  # cut short
    proc = _reproduce_now(tmp_path, data_dir, "--table_only", "--variants=sp")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.startswith(f"error: {path}: not a readable run record (JSONDecodeError: ")
    assert proc.stderr.endswith(
        "; delete it and run `python -m experiments.reproduce --dataset semeval --variants sp --runs 1 (same settings "
        f"and --results_dir)`: it trains or resumes {e1 / 'runs' / 'sp-seed0'} and writes the record again\n")
    assert proc.stderr.count("\n") == 1
    # With its finished run folder here, the record is rewritten from it.
    _write_run_folder(e1 / "runs" / "sp-seed0", data_dir, "sp")
    proc = _reproduce_now(tmp_path, data_dir, "--table_only", "--variants=sp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"[reproduce] {path}: not a readable run record (JSONDecodeError: " in proc.stdout
    assert f"; rewritten from its finished run folder {e1 / 'runs' / 'sp-seed0'}" in proc.stdout
    assert io_utils.read_json(path)["variant"] == "sp" and "| SP | 1 |" in (e1 / "table3.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--runs=0"], "--runs must be >= 1; got 0"),
    (["--runs=-1", "--table_only"], "--runs must be >= 1; got -1"),
    (["--variants="], "--variants names no system; give some of base, ft, fs, psp, apsp, sp, datn1, datn2"),
    (["--variants= , ", "--table_only"], "--variants names no system"),
    # Refused only after Base had trained, naming --cv_fold.
    (["--variants=base", "--cv_variants=base"], "--cv_variants is for --dataset=ren_cecps (its cross-validation), "
                                                "not --dataset=semeval; leave it out\n"),
])
def test_no_runs_or_no_variants_is_an_error_not_an_old_table(data_dir, tmp_path, args, message):
    e1 = tmp_path / "semeval"
    _write_record(e1, "sp-seed0", data_dir, "sp")
    proc = _reproduce_now(tmp_path, data_dir, *args)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {message}") and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and not (e1 / "table3.md").exists()


@pytest.mark.slow
def test_results_inside_the_data_folder_is_refused_before_anything_is_written(data_dir):
    results = data_dir / "results"
    proc = _reproduce_now(results, data_dir, "--table_only")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr == (f"error: --results_dir {results} is inside the input --data_dir {data_dir}: writing it "
                           "would destroy what the command reads; choose another --results_dir\n")
    assert not results.exists()
