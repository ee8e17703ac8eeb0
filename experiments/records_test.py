"""Tests for reading the drivers' per-run records back: damaged, incomplete and misplaced ones."""

import pytest

from datn_tf import io_utils
from experiments import records

REMEDY = "run `the command`"


def test_a_whole_record_is_read_and_an_absent_one_is_none(tmp_path):
    path = tmp_path / "sp-seed0.json"
    assert records.read(path, ("variant",), REMEDY) is None
    io_utils.write_json(path, {"variant": "sp", "seed": 0})
    assert records.read(path, ("variant", "seed"), REMEDY) == {"variant": "sp", "seed": 0}


@pytest.mark.parametrize("text, problem", [
    ('{"variant": "sp", "se', "not a readable run record (JSONDecodeError: Unterminated string starting at: "
                             "line 1 column 19 (char 18))"),
    ("", "not a readable run record (JSONDecodeError: Expecting value: line 1 column 1 (char 0))"),
    ("[1, 2]", "not a run record (a JSON list)"),
    ('{"variant": "sp"}', "not a whole run record (no seed, dev)"),
])
def test_a_damaged_or_incomplete_record_is_named_with_its_remedy(tmp_path, text, problem):
    path = tmp_path / "sp-seed0.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(records.RecordError) as err:
        records.read(path, ("variant", "seed", "dev"), REMEDY)
    assert str(err.value) == f"{path}: {problem}; {REMEDY}"


def test_bytes_that_are_not_utf8_are_a_damaged_record(tmp_path):
    path = tmp_path / "sp-seed0.json"
    path.write_bytes(b'{"variant": "\xe9"}')
    with pytest.raises(records.RecordError, match=r"not a readable run record \(UnicodeDecodeError"):
        records.read(path, (), REMEDY)


def test_saved_identity_of_records_and_saved_configs():
    assert records.saved_identity({"variant": "sp", "seed": 2, "train_config": {
        "variant": "sp", "seed": 2, "cv_fold": None}}) == ("sp", 2, None)
    assert records.saved_identity({"variant": "base", "seed": 0, "cv_fold": 3}) == ("base", 0, 3)  # a train config
    assert records.saved_identity({"variant": "sp", "seed": 1}) == ("sp", 1, ...)  # an older record


@pytest.mark.parametrize("name, identity", [
    ("sp-seed0", ("sp", 0, None)),
    ("sp-seed0", ("sp", 0, ...)),
    ("datn2-cvfold3", ("datn2", 0, 3)),
    ("datn2-cvfold3", ("datn2", 0, ...)),
    ("datn2-mean-seed4", ("datn2-mean", 4, None)),  # an ablate configuration
])
def test_a_run_under_its_own_name_passes(name, identity):
    records.check_identity("x.json", name, identity)


@pytest.mark.parametrize("name, identity, described", [
    ("sp-seed0", ("datn2", 0, None), "datn2, seed 0"),
    ("sp-seed0", ("sp", 1, ...), "sp, seed 1"),
    ("sp-seed0", ("sp", 0, 2), "sp, seed 0, fold 2"),
    ("datn2-cvfold3", ("datn2", 0, 4), "datn2, seed 0, fold 4"),
    ("notes", ("sp", 0, None), "sp, seed 0"),
])
def test_a_run_under_another_name_is_refused(name, identity, described):
    with pytest.raises(records.RecordError) as err:
        records.check_identity("runs/x", name, identity)
    assert str(err.value) == (f"runs/x holds the run of {described}, not {name}: it was copied or renamed; "
                              "move it back to its own name or delete it")


@pytest.mark.parametrize("record, problem", [
    ({"variant": "sp", "seed": 0, "dev": []}, "dev is a JSON list, not an object"),
    ({"variant": "sp", "seed": 0, "dev": {"jaccard": "x"}}, "dev.jaccard is 'x', not a finite number"),
    ({"variant": "sp", "seed": 0, "dev": {"jaccard": 0.5}, "test": {"jaccard": float("nan")}},
     "test.jaccard is nan, not a finite number"),
    ({"variant": "sp", "seed": "0", "dev": {}}, "seed is '0', not a whole number"),
    ({"variant": 3, "seed": 0, "dev": {}}, "variant is 3, not a text"),
    ({"variant": "sp", "seed": 0, "dev": {}, "wall_seconds": None}, "wall_seconds is None, not a finite number"),
])
def test_a_record_with_a_value_of_the_wrong_kind_is_named(tmp_path, record, problem):
    # A hand-edited record must not reach the table as a traceback or a 'nan' cell.
    path = tmp_path / "sp-seed0.json"
    io_utils.write_json(path, record)
    with pytest.raises(records.RecordError) as err:
        records.read(path, ("variant", "seed", "dev"), REMEDY)
    assert str(err.value) == f"{path}: not a whole run record ({problem}); {REMEDY}"


def test_an_ablate_record_without_attention_figures_is_read(tmp_path):
    path = tmp_path / "base-seed0.json"
    record = {"variant": "base", "seed": 0, "dev": {"jaccard": 0.5, "n": 15}, "mean_max_alpha_t": None}
    io_utils.write_json(path, record)
    assert records.read(path, ("variant", "seed", "dev"), REMEDY) == record
