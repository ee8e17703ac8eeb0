"""Tests of the training loop: schedules, variable groups, tracing, resume, selection on dev."""

import numpy as np
import pytest
import tensorflow as tf

from datn_tf import io_utils, run_weights, testing, trainer
from datn_tf import run_dir as run_dir_lib
from datn_tf import variants as variants_lib
from datn_tf.config import TrainConfig
from datn_tf.data.prepare import prepare_data
from datn_tf.errors import UserError


def _trainer(data_dir, out, **overrides):
    config = testing.tiny_train_config(data_dir, out, **overrides)
    return trainer.Trainer(config, prepare_data(config))


def _snapshot(variables):
    return {v.path: v.numpy().copy() for v in variables}


def _batch(t, split, stream):
    batcher = t._batcher(split, stream)
    idx = batcher.batches_for_pass(0)[0]
    from datn_tf.input_pipeline import pad_batch

    ids = tf.constant(pad_batch(t.data.ids[split], idx))
    if split == "sentiment":
        return {"token_ids": ids, "sentiment": tf.constant(t.data.task.sentiment.labels[idx].astype(np.int32))}
    return {"token_ids": ids, "labels": tf.constant(t.data.task.train.labels[idx].astype(np.int32))}


def test_alternating_steps_update_the_right_variables(data_dir, tmp_path):
    t = _trainer(data_dir, tmp_path / "run", variant="datn2")
    model = t.model
    target_only = [v for layer in model.target_layers() for v in layer.trainable_variables]
    sentiment_only = model.sentiment_output.trainable_variables
    left = _snapshot(t.left_variables)
    before = _snapshot(model.trainable_variables)

    t.sentiment_step(_batch(t, "sentiment", "sentiment"))
    after_sentiment = _snapshot(model.trainable_variables)
    for v in target_only:  # the right part is never touched by a sentiment mini-batch
        np.testing.assert_array_equal(after_sentiment[v.path], before[v.path], err_msg=v.path)
    changed = [p for p in left if not np.array_equal(after_sentiment[p], left[p])]
    for layer in (model.shared_encoder, model.shared_attention, model.sentiment_output):
        assert any(p.startswith(layer.trainable_variables[0].path.rsplit("/", 1)[0]) for p in changed), layer.name

    t.emotion_step(_batch(t, "train", "emotion"))
    after_emotion = _snapshot(model.trainable_variables)
    for v in sentiment_only:  # no sentiment loss on an emotion mini-batch
        np.testing.assert_array_equal(after_emotion[v.path], after_sentiment[v.path])
    for v in target_only + model.shared_encoder.trainable_variables:
        assert not np.array_equal(after_emotion[v.path], after_sentiment[v.path]), v.path


def test_each_step_function_is_traced_once(data_dir, tmp_path):
    t = _trainer(data_dir, tmp_path / "run", variant="sp", epochs=2)
    t.fit()
    # Many batches of different shapes went through; the input signatures keep one trace each.
    assert t.trace_counts == {"emotion": 1, "sentiment": 1, "predict": 1}


@pytest.mark.parametrize("variant,schedule_steps", [("base", "emotion"), ("ft", "pretrain")])
def test_baseline_schedules(data_dir, tmp_path, variant, schedule_steps):
    t = _trainer(data_dir, tmp_path / "run", variant=variant, epochs=1)
    pretrain, main, per_epoch = t.plan()
    emotion_batches = t._batcher("train", "emotion").batches_per_pass
    sentiment_batches = t._batcher("sentiment", "sentiment").batches_per_pass
    assert main == emotion_batches == per_epoch
    assert pretrain == (sentiment_batches if variant == "ft" else 0)
    result = t.fit()
    assert t.trace_counts["sentiment"] == (1 if variant == "ft" else 0)
    assert int(t.pretrain_step.numpy()) == pretrain
    assert result["steps"] == main


def test_alternating_epoch_is_a_pass_over_the_sentiment_set(data_dir, tmp_path):
    t = _trainer(data_dir, tmp_path / "run", variant="fs", epochs=3)
    pretrain, main, per_epoch = t.plan()
    assert pretrain == 0
    assert per_epoch == max(t._batcher("sentiment", "s").batches_per_pass, t._batcher("train", "e").batches_per_pass)
    assert main == 3 * per_epoch


def _dev_probabilities(run_dir):
    return np.load(run_dir_lib.probabilities_path(run_dir, "dev"))


def test_resume_after_kill_matches_uninterrupted_run(data_dir, tmp_path):
    full = _trainer(data_dir, tmp_path / "full", variant="datn2", epochs=2)
    expected = full.fit()

    killed = _trainer(data_dir, tmp_path / "killed", variant="datn2", epochs=2)
    testing.fit_killed_after(killed, 7)  # last checkpoint at step 6
    assert not (tmp_path / "killed" / run_dir_lib.METRICS_FILE).exists()
    resumed = _trainer(data_dir, tmp_path / "killed", variant="datn2", epochs=2)
    result = resumed.fit()

    for key in ("best_step", "steps", "threshold"):
        assert result[key] == expected[key]
    assert result["dev"] == expected["dev"]
    np.testing.assert_array_equal(_dev_probabilities(tmp_path / "killed"), _dev_probabilities(tmp_path / "full"))


def test_same_seed_same_numbers_and_seed_matters(data_dir, tmp_path):
    a = _trainer(data_dir, tmp_path / "a", variant="base", epochs=2).fit()
    b = _trainer(data_dir, tmp_path / "b", variant="base", epochs=2).fit()
    c = _trainer(data_dir, tmp_path / "c", variant="base", epochs=2, seed=1).fit()
    np.testing.assert_array_equal(_dev_probabilities(tmp_path / "a"), _dev_probabilities(tmp_path / "b"))
    assert a["dev"] == b["dev"]
    assert not np.array_equal(_dev_probabilities(tmp_path / "a"), _dev_probabilities(tmp_path / "c"))
    del c


def test_selection_never_looks_at_test(data_dir, data_dir_with_test, tmp_path):
    without = _trainer(data_dir, tmp_path / "without", variant="sp").fit()
    with_test = _trainer(data_dir_with_test, tmp_path / "with", variant="sp").fit()
    # The test file changes nothing that is selected: best step, gamma and dev scores.
    for key in ("best_step", "threshold", "dev"):
        assert with_test[key] == without[key]
    assert with_test["test_evaluated"] and "test" in with_test
    assert not without["test_evaluated"] and "test" not in without
    assert any("not present" in n for n in without["notes"])
    # Predictions are written in the official format with the gold file's header and IDs.
    gold = (data_dir_with_test / "semeval2018-ec" / "2018-E-c-En-test-gold.txt").read_text().splitlines()
    pred = (tmp_path / "with" / "predictions" / "test.txt").read_text().splitlines()
    assert pred[0] == gold[0]
    assert [l.split("\t")[0] for l in pred] == [l.split("\t")[0] for l in gold]


def test_fixed_threshold_is_used(data_dir, tmp_path):
    result = _trainer(data_dir, tmp_path / "run", variant="base", epochs=1, threshold=0.2).fit()
    assert result["threshold"] == pytest.approx(0.2)
    assert result["threshold_source"] == "fixed"


def test_changed_settings_refuse_to_resume(data_dir, tmp_path):
    t = _trainer(data_dir, tmp_path / "run", variant="base", epochs=1)
    testing.fit_killed_after(t, 3)
    with pytest.raises(ValueError, match="other settings"):
        _trainer(data_dir, tmp_path / "run", variant="base", epochs=1, learning_rate=0.1).fit()


def test_load_run_restores_best_weights(data_dir, tmp_path):
    t = _trainer(data_dir, tmp_path / "run", variant="datn1", epochs=1)
    t.fit()
    config, vocab, model = run_weights.load_run(tmp_path / "run")
    assert config["train_config"]["variant"] == "datn1"
    assert len(vocab) == len(t.data.vocab)
    ids = tf.constant(_pad(t.data.ids["dev"][:4]))
    np.testing.assert_allclose(model(ids)["probabilities"].numpy(), t.model(ids)["probabilities"].numpy(), atol=1e-6)


def _pad(seqs):
    from datn_tf.input_pipeline import pad_batch

    return pad_batch(seqs, list(range(len(seqs))))


def test_config_validation():
    with pytest.raises(ValueError, match="--variant must be one of"):
        TrainConfig(variant="datn3").validate()
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig(lstm_dropout=1.5).validate()
    for name in variants_lib.VARIANT_NAMES:
        TrainConfig(variant=name).validate()


def test_metrics_file_is_complete(data_dir, tmp_path):
    _trainer(data_dir, tmp_path / "run", variant="base", epochs=1).fit()
    payload = io_utils.read_json(tmp_path / "run" / run_dir_lib.METRICS_FILE)
    assert set(payload["dev"]) >= {"jaccard", "micro_f1", "macro_f1", "n"}
    assert payload["threshold_source"] == "tuned on dev"
    assert (tmp_path / "run" / "tensorboard").is_dir()


def test_ren_cecps_cross_validation_fold_trains_and_reports_ranking_metrics(data_dir, tmp_path):
    result = _trainer(data_dir, tmp_path / "run", dataset="ren_cecps", variant="datn2", epochs=1,
                      cv_fold=0, cv_folds=4, embedding_dim=8).fit()
    # The fold's test set is evaluated (it is never used for selection) with AP and one-error.
    assert result["test_evaluated"]
    for split in ("dev", "test"):
        assert {"average_precision", "one_error"} <= set(result[split])
    config = io_utils.read_json(tmp_path / "run" / run_dir_lib.CONFIG_FILE)
    # E2's default E: word2vec trained on the fold's training sentences.
    assert config["embeddings"].startswith("word2vec-8d") and config["language"] == "zh"


@pytest.mark.parametrize("order", ["sentiment_first", "emotion_first"])
def test_step_order(data_dir, tmp_path, order):
    t = _trainer(data_dir, tmp_path / "run", variant="sp", max_steps=2, eval_every=2, step_order=order)
    calls = []
    for kind in ("emotion", "sentiment"):
        step = getattr(t, f"{kind}_step")
        setattr(t, f"{kind}_step", lambda batch, kind=kind, step=step: calls.append(kind) or step(batch))
    t.fit()
    first, second = ("sentiment", "emotion") if order == "sentiment_first" else ("emotion", "sentiment")
    assert calls == [first, second, first, second]


def test_task_loss_reduction_sum_is_batch_size_times_mean(data_dir, tmp_path):
    stats = {}
    for reduction in ("mean", "sum"):
        t = _trainer(data_dir, tmp_path / reduction, variant="datn2", task_loss_reduction=reduction,
                     similarity="released", input_dropout=0.0, lstm_dropout=0.0)
        emotion, sentiment = _batch(t, "train", "emotion"), _batch(t, "sentiment", "sentiment")
        stats[reduction] = {**t.emotion_step(emotion), **t.sentiment_step(sentiment)}
        rows = {"emotion": int(emotion["token_ids"].shape[0]), "sentiment": int(sentiment["token_ids"].shape[0])}
    # Same seed, same initial weights, same batch: only the reduction differs.
    np.testing.assert_allclose(stats["sum"]["emotion_loss"], rows["emotion"] * stats["mean"]["emotion_loss"],
                               rtol=1e-5)
    np.testing.assert_allclose(stats["sum"]["sentiment_loss"],
                               rows["sentiment"] * stats["mean"]["sentiment_loss"], rtol=1e-5)
    # The released similarity term is a batch mean of 1 - a_s.a_t in both: in (0, lambda].
    assert 0.0 < float(stats["sum"]["similarity_loss"]) <= 0.05
    np.testing.assert_allclose(stats["sum"]["similarity_loss"], stats["mean"]["similarity_loss"], rtol=1e-5)


def test_released_preset_builds_the_released_model_and_trains(data_dir, tmp_path):
    from datn_tf import config as config_lib

    config = config_lib.resolve(dict(testing.TINY_MODEL, preset="released", data_dir=str(data_dir),
                                     output_dir=str(tmp_path / "run"), max_steps=3, eval_every=3))
    config.validate()
    t = trainer.Trainer(config, prepare_data(config))
    model = t.model
    for encoder in (model.shared_encoder, model.target_encoder):
        assert encoder.tie_directions and len(encoder.trainable_weights) == 3
        assert encoder.input_dropout.rate == 0.0 and encoder.output_dropout.rate == 0.5
    for attention in (model.shared_attention, model.target_attention):
        assert attention.use_bias
    assert model.emotion_mlp.hidden_dropout.rate == 0.5
    assert model.emotion_mlp.get_config()["activation"] == "tanh"
    result = t.fit()
    assert result["steps"] == 3
    saved = io_utils.read_json(tmp_path / "run" / run_dir_lib.CONFIG_FILE)["train_config"]
    assert saved["preset"] == "released" and saved["similarity"] == "released"
    assert saved["tie_lstm_directions"] is True and saved["step_order"] == "emotion_first"


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(data_dir, tmp_path, capsys):
    settings = dict(variant="base", epochs=2, eval_every=3)
    testing.fit_killed_after(_trainer(data_dir, tmp_path / "run", **settings), 7)  # checkpoints at steps 3 and 6
    ckpt_dir = tmp_path / "run" / run_dir_lib.CKPT_DIR
    assert sorted(p.name for p in ckpt_dir.glob("*.index")) == ["ckpt-3.index", "ckpt-6.index"]
    for data_file in ckpt_dir.glob("ckpt-6.data*"):
        _truncate(data_file)
    capsys.readouterr()
    resumed = _trainer(data_dir, tmp_path / "run", **settings)
    testing.fit_killed_after(resumed, 0)
    out = capsys.readouterr().out
    assert "ckpt-6 is damaged" in out and "resumed from" in out and "ckpt-3 at step 3" in out
    assert int(resumed.step.numpy()) == 3
    # With every checkpoint damaged, one clear error says what to delete.
    _truncate(ckpt_dir / "ckpt-3.index")
    with pytest.raises(UserError, match=r"no checkpoint in .*checkpoints can be read.*delete"):
        _trainer(data_dir, tmp_path / "run", **settings).fit()


def test_ctrl_c_stops_with_one_line_saying_how_to_resume(data_dir, tmp_path, monkeypatch):
    t = _trainer(data_dir, tmp_path / "run", variant="base", epochs=2, eval_every=3)
    original, calls = t.train_iteration, []

    def interrupted_at_fifth(streams):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return original(streams)

    monkeypatch.setattr(t, "train_iteration", interrupted_at_fifth)
    with pytest.raises(trainer.TrainingInterrupted, match=r"interrupted at step 4 of \d+; the last checkpoint is "
                                                          r".*ckpt-3: re-run the same command to resume"):
        t.fit()


# A value other than the default for each setting a variant may never read.
_OTHER_VALUE = dict(lambda_sim=0.5, similarity="released", adversarial_weight=0.3, orthogonality_weight=0.7,
                    step_order="emotion_first", pretrain_epochs=0)


def _weights_after_two_steps(data_dir, out, variant, **overrides):
    t = _trainer(data_dir, out, variant=variant, max_steps=2, eval_every=2, **overrides)
    t.fit()
    # A list, not `_snapshot`: each trainer's model gets its own name prefix, so paths differ.
    return [v.numpy() for v in t.model.trainable_variables]


# Between them, every inert setting is inert somewhere and read somewhere but the adversarial
# weights (read by APSP only; left out: each case trains three tiny runs).
@pytest.mark.parametrize("variant", ["base", "ft", "sp", "datn2"])
def test_inert_settings_do_not_change_training(data_dir, tmp_path, variant):
    """`TrainConfig.inert_settings` lets saved runs be compared without them (reproduce reuses
    ablate's Base under another similarity term): they must not change a step, while the
    settings the variant reads do."""
    inert = TrainConfig(variant=variant).inert_settings()
    assert inert <= set(_OTHER_VALUE)
    default = _weights_after_two_steps(data_dir, tmp_path / "default", variant)
    other = _weights_after_two_steps(data_dir, tmp_path / "other", variant, **{k: _OTHER_VALUE[k] for k in inert})
    for a, b in zip(default, other, strict=True):
        np.testing.assert_array_equal(a, b)
    read = sorted(set(_OTHER_VALUE) - inert)  # the control: these must move the weights
    if read:
        moved = _weights_after_two_steps(data_dir, tmp_path / "read", variant, **{k: _OTHER_VALUE[k] for k in read})
        assert any(not np.array_equal(a, b) for a, b in zip(default, moved, strict=True)), read


@pytest.mark.parametrize("dataset", ["semeval", "ren_cecps"])
def test_the_test_curve_changes_no_choice(data_dir, data_dir_with_test, tmp_path, dataset):
    # With the test split present it is scored at every dev evaluation, for the record; the best
    # step, gamma and every saved dev output must be byte-identical to a run without it.
    extra = {"embedding_dim": 8} if dataset == "ren_cecps" else {}
    runs = {}
    for name, folder in (("held_out", data_dir), ("present", data_dir_with_test)):
        t = _trainer(folder, tmp_path / name, variant="datn2", dataset=dataset, **extra)
        runs[name] = (t.fit(), tmp_path / name)
    (without, out_a), (with_test, out_b) = runs["held_out"], runs["present"]
    assert with_test["test_evaluated"] and not without["test_evaluated"]
    for k in ("best_step", "threshold", "dev", "steps"):
        assert with_test[k] == without[k], k
    for f in ("dev.txt", "dev_probabilities.npy"):
        a = (out_a / run_dir_lib.PREDICTIONS_DIR / f).read_bytes()
        assert a == (out_b / run_dir_lib.PREDICTIONS_DIR / f).read_bytes(), f
    a, b = (tf.train.load_checkpoint(str(o / run_dir_lib.BEST_DIR / "weights")) for o in (out_a, out_b))
    for name in a.get_variable_to_shape_map():
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH":  # it names the Keras objects, which count up per process
            np.testing.assert_array_equal(a.get_tensor(name), b.get_tensor(name), err_msg=name)

    history_a, history_b = run_dir_lib.read_history(out_a), run_dir_lib.read_history(out_b)
    assert list(history_a) == list(history_b) and len(history_a) >= 2
    for step, point in history_b.items():
        assert point["dev"] == history_a[step]["dev"] and "test" not in history_a[step]
        # The test curve at the dev-tuned gamma; a gamma tuned on test never scores lower.
        assert point["test_gamma_on_test"]["jaccard"] >= point["test"]["jaccard"]
    # The final test figure is the curve's point at the dev-selected step.
    assert history_b[str(with_test["best_step"])]["test"] == with_test["test"]


def _diverging(t, monkeypatch, at, poison):
    """Makes the `at`-th training iteration of `t` non-finite: `poison(t, stats)`."""
    original, calls = t.train_iteration, []

    def iteration(streams):
        calls.append(1)
        stats, rows = original(streams)
        if len(calls) == at:
            poison(t, stats)
        return stats, rows

    monkeypatch.setattr(t, "train_iteration", iteration)


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and run_dir_lib.TENSORBOARD_DIR not in p.parts and p.name != run_dir_lib.HISTORY_FILE}


def test_a_non_finite_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    t = _trainer(data_dir, out, variant="datn2", epochs=2, eval_every=3)
    _diverging(t, monkeypatch, 5, lambda t, stats: stats.update(emotion_loss=float("nan")))
    kept = {}
    original_save = t.checkpoints.save
    monkeypatch.setattr(t.checkpoints, "save", lambda step: (original_save(step), kept.update(_files(out))))
    with pytest.raises(UserError) as err:
        t.fit()
    assert str(err.value) == (
        "training diverged at step 5: emotion_loss nan; the settings most likely at fault: --learning_rate=0.001, "
        f"--lambda_sim=0.05. Nothing of this step was saved (the last good checkpoint is {out}/checkpoints/ckpt-3): "
        "lower them and train into a new --output_dir")
    assert _files(out) == kept  # best/ and the checkpoint of step 3 untouched; no predictions, no metrics
    assert not (out / run_dir_lib.PREDICTIONS_DIR).exists() and not run_dir_lib.is_finished(out)


def test_weights_gone_non_finite_stop_at_the_dev_evaluation(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    t = _trainer(data_dir, out, variant="apsp", epochs=2, eval_every=3)

    def poison(t, stats):
        for v in t.model.trainable_variables:
            v.assign(tf.fill(v.shape, float("nan")))

    _diverging(t, monkeypatch, 6, poison)  # after its losses: the dev evaluation of step 6 sees it
    with pytest.raises(UserError, match=r"^training diverged at step 6: the dev probabilities are not "
                       r"finite; the settings most likely at fault: --learning_rate=0.001, --adversarial_weight=0.05, "
                       r"--orthogonality_weight=0.01\. Nothing of this step was saved \(the last good checkpoint is "
                       r".*ckpt-3\)"):
        t.fit()
    assert sorted(p.name for p in (out / run_dir_lib.CKPT_DIR).glob("*.index")) == ["ckpt-3.index"]
    assert not (out / run_dir_lib.PREDICTIONS_DIR).exists()
