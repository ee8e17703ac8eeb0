"""Atomic file writes: an interrupted job never leaves a half-written output behind."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, *, is_dir=False):
    """Yields a temporary sibling path; renames it onto `path` only if the block succeeds.

    The temporary lives in the destination's folder so the final `os.replace` is a
    same-filesystem rename, which is atomic on POSIX.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp if is_dir else tmp / path.name
    try:
        yield target
        if is_dir:
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        else:
            os.replace(target, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path, text, encoding="utf-8"):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_npy(path, array):
    """`np.save` to `path` (which should end in .npy), atomically."""
    import numpy as np

    with atomic_path(path) as tmp:
        np.save(tmp, array)
