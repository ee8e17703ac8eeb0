"""`--strategy=mirrored` trains with the same loop on two logical CPU devices."""

import subprocess
import sys
from pathlib import Path

import pytest

from datn_tf import run_dir as run_dir_lib
from datn_tf import testing

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    data_dir = testing.make_fixture_data_dir(tmp_path / "data")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "datn_tf.train", "--strategy=mirrored", "--logical_cpus=2",
           "--variant=datn2", f"--data_dir={data_dir}", f"--output_dir={out}", "--epochs=1",
           "--batch_size=8", "--hidden_size=6", "--attention_size=5", "--mlp_hidden_units=7",
           "--eval_every=3", "--log_every=1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "strategy mirrored: 2 replica(s)" in proc.stdout
    payload = run_dir_lib.read_metrics(out)
    assert payload["steps"] > 0 and 0.0 <= payload["dev"]["jaccard"] <= 1.0
    assert "emotion_loss" in proc.stdout and "nan" not in proc.stdout.lower()
