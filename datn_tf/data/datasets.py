"""The dataset registry: one `Dataset` entry per transfer setting, as `variants.VARIANTS` is for systems.

An entry holds how to read every split of its setting, its language (which picks the
tokenizer), the defaults a run on it starts from and the paper's figures where they exist.
Everything that depends on the dataset (the --dataset choices, default epochs and word
vectors, metrics, tables, statistics) reads the entry, so a new setting is one entry here.

`load_task(dataset, data_dir)` reads the splits, refuses an empty train or dev split, and says,
in `notes`, what is missing (the held-out test split).
"""

import collections.abc
import dataclasses
import types
from pathlib import Path

import numpy as np

from datn_tf import variants as variants_lib
from datn_tf.data import files as files_lib
from datn_tf.data import ren_cecps, semeval_4a, semeval_ec
from datn_tf.data.examples import EmotionExamples, SentimentExamples
from datn_tf.errors import DataFormatError, UserError

EC_DIR = "semeval2018-ec"
EC_FILES = {
    "train": "2018-E-c-En-train.txt",
    "dev": "2018-E-c-En-dev.txt",
    "test": "2018-E-c-En-test-gold.txt",
}
S4A_DIR = "semeval2016-4a"
REN_DIR = "ren-cecps"
# The data set folders under a --data_dir: no command writes into them.
DATA_FOLDERS = (EC_DIR, S4A_DIR, REN_DIR)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One transfer setting (S -> E).

    Attributes:
        name: the `--dataset` value.
        about: its line in `--dataset`'s help.
        read: `read(data_dir, cv_fold=None, cv_folds=10) -> TaskData`, every split of the
            setting (cv_fold only when `cross_validation`).
        language: "en" or "zh"; picks the tokenizer (`datn_tf.tokenizer`), and whether the
            packaged GloVe vectors and --normalize_tokens apply.
        emotion_names: the K emotion labels, or None when each data set's files carry them
            (`TaskData.emotion_names` always holds the run's).
        embedding_init, embedding_dim: where the lookup table E starts by default, and its
            width when it is not read from a file.
        epochs: default epochs per schedule of `datn_tf.variants` (an epoch is one pass over
            the larger training set the schedule reads).
        encoder_epochs: the same over a pretrained encoder (`--encoder`), or None for `epochs`.
        ranking_metrics: also report average precision and one-error (E2's secondary metrics).
        dev_title: how tables name its dev set.
        cross_validation: `--cv_fold` splits the whole corpus into folds (`cross_validation_task`).
        table2: the paper's Table 2 sentence counts per split, or None.
        table3: the paper's Table 3 test figures {variant: {metric: value}}, or None.
        check: `check(config)` raises UserError for settings the entry cannot run, before
            any data is read.
        reads_data_dir: its data is found under --data_dir (else in flags of its own).
        own_files: its data are the user's files, read with `config.file_setting` flags
            (--train_file, --layout, ...); no other dataset reads those.
    """

    name: str
    about: str
    read: collections.abc.Callable
    language: str
    emotion_names: tuple | None
    embedding_init: str
    embedding_dim: int
    epochs: dict
    encoder_epochs: dict | None = None
    ranking_metrics: bool = False
    dev_title: str = "dev"
    cross_validation: bool = False
    table2: dict | None = None
    table3: dict | None = None
    check: collections.abc.Callable = lambda config: None
    reads_data_dir: bool = True
    own_files: bool = False


@dataclasses.dataclass
class TaskData:
    """All splits of one transfer setting; `test` is None when held out."""

    dataset: str
    language: str
    emotion_names: tuple
    train: EmotionExamples
    dev: EmotionExamples
    test: EmotionExamples | None
    sentiment: SentimentExamples
    notes: list
    warnings: list = dataclasses.field(default_factory=list)  # degenerate data, one line each

    def splits(self):
        out = {"train": self.train, "dev": self.dev}
        if self.test is not None:
            out["test"] = self.test
        return out

    def split_digests(self):
        """{split: {"sentences": N, "sha256": its `EmotionExamples.digest`}}: what a run was trained
        and scored on (its config.json keeps it; an ensemble compares it)."""
        return {split: {"sentences": len(ex), "sha256": ex.digest()} for split, ex in self.splits().items()}


def _require_dir(path, what):
    if not path.is_dir():
        raise DataFormatError(path, None, f"{what} folder not found (see README: data layout)")


CV_SEED = 2018  # fixes the document folds of the E2 cross-validation (Base†, DATN-2†)


def cross_validation_task(corpus, fold, folds=10):
    """E2 cross-validation on the whole corpus (Table 3's Base† and DATN-2†).

    Documents (all splits) are dealt into `folds` folds by a fixed permutation; fold `fold`
    is the test set, fold `fold + 1` the dev set (model selection and gamma), the rest the
    training set, which also serves as the sentiment source ("for the source and target
    tasks in DATN-2†, we use the same training data"). Folding by document keeps the
    sentences of one blog post on one side.
    """
    if not 0 <= fold < folds:
        raise UserError(f"--cv_fold must be in [0, {folds})")
    sentences = corpus.all_sentences(("train", "dev", "test", "sentiment"))
    docs = sorted({s.doc for s in sentences})
    if len(docs) < folds:
        raise UserError(f"{len(docs)} documents cannot make {folds} folds")
    order = np.random.default_rng(CV_SEED).permutation(len(docs))
    fold_of = {docs[i]: rank % folds for rank, i in enumerate(order)}
    dev_fold = (fold + 1) % folds
    parts = {"train": [], "dev": [], "test": []}
    for s in sentences:
        f = fold_of[s.doc]
        parts["test" if f == fold else "dev" if f == dev_fold else "train"].append(s)
    source = f"{corpus.train.source} (fold {fold + 1}/{folds})"
    emotion = {k: ren_cecps.emotion_examples(v, source) for k, v in parts.items()}
    sentiment = ren_cecps.sentiment_examples([s for s in parts["train"] if s.polarity is not None], source)
    notes = [f"{folds}-fold cross-validation over {len(docs)} documents: fold {fold + 1} is the test set"]
    return TaskData("ren_cecps", "zh", tuple(ren_cecps.REN_EMOTIONS), emotion["train"], emotion["dev"],
                    emotion["test"], sentiment, notes)


def _read_semeval(data_dir, **_):
    ec = data_dir / EC_DIR
    _require_dir(ec, "SemEval-2018 E-c")
    for split in ("train", "dev"):
        if not (ec / EC_FILES[split]).exists():
            raise DataFormatError(ec / EC_FILES[split], None, "file not found")
    train = semeval_ec.read_ec(ec / EC_FILES["train"])
    dev = semeval_ec.read_ec(ec / EC_FILES["dev"])
    test_path = ec / EC_FILES["test"]
    test = semeval_ec.read_ec(test_path) if test_path.exists() else None
    notes = [] if test is not None else [f"test split not evaluated: {test_path} is not present (held out)"]
    s4a = data_dir / S4A_DIR
    _require_dir(s4a, "SemEval-2016 Task 4A")
    paths = [s4a / f for f in semeval_4a.S1_FILES]
    for p in paths:
        if not p.exists():
            raise DataFormatError(p, None, "file not found")
    sentiment = semeval_4a.read_4a_files(paths)
    return TaskData("semeval", "en", tuple(semeval_ec.EMOTIONS), train, dev, test, sentiment, notes)


def _read_ren_cecps(data_dir, cv_fold=None, cv_folds=10, **_):
    folder = data_dir / REN_DIR
    _require_dir(folder, "Ren-CECps")
    corpus = ren_cecps.read_ren_cecps(folder)
    corpus.check_complete(folder)
    first, last = ren_cecps.SPLITS["test"]
    notes, status = [], corpus.test_status()
    if status == "partial":  # a part of the test split is no test result, nor a part of the CV folds
        missing = corpus.missing["test"]
        notes.append(f"test documents left out: only {last - first + 1 - len(missing)} of the {last - first + 1} "
                     f"({first}-{last}) are in {folder} (missing: {ren_cecps.missing_names(missing)})")
        corpus = corpus.without_test()
    if cv_fold is not None:
        task = cross_validation_task(corpus, cv_fold, cv_folds)
        task.notes[:0] = notes
        return task
    if status != "complete":
        notes.append(f"test split not evaluated: documents {first}-{last} are not present in {folder} (held out)"
                     if status == "held out" else "test split not evaluated: it is partial")
    test = corpus.test if status == "complete" else None
    return TaskData(
        "ren_cecps", "zh", tuple(ren_cecps.REN_EMOTIONS), corpus.train, corpus.dev, test, corpus.sentiment, notes
    )


def _epochs(alternating, emotion_only, pretrain_finetune):
    return {variants_lib.ALTERNATING: alternating, variants_lib.EMOTION_ONLY: emotion_only,
            variants_lib.PRETRAIN_FINETUNE: pretrain_finetune}


REGISTRY = {}


def register(dataset):
    """Adds `dataset` to the registry (its name must be new); returns it."""
    if dataset.name in REGISTRY:
        raise ValueError(f"dataset {dataset.name!r} is already registered")
    REGISTRY[dataset.name] = dataset
    return dataset


def get(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; choose one of {tuple(REGISTRY)}") from None


# Over a frozen pretrained encoder the heads overfit within the first alternating epoch: a
# quarter of the paper's schedule, chosen on E1 dev (docs/encoders.md, ablate's `encoder` stage).
ENCODER_EPOCHS = _epochs(1, 4, 4)

# The paper's settings (Section 3.1). E1's 300-d GloVe is replaced by the 50-d glove.6B vectors
# available offline (docs/fidelity.md). An epoch of the alternating schedule is a pass over the
# sentiment set (emotion batches cycle, as in the authors' code); of Base and FT's fine-tuning, a
# pass over the emotion set.
register(Dataset(
    "semeval", "S1 (SemEval-16 4A) -> E1 (SemEval-18 E-c)", _read_semeval, "en", tuple(semeval_ec.EMOTIONS),
    embedding_init="pretrained", embedding_dim=300, epochs=_epochs(4, 16, 16), encoder_epochs=ENCODER_EPOCHS,
    dev_title="E1 dev (SemEval-2018 E-c, 886 tweets)",
    table2={"train": 6838, "dev": 886, "test": 3259, "sentiment": 28631},
    table3={
        "base": {"jaccard": 0.569, "macro_f1": 0.521},
        "ft": {"jaccard": 0.575, "macro_f1": 0.519},
        "fs": {"jaccard": 0.577, "macro_f1": 0.526},
        "psp": {"jaccard": 0.579, "macro_f1": 0.531},
        "apsp": {"jaccard": 0.580, "macro_f1": 0.540},
        "sp": {"jaccard": 0.577, "macro_f1": 0.532},
        "datn1": {"jaccard": 0.582, "macro_f1": 0.543},
        "datn2": {"jaccard": 0.583, "macro_f1": 0.544},
        "datn2_ensemble": {"jaccard": 0.597, "macro_f1": 0.551},
    },
))
# E2's init was chosen on E2 dev (docs/fidelity.md, "E2's word vectors").
register(Dataset(
    "ren_cecps", "S2 -> E2 (Ren-CECps)", _read_ren_cecps, "zh", tuple(ren_cecps.REN_EMOTIONS),
    embedding_init="word2vec", embedding_dim=200, epochs=_epochs(4, 5, 5), ranking_metrics=True,
    dev_title="E2 dev (Ren-CECps documents 561-640)", cross_validation=True,
    table2={"train": 13841, "dev": 1972, "test": 3602, "sentiment": 15199},
    table3={
        "base": {"jaccard": 0.368, "macro_f1": 0.399, "average_precision": 0.648, "one_error": 0.531},
        "ft": {"jaccard": 0.372, "macro_f1": 0.398, "average_precision": 0.655, "one_error": 0.519},
        "fs": {"jaccard": 0.386, "macro_f1": 0.403, "average_precision": 0.662, "one_error": 0.507},
        "psp": {"jaccard": 0.384, "macro_f1": 0.405, "average_precision": 0.658, "one_error": 0.517},
        "apsp": {"jaccard": 0.389, "macro_f1": 0.399, "average_precision": 0.670, "one_error": 0.499},
        "sp": {"jaccard": 0.389, "macro_f1": 0.410, "average_precision": 0.667, "one_error": 0.507},
        "datn1": {"jaccard": 0.393, "macro_f1": 0.410, "average_precision": 0.670, "one_error": 0.501},
        "datn2": {"jaccard": 0.400, "macro_f1": 0.420, "average_precision": 0.674, "one_error": 0.498},
    },
))


def _check_files(config):
    if not config.train_file or not config.dev_file:
        raise UserError("--dataset=files needs --train_file and --dev_file (docs/own-data.md)")
    if variants_lib.get_variant(config.variant).uses_sentiment_data and not config.sentiment_file:
        raise UserError(f"--variant={config.variant} transfers from a sentiment task: add --sentiment_file=FILE "
                        "(one sentiment label per row; docs/own-data.md), or run --variant=base")


def _read_sentiment_file(files):
    """The --sentiment_file: SemEval-2016 4A (id<TAB>label<TAB>text) when no sentiment column is
    named and it parses as such, else a wide or list file with one label per row; the classes
    are the sorted labels found (list) or the label columns (wide)."""
    path = files.sentiment_file
    if files.sentiment_text_column is None and files.sentiment_labels_column is None:
        try:
            return semeval_4a.read_4a(path)
        except DataFormatError as e:
            if e.line is not None and e.line > 1:
                raise  # its first row parsed as 4A: the file is 4A, and this row is wrong
    rows = files_lib.read_emotion_file(path, delimiter=files.delimiter, text_column=files.sentiment_text_column,
                                       labels_column=files.sentiment_labels_column)
    if not len(rows):
        raise DataFormatError(path, None, "the sentiment file holds no sentences")
    first_line = 2 if files_lib.has_header(files.sentiment_text_column, files.sentiment_labels_column) else 1
    counts = rows.labels.sum(1)
    bad = next((i for i, c in enumerate(counts) if c != 1), None)
    if bad is not None:
        raise DataFormatError(path, first_line + bad, f"{counts[bad]} sentiment labels; give one per row")
    if len(rows.label_names) < 2:
        raise DataFormatError(path, None, f"one sentiment class ({', '.join(rows.label_names)}); a source task "
                              "needs two or more")
    return SentimentExamples(ids=rows.ids, texts=rows.texts, labels=rows.labels.argmax(1),
                             label_names=rows.label_names, source=str(path))


# A training file with fewer sentences teaches next to nothing (`_degenerate_data`).
MIN_TRAIN_SENTENCES = 10


def _degenerate_data(files, train, dev):
    """One line per way your own files cannot train a useful model, though they read."""
    found = []
    never = [name for name, count in zip(train.label_names, train.labels.sum(0)) if count == 0]
    if never:
        shown = ", ".join(never[:3]) + (", ..." if len(never) > 3 else "")
        found.append(f"{len(never)} of the {len(train.label_names)} labels never occur in the training file "
                     f"{files.train_file} ({shown}): no sentence teaches them, so they are never predicted; leave "
                     "them out of the data")
    if len(train) < MIN_TRAIN_SENTENCES:
        found.append(f"the training file {files.train_file} holds {len(train)} sentence(s): too few to learn from")
    if set(dev.texts) <= set(train.texts):
        found.append(f"every sentence of the dev file {files.dev_file} is also in the training file "
                     f"{files.train_file}: dev scores, the selected step and gamma measure memorisation; give "
                     "held-out sentences")
    return found


def _read_files(data_dir, files=None, **_):
    """--dataset=files: the splits from --train_file, --dev_file, --test_file, --sentiment_file."""
    names = files_lib.read_label_names(files.label_names_file) if files.label_names_file else None

    def read(path, label_names, labels_of=None):
        return files_lib.read_emotion_file(path, layout=files.layout, delimiter=files.delimiter,
                                           text_column=files.text_column, labels_column=files.labels_column,
                                           id_column=files.id_column, label_names=label_names,
                                           labels_of=labels_of)

    # Dev and test are read with train's label set (a wide file's columns in train's order); with
    # no names file, a wide one's extra label column is an error, not a column left unread.
    train = read(files.train_file, names)
    of_train = None if names else "the training file"
    dev = read(files.dev_file, names or train.label_names, of_train)
    files_lib.check_same_labels(train, dev)
    test = read(files.test_file, names or train.label_names, of_train) if files.test_file else None
    if test is not None:
        files_lib.check_same_labels(train, test)
    notes = [] if test is not None else ["test split not evaluated: no --test_file"]
    if files.sentiment_file:
        sentiment = _read_sentiment_file(files)
    else:
        sentiment = SentimentExamples(ids=[], texts=[], labels=[], label_names=(), source="no --sentiment_file")
        notes.append("no sentiment source (--sentiment_file): Base only")
    return TaskData("files", "en", train.label_names, train, dev, test, sentiment, notes,
                    _degenerate_data(files, train, dev))


register(Dataset(
    "files", "your own emotion files (--train_file, --dev_file, ...; docs/own-data.md)", _read_files, "en", None,
    embedding_init="pretrained", embedding_dim=300, epochs=_epochs(4, 16, 16), encoder_epochs=ENCODER_EPOCHS,
    check=_check_files,
    reads_data_dir=False, own_files=True,
))


def load_task(dataset, data_dir, cv_fold=None, cv_folds=10, files=None):
    """Reads the emotion and sentiment data of the registered `dataset`.

    With `cv_fold` (datasets with `cross_validation` only), the splits are those of
    `cross_validation_task`.
    """
    entry = get(dataset)
    if cv_fold is not None and not entry.cross_validation:
        supported = " and ".join(n for n, d in REGISTRY.items() if d.cross_validation)
        raise UserError(f"cross-validation (--cv_fold) is defined for {supported} only (Table 3's † rows)")
    if cv_fold is None:
        task = entry.read(Path(data_dir), files=files)
    else:
        task = entry.read(Path(data_dir), cv_fold=cv_fold, cv_folds=cv_folds, files=files)
    for split in ("train", "dev"):  # a run needs both before its first step
        examples = getattr(task, split)
        if not len(examples):
            raise DataFormatError(examples.source or data_dir, None,
                                  f"the {split} split of --dataset={dataset} holds no sentences")
    return task


# The --dataset=files settings a run's saved settings may predate, with their defaults.
_FILE_SETTING_DEFAULTS = {"layout": "auto", "delimiter": "auto", "sentiment_text_column": None,
                          "sentiment_labels_column": None}


def load_task_of(settings):
    """The task a run reads: `settings` is a `TrainConfig` or a run's saved settings (a dict)."""
    if isinstance(settings, dict):
        settings = types.SimpleNamespace(**{**_FILE_SETTING_DEFAULTS, **settings})
    return load_task(settings.dataset, settings.data_dir, getattr(settings, "cv_fold", None),
                     getattr(settings, "cv_folds", 10), files=settings)
