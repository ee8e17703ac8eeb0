"""Reader for the Ren-CECps Chinese blog corpus (the paper's E2 and S2).

One UTF-8 XML file per blog, `cet_N.xml`, shaped like

    <document>
      <Joy>0.6</Joy> ... <Expect>0.8</Expect>          document-level intensities
      <title T="...">  <Segmented_S>致/v  女儿/n ...</Segmented_S> ... </title>
      <paragraph> ...
        <sentence S="raw sentence">
          <Segmented_S> 现在/t  好/a  了/y  ，/w  我/r ... 。</Segmented_S>
          <Keywords Joy="0.5" ...>好</Keywords> ...       (word-level, ignored)
          <Polarity>积极</Polarity>                        (may be missing/empty)
          <Joy>0.8</Joy> ... <Expect>0.0</Expect>          sentence intensities
        </sentence> ...

A sentence's emotion labels are `intensity > 0`; its words are the `Segmented_S`
tokens without their `/POS` suffix.

Which sentences the paper counts: only `<sentence>` elements (not the document
`<title>`) that have at least one word and a polarity. On the released corpus
this reproduces Table 2 exactly (train 13,841 / dev 1,972 / S2 15,199); counting
titles or sentences without polarity does not (see `read_ren_cecps`).
"""

import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

import numpy as np

from datn_tf.data._io import read_utf8
from datn_tf.data.examples import SENTIMENTS, EmotionExamples, SentimentExamples
from datn_tf.errors import DataFormatError

# Order of the intensity elements in the files (and of every E2 label array).
REN_EMOTIONS = (
    "Joy",
    "Hate",
    "Love",
    "Sorrow",
    "Anxiety",
    "Surprise",
    "Anger",
    "Expect",
)
# Sentence polarity -> index into SENTIMENTS (positive / neutral / negative).
POLARITY = {"积极": 2, "中性": 1, "消极": 0}
# Document-number ranges (inclusive): E2 train/dev/test and the S2 source task.
SPLITS = {
    "train": (1, 560),
    "dev": (561, 640),
    "test": (641, 800),
    "sentiment": (801, 1487),
}
EMOTION_SPLITS = ("train", "dev", "test")
# The splits that train or select a model: each of their documents must be present. The
# test documents may be held out, all of them (a part of them is no test result).
REQUIRED_SPLITS = ("train", "dev", "sentiment")
# Missing documents an error names (the rest are counted).
MISSING_SHOWN = 5

# `word/POS` with an ICTCLAS-style alphabetic tag; "。", "？", "！" carry no tag in
# the files, and a token that is itself "/" is written "//w" (or bare "/").
_POS_SUFFIX = re.compile(r"(.*)/[A-Za-z]+", re.DOTALL)
# The same rule applied to a whole string at once (a tag ends its token).
_POS_TAGS = re.compile(r"/[A-Za-z]+(?=\s|\Z)")
_FILE_NAME = re.compile(r"cet_(\d+)\.xml")


@dataclasses.dataclass
class RenSentence:
    """One annotated sentence (or, on request, the document title).

    Attributes:
        doc: the document number N of `cet_N.xml`.
        index: 1-based position among the document's `<sentence>` elements;
            0 for the title.
        tokens: the segmented words, POS tags removed (may be empty).
        intensities: float32 `[8]` in `REN_EMOTIONS` order.
        polarity: index into `SENTIMENTS`, or `None` when `<Polarity>` is
            missing or empty.
    """

    doc: int
    index: int
    tokens: list[str]
    intensities: np.ndarray
    polarity: int | None

    @property
    def id(self):
        return f"cet_{self.doc}:{self.index}"

    @property
    def text(self):
        return " ".join(self.tokens)

    @property
    def labels(self):
        """int8 `[8]`: an emotion is present when its intensity is above 0."""
        return (self.intensities > 0).astype(np.int8)


def strip_pos(token):
    """`"女儿/n"` -> `"女儿"`, `"//w"` -> `"/"`, `"。"` -> `"。"`, `"/n"` -> `""`."""
    match = _POS_SUFFIX.fullmatch(token)
    return match.group(1) if match else token


def split_segmented(text):
    """Words of a `Segmented_S` string, in order, without POS tags.

    `str.split()` also splits at the ideographic space U+3000, which the corpus
    segments as a word of its own (`"　/n"`); that leaves a bare `"/n"` whose
    word is empty and is dropped, as is any other empty word.
    """
    # One substitution over the whole string: the same result as `strip_pos` on
    # each token, faster (docs/performance.md).
    return _POS_TAGS.sub("", text or "").split()


class _LineFinder:
    """Line numbers of parsed elements, computed only when an error needs one.

    The fast C parser keeps no line numbers, so on the (rare) error path the
    document is parsed again with expat, recording each start tag's line in
    document order, which matches `root.iter()` order.
    """

    def __init__(self, text, root):
        self._text = text
        self._root = root
        self._lines = None

    def __call__(self, element):
        if self._lines is None:
            lines = []
            parser = expat.ParserCreate()
            parser.StartElementHandler = lambda *_: lines.append(
                parser.CurrentLineNumber
            )
            parser.Parse(self._text.encode("utf-8"), True)
            self._lines = dict(zip(map(id, self._root.iter()), lines))
        return self._lines.get(id(element))


def _parse(path):
    text = read_utf8(path)
    try:
        # Bytes, not str: the parser then reads the encoding from the declaration
        # (UTF-8 was already checked above).
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as err:
        line, column = err.position
        raise DataFormatError(
            path,
            line,
            f"malformed XML: {expat.ErrorString(err.code)} (column {column + 1})",
        ) from None
    return root, _LineFinder(text, root)


def _read_sentence(path, element, line_of, doc, index):
    segmented = element.find("Segmented_S")
    tokens = split_segmented(segmented.text if segmented is not None else "")

    intensities = np.zeros(len(REN_EMOTIONS), dtype=np.float32)
    for k, name in enumerate(REN_EMOTIONS):
        child = element.find(name)  # Direct child only: not the <Keywords> attributes.
        if child is None:
            raise DataFormatError(
                path, line_of(element), f"<{element.tag}> has no <{name}> intensity"
            )
        try:
            value = float((child.text or "").strip())
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise DataFormatError(
                path,
                line_of(child),
                f"<{name}> must be a number >= 0, found {child.text!r}",
            )
        intensities[k] = value

    polarity = None
    polarity_element = element.find("Polarity")
    label = (
        (polarity_element.text or "").strip() if polarity_element is not None else ""
    )
    if label:
        if label not in POLARITY:
            raise DataFormatError(
                path,
                line_of(polarity_element),
                f"unknown polarity {label!r}; expected one of {', '.join(POLARITY)}",
            )
        polarity = POLARITY[label]
    return RenSentence(doc, index, tokens, intensities, polarity)


def read_document(path, *, include_title=False, doc=None):
    """Reads one `cet_N.xml`: one `RenSentence` per `<sentence>`, in order.

    Args:
        path: the XML file.
        include_title: also return the document `<title>` first, with index 0.
        doc: the document number; by default N from the file name.

    Raises:
        DataFormatError: malformed XML (with the parser's line), a root other
            than `<document>`, a missing or non-numeric intensity, an unknown
            polarity, undecodable bytes or an empty file.
    """
    path = Path(path)
    if doc is None:
        match = _FILE_NAME.fullmatch(path.name)
        if not match:
            raise DataFormatError(path, None, "file name is not cet_N.xml; pass doc=N")
        doc = int(match.group(1))
    root, line_of = _parse(path)
    if root.tag != "document":
        raise DataFormatError(
            path, line_of(root), f"root element is <{root.tag}>, expected <document>"
        )
    sentences = []
    if include_title:
        title = root.find("title")
        if title is not None:
            sentences.append(_read_sentence(path, title, line_of, doc, 0))
    for index, element in enumerate(root.iter("sentence"), start=1):
        sentences.append(_read_sentence(path, element, line_of, doc, index))
    return sentences


def emotion_examples(sentences, source=""):
    """`EmotionExamples` (int8 `[N, 8]` labels) from `RenSentence`s."""
    labels = np.zeros((len(sentences), len(REN_EMOTIONS)), dtype=np.int8)
    for i, sentence in enumerate(sentences):
        labels[i] = sentence.labels
    return EmotionExamples(
        ids=[s.id for s in sentences],
        texts=[s.text for s in sentences],
        labels=labels,
        label_names=REN_EMOTIONS,
        source=str(source),
    )


def sentiment_examples(sentences, source=""):
    """`SentimentExamples` from `RenSentence`s, which must all have a polarity."""
    if any(s.polarity is None for s in sentences):
        raise ValueError("sentiment_examples needs sentences with a polarity")
    return SentimentExamples(
        ids=[s.id for s in sentences],
        texts=[s.text for s in sentences],
        labels=np.asarray([s.polarity for s in sentences], dtype=np.int32),
        label_names=SENTIMENTS,
        source=str(source),
    )


@dataclasses.dataclass
class RenCorpus:
    """Ren-CECps split as in the paper.

    Attributes:
        train, dev, test: E2 emotion examples (docs 1-560, 561-640, 641-800).
        sentiment: S2 polarity examples (docs 801-1487).
        missing: document numbers absent from the folder, per split (the E2
            test documents may be held out: then `test` is empty).
        dropped: sentences left out, per split and reason (`"no_words"`,
            `"no_polarity"`; a sentence is counted under the first that applies).
        sentences: the kept `RenSentence`s per split, in document order.
    """

    train: EmotionExamples
    dev: EmotionExamples
    test: EmotionExamples
    sentiment: SentimentExamples
    missing: dict[str, list[int]]
    dropped: dict[str, dict[str, int]]
    sentences: dict[str, list[RenSentence]]

    def all_sentences(self, splits=EMOTION_SPLITS):
        """The kept sentences of the given splits, concatenated (for cross-validation)."""
        return [sentence for split in splits for sentence in self.sentences[split]]

    def check_complete(self, folder):
        """Raises `DataFormatError` naming the first missing documents of a split that trains or
        selects (`REQUIRED_SPLITS`): a corpus cut short would otherwise train on part of it."""
        for split in REQUIRED_SPLITS:
            missing = self.missing[split]
            if missing:
                first, last = SPLITS[split]
                raise DataFormatError(
                    folder, None, f"{len(missing)} of the {last - first + 1} {split} documents "
                    f"(cet_{first}.xml-cet_{last}.xml) are missing: {missing_names(missing)}; copy the whole "
                    "corpus (README: data layout)")

    def test_status(self):
        """"complete", "held out" (no test document) or "partial" (some, not all)."""
        if not self.missing["test"]:
            return "complete"
        first, last = SPLITS["test"]
        return "held out" if len(self.missing["test"]) == last - first + 1 else "partial"

    def without_test(self):
        """The corpus with its test split emptied (a partial one is not scored)."""
        return dataclasses.replace(self, test=emotion_examples([], self.test.source),
                                   sentences={**self.sentences, "test": []})


def missing_names(docs):
    """`cet_4.xml, cet_5.xml, ... (and 12 more)`: the first `MISSING_SHOWN` of `docs`."""
    shown = ", ".join(f"cet_{d}.xml" for d in docs[:MISSING_SHOWN])
    return shown + (f" and {len(docs) - MISSING_SHOWN} more" if len(docs) > MISSING_SHOWN else "")


def read_ren_cecps(folder, *, include_titles=False, require_polarity=True):
    """Reads the corpus folder into the paper's E2 splits and S2 source set.

    A sentence is kept when it has at least one word and, if `require_polarity`
    (the default; always for S2), a polarity. With the defaults the released
    corpus gives exactly Table 2: train 13,841, dev 1,972, S2 15,199.

    Args:
        folder: the directory holding `cet_N.xml`.
        include_titles: also keep each document's `<title>` as a sentence
            (index 0); the paper does not.
        require_polarity: drop E2 sentences without a polarity, as the paper's
            counts imply.

    Raises:
        FileNotFoundError: `folder` is not a directory.
        DataFormatError: no `cet_N.xml` at all, or a malformed document.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Ren-CECps folder not found: {folder}")
    if not any(_FILE_NAME.fullmatch(p.name) for p in folder.iterdir()):
        raise DataFormatError(folder, None, "no cet_N.xml documents in this folder")

    kept, missing, dropped = {}, {}, {}
    for split, (first, last) in SPLITS.items():
        kept[split], missing[split] = [], []
        dropped[split] = {"no_words": 0, "no_polarity": 0}
        needs_polarity = require_polarity or split == "sentiment"
        for doc in range(first, last + 1):
            path = folder / f"cet_{doc}.xml"
            if not path.is_file():
                missing[split].append(doc)
                continue
            for sentence in read_document(path, include_title=include_titles, doc=doc):
                if not sentence.tokens:
                    dropped[split]["no_words"] += 1
                elif needs_polarity and sentence.polarity is None:
                    dropped[split]["no_polarity"] += 1
                else:
                    kept[split].append(sentence)

    return RenCorpus(
        train=emotion_examples(kept["train"], folder),
        dev=emotion_examples(kept["dev"], folder),
        test=emotion_examples(kept["test"], folder),
        sentiment=sentiment_examples(kept["sentiment"], folder),
        missing=missing,
        dropped=dropped,
        sentences=kept,
    )
