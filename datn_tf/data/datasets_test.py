"""Tests of the two transfer settings and the E2 cross-validation splits."""

import pytest

from datn_tf import testing
from datn_tf.data import datasets
from datn_tf.data.errors import DataFormatError


def test_semeval_task_reports_missing_test(data_dir):
    task = datasets.load_task("semeval", data_dir)
    assert len(task.train) == testing.FIXTURE_COUNTS["ec_train"]
    assert len(task.sentiment) == sum(testing.FIXTURE_COUNTS[f"4a_{s}"] for s in ("train", "dev", "test"))
    assert task.test is None and "test" not in task.splits()
    assert any("2018-E-c-En-test-gold.txt is not present" in n for n in task.notes)


def test_ren_task_and_missing_folder(data_dir, tmp_path):
    task = datasets.load_task("ren_cecps", data_dir)
    assert task.language == "zh" and task.test is None
    assert any("641-800" in n for n in task.notes)
    with pytest.raises(DataFormatError, match="Ren-CECps folder not found"):
        datasets.load_task("ren_cecps", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load_task("imdb", data_dir)


def _docs(examples):
    return {i.split(":")[0] for i in examples.ids}


def test_cross_validation_folds_partition_documents(data_dir):
    folds = 4
    tasks = [datasets.load_task("ren_cecps", data_dir, cv_fold=k, cv_folds=folds) for k in range(folds)]
    all_docs = set().union(*(_docs(t.train) | _docs(t.dev) | _docs(t.test) for t in tasks))
    tests = [_docs(t.test) for t in tasks]
    # Every document is in exactly one test fold; within a fold the splits are disjoint.
    assert set().union(*tests) == all_docs and sum(len(d) for d in tests) == len(all_docs)
    for k, t in enumerate(tasks):
        assert not (_docs(t.train) & _docs(t.test)) and not (_docs(t.train) & _docs(t.dev))
        assert not (_docs(t.dev) & _docs(t.test))
        assert _docs(t.dev) == tests[(k + 1) % folds]  # the next fold selects the model
        # The sentiment source is the same training data (Table 3, DATN-2†).
        assert set(t.sentiment.ids) <= set(t.train.ids)
    again = datasets.load_task("ren_cecps", data_dir, cv_fold=1, cv_folds=folds)
    assert again.test.ids == tasks[1].test.ids


def test_cross_validation_arguments(data_dir):
    with pytest.raises(ValueError, match="ren_cecps only"):
        datasets.load_task("semeval", data_dir, cv_fold=0)
    with pytest.raises(ValueError, match="cv_fold must be in"):
        datasets.load_task("ren_cecps", data_dir, cv_fold=10, cv_folds=10)
    with pytest.raises(ValueError, match="cannot make"):
        datasets.load_task("ren_cecps", data_dir, cv_fold=0, cv_folds=50)
