"""`EmotionTransferModel`: every system of Table 3 as one Keras model, configured by variant.

Parts, in the paper's terms (Fig. 1, Fig. 2):
  embedding          the lookup table E (shared by every encoder; Section 2.1), or, with
                     --encoder=minilm|bert, a pretrained transformer in its place
                     (`pretrained_encoder`, docs/encoders.md)
  shared_encoder     BiLSTM over both tasks' sentences -> h^s, z^s
  shared_attention   Eq. 1-2 over h^s -> H_c, alpha_s (fed by alpha_t in DATN-2)
  target_encoder     emotion-specific BiLSTM -> h^t, z^t (SP, PSP, APSP, DATN)
  target_attention   -> H_t, alpha_t (fed by alpha_s in DATN-1)
  source_encoder     sentiment-private BiLSTM + attention (PSP, APSP)
  emotion_mlp        softmax(MLP([H_c; H_t])) over K emotions + "none" (Eq. 3)
  sentiment_output   softmax(W_s H_c + b_s) (Section 2.2.1)
  task_discriminator Liu et al. (2017) adversarial task classifier on H_c (APSP)

"The left part" (updated on sentiment mini-batches, Section 2.2.3) is `left_layers()`.
"""

import dataclasses

import keras
import tensorflow as tf

from datn_tf import variants as variants_lib
from datn_tf.config import ModelConfig
from datn_tf.encoders import BILSTM
from datn_tf.layers import (
    Attention,
    AttentionFedAttention,
    BiLSTMEncoder,
    EmotionMLP,
    GradientReversal,
    PretrainedEncoder,
    TokenProjection,
)
from datn_tf.vocab import PAD_ID

SOURCE_TASK, TARGET_TASK = 0, 1  # task ids for the APSP discriminator


@keras.saving.register_keras_serializable(package="datn_tf")
class EmotionTransferModel(keras.Model):
    """The Base / FT / FS / PSP / APSP / SP / DATN-1 / DATN-2 model.

    Args:
        config: a `datn_tf.config.ModelConfig` (the variant, sizes and architecture
            settings); `get_config()` returns its fields.

    Call: `model(token_ids, training=..., features=None)` runs the emotion task on
    right-padded int ids [B, T] (mask = ids != 0; with a pretrained encoder, WordPiece ids
    with [CLS] and [SEP], `features` optionally its cached lower states, and T-1 positions
    out: `layers.PretrainedEncoder`) and returns a dict with `logits` [B, K+1], `probabilities`
    [B, K] (the emotion scores compared with the threshold gamma), `alpha_s` [B, T] and,
    for variants with a target encoder, `alpha_t` [B, T].
    `model.sentiment(token_ids, training=...)` runs the sentiment task.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.model_config = config
        spec = variants_lib.get_variant(config.variant)
        self.spec = spec

        self.embedding = self.pretrained_encoder = None
        if config.encoder == BILSTM:
            self.embedding = keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")
        else:
            self.pretrained_encoder = PretrainedEncoder(config.backbone_config, config.encoder_trainable_layers,
                                                        sep_id=config.sep_id, name="pretrained_encoder")

        def encoder(name):
            if config.encoder != BILSTM and config.path_layer == "dense":
                return TokenProjection(2 * config.hidden_size, dropout=config.dropout,
                                       input_dropout=config.input_dropout, name=name)
            return BiLSTMEncoder(config.hidden_size, dropout=config.dropout, input_dropout=config.input_dropout,
                                 tie_directions=config.tie_lstm_directions,
                                 implementation=config.lstm_implementation, name=name)

        def attention(fed, name):
            return (AttentionFedAttention if fed else Attention)(config.attention_size,
                                                                 use_bias=config.attention_bias, name=name)

        self.shared_encoder = encoder("shared_encoder")
        self.shared_attention = attention(spec.feed == variants_lib.FEED_TARGET_TO_SHARED, "shared_attention")
        self.target_encoder = self.target_attention = None
        if spec.target_encoder:
            self.target_encoder = encoder("target_encoder")
            self.target_attention = attention(spec.feed == variants_lib.FEED_SHARED_TO_TARGET, "target_attention")
        self.source_encoder = self.source_attention = None
        if spec.source_encoder:
            self.source_encoder = encoder("source_encoder")
            self.source_attention = attention(False, "source_attention")
        self.emotion_mlp = EmotionMLP(config.num_emotions + 1, hidden_units=config.mlp_hidden_units,
                                      activation=config.mlp_activation, dropout=config.mlp_dropout,
                                      name="emotion_mlp")
        self.sentiment_output = None
        if spec.sentiment_head:
            self.sentiment_output = keras.layers.Dense(config.num_sentiments, name="sentiment_output")
        self.gradient_reversal = self.task_discriminator = None
        if spec.task_discriminator:
            self.gradient_reversal = GradientReversal(name="gradient_reversal")
            self.task_discriminator = keras.layers.Dense(2, name="task_discriminator")

    # -- construction -------------------------------------------------------------------
    def build(self, input_shape=None):
        """Creates every weight (both tasks' paths) so saving, loading and optimizers see them all."""
        dummy = tf.ones([1, 2], tf.int32)
        self.call(dummy, training=False)
        if self.sentiment_output is not None:
            self.sentiment(dummy, training=False)
        self.built = True

    def get_config(self):
        return {**super().get_config(), **dataclasses.asdict(self.model_config)}

    @classmethod
    def from_config(cls, config):
        model_config, keras_config = ModelConfig.from_dict(config)
        return cls(model_config, **keras_config)

    # -- forward passes -----------------------------------------------------------------
    def _embed(self, token_ids, features=None, training=False):
        token_ids = tf.convert_to_tensor(token_ids)
        if self.pretrained_encoder is not None:
            return self.pretrained_encoder(token_ids, features=features, training=training)
        mask = tf.not_equal(token_ids, PAD_ID)
        return self.embedding(token_ids), mask

    def call(self, token_ids, training=False, features=None):
        """Emotion task (target side of Fig. 2)."""
        x, mask = self._embed(token_ids, features, training)
        h_s, z_s = self.shared_encoder(x, mask, training=training)
        out = {}
        if self.target_encoder is None:
            H_c, alpha_s = self.shared_attention(h_s, z_s, mask, training=training)
            features = H_c
        else:
            h_t, z_t = self.target_encoder(x, mask, training=training)
            feed = self.spec.feed
            if feed == variants_lib.FEED_SHARED_TO_TARGET:  # DATN-1: alpha_s first
                H_c, alpha_s = self.shared_attention(h_s, z_s, mask, training=training)
                H_t, alpha_t = self.target_attention(h_t, z_t, alpha_s, mask, training=training)
            elif feed == variants_lib.FEED_TARGET_TO_SHARED:  # DATN-2: alpha_t first
                H_t, alpha_t = self.target_attention(h_t, z_t, mask, training=training)
                H_c, alpha_s = self.shared_attention(h_s, z_s, alpha_t, mask, training=training)
            else:
                H_c, alpha_s = self.shared_attention(h_s, z_s, mask, training=training)
                H_t, alpha_t = self.target_attention(h_t, z_t, mask, training=training)
            features = tf.concat([H_c, H_t], axis=-1)
            out["alpha_t"] = alpha_t
            if self.spec.orthogonality_loss:
                out["h_shared"], out["h_private"], out["mask"] = h_s, h_t, mask
        logits = self.emotion_mlp(features, training=training)
        out["logits"] = logits
        out["probabilities"] = tf.nn.softmax(logits)[:, : self.model_config.num_emotions]
        out["alpha_s"] = alpha_s
        if self.task_discriminator is not None:
            out["task_logits"] = self.task_discriminator(self.gradient_reversal(H_c))
        return out

    def sentiment(self, token_ids, training=False, features=None):
        """Sentiment task (source side): only the left part is used."""
        if self.sentiment_output is None:
            raise ValueError(f"variant {self.model_config.variant!r} has no sentiment output layer")
        x, mask = self._embed(token_ids, features, training)
        h_s, z_s = self.shared_encoder(x, mask, training=training)
        if self.spec.feed == variants_lib.FEED_TARGET_TO_SHARED:
            # No target-side attention exists for a source sentence: feed zeros, so the
            # sentiment task never depends on target-only parameters (docs/fidelity.md).
            H_c, alpha_s = self.shared_attention(h_s, z_s, tf.zeros_like(x[..., 0]), mask, training=training)
        else:
            H_c, alpha_s = self.shared_attention(h_s, z_s, mask, training=training)
        out = {"alpha_s": alpha_s}
        features = H_c
        if self.source_encoder is not None:
            h_p, z_p = self.source_encoder(x, mask, training=training)
            H_p, _ = self.source_attention(h_p, z_p, mask, training=training)
            features = tf.concat([H_c, H_p], axis=-1)
            if self.spec.orthogonality_loss:
                out["h_shared"], out["h_private"], out["mask"] = h_s, h_p, mask
        out["logits"] = self.sentiment_output(features)
        if self.task_discriminator is not None:
            out["task_logits"] = self.task_discriminator(self.gradient_reversal(H_c))
        return out

    # -- parameter groups ---------------------------------------------------------------
    def left_layers(self):
        """Layers updated on sentiment mini-batches ("the left part of our model", Sec. 2.2.3)."""
        layers = [l for l in (self.embedding, self.pretrained_encoder) if l is not None]
        layers += [self.shared_encoder, self.shared_attention]
        layers += [l for l in (self.source_encoder, self.source_attention, self.sentiment_output,
                               self.task_discriminator) if l is not None]
        return layers

    @property
    def left_variables(self):
        return [v for layer in self.left_layers() for v in layer.trainable_variables]

    def emotion_layers(self):
        """Layers the emotion task uses (all of them on an emotion mini-batch)."""
        layers = [self.embedding, self.pretrained_encoder, self.shared_encoder, self.shared_attention,
                  self.target_encoder,
                  self.target_attention, self.emotion_mlp, self.task_discriminator]
        return [l for l in layers if l is not None]

    @property
    def emotion_variables(self):
        return [v for layer in self.emotion_layers() for v in layer.trainable_variables]

    def target_layers(self):
        """Layers only the emotion task uses."""
        return [l for l in (self.target_encoder, self.target_attention, self.emotion_mlp) if l is not None]


def build_model(config, embedding_matrix=None, encoder_weights=None):
    """The built model of a `ModelConfig`; E initialised from the pretrained matrix if given, or
    the pretrained encoder from its weights (`PretrainedEncoder.load_pretrained`)."""
    model = EmotionTransferModel(config)
    model.build()
    if embedding_matrix is not None:
        model.embedding.embeddings.assign(embedding_matrix)
    if encoder_weights is not None:
        model.pretrained_encoder.load_pretrained(encoder_weights)
    return model
