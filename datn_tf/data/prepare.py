"""A run's data, encoded: vocabulary (training splits only), token ids and the lookup table E.

`prepare_data(config)` is what one run needs; `PreparedDataCache` serves the runs of a
grid (reproduce, ablate), computing the seed-free parts once.
"""

import dataclasses

import numpy as np

from datn_tf import embeddings as embeddings_lib
from datn_tf import encoder_states, encoders, input_pipeline, progress, word2vec
from datn_tf.config import ModelConfig, data_settings
from datn_tf.data import datasets
from datn_tf.layers import PretrainedEncoder
from datn_tf.vocab import Vocabulary


@dataclasses.dataclass
class PreparedData:
    """Everything the loop needs, encoded: ids per split, labels, vocabulary, table E."""

    task: datasets.TaskData
    vocab: Vocabulary
    embedding_matrix: np.ndarray
    coverage: embeddings_lib.Coverage
    embeddings_name: str
    ids: dict  # split -> list of int32 arrays ("train", "dev", "test", "sentiment")
    # With a pretrained encoder (E is None then): split -> `encoder_states.TokenStates`, the
    # cached states entering its first trained layer, and the encoder's pretrained weights.
    features: dict | None = None
    encoder_weights: list | None = None
    backbone_config: dict | None = None

    def eval_splits(self):
        """{split: EmotionExamples} of the splits scored at the end (dev, and test when present)."""
        return {s: ex for s, ex in self.task.splits().items() if s != "train"}

    def model_config(self, config):
        """The `ModelConfig` of a run of `config` (a `TrainConfig`) on this data."""
        sizes = dict(num_emotions=len(self.task.emotion_names),
                     num_sentiments=len(self.task.sentiment.label_names) or 3)
        if self.backbone_config is not None:
            return ModelConfig.from_train_config(config, vocab_size=len(self.vocab),
                                                 embedding_dim=self.backbone_config["hidden_dim"],
                                                 backbone_config=self.backbone_config, sep_id=self.vocab.sep_id,
                                                 **sizes)
        return ModelConfig.from_train_config(config, vocab_size=len(self.vocab),
                                             embedding_dim=self.embedding_matrix.shape[1], **sizes)


def prepare_data(config, task=None, vocab=None):
    """Reads the data, builds the vocabulary (training splits only) and the lookup table E."""
    return _with_embedding_matrix(config, _seed_free_parts(config, task, vocab))


class PreparedDataCache:
    """`prepare_data` for the runs of a grid: the seed-free parts are computed once.

    The data, the vocabulary, the token ids and the pretrained vectors depend only on the
    data and tokenization settings, not on the seed or the model; only the random rows of
    E do. The `size` most recently used data settings are kept (a grid that alternates
    between a few, seed after seed, prepares each once).
    """

    def __init__(self, size=4):
        self.size = size
        self._entries = {}  # key -> parts, least recently used first

    @staticmethod
    def key(config):
        """The settings the seed-free parts depend on (`config.data_setting`)."""
        return tuple(getattr(config, name) for name in data_settings())

    def prepare(self, config):
        key = self.key(config)
        parts = self._entries.pop(key, None) or _seed_free_parts(config)
        self._entries[key] = parts
        while len(self._entries) > self.size:
            self._entries.pop(next(iter(self._entries)))
        return _with_embedding_matrix(config, parts)


def _seed_free_parts(config, task=None, vocab=None):
    task = task or datasets.load_task(config.dataset, config.data_dir, config.cv_fold, config.cv_folds, files=config)
    if config.validate().encoder != encoders.BILSTM:
        return task, _encoder_parts(config, task)
    language = task.language
    init = config.validate().resolved_embedding_init()
    # The sentences E may learn from before training: the emotion-train split and the
    # sentiment set (never dev or test).
    train_tokens = None
    if vocab is None or init == "word2vec":
        train_tokens = input_pipeline.tokenize_corpus(list(task.train.texts) + list(task.sentiment.texts), language,
                                                      config.normalize_tokens)
    if vocab is None:
        vocab = Vocabulary.build(train_tokens)
    dim = config.embedding_dim or config.dataset_entry.embedding_dim
    if init == "pretrained":
        vectors, dim = embeddings_lib.load_vectors(config.embeddings or None, words=set(vocab.tokens),
                                                   allow_multiword_keys=config.allow_multiword_embedding_keys,
                                                   first=config.pretrained_vocab_size)
        name = str(config.embeddings) if config.embeddings else embeddings_lib.DEFAULT_EMBEDDINGS
        embeddings_lib.check_dim(config.embedding_dim, dim, name)
        if config.pretrained_vocab_size:
            # `vectors` is in file order and holds every one of the file's first N words.
            vocab = vocab.extended(w for i, w in enumerate(vectors) if i < config.pretrained_vocab_size)
    elif init == "word2vec":
        vectors, path = word2vec.train_word_vectors(train_tokens, dim, seed=0, log=progress.log,
                                                    words=set(vocab.tokens))
        name = f"word2vec-{dim}d ({path.name})"
    else:
        vectors, name = None, f"random-{dim}d"
    table = vocab.lookup_table()
    ids = {}
    for split, examples in list(task.splits().items()) + [("sentiment", task.sentiment)]:
        ids[split] = input_pipeline.encode_texts(
            examples.texts, vocab, language, table=table, max_length=config.max_length,
            normalize=config.normalize_tokens)
    return task, vocab, vectors, dim, name, ids


def _encoder_parts(config, task):
    """The WordPiece ids of every split and the cached lower states of a pretrained encoder."""
    folder = encoders.encoder_dir(config)
    digests = encoders.check_files(config.encoder, folder)
    backbone_config = encoders.backbone_config(folder)
    vocab = encoders.WordPieceVocab.load(folder / encoders.VOCAB_FILE, encoders.lowercase(folder))
    if len(vocab) != backbone_config["vocabulary_size"]:
        raise encoders.EncoderError(f"{folder}: vocab.txt has {len(vocab)} tokens, config.json's vocab_size is "
                                    f"{backbone_config['vocabulary_size']}; the folder mixes two encoders")
    if config.encoder_trainable_layers > backbone_config["num_layers"]:
        raise encoders.EncoderError(f"--encoder_trainable_layers={config.encoder_trainable_layers}: {folder} has "
                                    f"{backbone_config['num_layers']} transformer layers")
    backbone = encoders.load_backbone(folder)
    layer = PretrainedEncoder(backbone_config, config.encoder_trainable_layers, sep_id=vocab.sep_id)
    layer.load_pretrained(backbone)
    max_length = min(config.resolved_max_length(), backbone_config["max_sequence_length"] - 2)
    ids, features = {}, {}
    for split, examples in list(task.splits().items()) + [("sentiment", task.sentiment)]:
        ids[split] = encoders.encode_texts(examples.texts, vocab, max_length)
        key = encoder_states.cache_key(ids[split], digests[encoders.WEIGHTS_FILE], backbone_config,
                                       layer.first_trained)
        features[split] = encoder_states.lower_states(layer, ids[split], split, key)
    pieces = np.concatenate([t[1:-1] for t in ids["train"]]) if ids["train"] else np.zeros(0, np.int32)
    unk = vocab.tokens.index("[UNK]") if "[UNK]" in vocab.tokens else -1
    known = np.unique(pieces)
    coverage = embeddings_lib.Coverage(types=len(known), covered_types=int((known != unk).sum()),
                                       tokens=len(pieces), covered_tokens=int((pieces != unk).sum()))
    trained = config.encoder_trainable_layers
    name = (f"{config.encoder} ({folder}, sha256 {digests[encoders.WEIGHTS_FILE][:12]}, "
            f"{'frozen' if not trained else f'top {trained} layer(s) trained'})")
    return dict(vocab=vocab, coverage=coverage, name=name, ids=ids, features=features,
                weights=backbone.get_weights(), backbone_config=backbone_config)


def _with_embedding_matrix(config, parts):
    if len(parts) == 2:  # a pretrained encoder: no E
        task, p = parts
        return PreparedData(task, p["vocab"], None, p["coverage"], p["name"], p["ids"], features=p["features"],
                            encoder_weights=p["weights"], backbone_config=p["backbone_config"])
    task, vocab, vectors, dim, name, ids = parts
    if vectors is None:
        matrix, coverage = embeddings_lib.random_embedding_matrix(vocab, dim, seed=config.seed,
                                                                   scale=config.random_init_scale)
    else:
        matrix, coverage = embeddings_lib.build_embedding_matrix(vocab, vectors, dim, seed=config.seed,
                                                                  scale=config.random_init_scale)
        embeddings_lib.check_coverage(coverage, config.embeddings or name, config.min_embedding_coverage)
    return PreparedData(task, vocab, matrix, coverage, name, ids)
