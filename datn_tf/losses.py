"""Training objectives of DATN (Yu et al., EMNLP 2018) and the APSP baseline.

DATN's objective (Section 2.2.2) is

    J = -(1/M) sum_m log p(y_m | H_c)                 sentiment_loss
        + L                                            emotion_kl_loss (Eq. 3)
        + lambda sum_i cos_sim(alpha_s^i, alpha_t^i)   similarity_loss

The adversarial shared-private baseline (Liu et al., 2017) adds
`adversarial_loss` (the task discriminator's cross-entropy, trained through a
`GradientReversal` layer) and `orthogonality_loss`.

All functions take logits (never probabilities) and compute in float32
(float64 when the inputs are float64), also under mixed precision.
"""

import tensorflow as tf

from datn_tf.config import SIMILARITY_FORMS


def _reducer(reduction):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"`reduction` must be 'mean' or 'sum'. Received: reduction={reduction!r}")
    return tf.reduce_mean if reduction == "mean" else tf.reduce_sum


def _float(x):
    # Losses run in float32 (float64 kept) even under mixed precision: eps**2
    # and log-probabilities underflow in float16.
    x = tf.convert_to_tensor(x)
    return x if x.dtype == tf.float64 else tf.cast(x, tf.float32)


def emotion_target_distribution(labels):
    """The normalised ground-truth emotion distribution of Eq. 3, plus "none".

    Row `i` is `e_i / sum_k e_ik` over the K emotions followed by a final
    "none" slot that is 0; a sentence without any emotion instead puts all its
    mass on the "none" slot (the authors' code adds this class, so that the
    target is always a distribution).

    Args:
        labels: int or bool tensor `[B, K]` of 0/1 emotion labels.

    Returns:
        float32 tensor `[B, K + 1]` whose rows sum to 1.
    """
    labels = tf.cast(tf.convert_to_tensor(labels), tf.float32)
    counts = tf.reduce_sum(labels, axis=-1, keepdims=True)
    none = tf.cast(tf.equal(counts, 0.0), tf.float32)
    # divide_no_nan: the emotion part of an emotion-less row stays 0.
    return tf.concat([tf.math.divide_no_nan(labels, counts), none], axis=-1)


def emotion_kl_loss(target_dist, logits, reduction="mean"):
    """Eq. 3: the mean over the batch of `KL(target || softmax(logits))`.

        L = (1/N) sum_i sum_k t_ik (log t_ik - log o_ik),  o_i = softmax(logits_i)

    with `0 log 0 = 0`. `log o` comes from `log_softmax`, so large logits
    cannot overflow and a zero probability cannot produce `log 0`.

    Args:
        target_dist: float tensor `[B, C]`, rows summing to 1 (see
            `emotion_target_distribution`).
        logits: float tensor `[B, C]`, e.g. from `EmotionMLP`.
        reduction: `"mean"` (Eq. 3's 1/N) or `"sum"` over the batch (the
            authors' released code sums).

    Returns:
        A scalar.
    """
    reduce = _reducer(reduction)
    logits = _float(logits)
    target = tf.cast(target_dist, logits.dtype)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    positive = target > 0
    # log of a safe value where t = 0 so that neither the value nor the
    # gradient w.r.t. the target sees log(0).
    log_target = tf.math.log(tf.where(positive, target, tf.ones_like(target)))
    terms = tf.where(positive, target * (log_target - log_probs), 0.0)
    return reduce(tf.reduce_sum(terms, axis=-1))


def attention_cosine_similarity(alpha_s, alpha_t, eps=1e-8):
    """Row-wise cosine similarity `a.b / (|a| |b|)` of two attention matrices.

    A row where `|a| |b| <= eps` (in DATN: an empty sentence, whose attention
    weights are all zero) has cosine 0 and a zero gradient, instead of NaN or
    the huge `1 / eps` gradient that clipping the denominator would give.
    Attention weights sum to 1, so real rows have `|a| >= 1 / sqrt(T)`.

    Args:
        alpha_s: float tensor `[B, T]`.
        alpha_t: float tensor `[B, T]`.
        eps: float, rows whose norm product is at most `eps` give 0.

    Returns:
        float tensor `[B]` in `[-1, 1]`.
    """
    alpha_s = _float(alpha_s)
    alpha_t = tf.cast(alpha_t, alpha_s.dtype)
    dot = tf.reduce_sum(alpha_s * alpha_t, axis=-1)
    squared_norms = tf.reduce_sum(tf.square(alpha_s), axis=-1) * tf.reduce_sum(
        tf.square(alpha_t), axis=-1
    )
    valid = squared_norms > tf.cast(eps, alpha_s.dtype) ** 2
    # The inner where keeps rsqrt away from 0 so that the unselected branch
    # has no inf/NaN gradient either (the "double where" pattern).
    safe = tf.where(valid, squared_norms, tf.ones_like(squared_norms))
    return tf.where(valid, dot * tf.math.rsqrt(safe), tf.zeros_like(dot))


def similarity_loss(alpha_s, alpha_t, lambda_sim, form):
    """The dual-attention similarity term of J, in one of three forms.

        sum       lambda sum_i cos(a_s^i, a_t^i)          as written in J (Section 2.2.2)
        mean      lambda (1/B) sum_i cos(a_s^i, a_t^i)    independent of the batch size
        released  lambda (1/B) sum_i (1 - a_s^i . a_t^i)  the authors' released code

    The first two push the shared and target-specific attentions apart, as the
    paper says. "released" is what `tf.losses.cosine_distance(tgt_alphas,
    alphas, dim=1)` computes with TF1's defaults: one minus the dot product of
    the raw attention vectors (not unit-normalised), averaged over the batch;
    minimising it raises the dot product, pulling the two attentions together.

    Args:
        alpha_s: float tensor `[B, T]`, the shared layer's attention weights.
        alpha_t: float tensor `[B, T]`, the target-specific attention weights.
        lambda_sim: float, the weight `lambda` (`--lambda_sim`, config.PAPER_LAMBDA_SIM in the paper).
        form: `"sum"` (the paper's J), `"mean"` or `"released"` (`--similarity`).

    Returns:
        A scalar.
    """
    if form not in SIMILARITY_FORMS:
        raise ValueError(f"`form` must be one of {SIMILARITY_FORMS}. Received: form={form!r}")
    alpha_s = _float(alpha_s)
    if form == "released":
        dot = tf.reduce_sum(alpha_s * tf.cast(alpha_t, alpha_s.dtype), axis=-1)
        return tf.cast(lambda_sim, dot.dtype) * tf.reduce_mean(1.0 - dot)
    cosine = attention_cosine_similarity(alpha_s, alpha_t)
    reduce = tf.reduce_sum if form == "sum" else tf.reduce_mean
    return tf.cast(lambda_sim, cosine.dtype) * reduce(cosine)


def sentiment_loss(labels, logits, reduction="mean"):
    """`-(1/M) sum_m log p(y_m | H_c)`: mean sparse softmax cross-entropy.

    Args:
        labels: int tensor `[M]` of class ids.
        logits: float tensor `[M, C]`.
        reduction: `"mean"` (J's 1/M) or `"sum"` (the released code minimises
            the per-sentence vector, i.e. its sum).

    Returns:
        A scalar.
    """
    reduce = _reducer(reduction)
    logits = _float(logits)
    labels = tf.cast(labels, tf.int32)
    return reduce(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )


def adversarial_loss(task_ids, discriminator_logits):
    """The task discriminator's cross-entropy of Liu et al. (2017), batch mean.

    `L_adv = -(1/B) sum_i log D(task_i | s_i)` where `D` is a softmax over the
    tasks on the shared representation. Minimising it through a
    `GradientReversal` layer trains `D` and, reversed, makes the shared
    features task-invariant.

    Args:
        task_ids: int tensor `[B]`, which task each sentence comes from.
        discriminator_logits: float tensor `[B, num_tasks]`.

    Returns:
        A scalar.
    """
    return sentiment_loss(task_ids, discriminator_logits)


def orthogonality_loss(shared_h, private_h, mask=None):
    """Liu et al. (2017)'s `||S^T H||_F^2`, averaged over the batch.

    For each sentence, `S` `[T, Ds]` and `H` `[T, Dp]` stack the shared and
    private hidden states of its real tokens (padding rows excluded); the
    loss is zero iff every shared feature column is orthogonal to every
    private one.

    Args:
        shared_h: float tensor `[B, T, Ds]`.
        private_h: float tensor `[B, T, Dp]`.
        mask: optional bool tensor `[B, T]`, True for real tokens.

    Returns:
        A scalar.
    """
    shared_h = _float(shared_h)
    private_h = tf.cast(private_h, shared_h.dtype)
    if mask is not None:
        weights = tf.cast(mask, shared_h.dtype)[:, :, tf.newaxis]
        shared_h = shared_h * weights
        private_h = private_h * weights
    correlation = tf.einsum("bts,btp->bsp", shared_h, private_h)
    return tf.reduce_mean(tf.reduce_sum(tf.square(correlation), axis=[1, 2]))
