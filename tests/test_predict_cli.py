"""`python -m datn_tf.predict` refuses an official E-c file in jsonl mode (the default).

The check runs before the model is loaded, so no exported model is needed here;
`datn_tf/predict_test.py` tests the rest, in process and with real exports.
"""

import os
import subprocess
import sys

import pytest

from datn_tf import testing

NONE_ROW = ["NONE"] * 11


@pytest.mark.slow
def test_cli_refuses_an_ec_file_without_format_semeval(tmp_path):
    path = tmp_path / "2018-E-c-En-dev.txt"
    testing.write_ec_file(path, [("2018-En-01", "so happy today", NONE_ROW), ("2018-En-02", "what a mess", NONE_ROW)])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-m", "datn_tf.predict", "--model", str(tmp_path / "no-model"), "--input", str(path)],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout == ""
    assert f"error: {path}: line 1 is the header of an official SemEval-2018 E-c file" in result.stderr
    assert "pass --format semeval" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_predict_never_replaces_a_file_it_did_not_write(tmp_path):
    # The case: --output named a data set's own file and replaced it with one JSON line, exit 0.
    data = testing.make_fixture_data_dir(tmp_path / "data")
    dev = data / "semeval2018-ec" / "2018-E-c-En-dev.txt"
    mine = tmp_path / "mine.txt"
    mine.write_text("my own notes\n")
    before = {p: p.read_bytes() for p in (dev, mine)}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    for out, line in [
        (dev, f"error: --output {dev} is inside the data folder {dev.parent}: its files are what training and "
              "scoring read; choose another --output\n"),
        (mine, f"error: --output {mine} exists and was not written by datn_tf.predict: pass --overwrite to replace "
               "it, or choose a new file\n"),
    ]:
        result = subprocess.run([sys.executable, "-m", "datn_tf.predict", "--model", str(tmp_path / "no-model"),
                                 "--output", str(out), "hello"], env=env, capture_output=True, text=True, timeout=300)
        assert (result.returncode, result.stderr, result.stdout) == (2, line, "")
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.slow
def test_evaluate_ensemble_prints_only_the_projects_lines(exported_runs):
    # The ensemble reads run folders (run_dir imports TensorFlow): its start-up lines stay hidden.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    runs = ",".join(str(r) for r in exported_runs["runs"].values())
    result = subprocess.run([sys.executable, "-m", "datn_tf.evaluate", f"--ensemble={runs}"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.startswith("dev   jaccard "), result.stderr[:500]
