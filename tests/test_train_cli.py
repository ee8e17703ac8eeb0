"""End to end: `python -m datn_tf.train` checks its flags first, prints only its own lines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = ["--batch_size=8", "--hidden_size=6", "--attention_size=5", "--mlp_hidden_units=7", "--eval_every=3",
        "--max_steps=3"]
NOISE = ("cudart_stub", "cuInit", "Sharding callback", "All log messages before absl", "oneDNN custom operations")


def _train(*args, cwd=REPO):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    return subprocess.run([sys.executable, "-m", "datn_tf.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["base"], "unexpected argument(s) 'base'"),
    (["--epochs=0"], "--epochs must be >= 1; got 0"),
    (["--max_steps=0"], "--max_steps must be >= 1; got 0"),
    (["--max_length=-2"], "--max_length must be >= 1; got -2"),
    (["--lambda_sim=-1"], "--lambda_sim must be >= 0"),
    (["--learning_rate=-0.001"], "--learning_rate must be > 0"),
    (["--variant=datn2", "--lambda_sim=nan"], "--lambda_sim must be a finite number; got nan"),
    (["--learning_rate=1e300"], "--learning_rate must be <= 1.0; got 1e+300"),
    (["--hidden_size=1000000000"], "--hidden_size must be <= 4096; got 1000000000"),
    # It trained on E1 without a word.
    (["--train_file=mine.csv"], "error: --train_file is read only with --dataset=files, not --dataset=semeval; "
                                "leave it out, or pass --dataset=files\n"),
])
def test_bad_settings_stop_before_any_data_is_read(tmp_path, args, message):
    out = tmp_path / "run"
    proc = _train("--data_dir=/nonexistent", f"--output_dir={out}", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()  # nothing half-made


@pytest.mark.slow
def test_a_run_prints_only_the_projects_lines(data_dir, tmp_path):
    proc = _train(f"--data_dir={data_dir}", f"--output_dir={tmp_path / 'run'}", "--variant=datn2", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for noise in NOISE:
        assert noise not in proc.stdout + proc.stderr, noise
    assert proc.stderr == ""
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("test split not evaluated: ") and last.count("not evaluated") == 1
    assert "devices CPU" in proc.stdout  # the device in use is still reported


@pytest.mark.slow
def test_a_second_trainer_on_the_same_folder_stops_at_once_naming_the_holder(data_dir, tmp_path):
    import json
    import time

    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "datn_tf.train", f"--data_dir={data_dir}", f"--output_dir={out}",
                              "--variant=base", *TINY[:-1], "--max_steps=100000"], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (out / "lock.json").exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        holder = json.loads((out / "lock.json").read_text())
        assert holder["pid"] == first.pid
        second = _train(f"--data_dir={data_dir}", f"--output_dir={out}", "--variant=base", "--seed=1", *TINY)
        assert second.returncode == 2, second.stderr[-3000:]
        assert second.stderr.startswith(f"error: {out} is being trained by pid {first.pid} on host ")
        assert "Traceback" not in second.stderr and len(second.stderr.splitlines()) == 1
        assert first.poll() is None  # the first one trains on
    finally:
        first.kill()
        first.wait()


@pytest.mark.slow
def test_output_dirs_that_are_not_a_run_folder_are_refused(data_dir, tmp_path):
    from datn_tf.run_dir import METRICS_FILE

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / METRICS_FILE).write_text('{"my": "numbers"}')
    (tmp_path / "a-file").write_text("x")
    vectors = tmp_path / "vectors"
    vectors.mkdir()
    (vectors / "glove.txt").write_text("happy 0.1 0.2\n")
    cases = [
        (mine, f"error: --output_dir {mine} holds files that are not a datn-tf run's ({METRICS_FILE}); choose a new or "
               "empty folder, so that nothing in it is overwritten\n"),
        (tmp_path / "a-file", f"error: --output_dir {tmp_path / 'a-file'} is a file, not a folder; choose a new "
                              "folder\n"),
        (vectors, f"error: --output_dir {vectors} holds the input --embeddings {vectors / 'glove.txt'}: writing it "
                  "would destroy what the command reads; choose another --output_dir\n"),
        (data_dir / "run", f"error: --output_dir {data_dir / 'run'} is inside the input --data_dir {data_dir}: "
                           "writing it would destroy what the command reads; choose another --output_dir\n"),
    ]
    for out, line in cases:
        extra = [f"--embeddings={vectors / 'glove.txt'}"] if out == vectors else []
        proc = _train(f"--data_dir={data_dir}", f"--output_dir={out}", "--variant=base", *TINY, *extra)
        assert (proc.returncode, proc.stderr) == (2, line)
    assert (mine / METRICS_FILE).read_text() == '{"my": "numbers"}' and list(mine.iterdir()) == [mine / METRICS_FILE]
    assert sorted(p.name for p in vectors.iterdir()) == ["glove.txt"]
    assert not (data_dir / "run").exists()


@pytest.mark.slow
def test_a_bad_flag_is_one_line_and_status_2(tmp_path):
    proc = _train("--epochs=many", f"--output_dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: flag --epochs=many: ") and proc.stderr.count("\n") == 1
    assert proc.stderr.endswith("; --helpfull lists every flag\n")


@pytest.mark.slow
def test_ctrl_c_while_the_vectors_are_read_is_one_line(data_dir, tmp_path):
    import signal

    fifo = tmp_path / "vectors.txt"
    os.mkfifo(fifo)  # the reader blocks on it: Ctrl-C arrives while the vectors are being read
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    proc = subprocess.Popen([sys.executable, "-m", "datn_tf.train", f"--data_dir={data_dir}",
                             f"--output_dir={tmp_path / 'run'}", "--variant=base", f"--embeddings={fifo}", *TINY],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "w") as writer:  # returns once the command has opened the file
        writer.write("happy " + " ".join(["0.1"] * 6) + "\n")
        writer.flush()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert err == "interrupted; re-run the same command to go on (a training run resumes from its last checkpoint)\n"
    assert not (tmp_path / "run").exists()  # stopped before it wrote anything: no empty folder left


@pytest.mark.slow
def test_a_data_error_leaves_no_run_folder_and_keeps_a_users_folder(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,calm,eager\nso quiet,1,0\n,0,1\n")  # line 3 has no text
    args = ["--dataset=files", f"--train_file={train}", f"--dev_file={train}", "--variant=base", *TINY]
    proc = _train(f"--output_dir={tmp_path / 'new' / 'run'}", *args)
    assert proc.returncode == 2 and f"{train}:3: row with no text" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "new" / "run").exists()
    (tmp_path / "mine").mkdir()  # a folder the user made: theirs to keep, even empty
    proc = _train(f"--output_dir={tmp_path / 'mine'}", *args)
    assert proc.returncode == 2 and (tmp_path / "mine").is_dir()


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_rerun_resumes(data_dir, tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    from datn_tf import cli, run_weights, testing
    from datn_tf import run_dir as run_dir_lib
    from datn_tf import train as train_cli

    config = testing.tiny_train_config(data_dir, tmp_path / "run", variant="base", max_steps=6, eval_every=2)
    original, calls = run_weights.Checkpoints.save, []

    def full_at_the_second(self, step):
        calls.append(step)
        if len(calls) == 2:  # what TensorFlow raises when the disk fills while a checkpoint is written
            raise tf.errors.ResourceExhaustedError(None, None, f"{self.directory}/ckpt-{step}_temp/part-00000; No "
                                                   "space left on device [Op:SaveV2]")
        return original(self, step)

    monkeypatch.setattr(run_weights.Checkpoints, "save", full_at_the_second)
    with pytest.raises(SystemExit) as info:
        with cli.user_errors():
            train_cli.run(config)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err == (f"error: {tmp_path / 'run' / run_dir_lib.CKPT_DIR}/ckpt-4_temp/part-00000; No space left on "
                   "device; free some space and re-run the same command (a training run resumes from its last "
                   "checkpoint)\n")
    assert not run_dir_lib.is_finished(tmp_path / "run")

    monkeypatch.undo()  # space freed
    result = train_cli.run(config)
    out = capsys.readouterr().out
    assert "resumed from" in out and "ckpt-2 at step 2" in out
    assert result["steps"] == 6 and run_dir_lib.is_finished(tmp_path / "run")


# Where a Ctrl-C lands: (the output line to wait for, or None for the start; seconds after it).
CTRL_C_MOMENTS = {
    "imports": (None, 0.5),
    "banner": ("datn-tf | ", 0.0),
    "data pipeline": ("datn-tf | ", 0.02),  # tf.data.Dataset.from_generator: a SystemError traceback, exit 1
    "dev evaluation and checkpoint": ("epoch 1/", 0.0),  # the first progress line is step 3's, evaluated next
    "training": ("  dev step 3:", 0.0),
}


@pytest.mark.slow
def test_ctrl_c_at_any_moment_is_one_line_and_status_130_or_a_finished_run(data_dir, tmp_path):
    import re
    import signal
    import time

    from datn_tf import STARTING_INTERRUPTED, cli

    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    stopped = re.compile(r"interrupted at step \d+ of 9; (the last checkpoint is \S+: |no checkpoint yet: )re-run the "
                         r"same command to resume\n")
    for moment, (line, delay) in CTRL_C_MOMENTS.items():
        out = tmp_path / moment.replace(" ", "-")
        # As a terminal starts it: SIGINT not ignored (a test runner may start its children ignoring it).
        proc = subprocess.Popen(
            [sys.executable, "-m", "datn_tf.train", f"--data_dir={data_dir}", f"--output_dir={out}", "--variant=base",
             *TINY[:-1], "--max_steps=9", "--log_every=3"], cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        while line is not None:
            printed = proc.stdout.readline()
            assert printed, (moment, proc.stderr.read()[-3000:])
            if printed.startswith(line):
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        if proc.returncode == 0:  # it was over: a whole run
            assert err == "" and (out / "metrics.json").is_file(), (moment, err[-3000:])
        else:
            assert proc.returncode == 130, (moment, err[-3000:])
            assert err in (STARTING_INTERRUPTED + "\n", cli.INTERRUPTED_LINE + "\n") or stopped.fullmatch(err), \
                (moment, err[-3000:])
        if moment == "imports":
            assert err == STARTING_INTERRUPTED + "\n" and not out.exists()
def test_a_bug_inside_train_keeps_its_traceback(data_dir, tmp_path, monkeypatch, capsys):
    """A plain ValueError is a bug in our code, not bad input: no `error:` line hides it."""
    from absl import flags

    from datn_tf import runtime
    from datn_tf import train as train_cli

    def broken(config, data=None):
        raise ValueError("operands could not be broadcast together with shapes (2,) (3,)")

    monkeypatch.setattr(train_cli, "run", broken)
    monkeypatch.setattr(runtime, "configure_threads_from_flags", lambda: None)  # TensorFlow already runs here
    train_cli.define_flags()  # as `python -m datn_tf.train` does (each flag defined once)
    flags.FLAGS(["train", f"--data_dir={data_dir}", f"--output_dir={tmp_path / 'run'}", "--variant=base"])
    try:
        with pytest.raises(ValueError, match="^operands could not be broadcast together"):
            train_cli.main(["train"])
    finally:
        flags.FLAGS.unparse_flags()
    assert capsys.readouterr().err == ""
    assert not (tmp_path / "run").exists()  # nothing left behind either


@pytest.mark.slow
def test_a_bug_inside_train_prints_its_traceback_and_exits_1(data_dir, tmp_path):
    inject = ("import runpy, sys\n"
              "from datn_tf.data import prepare\n"
              "def broken(config):\n"
              "    raise ValueError('operands could not be broadcast together with shapes (2,) (3,)')\n"
              "prepare.prepare_data = broken\n"
              "sys.argv = ['train', *sys.argv[1:]]\n"
              "runpy.run_module('datn_tf.train', run_name='__main__', alter_sys=True)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DATN_TF_VERBOSE")}
    proc = subprocess.run([sys.executable, "-c", inject, f"--data_dir={data_dir}", f"--output_dir={tmp_path / 'run'}",
                           "--variant=base", *TINY], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback (most recent call last):" in proc.stderr and "error: " not in proc.stderr
    assert proc.stderr.rstrip("\n").splitlines()[-1] == ("ValueError: operands could not be broadcast together with "
                                                         "shapes (2,) (3,)")
    assert not (tmp_path / "run").exists()
