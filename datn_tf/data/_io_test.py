"""Every reader of an official format decodes its files through `_io.read_utf8`: a byte that is not
UTF-8 is named with its file and line, and an empty file as such. One test for the three readers
(each reader's own checks are in its test module)."""

import pytest

from datn_tf import testing
from datn_tf.data.ren_cecps import read_document
from datn_tf.data.semeval_4a import read_4a
from datn_tf.data.semeval_ec import EMOTIONS, read_ec

# reader: (its file's name, a writer of a well-formed file, a word on one of its lines)
READERS = {
    "semeval_4a": (read_4a, "s1.tsv", lambda path: testing.write_4a_file(
        path, [("1", "positive", "ok"), ("2", "neutral", "fine"), ("3", "negative", "naive")]), b"naive"),
    "semeval_ec": (read_ec, "e1.txt", lambda path: testing.write_ec_file(
        path, [("2017-En-1", "so happy", [0] * len(EMOTIONS)), ("2017-En-2", "so mad", [1] * len(EMOTIONS))]),
        b"so mad"),
    "ren_cecps": (read_document, "cet_5.xml", lambda path: testing.write_ren_document(
        path, [(["我", "今天", "很", "高兴", "。"], {"Joy": 0.8}, "积极")]), b"<S_Length>"),
}


@pytest.mark.parametrize("reader, name, write, word", READERS.values(), ids=READERS)
def test_a_latin1_byte_is_named_with_its_line(tmp_path, reader, name, write, word):
    path = write(tmp_path / name)
    data = path.read_bytes()
    line = data[: data.index(word)].count(b"\n") + 1
    assert line > 1
    path.write_bytes(data.replace(word, word + "é".encode("latin-1"), 1))
    with testing.expect_data_error(path, line, "0xe9", "UTF-8"):
        reader(path)


@pytest.mark.parametrize("reader, name, write, word", READERS.values(), ids=READERS)
@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_an_empty_file_is_named(tmp_path, reader, name, write, word, content):
    path = tmp_path / name
    path.write_bytes(content)
    with testing.expect_data_error(path, 1, "empty file"):
        reader(path)
