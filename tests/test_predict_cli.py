"""`python -m datn_tf.predict` refuses an official E-c file in jsonl mode (the default).

The check runs before the model is loaded, so no exported model is needed here;
`datn_tf/export_test.py` tests predictions with real exports.
"""

import io
import os
import subprocess
import sys

import pytest

from datn_tf import predict, testing

NONE_ROW = ["NONE"] * 11


def _ec_file(path, crlf_bom=False):
    testing.write_ec_file(path, [("2018-En-01", "so happy today", NONE_ROW), ("2018-En-02", "what a mess", NONE_ROW)])
    if crlf_bom:  # as re-saved by a Windows editor
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    return path


@pytest.mark.parametrize(
    "texts, refused",
    [
        (["ID\tTweet\tanger\tanticipation", "2018-En-01\thi\t0\t1"], True),
        (["ID\tTweet\t"], True),
        (["ID Tweet anger", "hello"], False),  # spaces, not tabs: a text like any other
        (["ID\tTweet"], False),
        (["hello", "ID\tTweet\tanger"], False),  # only the first line is a header
        (["id\ttweet\tanger"], False),
        ([], False),
    ],
)
def test_check_not_ec_file(texts, refused):
    if refused:
        with pytest.raises(predict.PredictError, match=r"^in\.txt: line 1 .*E-c file.*pass --format semeval "):
            predict.check_not_ec_file(texts, "in.txt")
    else:
        predict.check_not_ec_file(texts, "in.txt")


@pytest.mark.parametrize("crlf_bom", [False, True])
def test_run_refuses_an_ec_input_file(tmp_path, crlf_bom):
    path = _ec_file(tmp_path / "2018-E-c-En-dev.txt", crlf_bom)
    output = tmp_path / "out.jsonl"
    # The model is never loaded: the input is checked first.
    with pytest.raises(predict.PredictError, match="official SemEval-2018 E-c file.*--format semeval") as err:
        predict.run(tmp_path / "no-model", input_path=path, output=output)
    assert str(err.value).startswith(f"{path}: line 1 ")
    assert not output.exists()


def test_run_refuses_an_ec_file_on_stdin(tmp_path):
    data = _ec_file(tmp_path / "ec.txt").read_bytes()
    with pytest.raises(predict.PredictError, match=r"^standard input: .*--format semeval --input FILE"):
        predict.run(tmp_path / "no-model", stdin=io.BytesIO(data))


def test_cli_refuses_an_ec_file_without_format_semeval(tmp_path):
    path = _ec_file(tmp_path / "2018-E-c-En-dev.txt")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-m", "datn_tf.predict", "--model", str(tmp_path / "no-model"), "--input", str(path)],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout == ""
    assert f"error: {path}: line 1 is the header of an official SemEval-2018 E-c file" in result.stderr
    assert "pass --format semeval" in result.stderr
    assert "Traceback" not in result.stderr
