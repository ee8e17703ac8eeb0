"""A pretrained BERT (keras-hub's `BertBackbone`) in the place of the lookup table E."""

import keras
import tensorflow as tf

from datn_tf import encoders


@keras.saving.register_keras_serializable(package="datn_tf")
class PretrainedEncoder(keras.layers.Layer):
    """The contextual states of a pretrained BERT, as word inputs for the paths of DATN.

    The backbone reads `[CLS] w_1 ... w_n [SEP]`; the layer returns the states of
    `w_1 ... w_n` (and the positions after them, masked), which the shared, target and
    source paths read as they read rows of E. Only the top `trainable_layers` transformer
    layers are trained; the embeddings and the layers below stay as pretrained, so the
    states entering the first trained layer (`lower_states`) are a function of the text
    alone and can be computed once and cached.

    Args:
        backbone_config: the `keras_hub.models.BertBackbone` arguments (sizes).
        trainable_layers: how many of the top transformer layers are trained (0: frozen).

    Call: `layer(token_ids, features=None, training=...)` with `token_ids` int32 [B, T]
    ([CLS] first, [SEP] after the last wordpiece, 0-padded) and optionally `features`, the
    cached `lower_states(token_ids)` [B, T, H]. Returns `(x, mask)`: x [B, T-1, H], the
    states after [CLS]; mask [B, T-1], True on wordpieces (False on [SEP] and padding), so
    that it is right-padded like the mask of E's rows.
    """

    def __init__(self, backbone_config, trainable_layers=0, sep_id=102, **kwargs):
        super().__init__(**kwargs)
        self.backbone_config = dict(backbone_config)
        num_layers = self.backbone_config["num_layers"]
        if not 0 <= trainable_layers <= num_layers:
            raise ValueError(f"trainable_layers must be in [0, {num_layers}]; got {trainable_layers}")
        self.trainable_layers = int(trainable_layers)
        self.sep_id = int(sep_id)
        self.backbone = encoders.keras_hub().models.BertBackbone(**self.backbone_config)
        self.hidden_size = self.backbone_config["hidden_dim"]
        self.first_trained = num_layers - self.trainable_layers
        # The states entering the first trained layer: the embeddings' output for a fully
        # trained stack, else the output of the last frozen transformer layer.
        cut = "embeddings_dropout" if self.first_trained == 0 else f"transformer_layer_{self.first_trained - 1}"
        self.lower = keras.Model(self.backbone.inputs, self.backbone.get_layer(cut).output, name="lower")
        self.top = [self.backbone.get_layer(f"transformer_layer_{i}") for i in range(self.first_trained, num_layers)]
        for layer in self.backbone.layers:
            layer.trainable = layer in self.top

    def build(self, input_shape=None):
        self.built = True

    def lower_states(self, token_ids, training=False):
        """The states entering the first trained layer, [B, T, H] (float32)."""
        token_ids = tf.convert_to_tensor(token_ids)
        inputs = {"token_ids": token_ids, "segment_ids": tf.zeros_like(token_ids),
                  "padding_mask": tf.not_equal(token_ids, 0)}
        return self.lower(inputs, training=False)

    def call(self, token_ids, features=None, training=False):
        token_ids = tf.convert_to_tensor(token_ids)
        x = self.lower_states(token_ids) if features is None else tf.cast(features, self.compute_dtype)
        padding = tf.not_equal(token_ids, 0)
        for layer in self.top:
            x = layer(x, padding_mask=padding, training=training)
        rest = token_ids[:, 1:]
        mask = tf.logical_and(tf.not_equal(rest, 0), tf.not_equal(rest, self.sep_id))
        return x[:, 1:], mask

    def load_pretrained(self, backbone):
        """Sets the pretrained weights: a loaded backbone (`encoders.load_backbone`) or its `get_weights()`."""
        self.backbone.set_weights(backbone if isinstance(backbone, list) else backbone.get_weights())

    def get_config(self):
        return {**super().get_config(), "backbone_config": self.backbone_config,
                "trainable_layers": self.trainable_layers, "sep_id": self.sep_id}
