"""A metric added to `metrics.emotion_metrics` and `tables.METRIC_COLUMNS` reaches both drivers' tables.

Each driver builds its table in a subprocess of its own, where the test's new metric is patched in.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datn_tf import io_utils, metrics, tables
from datn_tf.data import datasets

REPO = Path(__file__).resolve().parents[1]

# Applied in the test and in each driver's process: one new metric, one new column.
ADD_METRIC = """
import numpy as np
from datn_tf import metrics, tables
_emotion_metrics = metrics.emotion_metrics
def emotion_metrics(y_true, y_pred, scores=None, *, ranking=False):
    return {**_emotion_metrics(y_true, y_pred, scores, ranking=ranking),
            "hamming": float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))}
metrics.emotion_metrics = emotion_metrics
tables.METRIC_COLUMNS = (*tables.METRIC_COLUMNS, tables.MetricColumn("hamming", "Hamming"))
"""

BUILD = ADD_METRIC + """
import sys
from pathlib import Path
driver, results, data_dir = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if driver == "reproduce":
    from experiments import reproduce
    print(reproduce.build_table("semeval", results / "semeval", data_dir, ["base", "sp"]))
else:
    from experiments import ablate
    print(ablate.build_table("semeval", results / "semeval" / "ablations", data_dir))
"""


def _build(driver, results, data_dir):
    proc = subprocess.run([sys.executable, "-c", BUILD, driver, str(results), str(data_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _runs(data_dir, with_metric, without):
    """{(variant, seed): (dev probabilities, dev metrics)}: base's with the new metric, sp's
    (recorded before it existed) without."""
    gold = datasets.load_task("semeval", str(data_dir)).dev.labels
    rng = np.random.default_rng(0)
    out = {}
    for variant in ("base", "sp"):
        for seed in (0, 1):
            probs = rng.uniform(size=gold.shape).astype(np.float32)
            score = with_metric if variant == "base" else without
            out[variant, seed] = probs, score(gold, metrics.predict_labels(probs, 0.5))
    return out


def _column(table, heading, first_cell):
    lines = table.splitlines()
    head = next(line for line in lines if line.startswith("| ") and f"| {heading} |" in line)
    row = next(line for line in lines if line.startswith(f"| {first_cell} |"))
    return [c.strip() for c in row.split("|")][[c.strip() for c in head.split("|")].index(heading)]


@pytest.mark.slow
def test_a_new_metric_reaches_both_tables_and_older_records_show_a_dash(data_dir, tmp_path, monkeypatch):
    # The drivers' processes' patch, here too (undone after the test).
    monkeypatch.setattr(metrics, "emotion_metrics", metrics.emotion_metrics)
    monkeypatch.setattr(tables, "METRIC_COLUMNS", tables.METRIC_COLUMNS)
    namespace = {}
    exec(ADD_METRIC, namespace)
    runs = _runs(data_dir, namespace["emotion_metrics"], namespace["_emotion_metrics"])
    assert "hamming" in runs["base", 0][1] and "hamming" not in runs["sp", 0][1]
    e1 = tmp_path / "semeval"
    for (variant, seed), (probs, dev) in runs.items():
        name = f"{variant}-seed{seed}"
        io_utils.save_npy(e1 / "probs" / f"{name}-dev.npy", probs)
        io_utils.write_json(e1 / f"{name}.json", {"variant": variant, "seed": seed, "threshold": 0.5, "dev": dev,
                                                  "test_evaluated": False, "wall_seconds": 60.0})
        io_utils.save_npy(e1 / "ablations" / "probs" / f"{name}.npy", probs.astype(np.float16))
        io_utils.write_json(e1 / "ablations" / f"{name}.json", {
            "config": variant, "about": variant, "stage": "reference", "dataset": "semeval", "overrides": {},
            "variant": variant, "seed": seed, "threshold": 0.5, "best_step": 3, "steps": 3, "wall_seconds": 60.0,
            "dev": dev, "test_evaluated": False, "mean_max_alpha_t": None, "mean_max_alpha_s": None,
            "mean_cos_alpha_s_alpha_t": None})
    hamming = tables.mean_std([runs["base", s][1]["hamming"] for s in (0, 1)])

    table3 = _build("reproduce", tmp_path, data_dir)
    assert _column(table3, "Hamming", "Base") == hamming
    assert _column(table3, "Hamming", "SP") == "–"
    sp_jaccard = tables.mean_std([runs["sp", s][1]["jaccard"] for s in (0, 1)])
    assert _column(table3, "Jaccard acc.", "SP") == f"{sp_jaccard} [0.577]"  # the paper's in brackets
    ablations = _build("ablate", tmp_path, data_dir)
    assert _column(ablations, "Hamming", "base") == hamming
    assert _column(ablations, "Hamming", "sp") == "–"


def test_the_renderer_writes_empty_cells_and_the_rule():
    assert tables.markdown_table(["a", "b", "c"], [[1, "x", ""]]) == ["| a | b | c |", "|---|---|---|", "| 1 | x | |"]
    assert tables.mean_std([0.5, None, 0.7]) == "0.600 ± 0.141"
    assert tables.mean_std([None]) == "–" and tables.mean_std([0.25], 2) == "0.25 ± 0.00"
    assert tables.with_reference("0.500 ± 0.010", 0.569) == "0.500 ± 0.010 [0.569]"
    # Every metric has its column.
    everything = metrics.emotion_metrics(np.eye(3), np.eye(3), np.eye(3), ranking=True)
    assert {c.key for c in tables.metric_columns(datasets.get("ren_cecps").ranking_metrics)} == set(everything) - {"n"}
    assert [c.key for c in tables.metric_columns(datasets.get("semeval").ranking_metrics)] == ["jaccard", "macro_f1",
                                                                                               "micro_f1"]


def test_the_summary_line_names_every_metric_and_a_missing_one():
    line = tables.metrics_line({"jaccard": 0.5, "macro_f1": 0.25, "micro_f1": 0.75, "n": 3})
    assert line == "jaccard 0.5000  macro_f1 0.2500  micro_f1 0.7500"
    assert tables.metrics_line({"jaccard": 0.5}).endswith("micro_f1 –")
