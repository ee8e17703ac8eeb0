"""Install datn-tf: `pip install -e .` (the Makefile's `install` target does this with requirements.txt)."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
TEST_ONLY = ("pytest", "playwright")


def requirements(name):
    """The packages a requirements file lists, less those only the tests use."""
    return [line.strip() for line in (HERE / name).read_text().splitlines()
            if line.strip() and not line.startswith("#") and not line.startswith(TEST_ONLY)]


setup(
    name="datn-tf",
    version="0.1.0",
    description=(
        "Dual Attention Transfer Network (Yu et al., EMNLP 2018) for multi-label "
        "emotion classification, in TensorFlow / Keras 3"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["datn_tf", "datn_tf.*"]),
    python_requires=">=3.10",
    install_requires=requirements("requirements.txt"),
    extras_require={
        "demo": requirements("requirements-demo.txt"),  # the web page: python -m datn_tf.demo
        # Pretrained encoders (--encoder=minilm|bert): keras-hub loads the weights, tensorflow-text runs WordPiece.
        "encoder": requirements("requirements-encoder.txt"),
    },
    license="Apache-2.0",
)
