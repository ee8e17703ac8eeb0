"""`python -m datn_tf.predict` refuses an official E-c file in jsonl mode (the default).

The check runs before the model is loaded, so no exported model is needed here;
`datn_tf/predict_test.py` tests the rest, in process and with real exports.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datn_tf import testing

NONE_ROW = ["NONE"] * 11
REPO = Path(__file__).resolve().parents[1]


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
    # The user's own files and the rest: datn_tf/predict_test.py, in process.
    data = testing.make_fixture_data_dir(tmp_path / "data")
    dev = data / "semeval2018-ec" / "2018-E-c-En-dev.txt"
    before = dev.read_bytes()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-m", "datn_tf.predict", "--model", str(tmp_path / "no-model"),
                             "--output", str(dev), "hello"], env=env, capture_output=True, text=True, timeout=300)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"error: --output {dev} is inside the data folder {dev.parent}: its files are what "
                             "training and scoring read; choose another --output\n")
    assert dev.read_bytes() == before


@pytest.mark.slow
def test_evaluate_ensemble_prints_only_the_projects_lines(exported_runs):
    # The ensemble reads run folders (run_dir imports TensorFlow): its start-up lines stay hidden.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    runs = ",".join(str(r) for r in exported_runs["runs"].values())
    result = subprocess.run([sys.executable, "-m", "datn_tf.evaluate", f"--ensemble={runs}"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.startswith("dev   jaccard "), result.stderr[:500]


@pytest.mark.slow
@pytest.mark.parametrize("command, arg", [
    ("datn_tf.predict", "--intra_op_threads=-1"),  # "thread counts must be >= 0", naming no flag
    ("datn_tf.visualize", "--dpi=100000"),  # a MemoryError traceback; --dpi=0: "dpi must be positive"
])
def test_an_out_of_range_flag_is_named(tmp_path, command, arg):
    others = {"datn_tf.predict": [f"--model={tmp_path}", "hello"],
              "datn_tf.visualize": [f"--run_dirs={tmp_path}", f"--output={tmp_path / 'out.png'}"]}[command]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-m", command, arg, *others], env=env, capture_output=True, text=True,
                            timeout=300)
    name = arg.split("=")[0]
    assert result.returncode == 2 and result.stderr.startswith("error: ") and name in result.stderr and \
        result.stderr.count("\n") == 1, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["evaluate --output", "glove_100d", "selection_gap"])
def test_every_command_hides_tensorflows_start_up_lines(tmp_path, command):
    # These printed TensorFlow's CUDA and absl start-up lines (their output checks read run folders,
    # and the run folder module imports TensorFlow).
    from datn_tf.data import semeval_ec

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    gold = tmp_path / "gold.txt"
    testing.write_ec_file(gold, [("2018-En-01", "so happy today", [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])])
    args, stderr = {
        "evaluate --output": (["datn_tf.evaluate", f"--gold={gold}", f"--predictions={gold.with_name('p.txt')}",
                               f"--output={tmp_path / 'm.json'}"], "jaccard 1.0000"),
        "glove_100d": (["datn_tf.data.glove_100d", f"--archive={tmp_path / 'none.tgz'}",
                        f"--output={tmp_path / 'glove.txt'}"], f"error: {tmp_path / 'none.tgz'}: No such file"),
        "selection_gap": (["experiments.selection_gap", f"--results_dir={tmp_path}"], ""),
    }[command]
    semeval_ec.write_ec_file(gold.with_name("p.txt"), semeval_ec.read_ec(gold), semeval_ec.read_ec(gold).labels)
    result = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.stderr.startswith(stderr) and result.stderr.count("\n") == (1 if stderr else 0), result.stderr


@pytest.mark.slow
def test_ctrl_c_during_an_export_is_one_line_and_leaves_nothing(exported_runs, tmp_path):
    import signal
    import time

    from datn_tf import STARTING_INTERRUPTED, cli

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    for delay in (0.5, 3.0, 6.0):  # TensorFlow loading, the run loading, the SavedModel being written
        out = tmp_path / f"export-{delay}"
        proc = subprocess.Popen([sys.executable, "-m", "datn_tf.export", f"--run_dir={exported_runs['runs']['base']}",
                                 f"--output={out}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        if proc.returncode == 0:  # it was over: a whole export
            assert err == "" and (out / "saved_model.pb").is_file(), err[-3000:]
        else:
            assert (proc.returncode, err) in ((130, STARTING_INTERRUPTED + "\n"), (130, cli.INTERRUPTED_LINE + "\n")), \
                err[-3000:]
            assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left
