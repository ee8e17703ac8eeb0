import subprocess
import sys
from pathlib import Path

import pytest

from datn_tf import io_utils
from experiments import selection_gap

REPO = Path(__file__).resolve().parents[1]


def _record(variant, best_step, curve):
    """A reproduce record whose history has, per step, (dev-gamma test Jaccard, test-gamma Jaccard)."""
    history = {str(s): {"dev": {"jaccard": 0.5}, "threshold": 0.2, "test": {"jaccard": a},
                        "test_gamma_on_test": {"threshold": 0.3, "jaccard": b}} for s, (a, b) in curve.items()}
    return {"variant": variant, "seed": 0, "best_step": best_step, "history": history}


def test_the_gap_is_the_test_score_at_the_dev_step_beside_the_best_on_test():
    records = [_record("sp", 200, {100: (0.50, 0.52), 200: (0.55, 0.56), 300: (0.57, 0.60)}),
               _record("sp", 100, {100: (0.40, 0.45), 200: (0.42, 0.44)}),
               _record("base", 100, {100: (0.30, 0.30)})]
    table = selection_gap.gap_table(records)
    assert table["sp"][0] == 2
    assert table["sp"][1] == pytest.approx((0.55 + 0.40) / 2)
    assert table["sp"][2] == pytest.approx((0.60 + 0.45) / 2)
    assert table["base"] == (1, 0.30, 0.30)
    text = selection_gap.render("semeval", table)
    assert text.index("| Base |") < text.index("| SP |")  # Table 3's order
    assert "| SP | 2 | 0.475 | 0.525 | +0.050 |" in text


def test_runs_without_test_curves_are_left_out():
    held_out = {"variant": "sp", "seed": 0, "best_step": 100, "history": {"100": {"dev": {"jaccard": 0.5}}}}
    old = {"variant": "sp", "seed": 1, "best_step": 100}  # a record from before histories
    assert selection_gap.gap_table([held_out, old]) == {}


def test_without_a_test_split_it_has_nothing_to_report(tmp_path):
    folder = tmp_path / "semeval"
    folder.mkdir()
    io_utils.write_json(folder / "sp-seed0.json",
                        {"variant": "sp", "seed": 0, "best_step": 3, "history": {"3": {"dev": {"jaccard": 0.1}}}})
    proc = subprocess.run([sys.executable, "-m", "experiments.selection_gap", f"--results_dir={tmp_path}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nothing to report" in proc.stdout and not (folder / "selection_gap.md").exists()
