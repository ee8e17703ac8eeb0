"""`python -m experiments.bench --quick` end to end (its synthetic data: experiments/bench_data_test.py).

No timing thresholds: only that every figure is there and positive.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _positive(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.mark.slow
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

    # --quick also times the variants over a (tiny) pretrained encoder, and serves its SavedModel.
    encoder = {r["variant"]: r for r in payload["encoder"]["training"]}
    assert set(encoder) == {"datn2", "base"} and encoder["datn2"]["embedding_dim"] == 8
    assert all(r["embedding_updates"] == "pretrained encoder" and _positive(r["throughput"])
               for r in encoder.values())
    assert _positive(payload["encoder"]["serving"]["sentences_per_second"])
    assert "SavedModel throughput, encoder" in proc.stdout
