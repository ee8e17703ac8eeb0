"""Experiment drivers (`reproduce`, `ablate`, `bench`) and what they share."""

from pathlib import Path

# Where the drivers write by default: the repository's committed results.
DEFAULT_RESULTS_DIR = "experiments/results"


def readme_to_update(readme, results_dir):
    """The Markdown file whose generated blocks a driver rewrites: `--readme` when given ('' for
    none), else the repository's README.md, but only when the results go to the repository's
    results folder: a smoke run elsewhere must not rewrite the README's tables."""
    if readme is not None:
        return Path(readme) if readme else None
    return Path("README.md") if Path(results_dir) == Path(DEFAULT_RESULTS_DIR) else None
