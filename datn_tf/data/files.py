"""Emotion data from a user's own CSV/TSV files, in the two common multi-label layouts.

    wide: a header row, a text column and one 0/1 column per emotion (the E-c files,
          GoEmotions' raw CSVs).
    list: a text column and a column of comma-separated labels, as names or as ids into a
          label-names file (GoEmotions' `text<TAB>label ids<TAB>id`).

Columns are named, or given as 0-based positions for a file without a header row. Every
malformed row is a `DataFormatError` naming the file and line.
"""

from pathlib import Path

import numpy as np

from datn_tf.data.errors import DataFormatError
from datn_tf.data.examples import EmotionExamples

LAYOUTS = ("auto", "wide", "list")
TEXT_COLUMNS = ("text", "tweet", "sentence", "comment_text")  # tried in order, case-insensitive
LABELS_COLUMNS = ("labels", "label", "emotions")
ID_COLUMNS = ("id",)


def _position(column):
    """The 0-based position `column` gives, or None when it is a name."""
    if isinstance(column, int):
        return column
    return int(column) if isinstance(column, str) and column.isdigit() else None


def read_table(path, delimiter=None, header=True):
    """The file as a pandas DataFrame of strings; `delimiter` defaults from the name (.csv: comma,
    else tab)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, None, "file not found")
    sep = delimiter or ("," if path.suffix.lower() == ".csv" else "\t")
    try:
        return pd.read_csv(path, sep=sep, header=0 if header else None, dtype=str, keep_default_na=False,
                           quoting=3 if sep == "\t" else 0, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataFormatError(path, None, f"not a readable {'CSV' if sep == ',' else 'TSV'} file ({e})") from None


def read_label_names(path):
    """One label name per line (blank lines ignored)."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, None, "file not found")
    names = [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    if not names:
        raise DataFormatError(path, 1, "no label names")
    if len(set(names)) != len(names):
        raise DataFormatError(path, None, "a label name is listed twice")
    return tuple(names)


def _find(frame, path, given, candidates, what, required=True):
    """The column `given` names (or its position), else the first of `candidates` present."""
    columns = list(frame.columns)
    if given is not None:
        pos = _position(given)
        if pos is not None:
            if pos >= len(columns):
                raise DataFormatError(path, 1, f"no column {pos} for the {what} (the file has {len(columns)})")
            return columns[pos]
        if given not in columns:
            raise DataFormatError(path, 1, f"no {what} column {given!r} (columns: {', '.join(map(str, columns))})")
        return given
    lower = {str(c).lower(): c for c in columns}
    found = next((lower[c] for c in candidates if c in lower), None)
    if found is None and required:
        raise DataFormatError(path, 1, f"no {what} column (looked for {', '.join(candidates)}); name it with the flag")
    return found


def read_emotion_file(path, layout="auto", delimiter=None, text_column=None, labels_column=None, id_column=None,
                      label_names=None):
    """`EmotionExamples` of one split.

    Args:
        layout: wide, list, or auto (list when a labels column is found, else wide).
        text_column, labels_column, id_column: names, or 0-based positions (the file then has
            no header row). Without an id column, ids are the 1-based line numbers.
        label_names: the label set: for list, the names (or the names its ids index); for wide,
            the label columns (default: every column but text and id). None for list: the
            sorted names found in the file.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"--layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    path = Path(path)
    header = all(_position(c) is None for c in (text_column, labels_column, id_column))
    frame = read_table(path, delimiter, header)
    first_line = 2 if header else 1
    text_col = _find(frame, path, text_column, TEXT_COLUMNS, "text")
    id_col = _find(frame, path, id_column, ID_COLUMNS, "id", required=False)
    labels_col = _find(frame, path, labels_column, LABELS_COLUMNS, "labels", required=layout == "list")
    if layout == "auto":
        layout = "list" if labels_col is not None else "wide"
    texts = list(frame[text_col])
    for i, text in enumerate(texts):
        if not text.strip():
            raise DataFormatError(path, first_line + i, "row with no text")
    ids = list(frame[id_col]) if id_col is not None else [str(first_line + i) for i in range(len(texts))]
    if layout == "wide":
        names = tuple(label_names) if label_names else tuple(
            str(c) for c in frame.columns if c not in (text_col, id_col))
        if not names:
            raise DataFormatError(path, 1, "no label columns (wide layout: one 0/1 column per emotion)")
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise DataFormatError(path, 1, f"missing label column(s) {', '.join(missing)}")
        labels = np.zeros((len(texts), len(names)), dtype=np.int8)
        for k, name in enumerate(names):
            for i, value in enumerate(frame[name]):
                if value.strip() not in ("0", "1"):
                    raise DataFormatError(path, first_line + i, f"column {name!r} holds {value!r}, expected 0 or 1")
                labels[i, k] = value.strip() == "1"
        return EmotionExamples(ids=ids, texts=texts, labels=labels, label_names=names, source=str(path))
    cells = [[t.strip() for t in value.split(",") if t.strip()] for value in frame[labels_col]]
    if label_names is None:
        names = tuple(sorted({t for row in cells for t in row}))
    else:
        names = tuple(label_names)
    index = {n: k for k, n in enumerate(names)}
    labels = np.zeros((len(texts), len(names)), dtype=np.int8)
    for i, row in enumerate(cells):
        for token in row:
            k = index.get(token)
            if k is None and label_names is not None and token.isdigit() and int(token) < len(names):
                k = int(token)  # an id into the label-names file
            if k is None:
                raise DataFormatError(path, first_line + i, f"label {token!r} is not in the label set "
                                      f"({', '.join(names)})")
            labels[i, k] = 1
    return EmotionExamples(ids=ids, texts=texts, labels=labels, label_names=names, source=str(path))


def check_same_labels(train, other):
    """A split whose label set differs from train's is an error naming its file."""
    if tuple(other.label_names) != tuple(train.label_names):
        raise DataFormatError(other.source, 1, f"labels {', '.join(other.label_names)} differ from the training "
                              f"file's ({', '.join(train.label_names)}); give both the same label set")
