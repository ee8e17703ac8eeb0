"""Tests for `EmotionTransferModel`: the eight systems of Table 3 as configured models.

Tiny sizes (vocab 30, d 6, hidden 4, attention 4, MLP 4) keep the file fast: each variant
is built once per module with its reference outputs on `IDS`, and the `model` fixture puts
every variable (weights and dropout seed states) back after each test.
"""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from datn_tf import losses
from datn_tf import variants as variants_lib
from datn_tf.config import ModelConfig
from datn_tf.models import EmotionTransferModel, build_model

VOCAB, DIM, HIDDEN, ATTENTION, MLP, K, S = 30, 6, 4, 4, 4, 5, 3
SIZES = dict(hidden_size=HIDDEN, attention_size=ATTENTION, mlp_hidden_units=MLP)
ALL = variants_lib.VARIANT_NAMES
WITH_SENTIMENT = tuple(n for n in ALL if variants_lib.VARIANTS[n].sentiment_head)
WITH_TARGET = {"psp", "apsp", "sp", "datn1", "datn2"}

# Right-padded ids (0 = padding): a full row, a short row and a one-token row.
IDS = np.array([[5, 3, 8, 2], [4, 7, 0, 0], [11, 0, 0, 0]], dtype=np.int32)
REAL = IDS != 0
EMOTION_LABELS = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 1]], np.int32)
SENTIMENT_LABELS = np.array([0, 2, 1], np.int32)


def _build(variant, seed=0):
    keras.utils.set_random_seed(seed)
    return build_model(ModelConfig(variant, VOCAB, DIM, K, **SIZES))


def _np(outputs):
    return {k: np.asarray(v) for k, v in outputs.items()}


_MODELS = {}  # variant -> (model, {"emotion": outputs on IDS, "sentiment": ... or None})


@pytest.fixture
def model(request):
    """The module's model for the test's `variant`; all variables restored afterwards."""
    variant = request.node.callspec.params["variant"]
    if variant not in _MODELS:
        m = _build(variant)
        sentiment = _np(m.sentiment(IDS)) if m.sentiment_output is not None else None
        _MODELS[variant] = m, {"emotion": _np(m(IDS)), "sentiment": sentiment}
    m = _MODELS[variant][0]
    saved = [v.numpy().copy() for v in m.variables]
    yield m
    for v, value in zip(m.variables, saved):
        v.assign(value)


def _reference(model):
    """`model`'s outputs on IDS with its original weights."""
    return _MODELS[model.model_config.variant][1]


def _assert_same_outputs(want, got):
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(want[key], got[key], err_msg=key)


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
        EmotionTransferModel(ModelConfig("datn3", VOCAB, DIM, K))


@pytest.mark.parametrize("variant", ALL)
def test_parts_follow_the_registry(variant, model):
    spec = variants_lib.get_variant(variant)
    assert model.spec is spec
    assert (model.target_encoder is not None) == spec.target_encoder == (variant in WITH_TARGET)
    assert (model.target_attention is not None) == spec.target_encoder
    assert (model.source_encoder is not None) == spec.source_encoder == (variant in ("psp", "apsp"))
    assert (model.sentiment_output is not None) == spec.sentiment_head == (variant != "base")
    assert (model.task_discriminator is not None) == spec.task_discriminator == (variant == "apsp")
    assert spec.orthogonality_loss == (variant == "apsp")
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
    _assert_same_outputs(_reference(model)["emotion"], _np(clone(IDS, training=False)))
    if model.sentiment_output is not None:
        _assert_same_outputs(_reference(model)["sentiment"], _np(clone.sentiment(IDS, training=False)))


@pytest.mark.parametrize("variant", ALL)
def test_keras_save_and_load(variant, model, tmp_path):
    # With more than one BiLSTMEncoder (psp, apsp, sp, datn1, datn2) this guards the fix in
    # BiLSTMEncoder (it keeps the LSTM it hands to Bidirectional referenced): inside
    # load_model's ObjectSharingScope Keras keys objects by id(), so a freed LSTM's id reused
    # by a later encoder's LSTM would fail at random with "Forward layer and backward layer
    # should have different `go_backwards` value".
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, EmotionTransferModel)
    assert restored.get_config() == model.get_config()
    _assert_same_outputs(_reference(model)["emotion"], _np(restored(IDS, training=False)))
    if model.sentiment_output is not None:
        _assert_same_outputs(_reference(model)["sentiment"], _np(restored.sentiment(IDS, training=False)))
    else:
        with pytest.raises(ValueError, match="no sentiment output layer"):
            restored.sentiment(IDS)


def test_embedding_matrix_initialises_the_lookup_table():
    table = np.random.default_rng(0).normal(size=(VOCAB, DIM)).astype(np.float32)
    m = build_model(ModelConfig("fs", VOCAB, DIM, K, **SIZES), embedding_matrix=table)
    np.testing.assert_array_equal(m.embedding.embeddings.numpy(), table)


# -- outputs and masking ------------------------------------------------------------------


def _check_alpha(alpha, real, name):
    assert alpha.shape == real.shape, name
    assert np.all(alpha[~real] == 0.0), name  # exactly zero on padding
    assert np.all(alpha >= 0), name
    nonempty = real.any(axis=1)
    np.testing.assert_allclose(alpha[nonempty].sum(axis=1), 1.0, rtol=1e-5, err_msg=name)
    assert np.all(alpha[~nonempty] == 0.0), name  # an empty row attends to nothing


@pytest.mark.parametrize("variant", ALL)
def test_outputs_shapes_and_masking(variant, model):
    B, T = IDS.shape
    out = _reference(model)["emotion"]
    assert out["logits"].shape == (B, K + 1)
    probs = out["probabilities"]
    assert probs.shape == (B, K)
    assert np.all((probs >= 0) & (probs <= 1))
    # The K emotion scores are the first K of the softmax over K + 1 (the last is "none").
    np.testing.assert_allclose(probs, tf.nn.softmax(out["logits"]).numpy()[:, :K], rtol=1e-6)
    assert ("alpha_t" in out) == (variant in WITH_TARGET)
    alphas = [name for name in ("alpha_s", "alpha_t") if name in out]
    for name in alphas:
        _check_alpha(out[name], REAL, name)
    adversarial = {"task_logits", "h_shared", "h_private"}
    if variant == "apsp":
        assert adversarial <= out.keys()
        assert out["task_logits"].shape == (B, 2)
        assert out["h_shared"].shape == out["h_private"].shape == (B, T, 2 * HIDDEN)
    else:
        assert not adversarial & out.keys()

    # The same rows with 3 more padding columns, plus an all-padding row.
    ext = np.zeros([B + 1, T + 3], np.int32)
    ext[:B, :T] = IDS
    ext_out = _np(model(ext, training=False))
    for key, value in ext_out.items():
        assert np.all(np.isfinite(value)), key
    np.testing.assert_allclose(ext_out["probabilities"][:B], probs, atol=1e-5)
    for name in alphas:
        _check_alpha(ext_out[name], ext != 0, name)
        np.testing.assert_allclose(ext_out[name][:B, :T], out[name], atol=1e-5)

    if model.sentiment_output is not None:
        sent = _reference(model)["sentiment"]
        assert sent["logits"].shape == (B, S)
        _check_alpha(sent["alpha_s"], REAL, "sentiment alpha_s")
        ext_sent = _np(model.sentiment(ext, training=False))
        for key, value in ext_sent.items():
            assert np.all(np.isfinite(value)), key
        np.testing.assert_allclose(ext_sent["logits"][:B], sent["logits"], atol=1e-5)
        _check_alpha(ext_sent["alpha_s"], ext != 0, "sentiment alpha_s")


# -- dual attention -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["datn1", "datn2", "sp"])
def test_dual_attention_direction(variant, model):
    """DATN-1 feeds alpha_s into the target attention, DATN-2 alpha_t into the shared one."""
    base = _reference(model)["emotion"]

    def moved(layer):
        with _perturbed(layer.W_h):
            out = _np(model(IDS))
        return {name for name in ("alpha_s", "alpha_t") if not np.allclose(out[name], base[name], atol=1e-6)}

    assert moved(model.shared_attention) == ({"alpha_s", "alpha_t"} if variant == "datn1" else {"alpha_s"})
    assert moved(model.target_attention) == ({"alpha_s", "alpha_t"} if variant == "datn2" else {"alpha_t"})


@pytest.mark.parametrize("variant", WITH_SENTIMENT)
def test_sentiment_output_ignores_target_only_weights(variant, model):
    """On sentiment batches only the left part runs (DATN-2 feeds alpha_t = 0)."""
    base = _reference(model)["sentiment"]
    target_only = _layer_vars(model.target_layers())
    assert target_only
    with _perturbed(*target_only):
        out = _np(model.sentiment(IDS))
    assert base.keys() == out.keys()
    for key in base:
        np.testing.assert_array_equal(base[key], out[key], err_msg=key)


@pytest.mark.parametrize("variant", ["base"])
def test_base_has_no_sentiment_head(variant, model):
    assert model.sentiment_output is None
    with pytest.raises(ValueError, match="'base' has no sentiment output layer"):
        model.sentiment(IDS)
    assert not model.spec.uses_sentiment_data  # so the trainer never builds a sentiment step


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


def _adversarial_terms(out, token_ids, task_id):
    """APSP's extra objective (Liu et al., 2017), weighted as the trainer's defaults."""
    task_ids = tf.fill(tf.shape(token_ids)[:1], task_id)
    adv = losses.adversarial_loss(task_ids, out["task_logits"])
    ortho = losses.orthogonality_loss(out["h_shared"], out["h_private"], tf.not_equal(token_ids, 0))
    return 0.05 * adv + 0.01 * ortho, {"adversarial_loss": adv, "orthogonality_loss": ortho}


def _step(model, optimizer, token_ids, task_id, variables, objective):
    """One mini-batch as `Trainer` runs it: `objective()` -> (outputs, loss, stats), plus
    APSP's terms, minimised over `variables`."""
    with tf.GradientTape() as tape:
        out, total, stats = objective()
        if model.spec.task_discriminator:
            extra, extra_stats = _adversarial_terms(out, token_ids, task_id)
            total += extra
            stats.update(extra_stats)
    grads = tape.gradient(total, variables)
    optimizer.apply(grads, variables)
    return stats


def _sentiment_step(model, optimizer, token_ids, labels):
    """A sentiment mini-batch: the sentiment loss on the left part."""
    def objective():
        out = model.sentiment(token_ids, training=True)
        total = losses.sentiment_loss(labels, out["logits"])
        return out, total, {"sentiment_loss": total}

    return _step(model, optimizer, token_ids, 0, model.left_variables, objective)


def _emotion_step(model, optimizer, token_ids, labels):
    """An emotion mini-batch: KL (+ similarity, + APSP terms) on the emotion part."""
    def objective():
        out = model(token_ids, training=True)
        total = losses.emotion_kl_loss(losses.emotion_target_distribution(labels), out["logits"])
        stats = {"emotion_loss": total}
        if model.spec.similarity_loss:
            stats["similarity_loss"] = losses.similarity_loss(out["alpha_s"], out["alpha_t"], lambda_sim=0.05,
                                                              form="sum")
            total += stats["similarity_loss"]
        return out, total, stats

    return _step(model, optimizer, token_ids, 1, model.emotion_variables, objective)


def _step_changes(model, step):
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    stats = step()
    for name, value in stats.items():
        assert np.isfinite(float(value)), name
    changed = {v.path for v in model.trainable_variables if not np.array_equal(before[v.path], v.numpy())}
    return changed, stats


@pytest.mark.parametrize("variant", WITH_SENTIMENT)
def test_sentiment_step_updates_only_the_left_part(variant, model):
    """Expected to change: every left variable (embedding, shared BiLSTM and attention,
    sentiment output; + source BiLSTM and attention for PSP/APSP; + the discriminator for
    APSP), except DATN-2's shared `w_alpha`. Bit-identical: the target BiLSTM and attention
    and the emotion MLP (they are not in the group)."""
    optimizer = keras.optimizers.Adam(1e-3)
    changed, stats = _step_changes(
        model, lambda: _sentiment_step(model, optimizer, tf.constant(IDS), tf.constant(SENTIMENT_LABELS))
    )
    assert ("adversarial_loss" in stats) == (variant == "apsp")
    left = _paths(model.left_variables)
    # Every left weight is reachable from the sentiment loss, except DATN-2's w_alpha of
    # the shared attention: it multiplies the fed alpha_t, which is 0 on sentiment batches.
    expected = left - ({model.shared_attention.w_alpha.path} if variant == "datn2" else set())
    assert changed == expected, (sorted(expected - changed), sorted(changed - expected))


@pytest.mark.parametrize("variant", ALL)
def test_emotion_step_updates_the_emotion_part(variant, model):
    optimizer = keras.optimizers.Adam(1e-3)
    changed, stats = _step_changes(
        model, lambda: _emotion_step(model, optimizer, tf.constant(IDS), tf.constant(EMOTION_LABELS))
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


@pytest.mark.parametrize("variant", ["datn2"])
def test_tf_function_does_not_retrace_for_new_shapes(variant, model):
    """As the trainer compiles prediction: one trace serves every batch shape."""
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def predict(token_ids):
        traces.append(1)
        out = {"probabilities": model(token_ids, training=False)["probabilities"]}
        if model.sentiment_output is not None:
            out["sentiment"] = model.sentiment(token_ids, training=False)["logits"]
        return out

    got = predict(tf.constant(IDS))
    np.testing.assert_allclose(got["probabilities"], _reference(model)["emotion"]["probabilities"], atol=1e-5)
    np.testing.assert_allclose(got["sentiment"], _reference(model)["sentiment"]["logits"], atol=1e-5)
    for ids in (np.pad(IDS, [[0, 2], [0, 3]]), IDS[:1, :2], np.zeros([2, 1], np.int32)):
        got = predict(tf.constant(ids))
        assert got["probabilities"].shape == (ids.shape[0], K)
        assert np.all(np.isfinite(got["probabilities"])) and np.all(np.isfinite(got["sentiment"]))
    assert len(traces) == 1


# The released code's architecture options (docs/fidelity.md), all at once.
RELEASED_OPTIONS = dict(input_dropout=0.0, dropout=0.5, mlp_dropout=0.5, mlp_activation="tanh",
                        attention_bias=True, tie_lstm_directions=True)


@pytest.mark.parametrize("variant", ["datn1", "datn2"])
def test_released_options_round_trip_and_kernels_agree(variant):
    keras.utils.set_random_seed(0)
    models = {impl: build_model(ModelConfig(variant, VOCAB, DIM, K, lstm_implementation=impl, **SIZES,
                                                 **RELEASED_OPTIONS))
              for impl in ("keras", "packed")}
    model = models["keras"]
    config = model.get_config()
    for name, value in RELEASED_OPTIONS.items():
        assert config[name] == value, name
    # One LSTM per encoder; a bias in every attention.
    assert len(model.shared_encoder.trainable_weights) == len(model.target_encoder.trainable_weights) == 3
    assert model.shared_attention.b is not None and model.target_attention.b is not None
    clone = EmotionTransferModel.from_config(config)
    assert clone.get_config() == config
    clone.build()
    clone.set_weights(model.get_weights())
    want = _np(model(IDS, training=False))
    _assert_same_outputs(want, _np(clone(IDS, training=False)))
    # The packed kernel reads the same tied weights.
    models["packed"].set_weights(model.get_weights())
    got = _np(models["packed"](IDS, training=False))
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # MLP dropout is active in training only.
    features = tf.random.normal([3, model.emotion_mlp.hidden_dense.kernel.shape[0]])
    np.testing.assert_array_equal(model.emotion_mlp(features, training=False), model.emotion_mlp(features))
    assert not np.allclose(model.emotion_mlp(features, training=True), model.emotion_mlp(features, training=False))
