"""Install datn-tf: `pip install -e .` (the Makefile's `install` target does this with requirements.txt)."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
REQUIREMENTS = [
    line.strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#") and not line.startswith("pytest")
]

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
    install_requires=REQUIREMENTS,
    # Pretrained encoders (--encoder=minilm|bert): keras-hub loads the weights, tensorflow-text runs WordPiece.
    extras_require={"encoder": [line.strip() for line in (HERE / "requirements-encoder.txt").read_text().splitlines()
                                if line.strip() and not line.startswith("#")]},
    license="Apache-2.0",
)
