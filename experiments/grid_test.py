"""The grid's shared steps with a stand-in driver: settle (recorded, finished here, linked to a twin,
other settings refused), the records' probabilities, the ensemble (no training here: tests/test_reproduce.py
and tests/test_ablate.py run both drivers end to end)."""

import dataclasses
import json

import numpy as np
import pytest

from datn_tf import io_utils, metrics
from datn_tf import run_dir as run_dir_lib
from datn_tf.config import TrainConfig
from datn_tf.errors import UserError
from datn_tf.evaluate import ensemble_of_probabilities
from experiments import grid, records


class _Grid(grid.Grid):
    """Records `{"variant", "seed", "train_config"}` from the run folder's saved config."""

    tag = "[test]"

    def read_record(self, records_dir, name, settling=False):
        return records.read(run_dir_lib.record_path(records_dir, name), ("variant", "seed"), "rerun it")

    def write_record(self, job, folder, data=None):
        saved = run_dir_lib.read_train_config(folder)
        grid.write_record(job.results, job.name, {"variant": saved["variant"], "seed": saved["seed"],
                                                  "train_config": saved}, {"dev": np.ones((2, 3), np.float32)})

    def other_settings_remedy(self, job, in_record):
        return "pass those settings" if in_record else "remove that folder"


def _job(tmp_path, **settings):
    name = run_dir_lib.run_name("datn2", 1)
    out = run_dir_lib.grid_run_folder(tmp_path, name)
    return _Grid("tests").job(name, {"variant": "datn2", "seed": 1, "output_dir": str(out), **settings}, tmp_path)


def _finished(folder, config):
    """A run folder as training leaves it (its saved config and metrics)."""
    io_utils.write_json(folder / run_dir_lib.CONFIG_FILE,
                        {"train_config": json.loads(json.dumps(dataclasses.asdict(config)))})
    io_utils.write_json(folder / run_dir_lib.METRICS_FILE, {"dev": {"jaccard": 0.5}})
    return folder


def test_nothing_to_settle_is_trained(tmp_path, capsys):
    job = _job(tmp_path)
    assert not job.extra and job.config.variant == "datn2"  # resolved: a TrainConfig
    assert _Grid("tests").settle(job, {}) is False
    assert capsys.readouterr().out == ""


def test_a_finished_folder_is_recorded_and_then_skipped(tmp_path, capsys):
    job = _job(tmp_path)
    _finished(tmp_path / "runs" / job.name, job.config)
    assert _Grid("tests").settle(job, {}) is True
    record = io_utils.read_json(run_dir_lib.record_path(tmp_path, job.name))
    assert record["train_config"]["seed"] == 1
    assert np.array_equal(np.load(run_dir_lib.recorded_probabilities_path(tmp_path, job.name, "dev")), np.ones((2, 3)))
    assert _Grid("tests").settle(job, {}) is True  # now from its record
    assert capsys.readouterr().out == f"[test] {job.label}: finished, skipped\n" * 2


def test_a_finished_twin_is_linked_and_recorded(tmp_path, capsys):
    job = _job(tmp_path)
    twin = _finished(tmp_path / "runs" / "ablate-datn2-mean-seed1", dataclasses.replace(job.config, output_dir="x"))
    assert _Grid("tests").settle(job, run_dir_lib.finished_runs(tmp_path / "runs")) is True
    assert (tmp_path / "runs" / job.name).is_symlink()
    assert run_dir_lib.record_path(tmp_path, job.name).exists()
    assert capsys.readouterr().out == f"[test] {job.label}: the finished run {twin} has the same settings; linked\n"


def test_a_run_with_other_settings_is_refused_naming_them(tmp_path):
    job = _job(tmp_path)
    _finished(tmp_path / "runs" / job.name, dataclasses.replace(job.config, lstm_dropout=0.3))
    with pytest.raises(UserError) as err:
        _Grid("tests").settle(job, {})
    assert str(err.value) == (f"{tmp_path / 'runs' / job.name} is a finished run with other settings "
                              "(lstm_dropout: 0.3 then, 0.5 now); remove that folder")
    io_utils.write_json(run_dir_lib.record_path(tmp_path, job.name), {
        "variant": "datn2", "seed": 1, "train_config": dataclasses.asdict(TrainConfig(variant="datn2", seed=1,
                                                                                      batch_size=8))})
    with pytest.raises(UserError, match=r"\(batch_size: 8 then, 60 now\); pass those settings$"):
        _Grid("tests").settle(job, {})


def test_a_damaged_record_is_rewritten_from_its_finished_folder_or_named(tmp_path, capsys):
    job = _job(tmp_path)
    path = run_dir_lib.record_path(tmp_path, job.name)
    path.write_text("{")
    with pytest.raises(records.RecordError, match="not a readable run record"):
        _Grid("tests").settle(job, {})
    with pytest.raises(records.RecordError):  # the launcher's check too, while its folder cannot rewrite it
        _Grid("tests").is_done(job)
    _finished(tmp_path / "runs" / job.name, job.config)
    assert _Grid("tests").is_done(job) is False  # its job writes it again
    assert _Grid("tests").settle(job, {}) is True
    assert "; rewritten from its finished run folder" in capsys.readouterr().out
    assert _Grid("tests").is_done(job) is True


def test_recorded_probabilities_older_names_and_run_folders(tmp_path):
    probs = np.random.default_rng(0).uniform(size=(4, 3))
    io_utils.save_npy(tmp_path / "probs" / "sp-seed0.npy", probs.astype(np.float16))  # ablate's older name
    read = grid.recorded_probabilities(tmp_path, "sp-seed0", "dev")
    assert read.dtype == np.float32 and np.array_equal(read, probs.astype(np.float16).astype(np.float32))
    assert grid.recorded_probabilities(tmp_path, "sp-seed0", "test") is None
    folder = tmp_path / "runs" / "base-seed0"
    io_utils.save_npy(run_dir_lib.probabilities_path(folder, "test"), probs)
    assert grid.recorded_probabilities(tmp_path, "base-seed0", "test", folder) is None  # not finished
    io_utils.write_json(folder / run_dir_lib.METRICS_FILE, {})
    assert np.allclose(grid.recorded_probabilities(tmp_path, "base-seed0", "test", folder), probs)


def test_the_ensemble_and_the_labels_it_predicts():
    rng = np.random.default_rng(1)
    gold = {"dev": rng.integers(0, 2, (20, 3)), "test": rng.integers(0, 2, (10, 3))}
    per_run = {s: [rng.uniform(size=g.shape) for _ in range(3)] for s, g in gold.items()}
    result, labels = grid.ensemble(per_run, gold)
    assert result == ensemble_of_probabilities(per_run, gold)
    for split in gold:
        mean = np.mean(per_run[split], axis=0)
        assert np.array_equal(labels[split], metrics.predict_labels(mean, result["threshold"]))
        assert metrics.emotion_metrics(gold[split], labels[split])["jaccard"] == result[split]["jaccard"]
    per_run["test"][1] = None  # a run without test probabilities: dev only
    result, labels = grid.ensemble(per_run, gold)
    assert set(labels) == {"dev"} and "test" not in result
    assert grid.ensemble({"dev": [None]}, gold) == (None, None)
