"""Shared text-file helpers for the readers: strict UTF-8 decoding and line splitting."""

from pathlib import Path

from datn_tf.errors import DataFormatError


def read_utf8(path):
    """Returns the file's text, decoded as UTF-8 (a leading BOM is dropped).

    Raises `DataFormatError` for an empty (or whitespace-only) file and for bytes
    that are not UTF-8 (e.g. a file re-saved as latin-1), naming the line and
    column of the first bad byte instead of letting a `UnicodeDecodeError` out.
    A missing file is not a format problem: `FileNotFoundError` passes through.
    """
    data = Path(path).read_bytes()
    if not data.strip():
        raise DataFormatError(path, 1, "empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataFormatError(
            path,
            line,
            f"byte 0x{data[err.start]:02x} at column {column} is not valid UTF-8 "
            "(is the file latin-1 or cp1252? re-save it as UTF-8)",
        ) from None
    return text.removeprefix("\ufeff")


def split_text_lines(text):
    """One entry per line: splits on '\\n' only and drops a '\\r' before it; a final line
    end does not start another line (blank lines inside are kept).

    `str.splitlines()` is not used on purpose: tweets hold characters such as
    U+2028 or U+0085 that it treats as line breaks, which would cut a row in two.
    Line i of the result is line i + 1 of the file.
    """
    if not text:
        return []
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    return lines


def split_lines(text):
    """`split_text_lines` without trailing blank lines (data files' rows)."""
    lines = split_text_lines(text)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines
