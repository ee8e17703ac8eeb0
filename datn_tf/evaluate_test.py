"""Tests of prediction-file scoring, McNemar between files, and ensembles of runs."""

import json

import numpy as np
import pytest

from datn_tf import evaluate, io_utils, metrics, testing
from datn_tf import run_dir as run_dir_lib
from datn_tf.data import semeval_ec
from datn_tf.data.semeval_ec import write_ec_file as write_predictions
from datn_tf.errors import DataFormatError


@pytest.fixture
def gold_path(tmp_path):
    data = testing.make_fixture_data_dir(tmp_path / "data")
    return data / "semeval2018-ec" / "2018-E-c-En-dev.txt"


def test_perfect_and_empty_predictions(gold_path, tmp_path):
    gold = semeval_ec.read_ec(gold_path)
    write_predictions(tmp_path / "perfect.txt", gold, gold.labels)
    result = evaluate.score_files(gold_path, tmp_path / "perfect.txt")
    assert result["jaccard"] == 1.0 and result["macro_f1"] == pytest.approx(
        metrics.macro_f1(gold.labels, gold.labels))
    empty = np.zeros_like(gold.labels)
    write_predictions(tmp_path / "empty.txt", gold, empty)
    result = evaluate.score_files(gold_path, tmp_path / "empty.txt", baseline_path=tmp_path / "perfect.txt")
    # An empty prediction scores 1 exactly on the tweets whose gold set is empty too.
    assert result["jaccard"] == pytest.approx(np.mean(gold.labels.sum(1) == 0))
    mc = result["mcnemar_vs_baseline"]
    # b: the system right, the baseline (perfect) wrong: never. c: the empty prediction is
    # wrong on every tweet that has an emotion.
    assert mc["b"] == 0
    assert mc["c"] == int((gold.labels.sum(1) > 0).sum())


def test_mismatched_ids_are_reported_with_the_line(gold_path, tmp_path):
    gold = semeval_ec.read_ec(gold_path)
    shuffled = gold.select([1, 0] + list(range(2, len(gold))))
    write_predictions(tmp_path / "bad.txt", shuffled, shuffled.labels)
    with testing.expect_data_error(tmp_path / "bad.txt", 2, gold.ids[0]):
        evaluate.score_files(gold_path, tmp_path / "bad.txt")
    short = gold.select(range(3))
    write_predictions(tmp_path / "short.txt", short, short.labels)
    with pytest.raises(DataFormatError, match="3 predictions for"):
        evaluate.score_files(gold_path, tmp_path / "short.txt")


def _fake_run(path, dev_probs, threshold=0.25):
    io_utils.save_npy(run_dir_lib.probabilities_path(path, "dev"), dev_probs)
    run_dir_lib.write_metrics(path, {"threshold": threshold})
    return path


def test_ensemble_averages_probabilities_and_tunes_gamma_on_dev(tmp_path):
    gold = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    a = np.array([[0.9, 0.1], [0.2, 0.3], [0.6, 0.2], [0.1, 0.1]], np.float32)
    b = np.array([[0.5, 0.1], [0.0, 0.9], [0.6, 0.8], [0.1, 0.3]], np.float32)
    runs = [_fake_run(tmp_path / "a", a), _fake_run(tmp_path / "b", b)]
    out = evaluate.ensemble_runs(runs, {"dev": gold})
    mean = (a + b) / 2
    gamma, best = metrics.tune_threshold(gold, mean)
    assert out["threshold"] == gamma
    assert out["dev"]["jaccard"] == pytest.approx(best)
    assert "test" not in out
    probs, labels = run_dir_lib.read_split_outputs(runs[0], "dev")
    np.testing.assert_array_equal(labels, (a > 0.25).astype(int))


def test_cli_reports_bad_input_without_traceback(gold_path, tmp_path, capsys):
    from absl import flags

    (tmp_path / "broken.txt").write_text("ID\tTweet\n1\n", encoding="utf-8")
    evaluate.define_flags()
    flags.FLAGS(["evaluate", f"--gold={gold_path}", f"--predictions={tmp_path / 'broken.txt'}"])
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'broken.txt'}:1:")
    flags.FLAGS.unparse_flags()


def test_cli_prints_metrics_json(gold_path, tmp_path, capsys):
    from absl import flags

    gold = semeval_ec.read_ec(gold_path)
    write_predictions(tmp_path / "p.txt", gold, gold.labels)
    evaluate.define_flags()
    flags.FLAGS(["evaluate", f"--gold={gold_path}", f"--predictions={tmp_path / 'p.txt'}",
                 f"--output={tmp_path / 'm.json'}"])
    evaluate.main([])
    flags.FLAGS.unparse_flags()
    out, err = capsys.readouterr()
    printed = json.loads(out)
    assert printed["jaccard"] == 1.0
    assert io_utils.read_json(tmp_path / "m.json") == printed
    # The readable report has the tables' columns.
    assert err == (f"jaccard 1.0000  macro_f1 {printed['macro_f1']:.4f}  micro_f1 1.0000  (n={len(gold)})\n")


def test_an_ensemble_report_has_a_line_per_split_and_marks_a_missing_metric():
    dev = {"jaccard": 0.5, "macro_f1": 0.25, "micro_f1": 0.75, "average_precision": 0.625, "one_error": 0.5, "n": 4}
    test = {"jaccard": 0.5, "n": 2}
    assert evaluate.report({"threshold": 0.2, "test": test, "dev": dev}).splitlines() == [
        "dev   jaccard 0.5000  macro_f1 0.2500  micro_f1 0.7500  average_precision 0.6250  one_error 0.5000  (n=4)",
        "test  jaccard 0.5000  macro_f1 –  micro_f1 –  (n=2)"]


LIST_COLUMNS = dict(layout="auto", delimiter="auto", text_column="0", labels_column="1", id_column="2",
                    label_names_file=None)


def test_files_of_the_wide_and_list_layouts_are_scored_against_gold(tmp_path):
    # Gold {calm}, {calm, eager}, {}; predicted {calm, eager}, {eager}, {}: Jaccard (1/2 + 1/2 + 1) / 3.
    (tmp_path / "gold.csv").write_text("id,text,calm,eager\na,x,1,0\nb,y,1,1\nc,z,0,0\n")
    (tmp_path / "pred.csv").write_text("id,text,calm,eager\na,x,1,1\nb,y,0,1\nc,z,0,0\n")
    wide = evaluate.score_files(tmp_path / "gold.csv", tmp_path / "pred.csv",
                                columns=dict(LIST_COLUMNS, text_column=None, labels_column=None, id_column=None))
    assert wide["jaccard"] == pytest.approx(2 / 3) and wide["n"] == 3
    # calm: tp 1, fn 1 -> F1 2/3; eager: tp 1, fp 1 -> F1 2/3.
    assert wide["macro_f1"] == pytest.approx(2 / 3)
    # The same in GoEmotions' list layout: label ids into a names file, no header.
    (tmp_path / "names.txt").write_text("calm\neager\n")
    (tmp_path / "gold.tsv").write_text("x\t0\ta\ny\t0,1\tb\nz\t\tc\n")
    (tmp_path / "pred.tsv").write_text("x\t1,0\ta\ny\t1\tb\nz\t\tc\n")
    listed = evaluate.score_files(tmp_path / "gold.tsv", tmp_path / "pred.tsv",
                                  columns=dict(LIST_COLUMNS, label_names_file=str(tmp_path / "names.txt")))
    assert listed == wide
    # Without the names file, the labels are what the two files hold together.
    assert evaluate.score_files(tmp_path / "gold.tsv", tmp_path / "pred.tsv", columns=LIST_COLUMNS) == wide


def test_a_wide_prediction_file_with_a_label_gold_lacks_is_an_error(tmp_path):
    (tmp_path / "gold.csv").write_text("id,text,calm,eager\na,x,1,0\n")
    (tmp_path / "pred.csv").write_text("id,text,eager,calm,bored\na,x,0,1,1\n")
    wide = dict(LIST_COLUMNS, text_column=None, labels_column=None, id_column=None)
    with testing.expect_data_error(tmp_path / "pred.csv", 1, "label column(s) bored not in the gold file's label set"):
        evaluate.score_files(tmp_path / "gold.csv", tmp_path / "pred.csv", columns=wide)
    (tmp_path / "pred.csv").write_text("id,text,eager,calm\na,x,0,1\n")  # the gold labels in another order
    assert evaluate.score_files(tmp_path / "gold.csv", tmp_path / "pred.csv", columns=wide)["jaccard"] == 1.0


def test_a_gold_file_with_nothing_to_score_is_named(tmp_path):
    wide = dict(LIST_COLUMNS, text_column=None, labels_column=None, id_column=None)
    (tmp_path / "gold.csv").write_text("id,text,calm,eager\n")  # no rows
    with testing.expect_data_error(tmp_path / "gold.csv", None, "no examples to score"):
        evaluate.score_files(tmp_path / "gold.csv", tmp_path / "gold.csv", columns=wide)
    (tmp_path / "gold.tsv").write_text("x\t\ta\n")  # no label in gold or predictions
    with testing.expect_data_error(tmp_path / "gold.tsv", None, "no emotion label in the gold file or the predictions"):
        evaluate.score_files(tmp_path / "gold.tsv", tmp_path / "gold.tsv", columns=LIST_COLUMNS)


def test_a_layout_file_with_other_ids_is_reported_with_the_line(tmp_path):
    (tmp_path / "gold.tsv").write_text("x\t0\ta\ny\t0\tb\n")
    (tmp_path / "pred.tsv").write_text("x\t0\ta\ny\t0\tB\n")
    with testing.expect_data_error(tmp_path / "pred.tsv", 2, "ID 'B' where the gold file has 'b'"):
        evaluate.score_files(tmp_path / "gold.tsv", tmp_path / "pred.tsv", columns=LIST_COLUMNS)


def _main(capsys, *args):
    """Runs `evaluate.main` in this process; returns (exit status or None, stderr)."""
    from absl import flags

    evaluate.define_flags()
    flags.FLAGS(["evaluate", *args])
    try:
        evaluate.main(["evaluate"])
        code = None
    except SystemExit as e:
        code = e.code
    finally:
        flags.FLAGS.unparse_flags()
    return code, capsys.readouterr().err


def test_output_onto_an_input_is_refused_before_writing(gold_path, tmp_path, capsys):
    gold = semeval_ec.read_ec(gold_path)
    pred = tmp_path / "p.txt"
    write_predictions(pred, gold, gold.labels)
    before = {p: p.read_bytes() for p in (gold_path, pred)}
    for out, flag in ((gold_path, "--gold"), (pred, "--predictions")):
        code, err = _main(capsys, f"--gold={gold_path}", f"--predictions={pred}", f"--output={out}")
        assert code == 2
        assert err == (f"error: --output {out} is the input {flag} {out}: writing it would destroy what the command "
                       "reads; choose another --output\n")
    assert {p: p.read_bytes() for p in before} == before


def test_output_onto_a_file_the_command_did_not_write_is_refused(gold_path, tmp_path, capsys):
    gold = semeval_ec.read_ec(gold_path)
    pred = tmp_path / "p.txt"
    write_predictions(pred, gold, gold.labels)
    mine = tmp_path / "notes.json"
    mine.write_text('{"mine": 1}')
    args = [f"--gold={gold_path}", f"--predictions={pred}"]
    code, err = _main(capsys, *args, f"--output={mine}")
    assert (code, err) == (2, f"error: --output {mine} exists and was not written by datn_tf.evaluate: pass "
                              "--overwrite to replace it, or choose a new file\n")
    assert mine.read_text() == '{"mine": 1}'
    new = gold_path.parent / "metrics.json"
    code, err = _main(capsys, *args, f"--output={new}")
    assert (code, err) == (2, f"error: --output {new} is inside the data folder {gold_path.parent}: its files are "
                              "what training and scoring read; choose another --output\n")
    assert not new.exists()
    # Its own earlier output is replaced; --overwrite replaces the user's file.
    out = tmp_path / "m.json"
    assert _main(capsys, *args, f"--output={out}")[0] is None
    assert _main(capsys, *args, f"--output={out}")[0] is None
    assert _main(capsys, *args, f"--output={mine}", "--overwrite")[0] is None
    assert io_utils.read_json(mine) == io_utils.read_json(out) and io_utils.read_json(out)["jaccard"] == 1.0


def test_gold_as_predictions_and_a_repeated_ensemble_run_are_refused(gold_path, tmp_path, capsys):
    code, err = _main(capsys, f"--gold={gold_path}", f"--predictions={gold_path}")
    assert code == 2
    assert err == (f"error: --predictions {gold_path} is the gold file --gold {gold_path}: "
                   "give the predictions to score\n")
    run = tmp_path / "run"
    code, err = _main(capsys, f"--ensemble={run},{tmp_path}/./run")
    assert code == 2
    assert err == f"error: --ensemble names {tmp_path}/./run twice: an ensemble averages distinct runs\n"
    # A trailing comma was an empty run name: "error:  is not a training run (no config.json)".
    code, err = _main(capsys, f"--ensemble={run},{tmp_path / 'other'},")
    assert (code, err) == (2, f"error: --ensemble={run},{tmp_path / 'other'}, has an empty item (a comma too many); "
                              "separate the items by single commas\n")


def test_ranking_scores_that_are_not_a_npy_array_are_named(gold_path, tmp_path, capsys):
    gold = semeval_ec.read_ec(gold_path)
    pred = tmp_path / "p.txt"
    write_predictions(pred, gold, gold.labels)
    text = tmp_path / "scores.txt"
    text.write_text("0.1 0.2\n", encoding="utf-8")
    code, err = _main(capsys, f"--gold={gold_path}", f"--predictions={pred}", f"--ranking_scores={text}")
    assert code == 2
    assert err.startswith(f"error: {text}: not a NumPy .npy array (") and err.count("\n") == 1
    assert err.endswith("pass a run's predictions/<split>_probabilities.npy\n")

    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((len(gold), 3), np.float32))
    with pytest.raises(DataFormatError, match=rf"^{wrong}: scores of shape \({len(gold)}, 3\), but the gold file "
                                              rf"has \({len(gold)}, 11\)"):
        evaluate.score_files(gold_path, pred, scores_path=wrong)
    bad = tmp_path / "nan.npy"
    np.save(bad, np.full(gold.labels.shape, np.nan, np.float32))
    with pytest.raises(DataFormatError, match="must be finite"):
        evaluate.score_files(gold_path, pred, scores_path=bad)


def test_an_ensemble_names_a_damaged_probabilities_file(tmp_path):
    gold = np.array([[1, 0], [0, 1]])
    runs = [_fake_run(tmp_path / "a", np.full((2, 2), 0.5, np.float32)),
            _fake_run(tmp_path / "b", np.full((2, 2), 0.5, np.float32))]
    damaged = run_dir_lib.probabilities_path(runs[1], "dev")
    damaged.write_bytes(damaged.read_bytes()[:60])
    with pytest.raises(DataFormatError, match=rf"^{damaged}: not a NumPy \.npy array \(.*\); re-run the run's "
                                              "training command"):
        evaluate.ensemble_runs(runs, {"dev": gold})


def test_an_ensemble_names_the_run_whose_probabilities_do_not_fit(tmp_path):
    gold = np.array([[1, 0], [0, 1]])
    a = _fake_run(tmp_path / "a", np.full((2, 2), 0.5, np.float32))
    other = _fake_run(tmp_path / "other", np.full((3, 2), 0.5, np.float32))  # another dataset's dev
    with pytest.raises(DataFormatError) as err:
        evaluate.ensemble_runs([a, other], {"dev": gold})
    path = run_dir_lib.probabilities_path(other, "dev")
    assert str(err.value) == (f"{path}: probabilities of shape (3, 2), but the dev split has (2, 2) (examples, "
                              "emotions): an ensemble averages runs of one dataset")
    nan = _fake_run(tmp_path / "nan", np.full((2, 2), np.nan, np.float32))
    with pytest.raises(DataFormatError, match=rf"^{run_dir_lib.probabilities_path(nan, 'dev')}: probabilities "
                                              "that are not finite numbers; re-run the run's training command"):
        evaluate.ensemble_runs([a, nan], {"dev": gold})
    with pytest.raises(ValueError) as err:
        evaluate.ensemble_runs([a, tmp_path / "unfinished"], {"dev": gold})
    assert str(err.value) == (f"--ensemble {tmp_path / 'unfinished'} has no dev probabilities "
                              f"({run_dir_lib.probabilities_path(tmp_path / 'unfinished', 'dev')}): give finished runs")


# -- an ensemble is of one experiment


def _recorded_run(path, train_config, dev_probs, emotion_names=testing.EC_EMOTIONS, splits=None):
    """A finished run's files as the ensemble reads them; `splits`: what training recorded (None:
    a run trained before config.json kept it)."""
    import dataclasses

    payload = {"train_config": dataclasses.asdict(train_config), "model_config": {},
               "emotion_names": list(emotion_names), "language": "en"}
    if splits is not None:
        payload["splits"] = splits
    io_utils.write_json(path / run_dir_lib.CONFIG_FILE, payload)
    return _fake_run(path, dev_probs)


def test_an_ensemble_of_runs_of_other_data_is_refused_naming_what_differs(tmp_path, capsys):
    import dataclasses
    import random

    from datn_tf.config import TrainConfig
    from datn_tf.data import datasets

    data = testing.make_fixture_data_dir(tmp_path / "data")
    task = datasets.load_task("semeval", data)
    digests = task.split_digests()
    e1 = TrainConfig(data_dir=str(data))
    # The case: a --dataset=files run whose dev file is the E-c dev file shuffled.
    lines = (data / "semeval2018-ec" / "2018-E-c-En-dev.txt").read_text().splitlines()
    (tmp_path / "dev.tsv").write_text("\n".join(lines) + "\n")
    rows = lines[1:]
    random.Random(0).shuffle(rows)
    (tmp_path / "shuffled.tsv").write_text("\n".join([lines[0], *rows]) + "\n")
    own = {dev: TrainConfig(dataset="files", train_file=str(data / "semeval2018-ec" / "2018-E-c-En-train.txt"),
                            dev_file=str(tmp_path / dev), text_column="Tweet", id_column="ID")
           for dev in ("dev.tsv", "shuffled.tsv")}
    shuffled = datasets.load_task_of(dataclasses.asdict(own["shuffled.tsv"])).split_digests()["dev"]["sha256"][:12]
    probs = np.full(task.dev.labels.shape, 0.5, np.float32)
    a = _recorded_run(tmp_path / "a", e1, probs)
    files_run = _recorded_run(tmp_path / "files", own["shuffled.tsv"], probs)
    files_in_order = _recorded_run(tmp_path / "files-in-order", own["dev.tsv"], probs)
    recorded = _recorded_run(tmp_path / "recorded", e1, probs, splits=digests)
    moved = _recorded_run(tmp_path / "moved", e1, probs,
                          splits={**digests, "dev": {"sentences": 15, "sha256": "f" * 64}})
    other_labels = _recorded_run(tmp_path / "labels", e1, probs, emotion_names=testing.EC_EMOTIONS[::-1],
                                 splits=digests)
    fold = _recorded_run(tmp_path / "fold", TrainConfig(dataset="ren_cecps", data_dir=str(data), cv_fold=3),
                         probs, splits=digests)
    dev = digests["dev"]["sha256"][:12]
    tail = "; an ensemble averages runs of the same dataset, data files, fold and labels\n"
    for runs, (first, other, line) in [
        ((a, files_run), (a, files_run, f"dataset semeval in {a}, files in {files_run}")),
        ((files_in_order, files_run), (files_in_order, files_run,
                                       f"dev data sha256 {dev} in {files_in_order}, {shuffled} in {files_run}")),
        ((a, recorded, moved), (a, moved, f"dev data sha256 {dev} in {a}, ffffffffffff in {moved}")),
        ((recorded, other_labels), (recorded, other_labels, f"label names {list(testing.EC_EMOTIONS)} in "
                                                            f"{recorded}, {list(testing.EC_EMOTIONS[::-1])} in "
                                                            f"{other_labels}")),
        ((a, fold), (a, fold, f"dataset semeval in {a}, ren_cecps in {fold}")),
    ]:
        code, err = _main(capsys, "--ensemble=" + ",".join(map(str, runs)))
        assert (code, err) == (2, f"error: --ensemble {first} and {other} are not runs of one experiment: {line}{tail}")

    # The first run's data changed since it was trained: the gold read now is not what it scored.
    code, err = _main(capsys, f"--ensemble={moved},{recorded}")
    assert (code, err) == (2, f"error: --ensemble {moved}: its dev data changed since it was trained (15 sentences, "
                              f"sha256 ffffffffffff then; 15, {dev} now): its probabilities are of other rows; "
                              "restore the files it was trained on, or train it again\n")
    # Runs of one experiment, recorded or not, are averaged.
    code, err = _main(capsys, f"--ensemble={a},{recorded}")
    assert code is None and err.startswith("dev   jaccard ")
