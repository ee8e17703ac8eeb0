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
def test_evaluate_ensemble_prints_only_the_projects_lines(exported_runs):
    # The ensemble reads run folders (run_dir imports TensorFlow): its start-up lines stay hidden.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    runs = ",".join(str(r) for r in exported_runs["runs"].values())
    result = subprocess.run([sys.executable, "-m", "datn_tf.evaluate", f"--ensemble={runs}"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.startswith("dev   jaccard "), result.stderr[:500]
