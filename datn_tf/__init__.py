"""datn-tf: Dual Attention Transfer Network (Yu et al., EMNLP 2018) in TensorFlow/Keras 3."""

__version__ = "0.1.0"
