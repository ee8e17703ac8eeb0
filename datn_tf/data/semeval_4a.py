"""Reader for SemEval Task 4 subtask A (tweet sentiment), the paper's source set S1.

Rows are `id<TAB>label<TAB>text`, with an optional 4th column (mostly empty, a
date on a few rows of `twitter-2016test-A.tsv`). Quirks of the released files:

* some texts are CSV-quoted: `"..."` with `""` for a quote inside; others start
  or end with a quote that belongs to the tweet. A text is unquoted only when the
  whole field is one valid CSV-quoted value (every inner quote doubled);
* the 2013 and 2015 files hold literal `\\u002c` / `\\u2019` escapes: `\\uXXXX` is
  decoded (surrogate pairs joined), every other backslash is left alone;
* IDs repeat within and across files: duplicates are kept (the paper's 28,631
  rows count them) and counted, or dropped on request.
"""

import re
from pathlib import Path

import numpy as np

from datn_tf.data._io import read_utf8, split_lines
from datn_tf.data.examples import SENTIMENTS, SentimentExamples
from datn_tf.errors import DataFormatError

# The paper's S1: SemEval-2016 train + dev + test = 28,631 rows (duplicates kept).
S1_FILES = (
    "twitter-2016train-A.tsv",
    "twitter-2016dev-A.tsv",
    "twitter-2016test-A.tsv",
)

_LABEL_INDEX = {name: i for i, name in enumerate(SENTIMENTS)}
_CSV_QUOTED = re.compile(r'"((?:[^"]|"")*)"', re.DOTALL)
_UNICODE_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\u([0-9a-fA-F]{4})"
)


def unquote(text):
    """Undoes CSV quoting when the whole field is one quoted value, else returns it."""
    match = _CSV_QUOTED.fullmatch(text)
    return match.group(1).replace('""', '"') if match else text


def decode_unicode_escapes(text):
    """Decodes literal `\\uXXXX` escapes only (not `\\n`, `\\m/`, `\\'` ...)."""

    def replace(match):
        if match.group(1):
            high, low = int(match.group(1), 16), int(match.group(2), 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        code = int(match.group(3), 16)
        # A lone surrogate is no character: keep the escape rather than produce
        # a string that cannot be encoded.
        return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)

    return _UNICODE_ESCAPE.sub(replace, text)


def _read_rows(path):
    """Yields `(lineno, id, label_index, text)` for each row of one file."""
    lines = split_lines(read_utf8(path))
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataFormatError(path, lineno, "blank line inside the data")
        fields = line.split("\t")
        if len(fields) not in (3, 4):
            raise DataFormatError(
                path,
                lineno,
                "expected 3 or 4 tab-separated fields (id, label, text and an "
                f"optional extra column), found {len(fields)}",
            )
        tweet_id, label, text = fields[0].strip(), fields[1].strip(), fields[2]
        if not tweet_id:
            raise DataFormatError(path, lineno, "empty id")
        if label.lower() not in _LABEL_INDEX:
            raise DataFormatError(
                path,
                lineno,
                f"unknown sentiment label {label!r}; expected one of "
                f"{', '.join(SENTIMENTS)}",
            )
        text = decode_unicode_escapes(unquote(text))
        if not text.strip():
            raise DataFormatError(path, lineno, "empty text")
        yield lineno, tweet_id, _LABEL_INDEX[label.lower()], text


def read_4a_files(paths, *, dedupe=False):
    """Reads and concatenates several 4A files, in the given order.

    Args:
        paths: the `.tsv`/`.txt` files (e.g. `[folder / f for f in S1_FILES]`).
        dedupe: drop every row whose id already appeared (the first is kept).

    Returns:
        `SentimentExamples`; `duplicates` counts the rows repeating an earlier
        id (within or across files) whether or not they were dropped.

    Raises:
        DataFormatError: wrong field count, unknown label, empty id or text, a
            blank line inside the data, undecodable bytes or an empty file.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("read_4a_files needs at least one file")
    ids, texts, labels = [], [], []
    seen = set()
    duplicates = 0
    for path in paths:
        for _, tweet_id, label, text in _read_rows(path):
            if tweet_id in seen:
                duplicates += 1
                if dedupe:
                    continue
            seen.add(tweet_id)
            ids.append(tweet_id)
            texts.append(text)
            labels.append(label)
    return SentimentExamples(
        ids=ids,
        texts=texts,
        labels=np.asarray(labels, dtype=np.int32),
        label_names=SENTIMENTS,
        source=", ".join(str(p) for p in paths),
        duplicates=duplicates,
    )


def read_4a(path):
    """Reads one 4A file, keeping duplicate ids (counted in `duplicates`)."""
    return read_4a_files([path])
