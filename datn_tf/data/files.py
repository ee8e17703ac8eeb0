"""Emotion data from a user's own CSV/TSV files, in the two common multi-label layouts.

    wide: a header row, a text column and one 0/1 column per emotion (the E-c files,
          GoEmotions' raw CSVs).
    list: a text column and a column of comma-separated labels, as names or as ids into a
          label-names file (GoEmotions' `text<TAB>label ids<TAB>id`).

Columns are named, or given as 0-based positions for a file without a header row. Every
malformed row is a `DataFormatError` naming the file and line. `write_emotion_table` writes
labels (a model's predictions) back in the layout a file was read in (`TableLayout`).
"""

import csv
import dataclasses
from pathlib import Path

import numpy as np

from datn_tf.data.examples import EmotionExamples
from datn_tf.errors import DataFormatError, UserError

LAYOUTS = ("auto", "wide", "list")
TEXT_COLUMNS = ("text", "tweet", "sentence", "comment_text")  # tried in order, case-insensitive
LABELS_COLUMNS = ("labels", "label", "emotions")
ID_COLUMNS = ("id",)
# --delimiter: a name per separator, since a tab is awkward to give on a command line.
DELIMITERS = {"auto": None, "comma": ",", "tab": "\t", "semicolon": ";"}


@dataclasses.dataclass(frozen=True)
class TableLayout:
    """How one file is laid out, resolved from its columns and the flags.

    Attributes:
        layout: wide or list.
        sep: the column separator.
        header: the file has a header row (else columns are positions).
        text_column, id_column, labels_column: the columns (names, or positions without a
            header); id_column None: ids are line numbers; labels_column only for list.
        label_ids: the list layout's cells hold 0-based ids into the label names.
    """

    layout: str
    sep: str
    header: bool
    text_column: object
    id_column: object = None
    labels_column: object = None
    label_ids: bool = False


def _position(column):
    """The 0-based position `column` gives, or None when it is a name."""
    if isinstance(column, int):
        return column
    return int(column) if isinstance(column, str) and column.isdigit() else None


def separator(path, delimiter=None):
    """The column separator of `path`: the one `delimiter` names (a `DELIMITERS` key), else
    from the file name (.csv: comma, anything else: tab)."""
    if delimiter not in (None, "auto"):
        if delimiter not in DELIMITERS:
            raise UserError(f"--delimiter must be one of {', '.join(DELIMITERS)}; got {delimiter!r}")
        return DELIMITERS[delimiter]
    return "," if Path(path).suffix.lower() == ".csv" else "\t"


def read_table(path, delimiter=None, header=True):
    """The file as a pandas DataFrame of strings (`separator` gives the delimiter)."""
    import pandas as pd  # slow to import: only for a command that reads a table

    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, None, "file not found")
    sep = separator(path, delimiter)
    kind = "TSV" if sep == "\t" else "CSV"
    try:
        _check_rows(path, sep, kind)
        frame = pd.read_csv(path, sep=sep, header=0 if header else None, dtype=str, keep_default_na=False,
                            quoting=3 if sep == "\t" else 0, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        problem = " ".join(str(e).split())
        raise DataFormatError(path, None, f"not a readable {kind} file ({problem}); --delimiter names the "
                              "separator") from None
    frame.attrs["sep"] = sep
    return frame


def _separator_hint(frame):
    """For a missing column: a file read as one column whose line 1 holds another separator (a
    semicolon-separated .csv) needs --delimiter, not a column flag."""
    if len(frame.columns) != 1:
        return ""
    first = str(frame.columns[0]) if isinstance(frame.columns[0], str) else (
        str(frame.iat[0, 0]) if len(frame) else "")
    sep = frame.attrs.get("sep")
    other = next((name for name, s in DELIMITERS.items() if s is not None and s != sep and s in first), None)
    if other is None:
        return ""
    return f"; the file reads as one column, and line 1 holds {other} separators: pass --delimiter={other}"


def _check_rows(path, sep, kind):
    """Every row has as many fields as the first, and no blank line comes before a row: pandas
    would fill a short row with empty cells and skip a blank line (shifting the line numbers
    the errors give)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=sep, quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL)
        width = blank = None
        start = 1  # the line the record being read starts on (a quoted field may span lines)
        try:
            for record in reader:
                if not record:
                    blank = blank or reader.line_num
                elif blank is not None:
                    raise DataFormatError(path, blank, "blank line inside the data")
                elif width is None:
                    width = len(record)
                elif len(record) != width:
                    raise DataFormatError(path, start, f"{len(record)} field(s) where the first row has {width}"
                                          + _open_quote(start, reader.line_num))
                start = reader.line_num + 1
        except csv.Error as e:
            raise DataFormatError(path, start, f"not a readable {kind} row ({e})"
                                  + _open_quote(start, reader.line_num)) from None


def _open_quote(start, end):
    """What a record read over several lines means: a quote opened on its first line and not closed."""
    if end <= start:
        return ""
    return f" (a quote opened on line {start} runs to line {end}: close it, or double a quote inside a text)"


def read_label_names(path):
    """One label name per line (blank lines ignored)."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, None, "file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataFormatError(path, None, f"not UTF-8 text (byte {e.start})") from None
    names = [line.strip() for line in text.split("\n") if line.strip()]
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
                raise DataFormatError(path, 1, f"no column {pos} for the {what} (the file has {len(columns)})"
                                      + _separator_hint(frame))
            return columns[pos]
        if given not in columns:
            raise DataFormatError(path, 1, f"no {what} column {given!r} (columns: {', '.join(map(str, columns))})"
                                  + _separator_hint(frame))
        return given
    lower = {str(c).lower(): c for c in columns}
    found = next((lower[c] for c in candidates if c in lower), None)
    if found is None and required:
        raise DataFormatError(path, 1, f"no {what} column (looked for {', '.join(candidates)}); name it with the flag"
                              + _separator_hint(frame))
    return found


def _columns(path, frame, layout, text_column, labels_column, id_column, header):
    """The `TableLayout` of `frame`; `layout` auto: list when a labels column is found, else wide."""
    if layout not in LAYOUTS:
        raise UserError(f"--layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    text_col = _find(frame, path, text_column, TEXT_COLUMNS, "text")
    id_col = _find(frame, path, id_column, ID_COLUMNS, "id", required=False)
    labels_col = _find(frame, path, labels_column, LABELS_COLUMNS, "labels", required=layout == "list")
    if layout == "auto":
        layout = "list" if labels_col is not None else "wide"
    return TableLayout(layout, "", header, text_col, id_col, labels_col if layout == "list" else None)


def _texts_and_ids(path, frame, columns, first_line):
    texts = list(frame[columns.text_column])
    for i, text in enumerate(texts):
        if not text.strip():
            raise DataFormatError(path, first_line + i, "row with no text")
    if columns.id_column is None:
        return texts, [str(first_line + i) for i in range(len(texts))]
    return texts, list(frame[columns.id_column])


def has_header(*columns):
    """A file read with these column flags has a header row: none is a 0-based position."""
    return all(_position(c) is None for c in columns)


def read_texts(path, layout="auto", delimiter=None, text_column=None, labels_column=None, id_column=None):
    """(ids, texts, `TableLayout`) of a file to predict: its label cells, if any, are not read.

    The layout says how predictions are written back (`write_emotion_table`); a list file
    without a labels column gets one after its last column.
    """
    path = Path(path)
    header = has_header(text_column, labels_column, id_column)
    frame = read_table(path, delimiter, header)
    columns = _columns(path, frame, "auto" if layout == "list" else layout, text_column, labels_column, id_column,
                       header)
    texts, ids = _texts_and_ids(path, frame, columns, 2 if header else 1)
    sep = separator(path, delimiter)
    if layout == "list" and columns.labels_column is None:
        columns = dataclasses.replace(columns, layout="list",
                                      labels_column=LABELS_COLUMNS[0] if header else len(frame.columns))
    label_ids = False
    if columns.layout == "list" and columns.labels_column in frame.columns:
        tokens = [t.strip() for cell in frame[columns.labels_column] for t in cell.split(",") if t.strip()]
        label_ids = bool(tokens) and all(t.isdigit() for t in tokens)  # GoEmotions' ids, not names
    return ids, texts, dataclasses.replace(columns, sep=sep, label_ids=label_ids)


def read_emotion_file(path, layout="auto", delimiter=None, text_column=None, labels_column=None, id_column=None,
                      label_names=None, labels_of=None):
    """`EmotionExamples` of one split.

    Args:
        layout: wide, list, or auto (list when a labels column is found, else wide).
        delimiter: a `DELIMITERS` name; auto (or None): from the file name.
        text_column, labels_column, id_column: names, or 0-based positions (the file then has
            no header row). Without an id column, ids are the 1-based line numbers.
        label_names: the label set: for list, the names (or the names its ids index); for wide,
            the label columns (default: every column but text and id). None for list: the
            sorted names found in the file.
        labels_of: the file `label_names` come from ("the training file"): then, in the wide
            layout, a column other than text, id and those names is an error, not left unread.
    """
    path = Path(path)
    header = has_header(text_column, labels_column, id_column)
    frame = read_table(path, delimiter, header)
    first_line = 2 if header else 1
    columns = _columns(path, frame, layout, text_column, labels_column, id_column, header)
    texts, ids = _texts_and_ids(path, frame, columns, first_line)
    if columns.layout == "wide":
        names = tuple(label_names) if label_names else tuple(
            str(c) for c in frame.columns if c not in (columns.text_column, columns.id_column))
        if not names:
            raise DataFormatError(path, 1, "no label columns (wide layout: one 0/1 column per emotion)")
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise DataFormatError(path, 1, f"missing label column(s) {', '.join(missing)}")
        extra = [str(c) for c in frame.columns if c not in (columns.text_column, columns.id_column, *names)]
        if labels_of and extra:
            raise DataFormatError(path, 1, f"label column(s) {', '.join(extra)} not in {labels_of}'s label set "
                                  f"({', '.join(names)}); give both the same label set")
        labels = np.zeros((len(texts), len(names)), dtype=np.int8)
        for k, name in enumerate(names):
            for i, value in enumerate(frame[name]):
                if value.strip() not in ("0", "1"):
                    raise DataFormatError(path, first_line + i, f"column {name!r} holds {value!r}, expected 0 or 1")
                labels[i, k] = value.strip() == "1"
        return EmotionExamples(ids=ids, texts=texts, labels=labels, label_names=names, source=str(path))
    cells = [[t.strip() for t in value.split(",") if t.strip()] for value in frame[columns.labels_column]]
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


def emotion_table_text(columns, ids, texts, labels, label_names):
    """The text of a file in `columns`' layout (`read_texts`) holding `labels` [N, K] 0/1:
    wide: [id,] text and one 0/1 column per name, with a header row; list: the input's
    columns, the labels cell holding names (or ids, as the input did), comma-separated."""
    import pandas as pd  # (see `read_table`)

    labels = np.asarray(labels).astype(bool)
    if columns.layout == "wide":
        id_name = columns.id_column if columns.header and columns.id_column is not None else "id"
        text_name = columns.text_column if columns.header else "text"
        data = {id_name: ids, text_name: texts}
        data.update({name: labels[:, k].astype(int) for k, name in enumerate(label_names)})
        frame, header = pd.DataFrame(data), True
    else:
        cells = [",".join(str(k) if columns.label_ids else label_names[k] for k in np.flatnonzero(row))
                 for row in labels]
        fields = [(columns.text_column, texts), (columns.labels_column, cells)]
        if columns.id_column is not None:
            fields.append((columns.id_column, ids))
        if columns.header:
            frame = pd.DataFrame(dict(fields))
        else:  # every column at its position; columns the input had and we do not write stay empty
            width = max(c for c, _ in fields) + 1
            frame = pd.DataFrame({k: [""] * len(texts) for k in range(width)})
            for position, values in fields:
                frame[position] = values
        header = columns.header
    # A tab file is written unquoted, as `read_table` reads it.
    quoting = csv.QUOTE_NONE if columns.sep == "\t" else csv.QUOTE_MINIMAL
    return frame.to_csv(sep=columns.sep, index=False, header=header, quoting=quoting, lineterminator="\n")


def check_same_labels(train, other):
    """A split whose label set differs from train's is an error naming its file."""
    if tuple(other.label_names) != tuple(train.label_names):
        raise DataFormatError(other.source, 1, f"labels {', '.join(other.label_names)} differ from the training "
                              f"file's ({', '.join(train.label_names)}); give both the same label set")
