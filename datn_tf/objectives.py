"""The objective of each step kind, composed per variant (Section 2.2.2-2.2.3).

Pure functions of `(model, batch, spec, config, replicas)` returning `(total, stats)`;
the trainer differentiates `total` and logs `stats`. An emotion mini-batch minimises

    L (Eq. 3)  [+ the similarity term of J, DATN]  [+ Liu et al.'s task discriminator and orthogonality terms, APSP]

and a sentiment mini-batch `-(1/M) sum_m log p(y_m | H_c)` [+ the same two terms].
Under a replicated strategy each replica returns its share of the global objective (see
`replica_share`), so the gradients summed over replicas are the global batch's.
"""

import tensorflow as tf

from datn_tf import losses
from datn_tf.models import SOURCE_TASK, TARGET_TASK


def replica_share(value, reduction, replicas=1):
    """A term as one replica's share: batch means are divided by the replica count;
    sums over the batch are already shares of the global sum."""
    return value if reduction == "sum" or replicas == 1 else value / replicas


def emotion_objective(model, batch, spec, config, replicas=1):
    """An emotion mini-batch: every parameter (Section 2.2.3)."""
    token_ids = batch["token_ids"]
    out = model(token_ids, training=True, features=batch.get("features"))
    target = losses.emotion_target_distribution(batch["labels"])
    reduction = config.task_loss_reduction
    total = replica_share(losses.emotion_kl_loss(target, out["logits"], reduction=reduction), reduction, replicas)
    stats = {"emotion_loss": total}
    if spec.similarity_loss:
        sim = losses.similarity_loss(out["alpha_s"], out["alpha_t"], lambda_sim=config.lambda_sim,
                                     form=config.similarity)
        sim = replica_share(sim, "sum" if config.similarity == "sum" else "mean", replicas)
        stats["similarity_loss"] = sim
        total += sim
    total += _shared_private_terms(out, token_ids, TARGET_TASK, spec, config, replicas, stats)
    return total, stats


def sentiment_objective(model, batch, spec, config, replicas=1):
    """A sentiment mini-batch: only the left part of the model is involved."""
    token_ids = batch["token_ids"]
    out = model.sentiment(token_ids, training=True, features=batch.get("features"))
    reduction = config.task_loss_reduction
    total = replica_share(losses.sentiment_loss(batch["sentiment"], out["logits"], reduction=reduction),
                          reduction, replicas)
    stats = {"sentiment_loss": total}
    total += _shared_private_terms(out, token_ids, SOURCE_TASK, spec, config, replicas, stats)
    return total, stats


def _shared_private_terms(out, token_ids, task_id, spec, config, replicas, stats):
    """Liu et al. (2017)'s terms the variant has: the task discriminator (through gradient
    reversal) and the orthogonality loss; 0.0 for neither."""
    total = 0.0
    if spec.task_discriminator:
        task_ids = tf.fill(tf.shape(token_ids)[:1], task_id)
        stats["adversarial_loss"] = replica_share(losses.adversarial_loss(task_ids, out["task_logits"]), "mean",
                                                  replicas)
        total += config.adversarial_weight * stats["adversarial_loss"]
    if spec.orthogonality_loss:
        ortho = losses.orthogonality_loss(out["h_shared"], out["h_private"], out["mask"])
        stats["orthogonality_loss"] = replica_share(ortho, "mean", replicas)
        total += config.orthogonality_weight * stats["orthogonality_loss"]
    return total
