"""The variant registry: what each system reads."""

from datn_tf import variants as variants_lib
from datn_tf.config import TrainConfig


def test_inert_settings_come_from_the_settings_read_when():
    inert = {name: TrainConfig(variant=name).inert_settings() for name in variants_lib.VARIANT_NAMES}
    assert inert["base"] == {"lambda_sim", "similarity", "adversarial_weight", "orthogonality_weight", "step_order",
                             "pretrain_epochs"}
    assert inert["ft"] == {"lambda_sim", "similarity", "adversarial_weight", "orthogonality_weight", "step_order"}
    assert inert["apsp"] == {"lambda_sim", "similarity", "pretrain_epochs"}
    assert inert["datn2"] == {"adversarial_weight", "orthogonality_weight", "pretrain_epochs"}
