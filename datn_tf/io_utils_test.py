"""Tests for the atomic writes in `datn_tf.io_utils`: modes, interruption, replacing a folder."""

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from datn_tf import io_utils


@pytest.fixture
def set_umask():
    """Sets the process umask for one test and puts the previous one back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def _names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def _make_folder(path, marker):
    path.mkdir()
    (path / "model.txt").write_text(marker)
    (path / "variables").mkdir()
    (path / "variables" / "data").write_text(marker)
    return path


def _content(path):
    """The marker a folder holds, or None when it is incomplete or missing."""
    try:
        marker = (path / "model.txt").read_text()
        return marker if (path / "variables" / "data").read_text() == marker else None
    except (FileNotFoundError, NotADirectoryError):
        return None


# -- modes --------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775),
                                                        (0o077, 0o600, 0o700)], ids=["022", "002", "077"])
def test_modes_follow_the_umask(tmp_path, set_umask, umask, file_mode, dir_mode):
    set_umask(umask)
    io_utils.write_text(tmp_path / "a.txt", "x")
    io_utils.write_json(tmp_path / "sub" / "m.json", {"a": 1})
    io_utils.save_npy(tmp_path / "p.npy", np.zeros(3))
    with io_utils.atomic_path(tmp_path / "best", is_dir=True) as tmp:
        (tmp / "weights").write_text("w")
        (tmp / "variables").mkdir()
    for name in ("a.txt", "sub/m.json", "p.npy", "best/weights"):
        assert _mode(tmp_path / name) == file_mode, name
    # mkdtemp made the folder itself 0o700 whatever the umask: exports were private.
    for name in ("sub", "best", "best/variables"):
        assert _mode(tmp_path / name) == dir_mode, name

    # Replacing an existing folder gives the same mode.
    with io_utils.atomic_path(tmp_path / "best", is_dir=True) as tmp:
        (tmp / "weights").write_text("w2")
    assert _mode(tmp_path / "best") == dir_mode
    assert _names(tmp_path) == ["a.txt", "best", "p.npy", "sub"]


# -- interruption -------------------------------------------------------------------------


def test_interrupted_file_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with io_utils.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    with pytest.raises(KeyboardInterrupt):
        with io_utils.atomic_path(tmp_path / "new.txt") as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert _names(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_folder_write_keeps_the_old_folder(tmp_path, existing):
    dest = tmp_path / "model"
    if existing:
        _make_folder(dest, "old")
    with pytest.raises(RuntimeError, match="interrupted"):
        with io_utils.atomic_path(dest, is_dir=True) as tmp:
            (tmp / "model.txt").write_text("half")
            raise RuntimeError("interrupted")
    if existing:
        assert _content(dest) == "old"
        assert _names(tmp_path) == ["model"]
    else:
        assert _names(tmp_path) == []


def test_what_a_killed_write_left_beside_its_path_is_removed_by_the_next_write(tmp_path):
    # A SIGKILLed export left a 29 MB hidden temporary that the next export did not remove.
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a process that has ended
    host = socket.gethostname()
    dead = tmp_path / f".out.txt.{host}-{gone}-0badcafe.tmp"
    dead.mkdir()
    (dead / "out.txt").write_text("half")
    alive = tmp_path / f".out.txt.{host}-{os.getpid()}-0badcafe.tmp"  # a write in progress
    elsewhere = tmp_path / f".out.txt.another-host-{gone}-0badcafe.tmp"  # its process cannot be checked
    other = tmp_path / f".out.txt.bak.{host}-{gone}-0badcafe.tmp"  # another file's
    for folder in (alive, elsewhere):
        folder.mkdir()
    other.mkdir()
    io_utils.write_text(tmp_path / "out.txt", "new")
    assert _names(tmp_path) == sorted([other.name, elsewhere.name, alive.name, "out.txt"])

    # Killed between swapping the old folder out and the new one in: the old one is put back.
    aside = tmp_path / f".model.{host}-{gone}-0badcafe.old"
    aside.mkdir()
    _make_folder(aside / "model", "old")
    with pytest.raises(RuntimeError):
        with io_utils.atomic_path(tmp_path / "model", is_dir=True) as tmp:
            (tmp / "model.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert _content(tmp_path / "model") == "old" and not aside.exists()


# -- replacing a folder -------------------------------------------------------------------


def test_replacing_a_folder(tmp_path):
    dest = _make_folder(tmp_path / "model", "old")
    with io_utils.atomic_path(dest, is_dir=True) as tmp:
        (tmp / "model.txt").write_text("new")
        (tmp / "variables").mkdir()
        (tmp / "variables" / "data").write_text("new")
    assert _content(dest) == "new"
    assert _names(dest) == ["model.txt", "variables"]
    assert _names(tmp_path) == ["model"]  # no temporary siblings, no old copy


def test_old_folder_exists_until_the_new_one_is_in_place(tmp_path, monkeypatch):
    """At every rename and delete, `dest` or a sibling holds the old or the new folder whole,
    and the old one is deleted only once `dest` holds the new one."""
    dest = _make_folder(tmp_path / "model", "old")
    real_replace, real_rmtree = os.replace, shutil.rmtree
    events = []

    def complete_versions():
        found = {_content(p) for p in tmp_path.rglob("*") if p.is_dir()}
        return found & {"old", "new"}

    def replace(src, dst):
        assert complete_versions(), "neither the old nor the new folder exists"
        real_replace(src, dst)
        events.append(("replace", Path(src).name, Path(dst).name))
        assert complete_versions(), "neither the old nor the new folder exists"

    def rmtree(path, *args, **kwargs):
        if any(_content(p) == "old" for p in [Path(path), *Path(path).rglob("*")] if p.is_dir()):
            # The old code deleted `dest` first, then renamed the new folder in.
            assert _content(dest) == "new", "the old folder is deleted before the new one is in place"
        real_rmtree(path, *args, **kwargs)
        events.append(("rmtree",))

    monkeypatch.setattr(io_utils.os, "replace", replace)
    monkeypatch.setattr(io_utils.shutil, "rmtree", rmtree)
    with io_utils.atomic_path(dest, is_dir=True) as tmp:
        (tmp / "model.txt").write_text("new")
        (tmp / "variables").mkdir()
        (tmp / "variables" / "data").write_text("new")
    monkeypatch.undo()
    assert _content(dest) == "new"
    assert _names(tmp_path) == ["model"]
    assert [e[0] for e in events] == ["replace", "replace", "rmtree"]


@pytest.mark.parametrize("error", [OSError("rename failed"), KeyboardInterrupt()])
def test_failed_rename_in_puts_the_old_folder_back(tmp_path, monkeypatch, error):
    dest = _make_folder(tmp_path / "model", "old")
    real_replace = os.replace

    def replace(src, dst):
        # The rename-in: from the temporary sibling (the rename back comes from deeper down).
        if Path(dst) == dest and Path(src).parent == tmp_path:
            raise error
        real_replace(src, dst)

    monkeypatch.setattr(io_utils.os, "replace", replace)
    with pytest.raises(type(error)):
        with io_utils.atomic_path(dest, is_dir=True) as tmp:
            (tmp / "model.txt").write_text("new")
    monkeypatch.undo()
    assert _content(dest) == "old"
    assert _names(dest) == ["model.txt", "variables"]
    assert _names(tmp_path) == ["model"]


def test_old_folder_is_never_deleted_when_it_cannot_be_put_back(tmp_path, monkeypatch):
    dest = _make_folder(tmp_path / "model", "old")
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == dest:  # both the rename-in and the rename back fail
            raise OSError("disk gone")
        real_replace(src, dst)

    monkeypatch.setattr(io_utils.os, "replace", replace)
    with pytest.raises(OSError, match="disk gone"):
        with io_utils.atomic_path(dest, is_dir=True) as tmp:
            (tmp / "model.txt").write_text("new")
    monkeypatch.undo()
    kept = [p for p in tmp_path.rglob("model") if _content(p) == "old"]
    assert len(kept) == 1 and kept[0].parent.name.startswith(".model.")


def test_a_file_where_a_folder_goes_is_not_replaced(tmp_path):
    dest = tmp_path / "model"
    dest.write_text("a file")
    with pytest.raises(OSError):
        with io_utils.atomic_path(dest, is_dir=True) as tmp:
            (tmp / "model.txt").write_text("new")
    assert dest.read_text() == "a file"
    assert _names(tmp_path) == ["model"]


def test_generated_block_needs_both_markers(tmp_path):
    path = tmp_path / "README.md"
    for text in ("no markers\n", "<!-- ablate:e2 -->\nonly the start\n", "<!-- /ablate:e2 -->\n<!-- ablate:e2 -->\n"):
        # (the last: an end marker only before the start)
        path.write_text(text)
        assert not io_utils.update_generated_block(path, "ablate:e2", "| new |")
        assert path.read_text() == text
    assert not io_utils.update_generated_block(tmp_path / "absent.md", "ablate:e2", "| new |")
    path.write_text("<!-- /ablate:e2 -->\na\n<!-- ablate:e2 -->\nold\n<!-- /ablate:e2 -->\nb\n")
    assert io_utils.update_generated_block(path, "ablate:e2", "| new |")
    assert path.read_text() == "<!-- /ablate:e2 -->\na\n<!-- ablate:e2 -->\n| new |\n<!-- /ablate:e2 -->\nb\n"


def test_a_damaged_json_file_is_named_with_its_line(tmp_path):
    from datn_tf.errors import DataFormatError

    path = tmp_path / "state.json"
    path.write_text('{\n  "threshold": 0.3,\n  "dev": {"jaccard"', encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"^{path}:3: not valid JSON \(.*; the file is damaged or cut "
                                              r"short\); re-run it$"):
        io_utils.read_json(path, what_to_do="re-run it")
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(DataFormatError, match=rf"^{path}: not UTF-8 text \(byte 7\); re-run it$"):
        io_utils.read_json(path, what_to_do="re-run it")
    io_utils.write_json(path, {"a": [1, 2]})
    assert io_utils.read_json(path) == {"a": [1, 2]}


def test_a_file_where_a_parent_folder_goes_is_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError) as info:
        io_utils.write_text(tmp_path / "file" / "out.txt", "y")
    assert info.value.filename == str(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_errors_name_the_destination_not_the_temporary(tmp_path, monkeypatch):
    import errno

    out = tmp_path / "out.txt"
    out.write_text("old")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")  # what write() raises: no file named

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError) as info:
        io_utils.write_text(out, "new")
    monkeypatch.undo()
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(out))
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]

    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "mkdir", denied)
    with pytest.raises(PermissionError) as info:
        io_utils.write_text(tmp_path / "new.txt", "x")
    assert info.value.filename == str(tmp_path)


def test_a_text_file_given_as_npy_is_named_without_numpys_pickle_advice(tmp_path):
    # numpy's own words ("contains pickled (object) data ... load it unsafely") would mislead.
    from datn_tf.errors import DataFormatError

    text = tmp_path / "scores.txt"
    text.write_text("0.1 0.2\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        io_utils.load_npy(text, what_to_do="pass a .npy file")
    assert str(err.value) == (f"{text}: not a NumPy .npy array (it does not start with the .npy header); "
                              "pass a .npy file")
