"""End to end over a pretrained encoder (--encoder=bert on a tiny BERT made here): train, resume,
export, predict raw text, and the errors a user meets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras_hub")

from datn_tf import encoder_states, encoders, testing  # noqa: E402
from datn_tf import run_dir as run_dir_lib  # noqa: E402
from datn_tf.data import datasets  # noqa: E402
from datn_tf.data.prepare import prepare_data  # noqa: E402
from datn_tf.testing import tiny_bert  # noqa: E402
from datn_tf.trainer import Trainer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = ["--batch_size=8", "--hidden_size=6", "--attention_size=5", "--mlp_hidden_units=7", "--eval_every=3"]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-bert")
    tiny_bert.write_tiny_bert(folder)
    return folder


def _run(module, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


def _config(data_dir, bert_dir, out, **overrides):
    settings = dict(variant="datn2", epochs=1, encoder="bert", encoder_dir=str(bert_dir), encoder_trainable_layers=1)
    settings.update(overrides)
    return testing.tiny_train_config(data_dir, out, **settings)


@pytest.mark.slow
def test_train_export_and_predict_raw_text(data_dir, bert_dir, tmp_path):
    run, export = tmp_path / "run", tmp_path / "export"
    proc = _run("datn_tf.train", f"--data_dir={data_dir}", f"--output_dir={run}", "--variant=datn2",
                "--encoder=bert", f"--encoder_dir={bert_dir}", "--encoder_trainable_layers=1", "--max_steps=6",
                *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bert (" in proc.stdout and "top 1 layer(s) trained" in proc.stdout
    proc = _run("datn_tf.export", f"--run_dir={run}", f"--output={export}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _run("datn_tf.predict", f"--model={export}", "so happy about the exam!!", "furious at the traffic")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["so happy about the exam!!", "furious at the traffic"]
    assert all(set(r["probabilities"]) == set(testing.EC_EMOTIONS) for r in rows)

    # The SavedModel needs TensorFlow and tensorflow-text only, and scores the dev set as training did.
    dev = list(datasets.load_task("semeval", data_dir).dev.texts)
    script = ("import json, sys\nimport tensorflow as tf\nimport tensorflow_text  # noqa\n"
              f"m = tf.saved_model.load({str(export)!r})\n"
              "texts = json.loads(sys.stdin.read())\n"
              "out = m.signatures['serving_default'](text=tf.constant(texts))\n"
              "ex = m.signatures['explain'](text=tf.constant(texts[:1]))\n"
              "print(json.dumps({'p': out['probabilities'].numpy().tolist(), 'tokens': [t.decode() for t in "
              "ex['tokens'].numpy()[0]], 'alpha_s': ex['alpha_s'].numpy()[0].tolist(),"
              "'ours': sorted(m for m in sys.modules if m.startswith(('datn_tf', 'keras_hub')))}))\n")
    proc = subprocess.run([sys.executable, "-c", script], input=json.dumps(dev), capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert got["ours"] == []
    saved = np.load(run_dir_lib.probabilities_path(run, "dev"))
    np.testing.assert_allclose(np.array(got["p"]), saved, atol=2e-6)
    # The explain tokens are WordPiece tokens without [CLS] / [SEP], aligned with alpha_s.
    real = [t for t in got["tokens"] if t]
    assert "[CLS]" not in got["tokens"] and "[SEP]" not in got["tokens"] and real
    assert np.isclose(sum(got["alpha_s"]), 1.0, atol=1e-5)
    assert all(a == 0 for t, a in zip(got["tokens"], got["alpha_s"]) if not t)


def test_resume_after_kill_matches_uninterrupted_run(data_dir, bert_dir, tmp_path):
    expected = Trainer(_config(data_dir, bert_dir, tmp_path / "full"),
                       prepare_data(_config(data_dir, bert_dir, tmp_path / "full"))).fit()
    config = _config(data_dir, bert_dir, tmp_path / "killed")
    testing.fit_killed_after(Trainer(config, prepare_data(config)), 4)  # last checkpoint at step 3
    result = Trainer(config, prepare_data(config)).fit()
    for key in ("best_step", "steps", "threshold", "dev"):
        assert result[key] == expected[key]
    np.testing.assert_array_equal(np.load(run_dir_lib.probabilities_path(tmp_path / "killed", "dev")),
                                  np.load(run_dir_lib.probabilities_path(tmp_path / "full", "dev")))


def test_the_encoder_is_trained_with_its_own_learning_rate(data_dir, bert_dir, tmp_path):
    config = _config(data_dir, bert_dir, tmp_path / "run", encoder_learning_rate=1e-6, max_steps=2)
    trainer = Trainer(config, prepare_data(config))
    encoder = trainer.model.pretrained_encoder
    top = [v.numpy().copy() for v in encoder.trainable_variables]
    frozen_vars = [v for v in encoder.non_trainable_variables if "seed_generator" not in v.path]  # not dropout's RNG
    frozen = [v.numpy().copy() for v in frozen_vars]
    heads = trainer.model.shared_encoder.trainable_variables[0].numpy().copy()
    trainer.fit()
    moved = max(np.abs(a - v.numpy()).max() for a, v in zip(top, encoder.trainable_variables))
    assert 0 < moved < 1e-5  # Adam moves each weight by about the learning rate per step
    assert frozen_vars and all(np.array_equal(a, v.numpy()) for a, v in zip(frozen, frozen_vars))
    assert np.abs(heads - trainer.model.shared_encoder.trainable_variables[0].numpy()).max() > 1e-5


def test_cached_states_are_shared_and_a_killed_computation_resumes(bert_dir, tmp_path, monkeypatch):
    from datn_tf.layers import PretrainedEncoder

    monkeypatch.setenv("DATN_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(encoder_states, "CHUNK", 2)
    layer = PretrainedEncoder(encoders.backbone_config(bert_dir), 1, sep_id=3)
    layer.load_pretrained(encoders.load_backbone(bert_dir))
    ids = [np.array([2, 40 + i, 41, 3][: 2 + i % 3] + [3], np.int32) for i in range(5)]
    key = encoder_states.cache_key(ids, "sha", layer.backbone_config, layer.first_trained)
    first = encoder_states.lower_states(layer, ids, "train", key, log=lambda _: None)
    folder = tmp_path / "cache" / "encoder_states" / key
    assert sorted(p.name for p in folder.iterdir()) == ["00000.npy", "00001.npy", "00002.npy"]
    (folder / "00001.npy").unlink()  # a computation killed before its second chunk was written
    kept = (folder / "00000.npy").stat().st_mtime_ns
    lines = []
    again = encoder_states.lower_states(layer, ids, "train", key, log=lines.append)
    assert (folder / "00000.npy").stat().st_mtime_ns == kept and (folder / "00001.npy").exists()
    assert any("2/2 sentences" in line for line in lines)  # only the missing chunk was computed
    np.testing.assert_array_equal(again.flat, first.flat)
    for i in range(5):
        want = layer.lower_states(ids[i][None, :]).numpy()[0]
        np.testing.assert_allclose(first.pad([i])[0], want, atol=1e-6)


@pytest.mark.slow
def test_a_damaged_weights_file_is_one_line_and_leaves_no_run(data_dir, bert_dir, tmp_path):
    damaged = tmp_path / "minilm"
    damaged.mkdir()
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        (damaged / name).write_bytes((bert_dir / name).read_bytes())
    run = tmp_path / "run"
    proc = _run("datn_tf.train", f"--data_dir={data_dir}", f"--output_dir={run}", "--encoder=minilm",
                f"--encoder_dir={damaged}", *TINY)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --encoder=minilm: ") and "Traceback" not in proc.stderr
    assert "model.safetensors" in lines[0] and "damaged or incomplete" in lines[0] and "make minilm" in lines[0]
    assert not run.exists()


@pytest.mark.parametrize("settings, message", [
    (dict(encoder_trainable_layers=1), "--encoder_trainable_layers is a setting of a pretrained encoder"),
    (dict(encoder="minilm", embeddings="x.txt"), "--embeddings is a setting of the lookup table E"),
    (dict(encoder="minilm", dataset="ren_cecps"), "--encoder=minilm reads English"),
    (dict(encoder="bert"), "--encoder=bert needs --encoder_dir"),
])
def test_settings_that_do_not_fit_the_encoder_are_refused(settings, message):
    from datn_tf import config as config_lib

    with pytest.raises(ValueError, match=message):
        config_lib.resolve(settings).validate()


def test_more_trained_layers_than_the_encoder_has_is_refused(data_dir, bert_dir, tmp_path):
    with pytest.raises(encoders.EncoderError, match="--encoder_trainable_layers=3: .* has 2 transformer layers"):
        prepare_data(_config(data_dir, bert_dir, tmp_path / "run", encoder_trainable_layers=3))


@pytest.mark.slow
def test_own_data_trains_and_serves_its_labels_over_the_encoder(bert_dir, tmp_path):
    from datn_tf import config as config_lib
    from datn_tf import export
    from datn_tf.predict import ExportedModel

    names = ("calm", "eager", "tense")
    words = ("happy", "furious", "exam", "song", "trust", "weather")
    rng = np.random.default_rng(0)

    def write(path, n):
        rows = [" ".join(rng.choice(words, 4)) for _ in range(n)]
        path.write_text("id,text," + ",".join(names) + "\n" + "".join(
            f"{i},{t}," + ",".join(str(int(j == i % 3)) for j in range(3)) + "\n" for i, t in enumerate(rows)))
        return str(path)

    sentiment = tmp_path / "sentiment.tsv"
    sentiment.write_text("text\tlabels\n" + "".join(f"{' '.join(rng.choice(words, 3))}\t{('good', 'bad')[k % 2]}\n"
                                                      for k in range(16)))
    config = config_lib.resolve(dict(testing.TINY_MODEL, dataset="files", variant="datn2", max_steps=3, eval_every=3,
                                     train_file=write(tmp_path / "train.csv", 18),
                                     dev_file=write(tmp_path / "dev.csv", 9),
                                     sentiment_file=str(sentiment), encoder="bert", encoder_dir=str(bert_dir),
                                     output_dir=str(tmp_path / "run"))).validate()
    Trainer(config, prepare_data(config)).fit()
    model = ExportedModel(export.export_run(tmp_path / "run", tmp_path / "export"))
    probs, labels = model.predict(["happy exam", "furious song"])
    assert model.label_names == list(names) and probs.shape == (2, 3) and labels.shape == (2, 3)
