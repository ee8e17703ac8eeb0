"""`python -m experiments.bench --quick` end to end, and its synthetic E1-shaped data.

No timing thresholds: only that every figure is there and positive.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from experiments import bench_data as bench

REPO = Path(__file__).resolve().parents[1]


def _positive(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def test_length_histograms_match_e1_and_s1():
    assert sum(bench.EC_LENGTH_COUNTS.values()) == 6838
    assert sum(bench.S1_LENGTH_COUNTS.values()) == 28631
    assert abs(bench.histogram_mean(bench.EC_LENGTH_COUNTS) - 19.5) < 0.05
    assert abs(bench.histogram_mean(bench.S1_LENGTH_COUNTS) - 22.6) < 0.05
    assert min(bench.EC_LENGTH_COUNTS) == 1 and min(bench.S1_LENGTH_COUNTS) == 1


def test_synthetic_texts_tokenize_back_to_their_ids():
    from datn_tf import input_pipeline

    data = bench.make_prepared_data(500, 4, sizes={"train": 30, "dev": 40, "sentiment": 50}, seed=3)
    assert len(data.vocab) == 500 and data.embedding_matrix.shape == (500, 4)
    assert len(data.task.sentiment) == 50 and data.task.train.labels.shape == (30, 11)
    ids = input_pipeline.encode_texts(data.task.dev.texts, data.vocab, "en")
    assert all(np.array_equal(a, b) for a, b in zip(ids, data.ids["dev"]))


def test_quick_bench_writes_every_figure(tmp_path):
    out = tmp_path / "b.json"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.bench", "--quick", f"--output={out}", "--label=smoke test"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    payload = json.loads(out.read_text())
    assert payload["label"] == "smoke test"
    assert {"config", "environment", "training", "serving", "peak_rss_mib", "created"} <= set(payload)

    cfg = payload["config"]
    assert cfg["quick"] is True and cfg["dense_embedding_updates"] is False
    assert cfg["variants"] == ["datn2", "base"] and cfg["batch_size"] == 60
    assert cfg["data"]["sentiment_sentences"] == 28631 and cfg["data"]["emotion_sentences"] == 6838

    env = payload["environment"]
    assert env["tensorflow_version"] and env["cpu_count"] >= 1 and isinstance(env["gpu_visible"], bool)
    assert {"intra_op_parallelism", "inter_op_parallelism"} <= set(env["threads"])
    assert _positive(env["cpu_matmul_gflops"])

    runs = {r["variant"]: r for r in payload["training"]}
    assert set(runs) == {"datn2", "base"}
    assert runs["datn2"]["throughput_unit"] == "sentence pairs/s"
    assert runs["base"]["throughput_unit"] == "emotion sentences/s"
    assert runs["datn2"]["epoch"]["steps"] == 478  # ceil(28,631 / 60)
    assert runs["base"]["epoch"]["steps"] == 114  # ceil(6,838 / 60)
    for r in runs.values():
        assert r["embedding_updates"] == "row-wise Adam"
        for key in ("throughput", "sentences_per_second", "ms_per_step", "steps_per_second", "seconds_per_step",
                    "first_step_seconds", "peak_rss_mib_after"):
            assert _positive(r[key]), (r["variant"], key, r[key])
        assert r["epoch"]["estimated"] is True and _positive(r["epoch"]["seconds"])
        assert _positive(r["epoch"]["training_seconds_estimate"])

    serving = payload["serving"]
    assert serving["variant"] == "datn2" and serving["batch_size"] == 256
    for key in ("sentences_per_second", "latency_ms_median", "latency_ms_p90", "batch_ms", "export_seconds",
                "savedmodel_mib"):
        assert _positive(serving[key]), (key, serving[key])
    assert _positive(payload["peak_rss_mib"])

    assert "| measurement | variant |" in proc.stdout and "SavedModel latency" in proc.stdout
