"""Atomic file writes: an interrupted job never leaves a half-written output behind."""

import contextlib
import errno
import glob
import hashlib
import json
import os
import secrets
import shutil
import socket
from pathlib import Path

import numpy as np

from datn_tf.errors import DataFormatError

# Temporaries beside a destination: `.{name}.{host}-{pid}-{random}.tmp` holds what is being written,
# `.old` the old folder for the instant it is swapped out. The writer's host and process tell a
# later write whether the writer is dead (killed: a SIGKILLed export left 29 MB behind).
_TEMPORARY, _ASIDE = ".tmp", ".old"


def _make_temp_dir(parent, name, suffix=_TEMPORARY):
    """Creates and returns a new empty hidden folder `.{name}.{host}-{pid}-{random}{suffix}` in `parent`.

    Unlike `tempfile.mkdtemp` (always 0o700), the folder gets the umask's usual mode
    (0o777 & ~umask), so a folder renamed into place from it (an export, `best/`) is as
    readable as any other folder the user creates.
    """
    for _ in range(100):
        candidate = Path(parent) / f".{name}.{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name for {name!r} in {parent}")


def _writer_is_dead(temporary, name):
    """Whether the process that made `temporary` (a `_make_temp_dir` folder for `name`) was on this
    host and is gone."""
    writer = temporary.name[len(name) + 2: -len(temporary.suffix)].rpartition("-")[0]  # without the random part
    host, _, pid = writer.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def _clear_dead_temporaries(path):
    """Removes the temporaries that a killed write to `path` left beside it; a folder it had swapped
    out and not yet replaced (`.old`) is put back first when `path` is missing."""
    for leftover in sorted(path.parent.glob(f".{glob.escape(path.name)}.*")):
        if leftover.suffix not in (_TEMPORARY, _ASIDE) or not _writer_is_dead(leftover, path.name):
            continue
        old = leftover / path.name
        if leftover.suffix == _ASIDE and old.is_dir() and not os.path.lexists(path):
            os.replace(old, path)
        shutil.rmtree(leftover, ignore_errors=True)


def _about(error, temporary, path):
    """`error` naming `path` where it names the hidden temporary or nothing (a full disk's
    write): the user's own path is what an error line should show."""
    name = error.filename
    if error.errno is None or (name is not None and not str(name).startswith(str(temporary))):
        return error
    return type(error)(error.errno, error.strerror or os.strerror(error.errno), str(path))


@contextlib.contextmanager
def atomic_path(path, *, is_dir=False):
    """Yields a temporary sibling path; renames it onto `path` only if the block succeeds.

    The temporary lives in the destination's folder so the final `os.replace` is a
    same-filesystem rename, which is atomic on POSIX. Files and folders get the modes
    the umask gives any new file (0o666 & ~umask) or folder (0o777 & ~umask).

    An existing folder (`is_dir=True`) is renamed aside, the new one renamed in, and only
    then is the old one deleted; if the rename-in fails the old one is moved back. So the
    old or the new content exists at every moment (for the instant between the two renames,
    the old one is under a hidden `.{name}.*.old` sibling, which is also where a process
    killed in that instant leaves it: the next write to `path` puts it back). What a killed
    write left beside `path` is removed by the next one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:  # a file where a folder should be: say so, not "File exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), e.filename) from None
    try:
        _clear_dead_temporaries(path)
        tmp = _make_temp_dir(path.parent, path.name)
    except OSError as e:
        raise _about(e, path.parent, path.parent) from None
    target = tmp if is_dir else tmp / path.name
    aside = None
    try:
        yield target
        if is_dir and path.is_dir() and not path.is_symlink():
            aside = _make_temp_dir(path.parent, path.name, _ASIDE)
            old = aside / path.name
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.replace(old, path)
                except BaseException:
                    aside = None  # the old content now lives only there: never delete it
                    raise
                raise
        else:  # a file, or a folder where none is yet
            os.replace(target, path)
    except OSError as e:
        raise _about(e, tmp, path) from None
    finally:
        for leftover in (tmp, aside):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


def write_text(path, text, encoding="utf-8"):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def update_generated_block(path, name, text):
    """Replaces what lies between `<!-- name -->` and `<!-- /name -->` in `path` (atomically):
    the README's generated tables. A missing file or one without both markers is left alone
    (returns False)."""
    path = Path(path)
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if not path.is_file():
        return False
    old = path.read_text(encoding="utf-8")
    i = old.find(start)
    j = old.find(end, i + len(start)) if i >= 0 else -1
    if i < 0 or j < i:
        return False
    write_text(path, old[:i + len(start)] + "\n" + text + "\n" + old[j:])
    return True


def sha256_of(path):
    """The SHA-256 of a file's bytes (hex), read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path, what_to_do=None):
    """The JSON in `path`. With `what_to_do`, text that is not JSON (a cut or damaged file) is a
    `DataFormatError` naming the file and line, then `what_to_do`; without, json's own error."""
    path = Path(path)
    if what_to_do is None:
        return json.loads(path.read_text(encoding="utf-8"))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        problem, line = f"not UTF-8 text (byte {e.start})", None
    except json.JSONDecodeError as e:
        problem, line = f"not valid JSON ({e.msg}; the file is damaged or cut short)", e.lineno
    raise DataFormatError(path, line, f"{problem}; {what_to_do}") from None


def save_npy(path, array):
    """`np.save` to `path` (which should end in .npy), atomically."""
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def load_npy(path, what_to_do=None):
    """The array in a .npy file; a file that is not one (text, a cut or pickled file) is a
    `DataFormatError` naming it, followed by `what_to_do` when given."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError) as e:
        text = str(e).strip().splitlines()
        reason = text[0] if text else type(e).__name__
        if "pickled" in reason:  # numpy's words for any file without the header: its advice misleads
            reason = "it does not start with the .npy header"
        problem = f"not a NumPy .npy array ({reason})"
        raise DataFormatError(path, None, problem + (f"; {what_to_do}" if what_to_do else "")) from None
