"""What selecting on test would have reported: for the record, never for choices.

    python -m experiments.selection_gap --dataset semeval [--results_dir experiments/results]

When the test split is present, every dev evaluation also scores test (`history` in each of
reproduce's per-run records). Per system this reports the test Jaccard at the step chosen on
dev with gamma tuned on dev (what the tables report), beside the test Jaccard that choosing
the step and gamma on test would give (what the released code's selection on test did). The
difference is the optimism of selecting on test. Without test curves it says so and writes
nothing.
"""

import dataclasses
import statistics
from pathlib import Path

import experiments
from datn_tf import cli, io_utils, tables
from datn_tf import config as config_lib
from datn_tf import run_dir as run_dir_lib
from datn_tf.config import same_setting, setting
from datn_tf.variants import VARIANT_NAMES, get_variant


@dataclasses.dataclass(frozen=True)
class GapConfig:
    dataset: str = same_setting("dataset")
    results_dir: str = setting(experiments.DEFAULT_RESULTS_DIR, "Where <dataset>/ holds reproduce's records.")


def define_flags():
    """Only when run as a command: the library is imported beside the drivers' flags (--results_dir)."""
    config_lib.define_flags(config_class=GapConfig)


def run_gap(record):
    """(test Jaccard at the dev-selected step and gamma, best test Jaccard over steps with gamma
    tuned on test), or None when the run has no test curve."""
    history = record.get("history") or {}
    points = [p for p in history.values() if "test" in p]
    chosen = history.get(str(record["best_step"]), {})
    if not points or "test" not in chosen:
        return None
    return chosen["test"]["jaccard"], max(p["test_gamma_on_test"]["jaccard"] for p in points)


def gap_table(records):
    """{variant: (runs, mean dev-selected, mean test-selected)} over the runs with test curves."""
    by_variant = {}
    for record in records:
        gap = run_gap(record)
        if gap is not None:
            by_variant.setdefault(record["variant"], []).append(gap)
    return {v: (len(g), statistics.mean(a for a, _ in g), statistics.mean(b for _, b in g))
            for v, g in by_variant.items()}


def render(dataset, table):
    rows = []
    for v in sorted(table, key=VARIANT_NAMES.index):
        n, dev_sel, test_sel = table[v]
        rows.append([get_variant(v).title, n, f"{dev_sel:.3f}", f"{test_sel:.3f}", f"{test_sel - dev_sel:+.3f}"])
    lines = [f"# Selection on dev against selection on test: {dataset} (test set)", "",
             "Test Jaccard of each system's runs, mean over runs. Dev-selected: the step and gamma chosen "
             "on dev (what Table 3 reports). Test-selected: the best step and gamma chosen on the test "
             "split itself (the released code's selection), for the record only.", "",
             *tables.markdown_table(["system", "runs", "dev-selected", "test-selected", "optimism"], rows)]
    return "\n".join(lines) + "\n"


# A damaged record: `experiments.reproduce` writes it again from its run folder.
REWRITE_RECORD = "delete it and re-run the experiments.reproduce command that wrote it"


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(GapConfig)
        folder = Path(settings.results_dir) / settings.dataset
        records = [io_utils.read_json(p, what_to_do=REWRITE_RECORD) for p in sorted(folder.glob("*.json"))
                   if (parsed := run_dir_lib.parse_run_name(p.stem)) is not None and parsed[2] is None]
        table = gap_table(records)
        if not table:
            print(f"nothing to report: no run in {folder} has a test curve (the test split was held out, "
                  "or the runs predate test curves)")
            return
        text = render(settings.dataset, table)
        io_utils.write_text(folder / "selection_gap.md", text)
    print(text)


if __name__ == "__main__":
    define_flags()
    cli.run(main)
