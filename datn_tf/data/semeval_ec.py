"""Reader for SemEval-2018 Task 1 subtask E-c (English multi-label emotion tweets).

The official files (`2018-E-c-En-{train,dev,test-gold}.txt`) are tab-separated:

    ID<TAB>Tweet<TAB>anger<TAB>anticipation<TAB>...<TAB>trust
    2017-En-21441<TAB>“Worry is a down payment ...<TAB>0<TAB>1<TAB>...<TAB>1

Tweets hold quotes and literal two-character `\\n` sequences, so rows are split
on tabs (no CSV quoting) and the tweet text is returned exactly as released; the
unlabelled test input has `NONE` in every label column.
"""

from pathlib import Path

import numpy as np

from datn_tf import io_utils
from datn_tf.data._io import read_utf8, split_lines
from datn_tf.data.examples import EmotionExamples
from datn_tf.errors import DataFormatError

# Official column order of the label columns (and of every E1 label array).
EMOTIONS = (
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "love",
    "optimism",
    "pessimism",
    "sadness",
    "surprise",
    "trust",
)
HEADER = ("ID", "Tweet") + EMOTIONS
# How every official E-c file starts (what tells one from a file of your own data).
HEADER_START = "\t".join(HEADER[:2]) + "\t"
NONE_LABEL = "NONE"


def read_ec(path, *, prediction=False):
    """Reads an official E-c file.

    Args:
        path: the `.txt` file.
        prediction: accept the unlabelled official input, whose label columns are
            all `NONE`; such a file gives `labels=None`. A gold file still gives
            its labels. Without it, `NONE` is a format error.

    Returns:
        `EmotionExamples` with int8 `[N, 11]` labels in `EMOTIONS` order.

    Raises:
        DataFormatError: wrong header, wrong number of fields, a label that is not
            0/1 (or NONE in prediction mode), a row mixing NONE and 0/1, an empty
            or duplicate ID, a blank line inside the data, undecodable bytes, an
            empty file or a file with no rows.
    """
    path = Path(path)
    lines = split_lines(read_utf8(path))
    header = tuple(field.strip() for field in lines[0].split("\t"))
    if header != HEADER:
        raise DataFormatError(
            path,
            1,
            f"wrong header: expected {'<TAB>'.join(HEADER)!r}, "
            f"found {lines[0][:120]!r}",
        )
    if len(lines) == 1:
        raise DataFormatError(path, 2, "no tweets after the header")

    ids, texts, rows = [], [], []
    first_seen = {}
    unlabelled = None  # Decided by the first row: a file is all NONE or all 0/1.
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            raise DataFormatError(path, lineno, "blank line inside the data")
        fields = line.split("\t")
        if len(fields) != len(HEADER):
            raise DataFormatError(
                path,
                lineno,
                f"expected {len(HEADER)} tab-separated fields (ID, Tweet and "
                f"{len(EMOTIONS)} labels), found {len(fields)}",
            )
        tweet_id, tweet, *values = fields
        tweet_id = tweet_id.strip()
        if not tweet_id:
            raise DataFormatError(path, lineno, "empty ID")
        if tweet_id in first_seen:
            raise DataFormatError(
                path,
                lineno,
                f"duplicate ID {tweet_id!r} (first on line {first_seen[tweet_id]})",
            )
        first_seen[tweet_id] = lineno
        values = [value.strip() for value in values]

        row_unlabelled = prediction and all(v == NONE_LABEL for v in values)
        if not row_unlabelled:
            for name, value in zip(EMOTIONS, values):
                if value not in ("0", "1"):
                    if prediction:
                        hint = " (or NONE in all 11 columns)"
                    elif value == NONE_LABEL:
                        hint = " (NONE is accepted only with prediction=True)"
                    else:
                        hint = ""
                    raise DataFormatError(
                        path,
                        lineno,
                        f"label {name!r} must be 0 or 1{hint}, found {value!r}",
                    )
            rows.append([int(v) for v in values])
        if unlabelled is None:
            unlabelled = row_unlabelled
        elif unlabelled != row_unlabelled:
            raise DataFormatError(
                path,
                lineno,
                "file mixes unlabelled (NONE) rows with labelled (0/1) rows",
            )
        ids.append(tweet_id)
        texts.append(tweet)  # Untouched: literal "\n", quotes and spaces stay.

    labels = None if unlabelled else np.asarray(rows, dtype=np.int8)
    return EmotionExamples(
        ids=ids, texts=texts, labels=labels, label_names=EMOTIONS, source=str(path)
    )


def ec_file_text(examples, predicted):
    """An official E-c file's text: the header, then `ID<TAB>Tweet<TAB>labels` per row."""
    lines = ["\t".join(["ID", "Tweet", *examples.label_names])]
    for i, (id_, text) in enumerate(zip(examples.ids, examples.texts)):
        lines.append("\t".join([id_, text, *(str(int(x)) for x in predicted[i])]))
    return "\n".join(lines) + "\n"


def write_ec_file(path, examples, predicted):
    """Predictions in the official E-c submission format (same header and IDs as the gold file), atomically."""
    io_utils.write_text(path, ec_file_text(examples, predicted))
