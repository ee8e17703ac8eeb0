"""The metric columns of every report, and the one Markdown table renderer.

A metric of `metrics.emotion_metrics` reaches the tables of `experiments.reproduce` and
`experiments.ablate`, the dev-step log line and the end-of-run summary by one entry in `METRIC_COLUMNS`. A record
written before a metric existed shows "–" in its cell.
"""

import dataclasses
import statistics

MISSING = "–"


@dataclasses.dataclass(frozen=True)
class MetricColumn:
    key: str  # the key in `metrics.emotion_metrics`' result
    heading: str
    digits: int = 3
    # Only for datasets that report ranking metrics (E2's AP and one-error, paper Sec. 3.1).
    ranking: bool = False
    # Table 3's heading, where it is longer than the ablation tables'.
    long_heading: str | None = None

    @property
    def table3_heading(self):
        return self.long_heading or self.heading


METRIC_COLUMNS = (
    MetricColumn("jaccard", "Jaccard", long_heading="Jaccard acc."),
    MetricColumn("macro_f1", "macro-F1"),
    MetricColumn("micro_f1", "micro-F1"),
    MetricColumn("average_precision", "AP", ranking=True),
    MetricColumn("one_error", "one-error", ranking=True),
)


def metric_columns(ranking):
    """The columns a dataset's tables show, in order; `ranking`: it reports the ranking metrics
    (its registry entry's `ranking_metrics`)."""
    return [c for c in METRIC_COLUMNS if ranking or not c.ranking]


def value(x, digits=3):
    return MISSING if x is None else f"{x:.{digits}f}"


def mean_std(values, digits=3):
    """"mean ± std" of the values that are not None (std 0 for one), or "–" when none are."""
    values = [v for v in values if v is not None]
    if not values:
        return MISSING
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def with_reference(cell, reference, digits=3):
    """`cell` followed by the paper's figure in brackets, when there is one."""
    return cell if reference is None else f"{cell} [{reference:.{digits}f}]"


def metric_cells(columns, per_run, references=None):
    """One cell per column: mean ± std over `per_run` (each run's metrics of one split), the
    paper's figure from `references` ({key: value}) in brackets."""
    references = references or {}
    return [with_reference(mean_std([m.get(c.key) for m in per_run], c.digits), references.get(c.key), c.digits)
            for c in columns]


def row(cells):
    """One Markdown table row; an empty cell is written as "| |"."""
    return "|" + "|".join(f" {c} " if c != "" else " " for c in cells) + "|"


def markdown_table(headings, rows):
    """The lines of a Markdown table: the headings, the rule, then one line per row of cells."""
    return [row(headings), "|" + "---|" * len(headings), *(row(cells) for cells in rows)]


def metrics_line(split_metrics, digits=4):
    """One split's metrics as "jaccard 0.5000  macro_f1 ..." (the dev-step log line, the end-of-run summary)."""
    return "  ".join(f"{c.key} {value(split_metrics.get(c.key), digits)}" for c in METRIC_COLUMNS
                     if not c.ranking or c.key in split_metrics)


def split_line(split, split_metrics):
    """`metrics_line` after the split's name, with its example count: a run's or an ensemble's report."""
    return f"{split:5s} {metrics_line(split_metrics)}  (n={split_metrics['n']})"
