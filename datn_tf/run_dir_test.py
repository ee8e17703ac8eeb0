"""Tests for the run folder: run names, the summary, settings compared on resume, twins, the E-c writer."""

import dataclasses
import json

import numpy as np
import pytest

from datn_tf import run_dir as run_dir_lib
from datn_tf import run_weights
from datn_tf.config import TrainConfig
from datn_tf.errors import UserError


def test_summary_says_why_test_was_not_evaluated_once():
    payload = {"dataset": "semeval", "variant": "base", "seed": 0, "best_step": 3, "steps": 6, "threshold": 0.12,
               "threshold_source": "tuned on dev", "wall_seconds": 75.0, "test_evaluated": False,
               "notes": ["test split not evaluated: data/x.txt is not present (held out)"],
               "dev": {"jaccard": 0.5, "macro_f1": 0.4, "micro_f1": 0.6, "n": 10}}
    text = run_dir_lib.summary_text(payload)
    assert text.splitlines()[-1] == "test split not evaluated: data/x.txt is not present (held out)"
    assert text.count("not evaluated") == 1
    assert "wall 1:15" in text


def test_changed_settings_are_named(finished_run, tmp_path):
    import shutil

    from datn_tf import io_utils

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    saved = io_utils.read_json(run / run_dir_lib.CONFIG_FILE)["train_config"]
    config = TrainConfig(**{**saved, "learning_rate": 0.5, "seed": 3})
    with pytest.raises(UserError, match=r"other settings \(learning_rate, seed\)"):
        run_dir_lib.write_run_files(run, config, None, None)


def test_changed_settings_compare_resolved_values_only():
    saved = dataclasses.asdict(TrainConfig(variant="base", lambda_sim=0.1))
    saved = json.loads(json.dumps(saved))  # as read back from config.json: tuples are lists
    del saved["normalize_tokens"]  # written before the setting existed
    same = TrainConfig(variant="base", lambda_sim=0.1, preset="paper", data_dir="elsewhere", log_every=7)
    assert run_dir_lib.changed_settings(saved, same) == {}  # names, paths and logging do not count
    assert run_dir_lib.changed_settings(saved, TrainConfig(variant="base", normalize_tokens=True)) == {
        "normalize_tokens": (False, True)}  # Base never reads lambda_sim


def test_changed_settings_skip_what_the_variant_never_reads():
    for variant in ("base", "sp"):
        saved = json.loads(json.dumps(dataclasses.asdict(TrainConfig(variant=variant, similarity="sum"))))
        assert run_dir_lib.changed_settings(saved, TrainConfig(variant=variant, similarity="mean")) == {}
    saved = json.loads(json.dumps(dataclasses.asdict(TrainConfig(variant="datn2", similarity="sum"))))
    assert run_dir_lib.changed_settings(saved, TrainConfig(variant="datn2", similarity="mean")) == {
        "similarity": ("sum", "mean")}
    # Another variant: every difference counts, the variant's own first.
    changed = run_dir_lib.changed_settings(saved, TrainConfig(variant="base", similarity="mean"))
    assert set(changed) == {"variant", "similarity"}


def test_settings_added_after_the_run_started_resume_at_their_default(finished_run, tmp_path):
    """A config.json written before a setting existed: at its default the run resumes; set
    to anything else it is a change."""
    import shutil
    import types

    from datn_tf import io_utils

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    cfg_path = run / run_dir_lib.CONFIG_FILE
    payload = io_utils.read_json(cfg_path)
    saved = dict(payload["train_config"])
    for name in ("mlp_activation", "embedding_init"):  # as if written before these existed
        del payload["train_config"][name]
    io_utils.write_json(cfg_path, payload)
    _, vocab, model = run_weights.load_run(finished_run)
    data = types.SimpleNamespace(
        task=types.SimpleNamespace(emotion_names=payload["emotion_names"], language=payload["language"],
                                   split_digests=lambda: payload["splits"]),
        embeddings_name=payload["embeddings"], coverage=types.SimpleNamespace(as_dict=lambda: {}), vocab=vocab)
    run_dir_lib.write_run_files(run, TrainConfig(**saved), model, data)
    assert io_utils.read_json(cfg_path)["train_config"]["mlp_activation"] == saved["mlp_activation"]

    io_utils.write_json(cfg_path, payload)
    with pytest.raises(UserError, match=r"other settings \(mlp_activation\)"):
        run_dir_lib.write_run_files(run, TrainConfig(**{**saved, "mlp_activation": "tanh"}), model, data)


def test_a_finished_twin_is_linked_and_a_dangling_link_never_trained_through(tmp_path):
    from datn_tf import io_utils

    runs = tmp_path / "runs"

    def fake_finished(name, config):
        io_utils.write_json(runs / name / run_dir_lib.CONFIG_FILE,
                            {"train_config": json.loads(json.dumps(dataclasses.asdict(config)))})
        io_utils.write_json(runs / name / run_dir_lib.METRICS_FILE, {"dev": {"jaccard": 0.5}})
        return runs / name

    config = TrainConfig(variant="datn2", seed=1, similarity="mean")
    fake_finished("other-seed1", TrainConfig(variant="datn2", seed=1, similarity="sum"))
    twin = fake_finished("reproduce-seed1", dataclasses.replace(config, output_dir="elsewhere"))
    out = runs / "ablate-seed1"

    assert run_dir_lib.link_finished_twin(out, config, run_dir_lib.finished_runs(runs)) == twin
    assert out.is_symlink() and out.readlink().name == "reproduce-seed1"  # relative
    assert io_utils.read_json(out / run_dir_lib.METRICS_FILE) == {"dev": {"jaccard": 0.5}}
    assert set(run_dir_lib.finished_runs(runs)) == {runs / "other-seed1", twin}  # links are not twins

    # The twin is being retrained (no metrics): the link goes, and with no other twin, nothing is linked.
    (twin / run_dir_lib.METRICS_FILE).unlink()
    assert run_dir_lib.link_finished_twin(out, config, run_dir_lib.finished_runs(runs)) is None
    assert not out.exists() and not out.is_symlink()

    # A folder of its own (a run started here) is never replaced by a link.
    (twin / run_dir_lib.METRICS_FILE).write_text("{}")
    out.mkdir()
    assert run_dir_lib.link_finished_twin(out, config, run_dir_lib.finished_runs(runs)) is None
    assert out.is_dir() and not out.is_symlink()


def test_predictions_are_written_in_the_official_format(tmp_path):
    from datn_tf.data import semeval_ec
    from datn_tf.data.examples import EmotionExamples

    names = tuple(semeval_ec.EMOTIONS)
    examples = EmotionExamples(["2018-En-1", "2018-En-2"], ["so happy", "what a mess"],
                               np.zeros((2, len(names)), np.int64), names, "x")
    predicted = np.zeros((2, len(names)), bool)
    predicted[0, names.index("joy")] = predicted[1, names.index("anger")] = True
    run_dir_lib.write_split_outputs(tmp_path, "dev", examples, predicted, np.full((2, len(names)), 0.5, np.float32))
    written = semeval_ec.read_ec(tmp_path / run_dir_lib.PREDICTIONS_DIR / "dev.txt")
    assert list(written.ids) == ["2018-En-1", "2018-En-2"]
    np.testing.assert_array_equal(written.labels, predicted.astype(written.labels.dtype))
    probs = np.load(run_dir_lib.probabilities_path(tmp_path, "dev"))
    assert probs.shape == (2, len(names))


@pytest.mark.parametrize("variant, seed, fold", [("sp", 0, None), ("datn2", 12, None), ("base", 0, 3),
                                                 ("base", 2, 3), ("datn2-mean-init025", 4, None)])
def test_a_run_name_parses_back(variant, seed, fold):
    assert run_dir_lib.parse_run_name(run_dir_lib.run_name(variant, seed, fold)) == (variant, seed, fold)


@pytest.mark.parametrize("name", ["sp", "sp-seed", "sp-seedx", "-seed0", "sp-seed0.json", "table3"])
def test_other_names_are_not_run_names(name):
    assert run_dir_lib.parse_run_name(name) is None


def test_runs_and_records_are_named_in_one_place(tmp_path):
    # train's default folder shares the drivers' names, fold suffix included (the recorded runs'
    # `<variant>-cvfold<k>` for seed 0).
    assert run_dir_lib.default_output_dir("semeval", "datn2", 0) == "runs/semeval-datn2-seed0"
    assert run_dir_lib.default_output_dir("ren_cecps", "base", 0, 3) == "runs/ren_cecps-base-cvfold3"
    assert run_dir_lib.default_output_dir("ren_cecps", "base", 2, 3) == "runs/ren_cecps-base-seed2-cvfold3"
    assert TrainConfig(dataset="ren_cecps", variant="base", cv_fold=3).default_output_dir() == \
        "runs/ren_cecps-base-cvfold3"
    name = run_dir_lib.run_name("datn2-mean", 1)
    assert run_dir_lib.grid_run_folder(tmp_path, name) == tmp_path / "runs" / "datn2-mean-seed1"
    ablation = run_dir_lib.grid_run_folder(tmp_path, name, ablation=True)
    assert ablation == tmp_path / "runs" / "ablate-datn2-mean-seed1"
    assert run_dir_lib.is_ablation_folder(ablation.name) and not run_dir_lib.is_ablation_folder(name)
    assert run_dir_lib.ablation_records_dir(tmp_path) == tmp_path / "ablations"
    assert run_dir_lib.record_path(tmp_path, name) == tmp_path / "datn2-mean-seed1.json"
    assert run_dir_lib.recorded_probabilities_path(tmp_path, name, "dev") == tmp_path / "probs" / \
        "datn2-mean-seed1-dev.npy"


def test_dev_probabilities_recorded_under_the_older_ablate_name_are_found(tmp_path):
    older = tmp_path / "probs" / "sp-seed0.npy"  # ablate's dev probabilities, before the names were one
    older.parent.mkdir()
    older.write_bytes(b"")
    assert run_dir_lib.find_recorded_probabilities(tmp_path, "sp-seed0", "dev") == older
    assert run_dir_lib.find_recorded_probabilities(tmp_path, "sp-seed0", "test") is None
    newer = run_dir_lib.recorded_probabilities_path(tmp_path, "sp-seed0", "dev")
    newer.write_bytes(b"")
    assert run_dir_lib.find_recorded_probabilities(tmp_path, "sp-seed0", "dev") == newer
    assert run_dir_lib.find_recorded_probabilities(tmp_path, "base-seed0", "dev") is None


def test_the_run_folder_module_imports_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, datn_tf.run_dir, datn_tf.run_lock; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
