"""The one user-error path (`cli.user_errors`, `cli.parse_flags`) and the output-path checks."""

import errno
import json
import os

import pytest
import tensorflow as tf

from datn_tf import cli, io_utils
from datn_tf import run_dir as run_dir_lib
from datn_tf.errors import DataFormatError, UserError


def _exit(capsys, raised, argv=None):
    """(status, stderr) of a block that raises `raised` under `cli.user_errors`."""
    with pytest.raises(SystemExit) as info:
        with cli.user_errors(argv):
            if raised is not None:
                raise raised
    return info.value.code, capsys.readouterr().err


# -- one line per error --------------------------------------------------------------------------


@pytest.mark.parametrize("raised, line", [
    (UserError("--epochs must be >= 1; got 0"), "error: --epochs must be >= 1; got 0\n"),
    (DataFormatError("train.tsv", 3, "2 field(s) where the first row has 3"),
     "error: train.tsv:3: 2 field(s) where the first row has 3\n"),
    (FileNotFoundError("--input x.txt not found"), "error: --input x.txt not found\n"),
    (OSError(errno.ENOSPC, "No space left on device", "runs/r/config.json"),
     "error: runs/r/config.json: No space left on device; free some space and re-run the same command "
     "(a training run resumes from its last checkpoint)\n"),
    (PermissionError(errno.EACCES, "Permission denied", "/ro/run"),
     "error: /ro/run: Permission denied; check the permissions of that path, or choose another one\n"),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x"),
     "error: /mnt/ro/x: Read-only file system; choose a path on a writable file system\n"),
    (tf.errors.ResourceExhaustedError(None, None, "runs/r/checkpoints/ckpt-20_temp/part-00000-of-00001.data-"
                                      "00000-of-00001.tempstate1; No space left on device [Op:SaveV2]"),
     "error: runs/r/checkpoints/ckpt-20_temp/part-00000-of-00001.data-00000-of-00001; No space left on "
     "device; free some space and re-run the same command (a training run resumes from its last checkpoint)\n"),
    # TensorFlow's own words on a real full disk: its graph-function prefix is not shown.
    (tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__SaveV2_dtypes_122_device_/job:localhost/"
                                      "replica:0/task:0/device:CPU:0}} runs/r/checkpoints/ckpt-20_temp/part-00000-of-"
                                      "00001.data-00000-of-00001.tempstate2223152821031486745; No space left on device"
                                      " [Op:SaveV2]"),
     "error: runs/r/checkpoints/ckpt-20_temp/part-00000-of-00001.data-00000-of-00001; No space left on "
     "device; free some space and re-run the same command (a training run resumes from its last checkpoint)\n"),
    (tf.errors.FailedPreconditionError(None, None, "/etc/passwd is not a directory"),
     "error: /etc/passwd is not a directory; a part of that path is a file, not a folder; choose another path\n"),
])
def test_each_error_is_one_line_and_status_2(capsys, raised, line):
    assert _exit(capsys, raised) == (2, line)


def test_real_os_errors_name_the_path(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as info:
        with cli.user_errors():
            io_utils.write_text(tmp_path / "file" / "out.txt", "y")  # the parent is a file
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'file'}") and "Not a directory" in err and err.count("\n") == 1
    (tmp_path / "folder").mkdir()
    with pytest.raises(SystemExit) as info:
        with cli.user_errors():
            io_utils.write_text(tmp_path / "folder", "y")  # an output that is a folder
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Is a directory" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]  # no temporaries left


def test_ctrl_c_is_one_line_and_status_130(capsys):
    code, err = _exit(capsys, KeyboardInterrupt())
    assert code == 130
    assert err == ("interrupted; re-run the same command to go on (a training run resumes from its last "
                   "checkpoint)\n")


def test_stray_arguments_are_refused_before_the_block(capsys):
    ran = []
    with pytest.raises(SystemExit) as info:
        with cli.user_errors(["train", "base"]):
            ran.append(1)
    assert info.value.code == 2 and not ran
    assert capsys.readouterr().err == ("error: unexpected argument(s) 'base'; settings are flags, "
                                       "e.g. --variant=base\n")


def test_a_bug_is_not_hidden(capsys):
    for bug in (ValueError("operands could not be broadcast together"), IndexError("index 3 is out of bounds")):
        with pytest.raises(type(bug)):
            with cli.user_errors():
                raise bug
    assert capsys.readouterr().err == ""
    with pytest.raises(KeyError):
        with cli.user_errors():
            raise KeyError("a bug")
    with pytest.raises(tf.errors.InvalidArgumentError):
        with cli.user_errors():
            raise tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [2] vs. [3]")


def test_a_bad_flag_is_one_line_and_status_2(capsys):
    from absl import flags

    flag_values = flags.FlagValues()
    flags.DEFINE_integer("cli_test_epochs", 1, "x", flag_values=flag_values)
    saved = flags.FLAGS
    flags.FLAGS = flag_values
    try:
        with pytest.raises(SystemExit) as info:
            cli.parse_flags(["prog", "--cli_test_epochs=many"])
        with pytest.raises(SystemExit) as unknown:
            cli.parse_flags(["prog", "--no_such_flag=1"])
    finally:
        flags.FLAGS = saved
    assert info.value.code == 2 and unknown.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    assert "cli_test_epochs" in err[0] and "many" in err[0] and err[0].endswith("; --helpfull lists every flag")
    assert "no_such_flag" in err[1]


def test_asked_for_help_exits_0(capsys):
    from absl import app, flags

    saved = flags.FLAGS
    flags.FLAGS = flags.FlagValues()
    flags.DEFINE_flag(app.HelpFlag(), flags.FLAGS)
    flags.DEFINE_flag(app.HelpfullFlag(), flags.FLAGS)
    try:
        for arg in ("--help", "--helpfull"):
            with pytest.raises(SystemExit) as info:
                cli.parse_flags(["prog", arg])
            assert info.value.code == 0, arg
    finally:
        flags.FLAGS = saved
    assert "Try --helpfull to get a list of all flags." in capsys.readouterr().out


# -- outputs never inputs ------------------------------------------------------------------------


def test_an_output_that_is_an_input_is_refused(tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("ID\tTweet\n")
    os.symlink(gold, tmp_path / "link.txt")
    os.link(gold, tmp_path / "hard.txt")
    for out in (gold, tmp_path / "link.txt", tmp_path / "hard.txt", tmp_path / "." / "gold.txt"):
        with pytest.raises(UserError, match=f"^--output {out} is the input --input {gold}: writing it would "
                                                "destroy what the command reads; choose another --output$"):
            cli.check_outputs({"--output": out}, inputs={"--input": gold})
    cli.check_outputs({"--output": tmp_path / "pred.txt"}, inputs={"--input": gold})
    cli.check_outputs({"--output": None}, inputs={"--input": gold})
    assert gold.read_text() == "ID\tTweet\n"


def test_an_output_inside_or_around_a_run_is_refused(tmp_path):
    run = tmp_path / "runs" / "r"
    (run / "best").mkdir(parents=True)
    os.symlink(run, tmp_path / "alias")
    with pytest.raises(UserError, match="is inside the run folder --run_dir"):
        cli.check_outputs({"--output": run / "best"}, runs={"--run_dir": run})
    with pytest.raises(UserError, match="is inside the run folder --run_dir"):
        cli.check_outputs({"--output": tmp_path / "alias" / "checkpoints"}, runs={"--run_dir": run})
    with pytest.raises(UserError, match="holds the run folder --run_dirs"):
        cli.check_outputs({"--output": tmp_path / "runs"}, runs=[("--run_dirs", tmp_path / "other"),
                                                                 ("--run_dirs", run)])
    cli.check_outputs({"--output": tmp_path / "runs" / "r-export"}, runs={"--run_dir": run})


def test_an_output_inside_any_run_folder_is_refused_even_one_the_command_does_not_read(tmp_path):
    run = tmp_path / "runs" / "a"
    (run / "predictions").mkdir(parents=True)
    (run / run_dir_lib.CONFIG_FILE).write_text(json.dumps({"train_config": {"variant": "base"}}))
    (run / "predictions" / "test.txt").write_text("the run's own\n")
    for out in (run / "predictions" / "test.txt", run / "fig.png", run):
        where = "is the run folder" if out == run else "is inside the run folder"
        with pytest.raises(UserError, match=f"^--output {out} {where} {run}: a run's files are its own"):
            cli.check_outputs({"--output": out})
    locked = tmp_path / "runs" / "b"  # a run being started: its lock, no config yet
    locked.mkdir()
    (locked / run_dir_lib.LOCK_FILE).write_text("{}")
    with pytest.raises(UserError, match="is inside the run folder"):
        cli.check_outputs({"--output": locked / "x.json"})
    # train's own folder may be a run (a resume), but not a folder inside another run
    cli.check_outputs({"--output_dir": run}, own_run=True)
    with pytest.raises(UserError, match=f"^--output_dir {run / 'inner'} is inside the run folder {run}"):
        cli.check_outputs({"--output_dir": run / "inner"}, own_run=True)
    cli.check_outputs({"--output": tmp_path / "runs" / "export"})  # beside the runs: fine
    (run / run_dir_lib.CONFIG_FILE).write_text("[]")  # another tool's config.json: not a run
    cli.check_outputs({"--output": run / "fig.png"})
    assert (run / "predictions" / "test.txt").read_text() == "the run's own\n"


def test_a_training_folder_must_be_new_empty_or_a_run(tmp_path):
    cli.check_run_folder(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".lock").write_text("")  # hidden files are the run's own
    cli.check_run_folder(tmp_path / "empty")
    (tmp_path / "empty" / run_dir_lib.LOCK_FILE).write_text("{}")  # a run started here, before its config
    cli.check_run_folder(tmp_path / "empty")

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / run_dir_lib.METRICS_FILE).write_text('{"mine": 1}')
    with pytest.raises(UserError, match=rf"^--output_dir {mine} holds files that are not a datn-tf run's "
                                            rf"\({run_dir_lib.METRICS_FILE}\)"):
        cli.check_run_folder(mine)

    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        cli.check_run_folder(tmp_path / "a-file")

    run = tmp_path / "run"
    run.mkdir()
    io_utils.write_json(run / run_dir_lib.CONFIG_FILE, {"train_config": {}})
    (run / run_dir_lib.METRICS_FILE).write_text("{}")
    cli.check_run_folder(run)
    (run / run_dir_lib.CONFIG_FILE).write_text('{"train_config": ')
    with pytest.raises(ValueError, match=rf"^{run / run_dir_lib.CONFIG_FILE}:1: not valid JSON"):
        cli.check_run_folder(run)


def test_ctrl_c_after_the_command_has_finished_changes_nothing(tmp_path):
    # TensorFlow's teardown can take a moment after the last line: Ctrl-C then printed a traceback from
    # inside the interpreter's shutdown, or turned a finished command's status into 130.
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "command.py"
    script.write_text(
        "import atexit, os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as in a terminal
        "from datn_tf import cli\n"
        "atexit.register(time.sleep, 3)\n"  # a slow teardown
        "def main(argv):\n"
        "    print('done', flush=True)\n"
        "cli.run(main)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.stdout.readline() == "done\n"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, "")


def test_ctrl_c_inside_a_finalizer_is_one_line(tmp_path):
    # Python can only print a KeyboardInterrupt raised in a weakref callback or __del__ (TensorFlow's, as
    # main's locals go): "Exception ignored in ... KeyboardInterrupt", and the command went on.
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "command.py"
    script.write_text(
        "import signal, sys, time, weakref\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as in a terminal
        "from datn_tf import cli\n"
        "class Big:\n"
        "    pass\n"
        "REFS = []\n"
        "def main(argv):\n"
        "    big = Big()\n"
        "    REFS.append(weakref.ref(big, lambda _: time.sleep(3)))\n"  # a slow finalizer
        "    print('done', flush=True)\n"
        "    del big\n"  # Ctrl-C arrives while the finalizer runs
        "    time.sleep(10)\n"
        "    print('not interrupted', flush=True)\n"
        "cli.run(main)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.stdout.readline() == "done\n"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (130, "")
    assert err == ("interrupted; re-run the same command to go on (a training run resumes from its last "
                   "checkpoint)\n")


def _command_script(tmp_path, body):
    """A command run through `cli.run` whose main is `body`, as a terminal starts it (Ctrl-C raises)."""
    script = tmp_path / "command.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from datn_tf import cli\n"
        "def main(argv):\n"
        + "".join(f"    {line}\n" for line in body)
        + "cli.run(main)\n")
    return script


def _interrupt(script, after="ready\n"):
    """(status, stdout, stderr) of `script`, sent SIGINT once it has printed `after`."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.stdout.readline() == after
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_a_ctrl_c_that_tensorflow_turns_into_another_error_is_one_line(tmp_path):
    # A Ctrl-C inside tf.data.Dataset.from_generator: TensorFlow's C++ reported
    # "SystemError: <built-in function __import__> returned a result with an exception set" (through
    # PyErr_WriteUnraisable, as a failing __del__ does) and raised a TypeError: a traceback, exit 1.
    script = _command_script(tmp_path, [
        "class Reported:",
        "    def __del__(self):",
        "        raise SystemError('<built-in function __import__> returned a result with an exception set')",
        "try:",
        "    print('ready', flush=True)",
        "    time.sleep(30)",
        "except KeyboardInterrupt:",
        "    Reported()",
        "    raise TypeError() from None",
    ])
    assert _interrupt(script) == (130, "", cli.INTERRUPTED_LINE + "\n")


def test_a_ctrl_c_that_a_library_swallows_still_stops_the_command(tmp_path):
    # The Ctrl-C was lost: the run trained to its end.
    script = _command_script(tmp_path, [
        "try:",
        "    print('ready', flush=True)",
        "    time.sleep(30)",
        "except KeyboardInterrupt:",
        "    pass",
        "time.sleep(30)",
        "print('not interrupted', flush=True)",
    ])
    assert _interrupt(script) == (130, "", cli.INTERRUPTED_LINE + "\n")


def test_a_command_that_stops_by_itself_on_ctrl_c_may_take_its_time(tmp_path):
    # The demo closes its server on Ctrl-C and says "stopped": it is not interrupted again meanwhile.
    script = _command_script(tmp_path, [
        "try:",
        "    print('ready', flush=True)",
        "    time.sleep(30)",
        "except KeyboardInterrupt:",
        "    cli.ctrl_c_handled()",
        "    time.sleep(2 * cli.RESEND_SECONDS)",
        "    print('stopped', file=sys.stderr)",
    ])
    assert _interrupt(script) == (0, "", "stopped\n")
