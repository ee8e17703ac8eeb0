"""The one registry of the eight systems compared in Table 3 of the paper.

Each entry says which parts the model has and how the training loop schedules it. The
model (`datn_tf.models.EmotionTransferModel`), the objectives (`datn_tf.objectives`) and the
loop (`datn_tf.trainer`) read only these fields, so a variant is fully described here.
"""

import dataclasses

from datn_tf.errors import UserError

# Schedules of the training loop.
EMOTION_ONLY = "emotion_only"  # emotion mini-batches only (Base)
ALTERNATING = "alternating"  # one sentiment batch (left part) then one emotion batch (all), Sec. 2.2.3
PRETRAIN_FINETUNE = "pretrain_finetune"  # sentiment phase, then emotion phase (FT)

# Where attention weights are fed (Section 2.2.2).
FEED_NONE = None
FEED_SHARED_TO_TARGET = "shared_to_target"  # DATN-1: alpha_s computed first, fed into the target attention
FEED_TARGET_TO_SHARED = "target_to_shared"  # DATN-2: alpha_t computed first, fed into the shared attention


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of Table 3.

    Attributes:
        name: the `--variant` flag value.
        title: the row name in Table 3.
        schedule: EMOTION_ONLY, ALTERNATING or PRETRAIN_FINETUNE.
        target_encoder: an emotion-specific (target) BiLSTM + attention besides the shared one.
        source_encoder: a sentiment-specific (source private) BiLSTM + attention (PSP, APSP).
        task_discriminator: Liu et al. (2017)'s adversarial task classifier on the shared
            features H_c, through gradient reversal (APSP).
        orthogonality_loss: Liu et al. (2017)'s orthogonality loss between the shared and
            the private BiLSTM states (APSP); needs both private encoders.
        feed: which attention feeds the other (DATN-1, DATN-2), or None.
        similarity_loss: the lambda * sum cos(alpha_s, alpha_t) term of J (DATN).
        sentiment_head: the model has a sentiment output layer.
        reference: where the architecture comes from.
    """

    name: str
    title: str
    schedule: str
    target_encoder: bool = False
    source_encoder: bool = False
    task_discriminator: bool = False
    orthogonality_loss: bool = False
    feed: str | None = FEED_NONE
    similarity_loss: bool = False
    sentiment_head: bool = True
    reference: str = ""

    def __post_init__(self):
        if self.orthogonality_loss and not (self.target_encoder and self.source_encoder):
            raise ValueError(f"variant {self.name!r}: the orthogonality loss needs the private target and "
                             "source encoders (target_encoder=True, source_encoder=True)")

    @property
    def uses_sentiment_data(self):
        return self.schedule != EMOTION_ONLY

    @property
    def alternating(self):
        return self.schedule == ALTERNATING

    @property
    def pretrains(self):
        return self.schedule == PRETRAIN_FINETUNE


VARIANTS = {
    v.name: v
    for v in (
        Variant("base", "Base", EMOTION_ONLY, sentiment_head=False, reference="Section 2.1"),
        Variant("ft", "FT", PRETRAIN_FINETUNE, reference="Section 3.2: pre-train on D_s, fine-tune on D_e"),
        Variant("fs", "FS", ALTERNATING, reference="Mou et al. (2016), Fig. 1a"),
        Variant("psp", "PSP", ALTERNATING, target_encoder=True, source_encoder=True,
                reference="Liu et al. (2017), Fig. 1b"),
        Variant("apsp", "APSP", ALTERNATING, target_encoder=True, source_encoder=True,
                task_discriminator=True, orthogonality_loss=True,
                reference="Liu et al. (2017), Fig. 1b with adversarial and orthogonality losses"),
        Variant("sp", "SP", ALTERNATING, target_encoder=True, reference="Section 2.2.1, Fig. 1c"),
        Variant("datn1", "DATN-1", ALTERNATING, target_encoder=True, feed=FEED_SHARED_TO_TARGET,
                similarity_loss=True, reference="Section 2.2.2, Fig. 2"),
        Variant("datn2", "DATN-2", ALTERNATING, target_encoder=True, feed=FEED_TARGET_TO_SHARED,
                similarity_loss=True, reference="Section 2.2.2 (alpha_t first)"),
    )
}
VARIANT_NAMES = tuple(VARIANTS)


def get_variant(name):
    try:
        return VARIANTS[name]
    except KeyError:
        raise UserError(f"unknown variant {name!r}; choose one of {', '.join(VARIANT_NAMES)}") from None
