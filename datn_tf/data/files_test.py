"""Tests of the wide and list readers of a user's own emotion files."""

import numpy as np
import pytest

from datn_tf import testing
from datn_tf.data import files
from datn_tf.errors import DataFormatError

NAMES = ("calm", "eager", "bored", "proud", "tense")


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_wide_csv_and_list_tsv_read_the_same_labels(tmp_path):
    wide = _write(tmp_path / "w.csv", "id,text," + ",".join(NAMES) + "\n"
                  "a,so calm today,1,0,0,0,0\nb,\"eager, and proud\",0,1,0,1,0\nc,nothing,0,0,0,0,0\n")
    listed = _write(tmp_path / "l.tsv", "text\tlabels\tid\nso calm today\tcalm\ta\n"
                    "eager, and proud\teager,proud\tb\nnothing\t\tc\n")
    w = files.read_emotion_file(wide)
    ll = files.read_emotion_file(listed, label_names=NAMES)
    assert w.label_names == NAMES and ll.label_names == NAMES and w.ids == ll.ids == ["a", "b", "c"]
    assert w.texts == ll.texts
    np.testing.assert_array_equal(w.labels, [[1, 0, 0, 0, 0], [0, 1, 0, 1, 0], [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(ll.labels, w.labels)
    # Without a label set, the list layout's is the sorted names it finds.
    assert files.read_emotion_file(listed).label_names == ("calm", "eager", "proud")


def test_headerless_positions_and_label_ids(tmp_path):
    path = _write(tmp_path / "train.tsv", "so calm\t0\tx1\neager and proud\t1,3\tx2\n")
    ex = files.read_emotion_file(path, text_column="0", labels_column="1", id_column="2", label_names=NAMES)
    assert ex.ids == ["x1", "x2"] and ex.texts[0] == "so calm"
    np.testing.assert_array_equal(ex.labels, [[1, 0, 0, 0, 0], [0, 1, 0, 1, 0]])
    # A row without its id field (GoEmotions has three per row), and blank lines at the end.
    _write(path, "so calm\t0\tx1\neager and proud\t1,3\n\n")
    with pytest.raises(DataFormatError, match=r"train.tsv:2: 2 field\(s\) where the first row has 3$"):
        files.read_emotion_file(path, text_column="0", labels_column="1", id_column="2", label_names=NAMES)
    _write(path, "so calm\t0\tx1\n\n\n")
    assert files.read_emotion_file(path, text_column="0", labels_column="1", id_column="2", label_names=NAMES).ids == [
        "x1"]


@pytest.mark.parametrize("text, kwargs, where", [
    ("text,calm\nhi,2\n", {}, r"w.csv:2: column 'calm' holds '2'"),
    ("text,calm\n ,1\n", {}, r"w.csv:2: row with no text"),
    ("body,calm\nhi,1\n", {}, r"w.csv:1: no text column"),
    ("text,labels\nhi,calm\nho,angry\n", {"label_names": ("calm",)}, r"w.csv:3: label 'angry' is not in"),
    ("text,labels\nhi,calm\n", {"layout": "wide", "label_names": ("calm", "eager")}, r"w.csv:1: missing label"),
    # pandas would fill a short row with empty cells and skip a blank line (shifting the lines after it)
    ("text,calm\nhi,1\nho\n", {}, r"w.csv:3: 1 field\(s\) where the first row has 2$"),
    ("text,calm\nhi,1\nho,1,0\n", {}, r"w.csv:3: 3 field\(s\) where the first row has 2$"),
    ("text,calm\nhi,1\n\nho,1\n", {}, r"w.csv:3: blank line inside the data"),
])
def test_malformed_rows_name_the_file_and_line(tmp_path, text, kwargs, where):
    with pytest.raises(DataFormatError, match=where):
        files.read_emotion_file(_write(tmp_path / "w.csv", text), **kwargs)


def test_a_label_set_that_differs_from_train_is_an_error(tmp_path):
    train = files.read_emotion_file(_write(tmp_path / "t.csv", "text,calm,eager\nhi,1,0\n"))
    dev = files.read_emotion_file(_write(tmp_path / "d.csv", "text,calm\nho,1\n"))
    with pytest.raises(DataFormatError, match="d.csv:1: labels calm differ from the training file's"):
        files.check_same_labels(train, dev)
    assert files.read_label_names(_write(tmp_path / "n.txt", "calm\n\neager\n")) == ("calm", "eager")


def test_delimiter_flag_overrides_the_file_name(tmp_path):
    path = _write(tmp_path / "w.txt", "id;text;calm;eager\na;so, calm;1;0\nb;eager;0;1\n")
    ex = files.read_emotion_file(path, delimiter="semicolon")
    assert ex.texts == ["so, calm", "eager"] and ex.label_names == ("calm", "eager")
    np.testing.assert_array_equal(ex.labels, [[1, 0], [0, 1]])
    # By its name a .txt file is tab-separated: one column, so no label columns.
    with pytest.raises(DataFormatError, match="w.txt:1: no text column"):
        files.read_emotion_file(path)
    with pytest.raises(ValueError, match="--delimiter must be one of auto, comma, tab, semicolon"):
        files.read_emotion_file(path, delimiter=";")


def test_a_semicolon_separated_csv_is_told_to_pass_the_delimiter(tmp_path):
    # It got "no text column ...; name it with the flag", which no column flag fixes.
    hint = "; the file reads as one column, and line 1 holds semicolon separators: pass --delimiter=semicolon"
    path = _write(tmp_path / "mine.csv", "text;calm;eager\nso quiet;1;0\nso eager;0;1\n")
    with testing.expect_data_error(path, 1, "no text column (looked for text, tweet, sentence, comment_text); name "
                                   "it with the flag" + hint):
        files.read_emotion_file(path)
    headerless = _write(tmp_path / "bare.csv", "so quiet;1;0\nso eager;0;1\n")
    with testing.expect_data_error(headerless, 1, "no column 1 for the labels (the file has 1)" + hint):
        files.read_emotion_file(headerless, text_column="0", labels_column="1")
    assert files.read_emotion_file(path, delimiter="semicolon").texts == ["so quiet", "so eager"]
    one_column = _write(tmp_path / "texts.csv", "sentence\nso quiet\n")  # no other separator: no hint
    with pytest.raises(DataFormatError) as err:
        files.read_emotion_file(one_column, text_column="text")
    assert "--delimiter" not in str(err.value)


def test_an_unclosed_quote_is_named_on_its_own_line(tmp_path):
    # The reader took every later line into the quoted text and named the last one, ten lines late.
    rows = [f"row {i},1,0" for i in range(1, 14)]
    rows[2] = '"row 3 with an open quote,0,1'
    path = _write(tmp_path / "q.csv", "text,calm,eager\n" + "\n".join(rows) + "\n")
    with testing.expect_data_error(path, 4, "1 field(s) where the first row has 3 (a quote opened on line 4 runs to "
                                   "line 14: close it, or double a quote inside a text)"):
        files.read_emotion_file(path)
    # A quoted text over two lines is a text, and a later short row is named on its line.
    path = _write(tmp_path / "two.csv", 'text,calm,eager\n"two\nlines",1,0\nshort,1\n')
    with pytest.raises(DataFormatError) as err:
        files.read_emotion_file(path)
    assert str(err.value) == f"{path}:4: 2 field(s) where the first row has 3"


@pytest.mark.parametrize("name, text, kwargs, written", [
    # wide, CSV with a header: the input's id and text columns, one 0/1 column per label
    ("w.csv", "ID,Text,calm,eager\na,\"so, calm\",0,0\nb,eager,0,0\n", {},
     "ID,Text,calm,eager\na,\"so, calm\",1,1\nb,eager,0,0\n"),
    # list, headerless, label ids (GoEmotions): the same positions, ids in the labels cell
    ("l.tsv", "so calm\t0\tx1\neager\t1,0\tx2\n", dict(text_column="0", labels_column="1", id_column="2"),
     "so calm\t0,1\tx1\neager\t\tx2\n"),
    # list with a header and names; an unlabelled file gets a labels column
    ("n.tsv", "id\ttext\na\tso calm\nb\teager\n", dict(layout="list"), "text\tlabels\tid\nso calm\tcalm,eager\ta\n"
     "eager\t\tb\n"),
])
def test_predictions_are_written_in_the_layout_they_were_read_in(tmp_path, name, text, kwargs, written):
    path = _write(tmp_path / name, text)
    ids, texts, layout = files.read_texts(path, **kwargs)
    labels = np.array([[1, 1], [0, 0]])
    out = files.emotion_table_text(layout, ids, texts, labels, ("calm", "eager"))
    assert out == written
    # Read back with the same flags, the table holds the labels written.
    back = files.read_emotion_file(_write(tmp_path / f"back-{name}", out), label_names=("calm", "eager"),
                                   **kwargs)
    assert back.ids == ids and back.texts == texts
    np.testing.assert_array_equal(back.labels, labels)


def test_a_wide_file_read_with_train_labels_may_carry_no_label_of_its_own(tmp_path):
    path = _write(tmp_path / "dev.csv", "id,text,eager,calm,bored\na,hi,1,0,0\n")
    with pytest.raises(DataFormatError, match=r"dev.csv:1: label column\(s\) bored not in the training file's"):
        files.read_emotion_file(path, label_names=("calm", "eager"), labels_of="the training file")
    # Without the check (a names file picks the label columns), the others are not read;
    # either way the columns come in the order of the names.
    ex = files.read_emotion_file(path, label_names=("calm", "eager"))
    np.testing.assert_array_equal(ex.labels, [[0, 1]])
