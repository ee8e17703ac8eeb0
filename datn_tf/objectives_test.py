"""Tests for the per-variant objectives, against the losses computed by hand on the same outputs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from datn_tf import losses, objectives
from datn_tf import variants as variants_lib
from datn_tf.config import ModelConfig, TrainConfig
from datn_tf.models import build_model

K = 4
IDS = tf.constant([[3, 5, 2, 0], [4, 0, 0, 0], [6, 7, 8, 9]], tf.int32)
BATCH = {"token_ids": IDS, "labels": tf.constant([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]], tf.int32),
         "sentiment": tf.constant([0, 2, 1], tf.int32)}


def _model(variant):
    keras.utils.set_random_seed(0)
    # No dropout, so that a second forward pass gives the same outputs.
    return build_model(ModelConfig(variant, 12, 5, K, hidden_size=3, attention_size=4, mlp_hidden_units=4,
                                   dropout=0.0, input_dropout=0.0))


@pytest.mark.parametrize("similarity", ["sum", "mean", "released"])
def test_emotion_objective_is_kl_plus_the_similarity_term(similarity):
    model, spec = _model("datn2"), variants_lib.get_variant("datn2")
    config = TrainConfig(similarity=similarity, lambda_sim=0.3)
    total, stats = objectives.emotion_objective(model, BATCH, spec, config)
    out = model(IDS, training=True)
    kl = losses.emotion_kl_loss(losses.emotion_target_distribution(BATCH["labels"]), out["logits"])
    sim = losses.similarity_loss(out["alpha_s"], out["alpha_t"], lambda_sim=0.3, form=similarity)
    np.testing.assert_allclose(stats["emotion_loss"], kl, rtol=1e-6)
    np.testing.assert_allclose(stats["similarity_loss"], sim, rtol=1e-6)
    np.testing.assert_allclose(total, kl + sim, rtol=1e-6)


def test_no_similarity_term_without_dual_attention():
    model, spec = _model("sp"), variants_lib.get_variant("sp")
    total, stats = objectives.emotion_objective(model, BATCH, spec, TrainConfig())
    assert set(stats) == {"emotion_loss"}
    np.testing.assert_allclose(total, stats["emotion_loss"])


def test_sentiment_objective_and_the_sum_reduction():
    model, spec = _model("datn2"), variants_lib.get_variant("datn2")
    total, stats = objectives.sentiment_objective(model, BATCH, spec, TrainConfig())
    want = losses.sentiment_loss(BATCH["sentiment"], model.sentiment(IDS, training=True)["logits"])
    np.testing.assert_allclose(total, want, rtol=1e-6)
    summed, _ = objectives.sentiment_objective(model, BATCH, spec, TrainConfig(task_loss_reduction="sum"))
    np.testing.assert_allclose(summed, 3 * want, rtol=1e-6)


def test_apsp_adds_the_weighted_adversarial_terms():
    model, spec = _model("apsp"), variants_lib.get_variant("apsp")
    config = TrainConfig(adversarial_weight=0.5, orthogonality_weight=0.25)
    total, stats = objectives.emotion_objective(model, BATCH, spec, config)
    np.testing.assert_allclose(
        total, stats["emotion_loss"] + 0.5 * stats["adversarial_loss"] + 0.25 * stats["orthogonality_loss"],
        rtol=1e-6)
    out = model(IDS, training=True)
    np.testing.assert_allclose(stats["adversarial_loss"],
                               losses.adversarial_loss(tf.fill([3], 1), out["task_logits"]), rtol=1e-6)


@pytest.mark.parametrize("mechanism", ["task_discriminator", "orthogonality_loss"])
def test_a_shared_private_variant_can_have_one_of_the_two_mechanisms(mechanism, monkeypatch):
    one = variants_lib.Variant("psp_one", "PSP+", variants_lib.ALTERNATING, target_encoder=True,
                               source_encoder=True, **{mechanism: True})
    monkeypatch.setitem(variants_lib.VARIANTS, one.name, one)
    model = _model(one.name)
    assert (model.task_discriminator is not None) == (mechanism == "task_discriminator")
    config = TrainConfig(adversarial_weight=0.5, orthogonality_weight=0.25)
    terms = {"task_discriminator": ("adversarial_loss", 0.5), "orthogonality_loss": ("orthogonality_loss", 0.25)}
    stat, weight = terms[mechanism]
    for objective, main in ((objectives.emotion_objective, "emotion_loss"),
                            (objectives.sentiment_objective, "sentiment_loss")):
        total, stats = objective(model, BATCH, one, config)
        assert set(stats) == {main, stat}
        np.testing.assert_allclose(total, stats[main] + weight * stats[stat], rtol=1e-6)
    inert = TrainConfig(variant=one.name).inert_settings()
    assert inert == {"lambda_sim", "similarity", "pretrain_epochs",
                     "orthogonality_weight" if mechanism == "task_discriminator" else "adversarial_weight"}


def test_the_orthogonality_loss_needs_both_private_encoders():
    with pytest.raises(ValueError, match="orthogonality loss needs the private target and source encoders"):
        variants_lib.Variant("sp_ortho", "SP+", variants_lib.ALTERNATING, target_encoder=True, orthogonality_loss=True)


def test_replica_shares_add_up_to_the_global_objective():
    # Means are split over the replicas; sums are already each replica's share.
    assert objectives.replica_share(6.0, "mean", replicas=2) == 3.0
    assert objectives.replica_share(6.0, "sum", replicas=2) == 6.0
    assert objectives.replica_share(6.0, "mean") == 6.0
