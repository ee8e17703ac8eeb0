"""Tests for `EmotionTransferModel`: the eight systems of Table 3 as configured models.

Tiny sizes (vocab 30, d 6, hidden 4, attention 4, MLP 4) keep the file fast. Each variant
is built once per module; tests that change weights restore them before returning.
"""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from datn_tf import variants as variants_lib
from datn_tf.models import EmotionTransferModel, build_model
from datn_tf.trainer import Trainer, TrainConfig

VOCAB, DIM, HIDDEN, ATTENTION, MLP, K, S = 30, 6, 4, 4, 4, 5, 3
SIZES = dict(hidden_size=HIDDEN, attention_size=ATTENTION, mlp_hidden_units=MLP)
ALL = variants_lib.VARIANT_NAMES
WITH_SENTIMENT = tuple(n for n in ALL if variants_lib.VARIANTS[n].sentiment_head)
WITH_TARGET = {"psp", "apsp", "sp", "datn1", "datn2"}

# Right-padded ids (0 = padding): a full row, a short row and a one-token row.
IDS = np.array(
    [[5, 3, 8, 2, 9], [4, 7, 12, 0, 0], [11, 0, 0, 0, 0]], dtype=np.int32
)
REAL = IDS != 0
EMOTION_LABELS = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 1]], np.int32)
SENTIMENT_LABELS = np.array([0, 2, 1], np.int32)


def _build(variant, seed=0):
    keras.utils.set_random_seed(seed)
    return build_model(variant, VOCAB, DIM, K, **SIZES)


_MODELS = {}


@pytest.fixture
def model(request):
    """The module's (cached) model for `variant`, weights restored after the test."""
    variant = request.node.callspec.params["variant"]
    if variant not in _MODELS:
        _MODELS[variant] = _build(variant)
    m = _MODELS[variant]
    saved = [v.numpy().copy() for v in m.variables]
    yield m
    for v, value in zip(m.variables, saved):
        v.assign(value)


def _np(outputs):
    return {k: np.asarray(v) for k, v in outputs.items()}


def _paths(variables):
    return {v.path for v in variables}


def _layer_vars(layers):
    return [v for layer in layers for v in layer.trainable_variables]


@contextlib.contextmanager
def _perturbed(*variables, scale=0.5):
    """Temporarily adds `scale` to every entry of each variable."""
    saved = [v.numpy().copy() for v in variables]
    for v in variables:
        v.assign(v.numpy() + scale)
    try:
        yield
    finally:
        for v, value in zip(variables, saved):
            v.assign(value)


# -- construction, configuration, serialisation -------------------------------------------


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="unknown variant 'datn3'"):
        EmotionTransferModel("datn3", VOCAB, DIM, K)


@pytest.mark.parametrize("variant", ALL)
def test_parts_follow_the_registry(variant, model):
    spec = variants_lib.get_variant(variant)
    assert model.spec is spec
    assert (model.target_encoder is not None) == spec.target_encoder == (variant in WITH_TARGET)
    assert (model.target_attention is not None) == spec.target_encoder
    assert (model.source_encoder is not None) == spec.source_encoder == (variant in ("psp", "apsp"))
    assert (model.sentiment_output is not None) == spec.sentiment_head == (variant != "base")
    assert (model.task_discriminator is not None) == spec.adversarial == (variant == "apsp")
    # The fed attention (extra weight w_alpha) sits where the feed direction says.
    fed = {layer.name for layer in model._flatten_layers() if hasattr(layer, "w_alpha")}
    assert fed == {"datn1": {"target_attention"}, "datn2": {"shared_attention"}}.get(variant, set())
    # Every weight exists after build_model (both tasks' paths).
    assert all(layer.built for layer in model.emotion_layers() + model.left_layers())


@pytest.mark.parametrize("variant", ALL)
def test_config_round_trip_gives_identical_outputs(variant, model):
    config = model.get_config()
    clone = EmotionTransferModel.from_config(config)
    assert clone.get_config() == config
    clone.build()
    assert [v.shape for v in clone.variables] == [v.shape for v in model.variables]
    clone.set_weights(model.get_weights())
    for want, got in ((model(IDS), clone(IDS)),) + (
        ((model.sentiment(IDS), clone.sentiment(IDS)),) if model.sentiment_output is not None else ()
    ):
        want, got = _np(want), _np(got)
        assert want.keys() == got.keys()
        for key in want:
            np.testing.assert_array_equal(want[key], got[key], err_msg=key)


@pytest.mark.parametrize("variant", ALL)
def test_keras_save_and_load(variant, model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, EmotionTransferModel)
    assert restored.get_config() == model.get_config()
    want, got = _np(model(IDS)), _np(restored(IDS))
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(want[key], got[key], err_msg=key)
    if model.sentiment_output is not None:
        np.testing.assert_array_equal(model.sentiment(IDS)["logits"], restored.sentiment(IDS)["logits"])
    else:
        with pytest.raises(ValueError, match="no sentiment output layer"):
            restored.sentiment(IDS)


@pytest.mark.parametrize("variant", ALL)
def test_embedding_matrix_initialises_the_lookup_table(variant):
    if variant != "datn2":
        pytest.skip("build_model's embedding_matrix does not depend on the variant; checked once")
    table = np.random.default_rng(0).normal(size=(VOCAB, DIM)).astype(np.float32)
    m = build_model(variant, VOCAB, DIM, K, embedding_matrix=table, **SIZES)
    np.testing.assert_array_equal(m.embedding.embeddings.numpy(), table)


# -- outputs and masking ------------------------------------------------------------------


@pytest.mark.parametrize("variant", ALL)
def test_output_shapes_and_attention_weights(variant, model):
    out = _np(model(IDS, training=False))
    B, T = IDS.shape
    assert out["logits"].shape == (B, K + 1)
    probs = out["probabilities"]
    assert probs.shape == (B, K)
    assert np.all((probs >= 0) & (probs <= 1))
    # The K emotion scores are the first K of the softmax over K + 1 (the last is "none").
    full = tf.nn.softmax(out["logits"]).numpy()
    np.testing.assert_allclose(probs, full[:, :K], rtol=1e-6)
    assert np.all(probs.sum(axis=1) <= 1 + 1e-6)
    alphas = ["alpha_s"] + (["alpha_t"] if variant in WITH_TARGET else [])
    assert ("alpha_t" in out) == (variant in WITH_TARGET)
    for name in alphas:
        alpha = out[name]
        assert alpha.shape == (B, T), name
        assert np.all(alpha[~REAL] == 0.0), name
        assert np.all(alpha >= 0), name
        np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-5, err_msg=name)
    adversarial = {"task_logits", "h_shared", "h_private"}
    assert adversarial <= out.keys() if variant == "apsp" else not adversarial & out.keys()
    if variant == "apsp":
        assert out["task_logits"].shape == (B, 2)
        assert out["h_shared"].shape == out["h_private"].shape == (B, T, 2 * HIDDEN)
    if model.sentiment_output is not None:
        sent = _np(model.sentiment(IDS, training=False))
        assert sent["logits"].shape == (B, S)
        assert np.all(sent["alpha_s"][~REAL] == 0.0)
        np.testing.assert_allclose(sent["alpha_s"].sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("variant", ALL)
def test_extra_padding_does_not_change_outputs(variant, model):
    padded = np.pad(IDS, [[0, 0], [0, 4]])
    a, b = _np(model(IDS)), _np(model(padded))
    np.testing.assert_allclose(a["probabilities"], b["probabilities"], atol=1e-5)
    for name in ("alpha_s", "alpha_t"):
        if name in a:
            np.testing.assert_allclose(a[name], b[name][:, : IDS.shape[1]], atol=1e-5)
            assert np.all(b[name][:, IDS.shape[1]:] == 0.0)
    if model.sentiment_output is not None:
        np.testing.assert_allclose(
            model.sentiment(IDS)["logits"], model.sentiment(padded)["logits"], atol=1e-5
        )


@pytest.mark.parametrize("variant", ALL)
def test_all_padding_row_gives_finite_outputs(variant, model):
    ids = np.concatenate([IDS, np.zeros([1, IDS.shape[1]], np.int32)])
    out = _np(model(ids))
    for key, value in out.items():
        assert np.all(np.isfinite(value)), key
    for name in ("alpha_s", "alpha_t"):
        if name in out:
            assert np.all(out[name][-1] == 0.0), name
    # The other rows do not depend on the empty one.
    np.testing.assert_allclose(out["probabilities"][:-1], model(IDS)["probabilities"], atol=1e-5)
    if model.sentiment_output is not None:
        for key, value in _np(model.sentiment(ids)).items():
            assert np.all(np.isfinite(value)), key


# -- dual attention -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["datn1", "datn2", "sp"])
def test_dual_attention_direction(variant, model):
    base = _np(model(IDS))

    def changed(layer, name):
        with _perturbed(layer.W_h):
            out = _np(model(IDS))
        return not np.allclose(out[name], base[name], atol=1e-6)

    # Each attention's own weights move its own alpha.
    assert changed(model.shared_attention, "alpha_s")
    assert changed(model.target_attention, "alpha_t")
    # Only the feeding one moves the other.
    assert changed(model.shared_attention, "alpha_t") == (variant == "datn1")
    assert changed(model.target_attention, "alpha_s") == (variant == "datn2")
    if variant == "datn1":  # w_alpha reads alpha_s: alpha_t depends on it
        with _perturbed(model.target_attention.w_alpha, scale=2.0):
            assert not np.allclose(model(IDS)["alpha_t"], base["alpha_t"], atol=1e-6)
    if variant == "datn2":
        with _perturbed(model.shared_attention.w_alpha, scale=2.0):
            assert not np.allclose(model(IDS)["alpha_s"], base["alpha_s"], atol=1e-6)


@pytest.mark.parametrize("variant", WITH_SENTIMENT)
def test_sentiment_output_ignores_target_only_weights(variant, model):
    """On sentiment batches only the left part runs (DATN-2 feeds alpha_t = 0)."""
    base = _np(model.sentiment(IDS))
    emotion_logits = model(IDS)["logits"].numpy()
    target_only = _layer_vars(model.target_layers())
    assert target_only
    with _perturbed(*target_only):
        out = _np(model.sentiment(IDS))
        # The perturbation is real: the emotion output moves.
        assert not np.allclose(model(IDS)["logits"], emotion_logits, atol=1e-6)
    for key in base:
        np.testing.assert_array_equal(base[key], out[key], err_msg=key)
    # ...while the left part does matter.
    with _perturbed(model.shared_attention.W_h):
        assert not np.allclose(model.sentiment(IDS)["logits"], base["logits"], atol=1e-6)


def test_base_has_no_sentiment_head():
    m = _MODELS.get("base") or _build("base")
    assert m.sentiment_output is None
    with pytest.raises(ValueError, match="'base' has no sentiment output layer"):
        m.sentiment(IDS)
    assert not variants_lib.get_variant("base").uses_sentiment_data


# -- parameter groups and one training step -----------------------------------------------


@pytest.mark.parametrize("variant", ALL)
def test_parameter_groups(variant, model):
    left = _paths(model.left_variables)
    emotion = _paths(model.emotion_variables)
    target_only = _paths(_layer_vars(model.target_layers()))
    everything = _paths(model.trainable_variables)
    assert len(left) == len(model.left_variables) and len(emotion) == len(model.emotion_variables)
    assert not left & target_only
    assert target_only <= emotion
    assert left | emotion == everything  # every weight is trained by some step
    shared = _paths(_layer_vars([model.embedding, model.shared_encoder, model.shared_attention]))
    assert shared <= left & emotion
    if model.sentiment_output is not None:
        sentiment_head = _paths(model.sentiment_output.trainable_variables)
        assert sentiment_head <= left and not sentiment_head & emotion
    if variant in ("psp", "apsp"):
        source = _paths(_layer_vars([model.source_encoder, model.source_attention]))
        assert source and source <= left and not source & emotion
    if variant == "apsp":  # the discriminator plays on both tasks
        assert _paths(model.task_discriminator.trainable_variables) <= left & emotion


def _trainer_for(model):
    """A `Trainer` around `model` with its two optimisers, without data or output files."""
    trainer = object.__new__(Trainer)
    trainer.config = TrainConfig(variant=model.variant)
    trainer.spec = model.spec
    trainer.model = model
    trainer.trace_counts = {"emotion": 0, "sentiment": 0, "predict": 0}
    trainer.emotion_variables = model.emotion_variables
    trainer.emotion_optimizer = keras.optimizers.Adam(trainer.config.learning_rate)
    if model.spec.uses_sentiment_data:
        trainer.left_variables = model.left_variables
        trainer.sentiment_optimizer = keras.optimizers.Adam(trainer.config.learning_rate)
    return trainer


def _step_changes(model, step):
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    stats = step()
    for name, value in stats.items():
        assert np.isfinite(float(value)), name
    changed = {v.path for v in model.trainable_variables if not np.array_equal(before[v.path], v.numpy())}
    return changed, stats


@pytest.mark.parametrize("variant", WITH_SENTIMENT)
def test_sentiment_step_updates_only_the_left_part(variant, model):
    keras.utils.set_random_seed(1)
    trainer = _trainer_for(model)
    changed, stats = _step_changes(
        model, lambda: trainer._sentiment_step(tf.constant(IDS), tf.constant(SENTIMENT_LABELS))
    )
    assert ("adversarial_loss" in stats) == (variant == "apsp")
    left = _paths(model.left_variables)
    # Every left weight is reachable from the sentiment loss, except DATN-2's w_alpha of
    # the shared attention: it multiplies the fed alpha_t, which is 0 on sentiment batches.
    expected = left - ({model.shared_attention.w_alpha.path} if variant == "datn2" else set())
    assert changed == expected, (sorted(expected - changed), sorted(changed - expected))


@pytest.mark.parametrize("variant", ALL)
def test_emotion_step_updates_the_emotion_part(variant, model):
    keras.utils.set_random_seed(1)
    trainer = _trainer_for(model)
    changed, stats = _step_changes(
        model, lambda: trainer._emotion_step(tf.constant(IDS), tf.constant(EMOTION_LABELS))
    )
    assert ("similarity_loss" in stats) == variant.startswith("datn")
    assert ("adversarial_loss" in stats) == (variant == "apsp")
    # All of the emotion part is reachable (target side, shared encoder and attention,
    # embedding, emotion MLP; APSP's discriminator through the reversed gradient)...
    assert changed == _paths(model.emotion_variables)
    assert _paths(model.shared_encoder.trainable_variables) <= changed
    assert _paths(_layer_vars(model.target_layers())) <= changed
    # ...and nothing else: never the sentiment output layer nor PSP's source encoder.
    if model.sentiment_output is not None:
        assert not _paths(model.sentiment_output.trainable_variables) & changed
    if model.source_encoder is not None:
        assert not _paths(_layer_vars([model.source_encoder, model.source_attention])) & changed


# -- tf.function ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["base", "apsp", "datn1", "datn2"])
def test_tf_function_does_not_retrace_for_new_shapes(variant, model):
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def predict(token_ids):
        traces.append(1)
        out = {"probabilities": model(token_ids, training=False)["probabilities"]}
        if model.sentiment_output is not None:
            out["sentiment"] = model.sentiment(token_ids, training=False)["logits"]
        return out

    for ids in (IDS, np.pad(IDS, [[0, 1], [0, 3]]), IDS[:1, :2], np.zeros([2, 1], np.int32)):
        got = predict(tf.constant(ids))
        np.testing.assert_allclose(got["probabilities"], model(ids)["probabilities"], atol=1e-5)
        if "sentiment" in got:
            np.testing.assert_allclose(got["sentiment"], model.sentiment(ids)["logits"], atol=1e-5)
    assert len(traces) == 1
