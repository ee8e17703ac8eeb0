"""A tiny BERT written in the Hugging Face layout, for the tests of the pretrained-encoder path.

`write_tiny_bert(folder)` builds a randomly initialised keras-hub `BertBackbone` of a few
thousand parameters over a WordPiece vocabulary of the fixture data's words, and writes it
as a sentence-transformers model folder is laid out (config.json, model.safetensors with
the Hugging Face tensor names, vocab.txt, tokenizer_config.json): the same files, read by
the same loader, as the real MiniLM's. It returns the backbone, so a test can compare what
the loader reads back with what was written.
"""

import json
import re
from pathlib import Path

import keras
import numpy as np

from datn_tf.testing.fixtures import _EC_CUES, _EC_TOPICS

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SIZES = dict(num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=40)


def fixture_wordpieces():
    """Whole words of the fixture tweets (lower-cased) and a few suffixes, so some words split."""
    text = " ".join([" ".join(w) + " " + h for w, h, _ in _EC_CUES.values()] + _EC_TOPICS
                    + ["reading about at the office she said user awesome terrible good bad okay"])
    words = sorted(set(re.findall(r"[a-z]+", text.lower())))
    punctuation = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    return SPECIAL + punctuation + words + ["##s", "##ing", "##ed", "##y"]


def _hf_tensors(backbone):
    """The backbone's weights under the Hugging Face BERT names (the inverse of keras-hub's
    `convert_bert`): kernels transposed to [out, in], layer norms as weight/bias."""

    def dense(kernel):
        kernel = np.asarray(kernel)
        return np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]).T) if kernel.ndim == 2 else kernel

    def attention_in(kernel):  # [hidden, heads, head_dim] -> [heads * head_dim, hidden]
        kernel = np.asarray(kernel)
        return np.ascontiguousarray(kernel.reshape(kernel.shape[0], -1).T)

    def attention_out(kernel):  # [heads, head_dim, hidden] -> [hidden, heads * head_dim]
        kernel = np.asarray(kernel)
        return np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]).T)

    layer = backbone.get_layer
    t = {
        "embeddings.word_embeddings.weight": layer("token_embedding").embeddings,
        "embeddings.position_embeddings.weight": layer("position_embedding").position_embeddings,
        "embeddings.token_type_embeddings.weight": layer("segment_embedding").embeddings,
        "embeddings.LayerNorm.weight": layer("embeddings_layer_norm").gamma,
        "embeddings.LayerNorm.bias": layer("embeddings_layer_norm").beta,
        "pooler.dense.weight": dense(layer("pooled_dense").kernel),
        "pooler.dense.bias": layer("pooled_dense").bias,
    }
    for i in range(backbone.num_layers):
        block = layer(f"transformer_layer_{i}")
        attn, p = block._self_attention_layer, f"encoder.layer.{i}."
        for name, part in (("query", attn.query_dense), ("key", attn.key_dense), ("value", attn.value_dense)):
            t[p + f"attention.self.{name}.weight"] = attention_in(part.kernel)
            t[p + f"attention.self.{name}.bias"] = np.asarray(part.bias).reshape(-1)
        t[p + "attention.output.dense.weight"] = attention_out(attn.output_dense.kernel)
        t[p + "attention.output.dense.bias"] = attn.output_dense.bias
        t[p + "attention.output.LayerNorm.weight"] = block._self_attention_layer_norm.gamma
        t[p + "attention.output.LayerNorm.bias"] = block._self_attention_layer_norm.beta
        t[p + "intermediate.dense.weight"] = dense(block._feedforward_intermediate_dense.kernel)
        t[p + "intermediate.dense.bias"] = block._feedforward_intermediate_dense.bias
        t[p + "output.dense.weight"] = dense(block._feedforward_output_dense.kernel)
        t[p + "output.dense.bias"] = block._feedforward_output_dense.bias
        t[p + "output.LayerNorm.weight"] = block._feedforward_layer_norm.gamma
        t[p + "output.LayerNorm.bias"] = block._feedforward_layer_norm.beta
    return {k: np.ascontiguousarray(np.asarray(v, dtype=np.float32)) for k, v in t.items()}


def write_tiny_bert(folder, seed=0, vocabulary=None):
    """Writes a tiny random BERT to `folder` in the Hugging Face layout; returns the keras-hub backbone."""
    import keras_hub  # keras-hub and safetensors: the encoder extra, imported only where it is used
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = vocabulary or fixture_wordpieces()
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), **SIZES)
    # Non-trivial layer norms and biases, so a tensor read under the wrong name shows.
    rng = np.random.default_rng(seed)
    for v in backbone.weights:
        if len(v.shape) == 1:
            v.assign(rng.normal(1.0 if "gamma" in v.path else 0.0, 0.1, size=v.shape).astype("float32"))
    save_file(_hf_tensors(backbone), str(folder / "model.safetensors"))
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(vocabulary),
              "hidden_size": SIZES["hidden_dim"], "num_hidden_layers": SIZES["num_layers"],
              "num_attention_heads": SIZES["num_heads"], "intermediate_size": SIZES["intermediate_dim"],
              "max_position_embeddings": SIZES["max_sequence_length"], "type_vocab_size": 2,
              "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (folder / "vocab.txt").write_text("".join(w + "\n" for w in vocabulary), encoding="utf-8")
    return backbone
