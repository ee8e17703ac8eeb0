"""datn-tf: Dual Attention Transfer Network (Yu et al., EMNLP 2018) in TensorFlow/Keras 3."""

import os as _os
import signal as _signal
import sys as _sys
import threading as _threading

__version__ = "0.1.0"


# TensorFlow's C++ log lines at every level below FATAL are hidden unless asked for; set
# before TensorFlow is imported (modules such as `datn_tf.metrics` never import it).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STARTING_INTERRUPTED = "interrupted while the command was starting; nothing was written"
_stderr_fd = 2  # where that line goes (stderr is pointed elsewhere while TensorFlow loads)


def _interrupted_while_starting(signum, frame):
    """Ctrl-C while a command's modules load (before `cli.run` takes Ctrl-C over): one line and
    status 130 at once. Nothing has been written; a KeyboardInterrupt raised here would end in a
    traceback from inside an import."""
    try:
        _os.write(_stderr_fd, (STARTING_INTERRUPTED + "\n").encode())
    finally:
        _os._exit(130)


def _run_as_a_command():
    """This process is `python -m datn_tf.<command>` or `python -m experiments.<driver>` (argv[0]
    is "-m" while the command's package is imported, then the module's path)."""
    spec = getattr(_sys.modules.get("__main__"), "__spec__", None)
    return (_sys.argv[:1] == ["-m"] or (spec is not None and spec.name.partition(".")[0] in ("datn_tf", "experiments")))


def _stop_on_ctrl_c_while_starting():
    if (_threading.current_thread() is _threading.main_thread() and _run_as_a_command()
            and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
        _signal.signal(_signal.SIGINT, _interrupted_while_starting)


_stop_on_ctrl_c_while_starting()


def import_tensorflow_quietly():
    """Imports TensorFlow with its start-up lines hidden unless DATN_TF_VERBOSE=1.

    Every command calls this before anything imports TensorFlow; the library modules
    do not, so that e.g. `datn_tf.metrics` can be used without TensorFlow.

    On a machine without a GPU, TensorFlow's C++ side prints CUDA-not-found, cuInit and
    oneDNN notices to the process's stderr before its logging is set up, so
    TF_CPP_MIN_LOG_LEVEL does not stop them. They are hidden by pointing file descriptor 2
    at /dev/null while TensorFlow loads and probes its devices (the probe does not fix the
    thread pools, so `runtime.configure_threads` still works after it). Errors still
    surface: a failed import raises in Python after stderr is restored. The commands print
    the devices they use themselves. Later C++ log lines (e.g. oneDNN's "DT_BOOL only on
    platforms with AVX-512") are errors only by level: TF_CPP_MIN_LOG_LEVEL defaults to 3
    here, and an explicit value (0 shows everything) is kept.
    """
    if _os.environ.get("DATN_TF_VERBOSE") == "1" or "tensorflow" in _sys.modules:
        return
    try:
        _sys.stderr.flush()
        saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    except OSError:  # no usable stderr: nothing to hide
        return
    global _stderr_fd
    try:
        _stderr_fd = saved
        _os.dup2(devnull, 2)
        import tensorflow as tf  # the point of this function: TensorFlow, once, with its start-up lines hidden

        tf.config.list_physical_devices()
    except KeyboardInterrupt:  # Ctrl-C while TensorFlow loads: one line, as everywhere else
        _os.dup2(saved, 2)
        print(STARTING_INTERRUPTED, file=_sys.stderr)
        _sys.exit(130)
    finally:
        _os.dup2(saved, 2)
        _stderr_fd = 2
        _os.close(saved)
        _os.close(devnull)

