"""What every command does with a user's mistake, an OS error or Ctrl-C, and which paths it may write.

    with cli.user_errors(argv):      # one line `error: ...` on stderr, exit status 2 (130: Ctrl-C)
        cli.check_outputs({"--output": out}, inputs={"--input": src}, runs={"--run_dir": run})
        ...
    cli.run(main)                    # absl.app.run, with flag errors as one line and status 2

Kept free of TensorFlow: a TensorFlow error is recognised through `sys.modules`, so a
command that never imports TensorFlow does not load it here either.
"""

import contextlib
import errno
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from absl import app, flags

import datn_tf
from datn_tf import io_utils
from datn_tf import run_dir as run_dir_lib
from datn_tf.data import datasets
from datn_tf.errors import TrainingInterrupted, UserError

USAGE_STATUS = 2
INTERRUPTED_STATUS = 130

_FREE_SPACE = "free some space and re-run the same command (a training run resumes from its last checkpoint)"
# What to do about an OS error, by errno; the error's own text says what happened.
_OS_ADVICE = {
    errno.ENOSPC: _FREE_SPACE,
    errno.EDQUOT: _FREE_SPACE,
    errno.EACCES: "check the permissions of that path, or choose another one",
    errno.EPERM: "check the permissions of that path, or choose another one",
    errno.EROFS: "choose a path on a writable file system",
    errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
    errno.EISDIR: "that path is a folder; give a file name",
    errno.ENOENT: "check the path",
}
# TensorFlow's file system reports the same errors in its own words ("... [Op:SaveV2]").
_TF_OS_MESSAGES = (
    ("no space left on device", errno.ENOSPC),
    ("disk quota exceeded", errno.EDQUOT),
    ("permission denied", errno.EACCES),
    ("read-only file system", errno.EROFS),
    ("not a directory", errno.ENOTDIR),
    ("is a directory", errno.EISDIR),
    ("no such file or directory", errno.ENOENT),
)


def first_line(error):
    """The first line of an exception's message (library errors run to many), or its type's name."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def os_error_line(error):
    """One line for an OSError: the path, what happened and what to do."""
    what = error.strerror or str(error) or type(error).__name__
    where = f"{error.filename}: " if error.filename is not None else ""
    if getattr(error, "filename2", None) is not None:
        where = f"{error.filename} -> {error.filename2}: "
    advice = _OS_ADVICE.get(error.errno)
    return f"{where}{what}" + (f"; {advice}" if advice else "")


def tensorflow_os_error_line(error):
    """One line for a TensorFlow error that is an OS error in disguise (e.g. a full disk while a
    checkpoint is saved), or None for any other TensorFlow error."""
    text = (getattr(error, "message", None) or str(error)).strip().splitlines()
    first = re.sub(r"\s*\[Op:\w+\].*$", "", text[0] if text else "")
    # Graph-function prefix ("{{function_node __wrapped__SaveV2...}} ") and the temporary's suffix.
    first = re.sub(r"\.tempstate\d+", "", re.sub(r"^\{\{.*?\}\}\s*", "", first))
    lowered = first.lower()
    for words, code in _TF_OS_MESSAGES:
        if words in lowered:
            return f"{first}; {_OS_ADVICE[code]}"
    return None


def _tensorflow_error_types():
    tf = sys.modules.get("tensorflow")
    errors = getattr(tf, "errors", None)
    return (errors.OpError,) if errors is not None else ()


INTERRUPTED_LINE = "interrupted; re-run the same command to go on (a training run resumes from its last checkpoint)"
# How long a Ctrl-C may take to stop the command before it is sent again (`_on_ctrl_c`).
RESEND_SECONDS = 2.0


class _CtrlC:
    """What `run`'s Ctrl-C handler knows of the command it runs."""

    received = False  # a Ctrl-C came: whatever error follows is its doing
    resending = False  # a thread sends it again until the command stops (`_resend_until_over`)
    over = False  # the command has said its last line: a Ctrl-C now changes nothing


def _end(line, status):
    _CtrlC.over = True  # before the line: a Ctrl-C from here on cannot put a traceback after it
    print(line, file=sys.stderr)
    sys.exit(status)


def _fail(line):
    _end(f"error: {line}", USAGE_STATUS)


@contextlib.contextmanager
def user_errors(argv=None, prefix=""):
    """Turns what a user can cause into one line on stderr and an exit status.

    A `UserError` (bad flags, data, files or runs: `datn_tf.errors`), a missing file and every
    OS error (also TensorFlow's, e.g. `No space left on device [Op:SaveV2]`) give `error: ...`
    and status 2; Ctrl-C gives one line and status 130. Any other exception is a bug: it keeps
    its traceback (status 1). Stray positional words in `argv` (absl's leftover arguments) are
    refused before the block runs.

    Args:
        argv: the command's positional arguments (program name first), or None to skip the check.
        prefix: put before the interruption line (a driver's name, e.g. "[reproduce] ").
    """
    if argv is not None and len(argv) > 1:
        _fail(f"unexpected argument(s) {' '.join(argv[1:])!r}; settings are flags, e.g. --variant=base")
    try:
        yield
    except KeyboardInterrupt:
        _end(f"{prefix}{INTERRUPTED_LINE}", INTERRUPTED_STATUS)
    except Exception as e:
        if isinstance(e, TrainingInterrupted):
            _end(f"{prefix}{e}", INTERRUPTED_STATUS)
        if _CtrlC.received:
            # TensorFlow's C++ can turn a Ctrl-C into another error (a SystemError, a TypeError from
            # inside tf.data): after a Ctrl-C, the command was interrupted, whatever the error.
            _end(f"{prefix}{INTERRUPTED_LINE}", INTERRUPTED_STATUS)
        if isinstance(e, UserError):
            _fail(str(e))
        if isinstance(e, OSError):
            _fail(os_error_line(e))
        line = tensorflow_os_error_line(e) if isinstance(e, _tensorflow_error_types()) else None
        if line is None:
            raise
        _fail(line)


# absl's help flags print the help and exit with status 1, as if it were an error.
_HELP_FLAGS = ("--help", "-?", "--helpshort", "--helpfull", "--helpxml")


def parse_flags(argv):
    """absl's flag parsing, with a bad flag as one `error:` line and status 2 (absl's own: 1),
    and asked-for help as status 0."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _fail(f"{' '.join(str(e).split())}; --helpfull lists every flag")
    except SystemExit as e:
        if e.code == 1 and any(a.split("=")[0] in _HELP_FLAGS for a in argv[1:]):
            sys.exit(0)
        raise


def _ctrl_c_again(hook):
    """`sys.unraisablehook` that delivers a Ctrl-C raised in a finalizer (a weakref callback or
    `__del__`, e.g. TensorFlow's as main's locals go) again a moment later, to the code that runs
    then; Python itself can only print it ("Exception ignored in ...") and go on. After a Ctrl-C,
    the errors it causes inside TensorFlow's C++, which reports them here (`SystemError: <built-in
    function __import__> returned a result with an exception set`), are not printed either."""

    def handle(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            # From another thread: raised here, it would land in this hook again.
            resend = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
            resend.daemon = True
            resend.start()
        elif not _CtrlC.received:
            hook(unraisable)

    return handle


def _on_ctrl_c(signum, frame):
    """`run`'s SIGINT handler: a KeyboardInterrupt while the command runs, sent again every
    RESEND_SECONDS until the command stops (a library that swallows it, as TensorFlow's C++ may,
    would let a run go on to its end); nothing once the command has said its last line."""
    if _CtrlC.over:
        return
    _CtrlC.received = True
    if not _CtrlC.resending:
        _CtrlC.resending = True
        threading.Thread(target=_resend_until_over, args=(signum,), name="ctrl-c", daemon=True).start()
    raise KeyboardInterrupt


def _resend_until_over(signum):
    while True:
        time.sleep(RESEND_SECONDS)
        if _CtrlC.over or not _CtrlC.resending:
            _CtrlC.resending = False
            return
        os.kill(os.getpid(), signum)


def ctrl_c_handled():
    """Called where a command catches Ctrl-C to stop by itself (the demo closes its server): the
    Ctrl-C is not sent again while it does; another one still interrupts it."""
    _CtrlC.resending = False


def run(main):
    """`absl.app.run(main)` with `parse_flags`; Ctrl-C at any moment is one line and status 130,
    or, once main has returned, changes nothing."""
    def command(argv):
        result = main(argv)
        _CtrlC.over = True
        return result

    _CtrlC.received = _CtrlC.resending = _CtrlC.over = False
    sys.unraisablehook = _ctrl_c_again(sys.unraisablehook)
    # Not when Ctrl-C is ignored (a job started in the background keeps ignoring it).
    if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, datn_tf._interrupted_while_starting):
        signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        with user_errors():
            app.run(command, flags_parser=parse_flags)
    finally:
        # The command is over: Ctrl-C during the interpreter's (TensorFlow's) teardown would print a
        # traceback from inside the shutdown, or turn a finished command's status into 130.
        _CtrlC.over = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_list(flag, values):
    """Refuses a comma-separated flag with an empty item (`--ensemble a,b,`), which would be read
    as a path with no name."""
    if values and any(not v.strip() for v in values):
        raise UserError(f"{flag}={','.join(values)} has an empty item (a comma too many); separate the items by "
                        "single commas")


# -- paths a command may write -------------------------------------------------------------------


def _resolved(path):
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def path_clash(output, path):
    """How `output` would overwrite `path` ("is", "is inside", "holds"), or None when it cannot:
    both compared after following links, so a link to a file is that file."""
    out, other = _resolved(output), _resolved(path)
    if out == other or _same_file(out, other):
        return "is"
    if other in out.parents:
        return "is inside"
    if out in other.parents:
        return "holds"
    return None


def _pairs(paths):
    return list(paths.items()) if isinstance(paths, dict) else list(paths or ())


def check_outputs(outputs, inputs=None, runs=None, own_run=False):
    """Stops before anything is written when an output path is an input, or holds or lies in one,
    or lies in any datn-tf run folder.

    Args:
        outputs: {flag: path} the command writes (None values are skipped), or (flag, path) pairs.
        inputs: files or folders it reads, the same way.
        runs: run folders it reads, the same way: a run is never written into by another command.
        own_run: the output is the run folder the command trains (train's --output_dir): only the
            folders above it must not be runs.

    Raises:
        UserError: naming both flags and paths.
    """
    others = [(flag, p, "input") for flag, p in _pairs(inputs) if p]
    others += [(flag, p, "run folder") for flag, p in _pairs(runs) if p]
    for out_flag, out in _pairs(outputs):
        if not out:
            continue
        for flag, p, kind in others:
            how = path_clash(out, p)
            if how is None:
                continue
            what = {"is": f"is the {kind} {flag} {p}", "is inside": f"is inside the {kind} {flag} {p}",
                    "holds": f"holds the {kind} {flag} {p}"}[how]
            raise UserError(f"{out_flag} {out} {what}: writing it would destroy what the command reads; "
                            f"choose another {out_flag}")
        run = enclosing_run(out, include_self=not own_run)  # a run the command does not read is no less a run
        if run is not None:
            where = "is the run folder" if run == Path(out).resolve() else "is inside the run folder"
            raise UserError(f"{out_flag} {out} {where} {run}: a run's files are its own (export, resume and "
                            f"the tables read them); choose another {out_flag}")


def enclosing_run(path, include_self=True):
    """The datn-tf run folder that `path` is (when `include_self`) or lies in, after resolving
    links, or None. A run folder holds a run's lock or a config.json with its train_config."""
    resolved = Path(path).resolve()
    for folder in [resolved, *resolved.parents] if include_self else resolved.parents:
        if (folder / run_dir_lib.LOCK_FILE).is_file():
            return folder
        try:
            saved = json.loads((folder / run_dir_lib.CONFIG_FILE).read_text())
        except (OSError, ValueError):  # absent or not a run's: not a run folder
            continue
        if isinstance(saved, dict) and "train_config" in saved:
            return folder
    return None


def check_run_folder(path, flag="--output_dir"):
    """Refuses a training folder that is a file or holds files that are not a datn-tf run's.

    A folder is used when it is missing, empty (hidden files and the run's lock aside) or holds
    a run's config (a run to resume: `run_dir.write_run_files` then compares its settings).
    """

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder} is a file, not a folder; choose a new folder")
    if not folder.is_dir():
        return
    # Hidden temporaries and the run's lock (taken before config.json is written) are the run's own.
    entries = sorted(e.name for e in folder.iterdir()
                     if not e.name.startswith(".") and not e.name.startswith(run_dir_lib.LOCK_FILE))
    if not entries:
        return
    config_path = folder / run_dir_lib.CONFIG_FILE
    if config_path.is_file():
        saved = io_utils.read_json(
            config_path, what_to_do="choose a new folder, or delete this one to train from the start")
        if isinstance(saved, dict) and "train_config" in saved:
            return
    shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
    raise UserError(f"{flag} {folder} holds files that are not a datn-tf run's ({shown}); choose a new or "
                    "empty folder, so that nothing in it is overwritten")


# -- files a command may replace -----------------------------------------------------------------

# The hidden mark beside a file a command wrote: `.<name>.datn-tf.json`, naming the command and the
# file's SHA-256, so that the same command may replace it (`check_replaceable`).
MARK_SUFFIX = ".datn-tf.json"


def mark_path(path):
    path = Path(path)
    return path.with_name(f".{path.name}{MARK_SUFFIX}")


def mark_written(path, command):
    """Records that `command` wrote `path` as it is now (call it right after the write)."""
    io_utils.write_text(mark_path(path), json.dumps({"written_by": command, "sha256": io_utils.sha256_of(path)}) + "\n")


def written_by(path):
    """The command whose output `path` is, unchanged since (`mark_written`), or None."""
    try:
        mark = json.loads(mark_path(path).read_text(encoding="utf-8"))
        if isinstance(mark, dict) and mark.get("sha256") == io_utils.sha256_of(path):
            return mark.get("written_by")
    except (OSError, ValueError):  # no mark, a damaged one, or an unreadable file: not ours
        pass
    return None


def enclosing_data_folder(path):
    """The data set folder (semeval2018-ec/, semeval2016-4a/, ren-cecps/) that `path` lies in or
    is, after resolving links, or None."""
    resolved = _resolved(path)
    return next((f for f in [resolved, *resolved.parents] if f.name in datasets.DATA_FOLDERS), None)


def check_replaceable(outputs, command, overwrite=False):
    """Stops before anything is written when an output file lies in a data set's folder, or
    exists and is not a file `command` wrote (`mark_written`) and left unchanged, unless
    `overwrite`; a folder or another kind of file is never replaced.

    Args:
        outputs: {flag: path} of the files the command writes (None values are skipped).
        command: the command's name, as its marks record it ("predict").

    Raises:
        UserError: naming the flag and the path.
    """
    for flag, out in _pairs(outputs):
        if not out:
            continue
        folder = enclosing_data_folder(out)
        if folder is not None:
            raise UserError(f"{flag} {out} is inside the data folder {folder}: its files are what training and "
                            f"scoring read; choose another {flag}")
        path = Path(out)
        if not os.path.lexists(path):
            continue
        if path.is_dir():
            raise UserError(f"{flag} {out} is a folder; give a file name")
        if not path.is_file():
            raise UserError(f"{flag} {out} exists and is not a regular file; choose a new file")
        if not overwrite and written_by(path) != command:
            raise UserError(f"{flag} {out} exists and was not written by {command}: pass --overwrite to replace "
                            "it, or choose a new file")
