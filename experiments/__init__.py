"""Experiment drivers (`reproduce`, `ablate`, `bench`) and what they share."""

from pathlib import Path

# Where the drivers write by default: the repository's committed results.
DEFAULT_RESULTS_DIR = "experiments/results"
# The pages holding each driver's generated blocks: Table 3 is the README's headline, the
# ablation summaries sit with their text in docs/reproducing.md.
README = "README.md"
REPRODUCING_PAGE = "docs/reproducing.md"


def readme_to_update(readme, results_dir, default=README):
    """The Markdown file whose generated blocks a driver rewrites: `--readme` when given ('' for
    none), else `default`, but only when the results go to the repository's results folder: a
    smoke run elsewhere must not rewrite the repository's tables."""
    if readme is not None:
        return Path(readme) if readme else None
    return Path(default) if Path(results_dir) == Path(DEFAULT_RESULTS_DIR) else None
