"""The commit-msg hook (.githooks/commit-msg): subjects of at most 72 characters, in the hook and
in `make lint`'s look over the commits since the hook was added."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[1] / ".githooks" / "commit-msg"


def _hook(*args, cwd=None):
    return subprocess.run([sys.executable, str(HOOK), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("message, accepted", [
    ("x" * 72, True),
    ("x" * 73, False),
    ("é" * 72 + "\n", True),  # characters, not bytes
    ("Short subject\n\n" + "a body line may run longer than the subject: " * 5 + "\n", True),
    ("# Please enter the commit message\n\n" + "x" * 72 + "\n# a comment " + "y" * 80 + "\n", True),
    ("\n\n" + "x" * 73 + "\n\nbody\n", False),  # the first line that is not blank is the subject
])
def test_the_hook_holds_the_subject_to_72_characters(tmp_path, message, accepted):
    (tmp_path / "COMMIT_EDITMSG").write_text(message, encoding="utf-8")
    proc = _hook(str(tmp_path / "COMMIT_EDITMSG"))
    assert proc.returncode == (0 if accepted else 1), proc.stderr
    if not accepted:
        assert proc.stderr.startswith("commit-msg: the subject has 73 characters, more than 72: " + "x" * 72 + "...")


def test_lint_checks_the_commits_since_the_hook_was_added(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    def commit(subject):
        (tmp_path / "file").write_text(subject)
        git("add", "-A")
        git("commit", "-q", "--no-verify", "-m", subject)

    git("init", "-q")
    commit("an old subject from before the rule, " + "long " * 20)
    (tmp_path / ".githooks").mkdir()
    shutil.copy(HOOK, tmp_path / ".githooks" / "commit-msg")
    commit("Add the commit-msg hook")
    assert _hook("--log", cwd=tmp_path).returncode == 0
    commit("y" * 73)
    proc = _hook("--log", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].endswith(": the subject has 73 characters, more than 72: " + "y" * 72 + "...")
