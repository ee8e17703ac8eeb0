"""Tests for PretrainedEncoder (a pretrained BERT in E's place), on a tiny BERT made here."""

import numpy as np
import pytest
import tensorflow as tf

from datn_tf.testing.layer_test_case import LayerTestCase

keras_hub = pytest.importorskip("keras_hub")

from datn_tf import encoders  # noqa: E402
from datn_tf.layers.pretrained_encoder import PretrainedEncoder  # noqa: E402
from datn_tf.testing import tiny_bert  # noqa: E402

CLS, SEP = 2, 3
IDS = np.array([[CLS, 40, 41, 42, SEP, 0], [CLS, 50, SEP, 0, 0, 0], [CLS, SEP, 0, 0, 0, 0]], np.int32)


def backbone_states(backbone, ids):
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    return backbone(inputs)["sequence_output"].numpy()


class PretrainedEncoderTest(LayerTestCase):
    def setUp(self):
        super().setUp()
        self.backbone = tiny_bert.write_tiny_bert(self.get_temp_dir())
        self.config = encoders.backbone_config(self.get_temp_dir())

    def layer(self, trainable_layers=0):
        layer = PretrainedEncoder(self.config, trainable_layers, sep_id=SEP)
        layer.load_pretrained(self.backbone)
        return layer

    def test_returns_the_backbones_states_after_cls_and_masks_sep_and_padding(self):
        x, mask = self.layer()(IDS)
        self.assertAllClose(x, backbone_states(self.backbone, IDS)[:, 1:], atol=1e-6)
        self.assertAllEqual(mask, [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])

    def test_cached_lower_states_give_the_same_output_for_every_cut(self):
        for k in (0, 1, 2):
            layer = self.layer(k)
            from_ids, _ = layer(IDS)
            from_features, _ = layer(IDS, features=layer.lower_states(IDS))
            self.assertAllClose(from_features, from_ids, atol=1e-6)
            self.assertAllClose(from_ids, backbone_states(self.backbone, IDS)[:, 1:], atol=1e-6)

    def test_only_the_top_layers_are_trainable(self):
        sizes = {k: sum(int(np.prod(v.shape)) for v in self.layer(k).trainable_variables) for k in (0, 1, 2)}
        block = sum(int(np.prod(v.shape)) for v in self.backbone.get_layer("transformer_layer_1").weights)
        self.assertEqual(sizes, {0: 0, 1: block, 2: 2 * block})
        # The embeddings never train: the cached states below the first trained layer stay valid.
        trained = {v.path for v in self.layer(2).trainable_variables}
        self.assertFalse(any("embedding" in path for path in trained))

    def test_gradients_reach_the_trained_layers_only(self):
        layer = self.layer(1)
        with tf.GradientTape() as tape:
            x, _ = layer(IDS, training=True)
            loss = tf.reduce_sum(x ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        self.assertTrue(all(g is not None and np.any(g.numpy() != 0) for g in grads))

    def test_config_round_trip(self):
        layer = self.layer(1)
        self.assert_config_round_trip(layer, lambda l: l(IDS))

    def test_eager_matches_tf_function(self):
        layer = self.layer(1)
        self.assert_eager_matches_tf_function(lambda: layer(tf.constant(IDS)))

    def test_refuses_more_trainable_layers_than_it_has(self):
        with self.assertRaisesRegex(ValueError, r"trainable_layers must be in \[0, 2\]; got 3"):
            PretrainedEncoder(self.config, 3)
