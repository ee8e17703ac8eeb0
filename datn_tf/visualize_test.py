"""Tests of the attention heatmaps (`datn_tf.visualize`): the numbers and the PNG.

Two tiny runs are trained once for the module on the fixture data: Base (one attention)
and DATN-2 (alpha_s and alpha_t).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from matplotlib import pyplot as plt

from datn_tf import io_utils, metrics, run_weights, testing, trainer, visualize
from datn_tf import run_dir as run_dir_lib
from datn_tf.data.prepare import prepare_data
from datn_tf.errors import UserError
from datn_tf.testing import tokenize_py
from datn_tf.vocab import OOV_ID

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EMOJI_TEXT = "So happy today 😊🙏🏽❤️ with my friends #blessed"
TEXTS = [EMOJI_TEXT, "qwzxv happy plorkt", visualize.PAPER_SENTENCE, ""]
EXPECTED_LABELS = {"base": ["Base"], "datn2": ["DATN-2 α_s", "DATN-2 α_t"]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("visualize")
    data_dir = testing.make_fixture_data_dir(root / "data")
    out = {}
    for variant in EXPECTED_LABELS:
        config = testing.tiny_train_config(data_dir, root / f"run-{variant}", variant=variant, epochs=1)
        trainer.Trainer(config, prepare_data(config)).fit()
        out[variant] = root / f"run-{variant}"
    return out


@pytest.mark.parametrize("variant", list(EXPECTED_LABELS))
def test_attention_rows_are_the_models_alphas(runs, variant):
    run_dir = runs[variant]
    rows = visualize.attention_rows(run_dir, TEXTS)
    config, vocab, model = run_weights.load_run(run_dir)
    threshold = io_utils.read_json(run_dir / run_dir_lib.METRICS_FILE)["threshold"]
    names = config["emotion_names"]
    assert len(rows) == len(TEXTS)
    for text, r in zip(TEXTS, rows):
        assert list(r["rows"]) == EXPECTED_LABELS[variant]
        assert r["tokens"] == tokenize_py(text)  # what the model read, unknown words as written
        if not r["tokens"]:
            assert all(w.shape == (0,) for w in r["rows"].values())
            continue
        out = model(tf.constant([r["token_ids"]]), training=False)  # one sentence, no padding
        expected = [out["alpha_s"].numpy()[0]] + ([out["alpha_t"].numpy()[0]] if variant == "datn2" else [])
        for w, want in zip(r["rows"].values(), expected):
            assert w.shape == (len(r["tokens"]),)
            assert np.all(w >= 0)
            np.testing.assert_allclose(w.sum(), 1.0, atol=1e-5)
            np.testing.assert_allclose(w, want, atol=1e-5)
        probs = out["probabilities"].numpy()
        np.testing.assert_allclose(r["probabilities"], probs[0], atol=1e-5)
        on = metrics.predict_labels(r["probabilities"][None], threshold)[0]
        assert r["predicted"] == [n for n, y in zip(names, on) if y]
        assert r["threshold"] == threshold
    unknown = rows[1]
    assert unknown["tokens"][0] == "qwzxv" and unknown["token_ids"][0] == OOV_ID


def test_names_and_labels():
    assert visualize.row_labels("Base", False) == ("Base",)
    assert visualize.row_labels("DATN-2", True) == ("DATN-2 α_s", "DATN-2 α_t")
    cfg = {"train_config": {"variant": "datn2"}}
    base = {"train_config": {"variant": "base"}}
    assert visualize.unique_names([base, cfg], ["a", "b"]) == ["Base", "DATN-2"]
    assert visualize.unique_names([cfg, cfg], ["runs/s0", "runs/s1"]) == ["DATN-2 (s0)", "DATN-2 (s1)"]
    assert visualize.parse_gold(" joy, love ,", ["joy", "love"]) == ("joy", "love")
    assert visualize.parse_gold("", ["joy"]) == ()
    with pytest.raises(ValueError, match="unknown label.*jyo"):
        visualize.parse_gold("jyo", ["joy"])


def test_characters_the_font_lacks_are_named():
    covered = {ord(c) for c in "happy #"}
    assert visualize.displayable("happy🙏", covered) == "happy:person with folded hands:"
    long = visualize.displayable("a😊", covered)  # long names are cut to MAX_LABEL_CHARS
    assert long == "a:smiling face with smiling eyes:"[: visualize.MAX_LABEL_CHARS - 1] + "…"
    assert visualize.displayable("❤️", covered) == ":heavy black heart:"  # variation selector dropped
    assert visualize.displayable("高兴", covered) == "U+9AD8 U+5174"
    assert visualize.displayable("\ufe0f", covered) == "?"
    _, fonts = visualize.plot_fonts()
    for token in ["😊", "🙏", "❤", "…", "高兴", "$5-$10", "#goodday"]:
        assert all(ord(c) in fonts for c in visualize.displayable(token)), token


def test_panels_use_only_drawable_characters(runs):
    texts = [EMOJI_TEXT, "", "我 今天 很 高兴"]
    per_run = [visualize.attention_rows(runs[v], texts) for v in EXPECTED_LABELS]
    panels = visualize.build_panels([[r[i] for r in per_run] for i in range(len(texts))], [("joy",)])
    assert [p["labels"] for p in panels] == [["Base", "DATN-2 α_s", "DATN-2 α_t"]] * 3
    assert panels[0]["weights"].shape == (3, len(tokenize_py(EMOJI_TEXT)))
    assert panels[0]["title"].endswith("gold: joy") and panels[1]["title"] == "2. (empty text)"
    _, fonts = visualize.plot_fonts()
    for p in panels:
        for s in p["tokens"] + p["labels"] + [p["title"]]:
            assert all(ord(c) in fonts for c in s), s


def test_command_writes_a_png(runs, tmp_path):
    out = tmp_path / "figs" / "fig3.png"
    texts = [EMOJI_TEXT, ""]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    args = [sys.executable, "-m", "datn_tf.visualize", f"--run_dirs={runs['base']},{runs['datn2']}",
            f"--output={out}", f"--text={texts[0]}", "--gold=joy,love", f"--text={texts[1]}"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "note: sentence 2 is empty" in result.stderr
    assert "missing from" not in result.stderr and "Warning" not in result.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["fig3.png"]  # atomic: no temporaries left
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    image = plt.imread(out)
    height, width = image.shape[:2]
    assert image.ndim == 3 and f"({width}x{height} px, 2 panels, 2 runs)" in result.stdout

    per_run = [visualize.attention_rows(runs[v], texts) for v in EXPECTED_LABELS]
    panels = visualize.build_panels([[r[i] for r in per_run] for i in range(len(texts))], [("joy", "love")])
    w_in, h_in = visualize.figure_size(panels)
    dpi = visualize.DEFAULT_DPI
    assert abs(width - w_in * dpi) <= 1 and abs(height - h_in * dpi) <= 1  # the planned size and aspect
    assert width > height  # one sentence of 13 tokens and an empty panel: a wide figure


def test_a_run_without_best_weights_gives_one_error_line(runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["base"], run)
    shutil.rmtree(run / run_dir_lib.BEST_DIR)
    with pytest.raises(UserError, match="best holds no weights"):
        visualize.attention_rows(run, TEXTS)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-m", "datn_tf.visualize", f"--run_dirs={run}",
                           f"--output={tmp_path / 'x.png'}"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "best holds no weights" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_outputs_that_are_a_folder_or_inside_a_run_are_refused(runs, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    run = runs["base"]
    inside = run / run_dir_lib.BEST_DIR / "fig.png"
    for output, line in ((tmp_path, f"error: --output {tmp_path} is a folder; give a PNG file name, e.g. "
                                     f"{tmp_path / 'attention.png'}\n"),
                         (inside, f"error: --output {inside} is inside the run folder --run_dirs {run}: writing it "
                                  "would destroy what the command reads; choose another --output\n")):
        proc = subprocess.run([sys.executable, "-m", "datn_tf.visualize", f"--run_dirs={run}", f"--output={output}"],
                              env=env, capture_output=True, text=True, timeout=300)
        assert (proc.returncode, proc.stderr) == (2, line)
    assert not inside.exists()


def test_a_damaged_metrics_file_is_named(runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["base"], run)
    (run / run_dir_lib.METRICS_FILE).write_text('{"threshold": "high"}', encoding="utf-8")
    with pytest.raises(UserError, match=r"metrics\.json: no finite dev-tuned threshold "
                                                      r"\(\"threshold\": 'high'\); re-run the run's training"):
        visualize.attention_rows(run, TEXTS)
    (run / run_dir_lib.CONFIG_FILE).write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{run / run_dir_lib.CONFIG_FILE}:1: not valid JSON"):
        visualize.attention_rows(run, TEXTS)
