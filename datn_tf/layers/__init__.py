"""Keras layers of DATN (Yu et al., EMNLP 2018); see README.md for the index."""

from datn_tf.layers.attention import Attention, masked_softmax
from datn_tf.layers.attention_fed_attention import AttentionFedAttention
from datn_tf.layers.bilstm_encoder import BiLSTMEncoder
from datn_tf.layers.emotion_mlp import EmotionMLP
from datn_tf.layers.gradient_reversal import GradientReversal
from datn_tf.layers.pretrained_encoder import PretrainedEncoder
from datn_tf.layers.token_projection import TokenProjection

__all__ = [
    "Attention",
    "AttentionFedAttention",
    "BiLSTMEncoder",
    "EmotionMLP",
    "GradientReversal",
    "PretrainedEncoder",
    "TokenProjection",
    "masked_softmax",
]
