"""Tests of the SavedModel export (`datn_tf.export`).

Two tiny runs, DATN-2 (two attentions) and Base (no target side), are trained and exported
once per session (the `exported_runs` fixture of the root conftest.py).
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import datn_tf
from datn_tf import export, input_pipeline, io_utils, metrics, run_weights
from datn_tf import run_dir as run_dir_lib
from datn_tf.data import semeval_ec
from datn_tf.errors import UserError
from datn_tf.testing import tokenize_py
from datn_tf.testing.exports import EXPORTED_VARIANTS as VARIANTS
from datn_tf.testing.exports import ROBUSTNESS_TEXTS, explain, loaded, run_threshold, serve, subprocess_env

ATOL = 1e-5



@pytest.fixture
def setup(exported_runs):
    """{"data_dir", "runs": {variant: run_dir}, "exports": {variant: export_dir}, "dev": examples}."""
    return exported_runs


def _decode_row(row):
    return [t.decode("utf-8") for t in row]


# -- parity with training ---------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_parity_with_the_in_memory_model_on_dev(setup, variant):
    run_dir, export_dir, dev = setup["runs"][variant], setup["exports"][variant], setup["dev"]
    config, vocab, model = run_weights.load_run(run_dir)
    ids = input_pipeline.encode_texts(dev.texts, vocab, config["language"],
                                      max_length=config["train_config"]["max_length"])
    padded = input_pipeline.pad_batch(ids, list(range(len(ids))))
    expected = model(tf.constant(padded), training=False)
    expected_probs = expected["probabilities"].numpy()
    gamma = run_threshold(run_dir)

    served = serve(export_dir, dev.texts)
    diff = float(np.abs(served["probabilities"] - expected_probs).max())
    assert diff <= ATOL, f"max |exported - in-memory| = {diff:.3g}"
    np.testing.assert_array_equal(served["labels"], metrics.predict_labels(expected_probs, gamma))
    # ... and the labels the trainer itself wrote for dev.
    written = semeval_ec.read_ec(run_dir / "predictions" / "dev.txt").labels
    np.testing.assert_array_equal(served["labels"], written.astype(bool))
    assert served["label_names"].shape == expected_probs.shape
    assert all(_decode_row(row) == config["emotion_names"] for row in served["label_names"])

    explained = explain(export_dir, dev.texts)
    np.testing.assert_allclose(explained["probabilities"], expected_probs, atol=ATOL)
    width = padded.shape[1]
    assert explained["alpha_s"].shape == (len(dev), width)
    np.testing.assert_allclose(explained["alpha_s"], expected["alpha_s"].numpy(), atol=ATOL)
    if variant == "base":
        np.testing.assert_array_equal(explained["alpha_t"], np.zeros_like(explained["alpha_s"]))
    else:
        np.testing.assert_allclose(explained["alpha_t"], expected["alpha_t"].numpy(), atol=ATOL)


def test_token_ids_inside_the_export_are_the_training_ids(setup):
    run_dir, export_dir = setup["runs"]["datn2"], setup["exports"]["datn2"]
    _, vocab, _ = run_weights.load_run(run_dir)
    texts = list(setup["dev"].texts) + ROBUSTNESS_TEXTS + ["<pad> <unk> pad unk"]
    explained = explain(export_dir, texts)
    training_ids = input_pipeline.encode_texts(texts, vocab, "en")
    width = explained["token_ids"].shape[1]
    assert width == max(len(tokenize_py(t)) for t in texts)
    assert any(i > 1 for row in training_ids for i in row)  # known words are in the texts
    for text, row_ids, row_tokens, train_ids in zip(texts, explained["token_ids"], explained["tokens"], training_ids):
        tokens = tokenize_py(text)
        expected = np.zeros(width, np.int32)
        expected[: len(tokens)] = vocab.ids(tokens)
        np.testing.assert_array_equal(row_ids, expected, err_msg=text[:50])
        np.testing.assert_array_equal(row_ids[: len(train_ids)], train_ids)
        assert _decode_row(row_tokens) == tokens + [""] * (width - len(tokens))


def test_a_run_with_normalized_tokens_exports_the_same_tokenizer(tmp_path):
    """--normalize_tokens: the vocabulary holds the tags, and the served model rewrites raw
    text into them exactly as training did."""
    from datn_tf import testing
    from datn_tf.data.prepare import prepare_data
    from datn_tf.trainer import Trainer

    data_dir = testing.make_fixture_data_dir(tmp_path / "data")
    config = testing.tiny_train_config(data_dir, tmp_path / "run", variant="base", epochs=1,
                                       normalize_tokens=True)
    data = prepare_data(config)
    assert "<user>" in data.vocab and "<url>" in data.vocab  # the fixture tweets hold both
    Trainer(config, data).fit()
    out = export.export_run(tmp_path / "run", tmp_path / "export")
    assert json.loads((out / export.EXTRA_DIR / export.METADATA_FILE).read_text())["normalize_tokens"] is True
    texts = ["@someone look http://t.co/abc :)", "plain words only"] + list(data.task.dev.texts[:20])
    explained = explain(out, texts)
    assert _decode_row(explained["tokens"][0])[:4] == ["<user>", "look", "<url>", "<happy>"]
    training_ids = input_pipeline.encode_texts(texts, data.vocab, "en", normalize=True)
    for row_ids, train_ids in zip(explained["token_ids"], training_ids):
        np.testing.assert_array_equal(row_ids[: len(train_ids)], train_ids)
        assert not row_ids[len(train_ids):].any()


# -- robustness ---------------------------------------------------------------------------


def _check_outputs(served, explained, n, k, gamma, names):
    probs = served["probabilities"]
    assert probs.shape == (n, k) and probs.dtype == np.float32
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0) and np.all(probs.sum(axis=1) <= 1 + 1e-5)
    assert served["labels"].shape == (n, k) and served["labels"].dtype == bool
    np.testing.assert_array_equal(served["labels"], probs.astype(np.float64) > gamma)
    assert served["label_names"].shape == (n, k)
    assert all(_decode_row(row) == names for row in served["label_names"])
    for key in ("alpha_s", "alpha_t"):
        assert explained[key].shape[0] == n and np.all(np.isfinite(explained[key]))
    np.testing.assert_allclose(explained["probabilities"], probs, atol=ATOL)


@pytest.mark.parametrize("variant", VARIANTS)
def test_hard_inputs_give_defined_outputs(setup, variant):
    run_dir, export_dir = setup["runs"][variant], setup["exports"][variant]
    gamma, names = run_threshold(run_dir), list(semeval_ec.EMOTIONS)
    served, explained = serve(export_dir, ROBUSTNESS_TEXTS), explain(export_dir, ROBUSTNESS_TEXTS)
    _check_outputs(served, explained, len(ROBUSTNESS_TEXTS), 11, gamma, names)

    lengths = [len(tokenize_py(t)) for t in ROBUSTNESS_TEXTS]
    assert lengths[0] == lengths[1] == 0 and lengths[4] > 1000
    assert explained["tokens"].shape == (len(ROBUSTNESS_TEXTS), max(lengths))
    for i, length in enumerate(lengths):
        alpha_s = explained["alpha_s"][i]
        assert np.all(alpha_s[length:] == 0)
        if length:  # attention is a distribution over the real tokens
            assert alpha_s[:length].sum() == pytest.approx(1.0, abs=1e-5)
        else:
            assert np.all(alpha_s == 0) and np.all(explained["alpha_t"][i] == 0)
            assert all(t == b"" for t in explained["tokens"][i])
    # Empty and whitespace-only texts are the same (empty) input.
    np.testing.assert_array_equal(served["probabilities"][0], served["probabilities"][1])

    # Each text alone (batch of one) gives what it gets in the batch: padding does not leak.
    for i, text in enumerate(ROBUSTNESS_TEXTS):
        alone, alone_explained = serve(export_dir, [text]), explain(export_dir, [text])
        _check_outputs(alone, alone_explained, 1, 11, gamma, names)
        np.testing.assert_allclose(alone["probabilities"][0], served["probabilities"][i], atol=ATOL)
        assert alone_explained["alpha_s"].shape == (1, lengths[i])
        np.testing.assert_allclose(alone_explained["alpha_s"][0], explained["alpha_s"][i, : lengths[i]], atol=ATOL)


def test_batch_of_one_thousand(setup):
    export_dir, dev = setup["exports"]["datn2"], setup["dev"]
    texts = [dev.texts[i % len(dev)] for i in range(1000)]
    served = serve(export_dir, texts)
    assert served["probabilities"].shape == (1000, 11)
    per_text = serve(export_dir, dev.texts)
    np.testing.assert_allclose(served["probabilities"], per_text["probabilities"][np.arange(1000) % len(dev)],
                               atol=ATOL)
    np.testing.assert_array_equal(served["labels"], per_text["labels"][np.arange(1000) % len(dev)])


@pytest.mark.parametrize("variant", VARIANTS)
def test_empty_batch(setup, variant):
    export_dir = setup["exports"][variant]
    served, explained = serve(export_dir, []), explain(export_dir, [])
    assert served["probabilities"].shape == (0, 11)
    assert served["labels"].shape == (0, 11)
    assert served["label_names"].shape == (0, 11)
    assert explained["probabilities"].shape == (0, 11)
    for key in ("tokens", "token_ids", "alpha_s", "alpha_t"):
        assert explained[key].shape[0] == 0


# -- what a client sees -------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_metadata_in_assets(setup, variant):
    run_dir, export_dir = setup["runs"][variant], setup["exports"][variant]
    run_metrics = io_utils.read_json(run_dir / run_dir_lib.METRICS_FILE)
    for folder in ("assets", "assets.extra"):
        meta = io_utils.read_json(export_dir / folder / export.METADATA_FILE)
        assert meta["threshold"] == run_metrics["threshold"]
        assert meta["dataset"] == "semeval" and meta["variant"] == variant
        assert meta["language"] == "en"
        assert meta["label_names"] == list(semeval_ec.EMOTIONS)
        assert meta["datn_tf_version"] == datn_tf.__version__
    path = loaded(export_dir).datn_tf_metadata.asset_path.numpy().decode()
    assert Path(path).is_file() and io_utils.read_json(path)["variant"] == variant


def test_loads_and_runs_without_datn_tf(setup, tmp_path):
    export_dir = setup["exports"]["datn2"]
    texts = ["I am so happy today", "", "😊"]
    code = f"""
import json, sys
import tensorflow as tf
model = tf.saved_model.load({str(export_dir)!r})
texts = tf.constant({texts!r})
out = model.signatures["serving_default"](text=texts)
explained = model.signatures["explain"](text=texts)
meta = json.load(open({str(export_dir / "assets" / "datn_tf.json")!r}, encoding="utf-8"))
assert out["probabilities"].shape == (3, len(meta["label_names"]))
assert explained["alpha_t"].shape == explained["tokens"].shape
assert not [m for m in sys.modules if m == "datn_tf" or m.startswith("datn_tf.")], "datn_tf was imported"
print(json.dumps(out["probabilities"].numpy().tolist()))
"""
    env = subprocess_env()
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    probs = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(probs, serve(export_dir, texts)["probabilities"], atol=1e-6)


def _signature_block(text, name):
    start = text.index(f"signature_def['{name}']")
    end = text.find("signature_def[", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_saved_model_cli_lists_both_signatures(setup):
    cli = Path(sys.executable).parent / "saved_model_cli"
    if not cli.exists():
        cli = shutil.which("saved_model_cli")
        if cli is None:
            pytest.skip("saved_model_cli is not installed")
    result = subprocess.run([str(cli), "show", "--all", "--dir", str(setup["exports"]["base"])],
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, outputs in (("serving_default", ("probabilities", "labels", "label_names")),
                          ("explain", ("tokens", "token_ids", "alpha_s", "alpha_t", "probabilities"))):
        block = _signature_block(result.stdout, name)
        inputs = block.split("output(s):")[0]
        assert "inputs['text']" in inputs and "dtype: DT_STRING" in inputs and "shape: (-1)" in inputs
        for output in outputs:
            assert f"outputs['{output}']" in block
        assert "Method name is: tensorflow/serving/predict" in block


# -- writing the export safely ------------------------------------------------------------


def test_overwrite_refuses_another_projects_saved_model(setup, tmp_path):
    class Foreign(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def double(self, x):
            return {"y": x * 2}

    dest = tmp_path / "theirs"
    module = Foreign()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.double})
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    with pytest.raises(UserError) as err:
        export.export_run(setup["runs"]["base"], dest, overwrite=True)
    assert str(err.value) == (f"--output {dest} holds a SavedModel that is not a datn-tf export; --overwrite "
                              "replaces only an earlier export: choose a new or empty folder")
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before


def test_refuses_a_non_empty_output_unless_overwrite(setup, tmp_path):
    run_dir = setup["runs"]["base"]
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty.*--overwrite"):
        export.export_run(run_dir, dest)
    assert (dest / "keep.txt").read_text() == "mine"

    result = subprocess.run(
        [sys.executable, "-m", "datn_tf.export", "--run_dir", str(run_dir), "--output", str(dest)],
        env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "error:" in result.stderr and "--overwrite" in result.stderr
    assert "Traceback" not in result.stderr
    assert (dest / "keep.txt").read_text() == "mine"

    # --overwrite replaces an earlier export only, never a folder of other files.
    with pytest.raises(UserError, match="holds files that are not a SavedModel; --overwrite replaces only"):
        export.export_run(run_dir, dest, overwrite=True)
    assert (dest / "keep.txt").read_text() == "mine"
    (dest / "keep.txt").unlink()
    assert export.export_run(run_dir, dest) == dest
    (dest / "keep.txt").write_text("inside the export")
    assert export.export_run(run_dir, dest, overwrite=True) == dest
    assert not (dest / "keep.txt").exists()
    np.testing.assert_allclose(serve(dest, ["so happy"])["probabilities"],
                               serve(setup["exports"]["base"], ["so happy"])["probabilities"], atol=1e-7)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folders left

    # Other destinations that would lose data.
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        export.export_run(run_dir, tmp_path / "file", overwrite=True)
    with pytest.raises(UserError, match="is the run folder --run_dir"):
        export.export_run(run_dir, run_dir, overwrite=True)
    for inside in (run_dir / run_dir_lib.BEST_DIR, run_dir / run_dir_lib.CKPT_DIR, run_dir / "new"):
        with pytest.raises(UserError, match="is inside the run folder --run_dir"):
            export.export_run(run_dir, inside, overwrite=True)
    with pytest.raises(UserError, match="holds the run folder --run_dir"):
        export.export_run(run_dir, run_dir.parent, overwrite=True)
    with pytest.raises(FileNotFoundError, match="not a finished run"):
        export.export_run(tmp_path / "no-run", tmp_path / "out")


def test_an_empty_existing_folder_is_used(setup, tmp_path):
    dest = tmp_path / "empty"
    dest.mkdir()
    export.export_run(setup["runs"]["base"], dest)
    assert (dest / "saved_model.pb").is_file()


def test_interrupted_export_leaves_the_destination_untouched(setup, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    parent = tmp_path / "exports"
    parent.mkdir()
    existing = parent / "old"
    existing.mkdir()
    (existing / "saved_model.pb").write_text("the previous model")
    (existing / export.METADATA_PATH).parent.mkdir()
    (existing / export.METADATA_PATH).write_text("{}")  # an earlier datn-tf export: --overwrite may replace it

    def interrupted_write(archive, path, metadata_text):
        (Path(path) / "saved_model.pb").write_text("half")
        (Path(path) / "variables").mkdir()
        raise RuntimeError("interrupted")

    monkeypatch.setattr(export, "_write_archive", interrupted_write)
    for dest, overwrite in ((existing, True), (parent / "new", False)):
        with pytest.raises(RuntimeError, match="interrupted"):
            export.export_run(setup["runs"]["base"], dest, overwrite=overwrite)
    assert sorted(p.name for p in parent.iterdir()) == ["old"]  # no "new", no temporary folders
    assert sorted(p.name for p in existing.iterdir()) == sorted(["saved_model.pb", export.METADATA_PATH.parts[0]])
    assert (existing / "saved_model.pb").read_text() == "the previous model"
    assert list(scratch.iterdir()) == []


def test_export_of_a_run_with_damaged_or_missing_best_weights_says_so(setup, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(setup["runs"]["base"], run)
    weights = next((run / run_dir_lib.BEST_DIR).glob("weights.data*"))
    weights.write_bytes(weights.read_bytes()[:7])
    with pytest.raises(UserError, match="best is damaged"):
        export.export_run(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    shutil.rmtree(run / run_dir_lib.BEST_DIR)
    result = subprocess.run([sys.executable, "-m", "datn_tf.export", f"--run_dir={run}", f"--output={tmp_path / 'o'}"],
                            env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "best holds no weights" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name, text, message", [
    (run_dir_lib.METRICS_FILE, '{"threshold": 0.', r"metrics\.json:1: not valid JSON .*rewrites it$"),
    (run_dir_lib.METRICS_FILE, '{"dev": {}}', r"metrics\.json: no finite dev-tuned threshold \(\"threshold\": None\); "
                                              r"re-run the run's training command"),
    (run_dir_lib.METRICS_FILE, '{"threshold": NaN}', r"no finite dev-tuned threshold \(\"threshold\": nan\)"),
    (run_dir_lib.CONFIG_FILE, '{"train_config": {', r"config\.json:1: not valid JSON .*train it again after deleting"),
    (run_dir_lib.CONFIG_FILE, '{"train_config": {}}', r"config\.json: not a run's saved config \(no model_config, "),
])
def test_a_damaged_run_file_is_named_with_what_to_do(setup, tmp_path, name, text, message):
    run = tmp_path / "run"
    shutil.copytree(setup["runs"]["base"], run)
    (run / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        export.export_run(run, tmp_path / "out")
    assert str(err.value).startswith(str(run / name)) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
