"""Tests of the prediction command (`datn_tf.predict`) on exported tiny runs.

The runs are trained and exported once per session (the `exported_runs` fixture).
"""

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from datn_tf import predict, testing
from datn_tf.data import semeval_ec
from datn_tf.data.semeval_ec import write_ec_file
from datn_tf.errors import UserError
from datn_tf.testing.exports import ROBUSTNESS_TEXTS, run_threshold, serve, subprocess_env


def _run_predict(args, stdin=None):
    result = subprocess.run([sys.executable, "-m", "datn_tf.predict", *args], input=stdin,
                            env=subprocess_env(), capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")[-3000:]
    return result.stdout.decode("utf-8")


def _check_records(lines, texts, export_dir, gamma):
    records = [json.loads(line) for line in lines]
    assert [r["text"] for r in records] == texts
    served = serve(export_dir, texts)
    names = list(semeval_ec.EMOTIONS)
    for record, probs in zip(records, served["probabilities"]):
        assert set(record) == {"text", "labels", "probabilities"}
        assert list(record["probabilities"]) == names
        got = np.array([record["probabilities"][n] for n in names], np.float32)
        # Batches of another size pad differently: the same numbers up to float rounding.
        np.testing.assert_allclose(got, probs, atol=1e-6)
        # Written float32 values read back exactly, so the labels are those above gamma.
        assert record["labels"] == [n for n, p in zip(names, got) if float(p) > gamma]


def test_predict_texts_from_arguments_and_stdin(exported_runs):
    run_dir, export_dir = exported_runs["runs"]["datn2"], exported_runs["exports"]["datn2"]
    gamma = run_threshold(run_dir)
    texts = ["I am so happy today", "so sad about the exam 😢", "-_- whatever"]
    out = _run_predict(["--model", str(export_dir), texts[0], texts[1], "--", texts[2]])
    _check_records(out.splitlines(), texts, export_dir, gamma)

    stdin_texts = ["first line", "", "third: 北京 😊"]
    out = _run_predict(["--model", str(export_dir)], stdin="first line\n\nthird: 北京 😊\r\n".encode())
    _check_records(out.splitlines(), stdin_texts, export_dir, gamma)


def test_predict_input_file_in_process(exported_runs, tmp_path):
    run_dir, export_dir = exported_runs["runs"]["base"], exported_runs["exports"]["base"]
    texts = list(exported_runs["dev"].texts) + ROBUSTNESS_TEXTS[:4]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "predictions.jsonl"
    assert predict.run(export_dir, input_path=source, output=out, batch_size=4) == len(texts)
    _check_records(out.read_text(encoding="utf-8").splitlines(), texts, export_dir, run_threshold(run_dir))
    # No temporaries left; the mark that lets a rerun replace the file.
    assert sorted(p.name for p in out.parent.iterdir()) == [".predictions.jsonl.datn-tf.json", "predictions.jsonl"]

    assert predict.run(export_dir, stdin=io.BytesIO(b"")) == 0  # no text: no output, no error
    with pytest.raises(UserError, match="needs --input"):
        predict.run(export_dir, fmt="semeval")
    with pytest.raises(UserError, match="not UTF-8"):
        bad = tmp_path / "bad.txt"
        bad.write_bytes(b"caf\xe9\n")
        predict.run(export_dir, input_path=bad)
    with pytest.raises(FileNotFoundError, match="not a SavedModel"):
        predict.run(tmp_path, texts=["x"])


def test_texts_predicted_with_a_table_output_also_get_a_wide_tsv(exported_runs, tmp_path):
    export_dir = exported_runs["exports"]["base"]
    texts = ["so happy, today", "what a mess"]
    out, table = tmp_path / "p.jsonl", tmp_path / "p.tsv"
    predict.run(export_dir, texts=texts, output=out, table_output=table)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    lines = table.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id\ttext\t" + "\t".join(semeval_ec.EMOTIONS)
    for i, (line, record) in enumerate(zip(lines[1:], records)):
        fields = line.split("\t")
        assert fields[:2] == [str(i + 1), texts[i]]
        assert [n for n, v in zip(semeval_ec.EMOTIONS, fields[2:]) if v == "1"] == record["labels"]
    with pytest.raises(UserError, match="--format table needs --input"):
        predict.run(export_dir, fmt="table")
    with pytest.raises(UserError, match="--table_output is for --format jsonl or table"):
        predict.run(export_dir, fmt="semeval", input_path=out, table_output=table)


def test_predict_semeval_format_round_trip(exported_runs, tmp_path):
    run_dir, export_dir, dev = exported_runs["runs"]["datn2"], exported_runs["exports"]["datn2"], exported_runs["dev"]
    unlabelled = tmp_path / "2018-E-c-En-test.txt"
    testing.write_ec_file(unlabelled, [(i, t, ["NONE"] * 11) for i, t in zip(dev.ids, dev.texts)])
    output = tmp_path / "E-C_en_pred.txt"
    _run_predict(["--model", str(export_dir), "--format", "semeval", "--input", str(unlabelled),
                  "--output", str(output)])

    source_lines = unlabelled.read_text(encoding="utf-8").splitlines()
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines[0] == source_lines[0]
    assert [l.split("\t")[:2] for l in lines] == [l.split("\t")[:2] for l in source_lines]  # IDs and tweets
    written = semeval_ec.read_ec(output)
    np.testing.assert_array_equal(written.labels.astype(bool), serve(export_dir, dev.texts)["labels"])
    # Byte for byte what the trainer writes for the same predictions, and the run's own dev file.
    reference = tmp_path / "reference.txt"
    examples = semeval_ec.read_ec(unlabelled, prediction=True)
    write_ec_file(reference, examples, written.labels)
    assert output.read_bytes() == reference.read_bytes()
    assert output.read_text().splitlines()[1:] == (run_dir / "predictions" / "dev.txt").read_text().splitlines()[1:]


# -- an official E-c file without --format semeval

NONE_ROW = ["NONE"] * 11


def _ec_file(path, crlf_bom=False):
    testing.write_ec_file(path, [("2018-En-01", "so happy today", NONE_ROW), ("2018-En-02", "what a mess", NONE_ROW)])
    if crlf_bom:  # as re-saved by a Windows editor
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    return path


@pytest.mark.parametrize(
    "texts, refused",
    [
        (["ID\tTweet\tanger\tanticipation", "2018-En-01\thi\t0\t1"], True),
        (["ID\tTweet\t"], True),
        (["ID Tweet anger", "hello"], False),  # spaces, not tabs: a text like any other
        (["ID\tTweet"], False),
        (["hello", "ID\tTweet\tanger"], False),  # only the first line is a header
        (["id\ttweet\tanger"], False),
        ([], False),
    ],
)
def test_check_not_ec_file(texts, refused):
    if refused:
        with pytest.raises(UserError, match=r"^in\.txt: line 1 .*E-c file.*pass --format semeval "):
            predict.check_not_ec_file(texts, "in.txt")
    else:
        predict.check_not_ec_file(texts, "in.txt")


@pytest.mark.parametrize("crlf_bom", [False, True])
def test_run_refuses_an_ec_input_file(tmp_path, crlf_bom):
    path = _ec_file(tmp_path / "2018-E-c-En-dev.txt", crlf_bom)
    output = tmp_path / "out.jsonl"
    # The model is never loaded: the input is checked first.
    with pytest.raises(UserError, match="official SemEval-2018 E-c file.*--format semeval") as err:
        predict.run(tmp_path / "no-model", input_path=path, output=output)
    assert str(err.value).startswith(f"{path}: line 1 ")
    assert not output.exists()


def test_run_refuses_an_ec_file_on_stdin(tmp_path):
    data = _ec_file(tmp_path / "ec.txt").read_bytes()
    with pytest.raises(UserError, match=r"^standard input: .*--format semeval --input FILE"):
        predict.run(tmp_path / "no-model", stdin=io.BytesIO(data))


# -- outputs never inputs; damaged or foreign models


@pytest.mark.parametrize("fmt", ["semeval", "jsonl"])
def test_an_output_onto_the_input_or_into_the_model_is_refused(tmp_path, fmt):

    gold = _ec_file(tmp_path / "gold.txt")
    if fmt == "jsonl":
        gold.write_text("so happy\n", encoding="utf-8")
    before = gold.read_bytes()
    # Checked before the model is loaded: no model is needed.
    with pytest.raises(UserError, match=f"^--output {gold} is the input --input {gold}: "):
        predict.run(tmp_path / "model", input_path=gold, output=gold, fmt=fmt)
    assert gold.read_bytes() == before
    with pytest.raises(UserError, match="is inside the input --model"):
        predict.run(tmp_path / "model", input_path=gold, output=tmp_path / "model" / "variables" / "x", fmt=fmt)
    if fmt == "jsonl":
        same = tmp_path / "out.tsv"
        with pytest.raises(UserError, match=f"^--output {same} and --table_output {same} are one path"):
            predict.run(tmp_path / "model", input_path=gold, output=same, table_output=same, fmt=fmt)
        assert not same.exists()


def test_an_existing_file_the_command_did_not_write_is_never_replaced(exported_runs, tmp_path):

    export_dir = exported_runs["exports"]["base"]
    data = testing.make_fixture_data_dir(tmp_path / "data")
    dev = data / "semeval2018-ec" / "2018-E-c-En-dev.txt"
    mine = tmp_path / "dev-copy.txt"
    mine.write_bytes(dev.read_bytes())
    before = {p: p.read_bytes() for p in (dev, mine)}
    # A data set's own file (the case), a new file beside it, and a file of the user's.
    for flag, out, line in [
        ("output", dev, f"--output {dev} is inside the data folder {dev.parent}: its files are what training and "
                        "scoring read; choose another --output"),
        ("output", dev.parent / "new.jsonl", f"--output {dev.parent / 'new.jsonl'} is inside the data folder "
                                             f"{dev.parent}: its files are what training and scoring read; choose "
                                             "another --output"),
        ("output", mine, f"--output {mine} exists and was not written by datn_tf.predict: pass --overwrite to "
                         "replace it, or choose a new file"),
        ("table_output", mine, f"--table_output {mine} exists and was not written by datn_tf.predict: pass "
                               "--overwrite to replace it, or choose a new file"),
    ]:
        with pytest.raises(UserError) as err:
            predict.run(export_dir, texts=["hello"], **{flag: out})
        assert str(err.value) == line
    assert {p: p.read_bytes() for p in before} == before and not (dev.parent / "new.jsonl").exists()

    # Its own earlier output is replaced; once edited by hand it is the user's file.
    out = tmp_path / "out.jsonl"
    predict.run(export_dir, texts=["hello"], output=out)
    predict.run(export_dir, texts=["so happy", "so sad"], output=out)
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == ["so happy", "so sad"]
    out.write_text(out.read_text() + "my note\n")
    with pytest.raises(UserError, match="exists and was not written by datn_tf.predict"):
        predict.run(export_dir, texts=["hello"], output=out)
    # --overwrite replaces it (a file, never a folder), and marks it for the next run.
    predict.run(export_dir, texts=["hello"], output=mine, overwrite=True)
    predict.run(export_dir, texts=["again"], output=mine)
    assert json.loads(mine.read_text())["text"] == "again"
    with pytest.raises(UserError, match=f"^--output {tmp_path} is a folder; give a file name$"):
        predict.run(export_dir, texts=["hello"], output=tmp_path, overwrite=True)


def _foreign_saved_model(path):
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.f = tf.function(lambda x: {"y": x * module.scale}, input_signature=[tf.TensorSpec([None], tf.float32,
                                                                                              name="x")])
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})


def _truncate(paths, size):
    for p in paths:
        p.write_bytes(p.read_bytes()[:size])


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "saved_model.pb").write_bytes(b"garbage" * 9), "is a damaged SavedModel (Cannot parse"),
    (lambda d: (d / "saved_model.pb").write_bytes(b""), "is a damaged SavedModel ("),
    (lambda d: _truncate((d / "variables").glob("variables.data*"), 100), "is a damaged SavedModel ("),
    (lambda d: _truncate([d / "variables" / "variables.index"], 20), "is a damaged SavedModel ("),
    (lambda d: shutil.rmtree(d / "variables"), "is a damaged SavedModel (no variables/ folder)"),
    (lambda d: (d / "assets" / "datn_tf.json").write_text("{cut"), "datn_tf.json:1: not valid JSON"),
    (lambda d: (shutil.rmtree(d), _foreign_saved_model(d)), "is a SavedModel but not a datn-tf export"),
])
def test_a_damaged_or_foreign_model_is_named_in_one_line(exported_runs, tmp_path, damage, message):
    model = tmp_path / "model"
    shutil.copytree(exported_runs["exports"]["base"], model)
    damage(model)
    with pytest.raises(ValueError) as err:
        predict.run(model, texts=["so happy"])
    line = str(err.value)
    assert message in line and "\n" not in line
    assert line.startswith(str(model))
    if "not a datn-tf" not in message:
        assert line.endswith("export the run again: python -m datn_tf.export --run_dir RUN --output FOLDER "
                             "--overwrite")


def test_cli_damaged_model_exits_2_with_one_line(exported_runs, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(exported_runs["exports"]["base"], model)
    (model / "saved_model.pb").write_bytes(b"garbage" * 9)
    result = subprocess.run([sys.executable, "-m", "datn_tf.predict", "--model", str(model), "so happy"],
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {model} is a damaged SavedModel (") and result.stderr.count("\n") == 1
    bad_flag = subprocess.run([sys.executable, "-m", "datn_tf.predict", "--model", str(model), "--batch_size=x"],
                              env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert bad_flag.returncode == 2
    assert bad_flag.stderr.startswith("error: flag --batch_size=x: ") and bad_flag.stderr.count("\n") == 1


def test_a_run_folder_given_as_the_model_says_to_export_it(tmp_path):
    from datn_tf import run_dir as run_dir_lib

    run = tmp_path / "run"
    run.mkdir()
    (run / run_dir_lib.CONFIG_FILE).write_text("{}")
    with pytest.raises(UserError, match=rf"^{run} is a training run, not an exported model; export "
                                                   rf"it first: python -m datn_tf.export --run_dir {run} --output "
                                                   "FOLDER$"):
        predict.run(run, texts=["so happy"])
