import json

import numpy as np
import pytest

from datn_tf import encoders, io_utils
from datn_tf.testing import tiny_bert

pytest.importorskip("keras_hub")


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")
    tiny_bert.write_tiny_bert(folder)
    return folder


def test_the_loader_reads_back_exactly_the_weights_written_in_the_hugging_face_layout(tmp_path):
    written = tiny_bert.write_tiny_bert(tmp_path)
    loaded = encoders.load_backbone(tmp_path)
    ids = np.array([[2, 40, 41, 42, 3, 0], [2, 50, 3, 0, 0, 0]], np.int32)
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    np.testing.assert_array_equal(written(inputs)["sequence_output"], loaded(inputs)["sequence_output"])
    assert loaded.count_params() < 5000  # a tiny BERT, never the 90 MB weights


def test_backbone_config_maps_the_hugging_face_names(bert_dir):
    assert encoders.backbone_config(bert_dir) == {
        "vocabulary_size": len(tiny_bert.fixture_wordpieces()), "num_layers": 2, "num_heads": 2, "hidden_dim": 8,
        "intermediate_dim": 16, "max_sequence_length": 40}


def test_a_config_of_another_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(encoders.EncoderError, match="model_type 'gpt2'"):
        encoders.backbone_config(tmp_path)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "vocab.txt"])
def test_a_missing_file_names_itself_and_how_to_get_it(bert_dir, tmp_path, name):
    for f in ("config.json", "model.safetensors", "vocab.txt"):
        if f != name:
            (tmp_path / f).write_bytes((bert_dir / f).read_bytes())
    with pytest.raises(encoders.EncoderError) as e:
        encoders.check_files(encoders.MINILM, tmp_path)
    assert str(tmp_path / name) in str(e.value) and "make minilm" in str(e.value)


def test_known_files_are_checked_by_size_then_sha256(bert_dir):
    weights = bert_dir / encoders.WEIGHTS_FILE
    size = weights.stat().st_size
    right = encoders.KnownFile(size, io_utils.sha256_of(weights))
    vocab = bert_dir / encoders.VOCAB_FILE
    vocab_known = encoders.KnownFile(vocab.stat().st_size, io_utils.sha256_of(vocab))
    digests = encoders.check_files(encoders.MINILM, bert_dir, known={encoders.WEIGHTS_FILE: right,
                                                                    encoders.VOCAB_FILE: vocab_known})
    assert digests[encoders.WEIGHTS_FILE] == right.sha256
    with pytest.raises(encoders.EncoderError, match=f"has {size} bytes, not {size + 1}: damaged or incomplete"):
        encoders.check_files(encoders.MINILM, bert_dir,
                             known={encoders.WEIGHTS_FILE: encoders.KnownFile(size + 1, "")})
    with pytest.raises(encoders.EncoderError, match="has SHA-256 .*damaged; delete .*make minilm"):
        encoders.check_files(encoders.MINILM, bert_dir,
                             known={encoders.WEIGHTS_FILE: encoders.KnownFile(size, "0" * 64)})


def test_minilm_files_are_checked_against_the_packaged_ones(bert_dir):
    # The tiny BERT is not MiniLM: its weights fail the size check before anything reads them.
    with pytest.raises(encoders.EncoderError, match=f"not {encoders.MINILM_FILES['model.safetensors'].size}"):
        encoders.check_files(encoders.MINILM, bert_dir)


def test_a_damaged_weights_file_is_one_line_naming_it(bert_dir, tmp_path):
    for f in ("config.json", "vocab.txt"):
        (tmp_path / f).write_bytes((bert_dir / f).read_bytes())
    (tmp_path / "model.safetensors").write_bytes((bert_dir / "model.safetensors").read_bytes()[:300])
    with pytest.raises(encoders.EncoderError, match="model.safetensors cannot be loaded as a BERT"):
        encoders.load_backbone(tmp_path)


def test_encode_texts_wraps_wordpieces_in_cls_and_sep_and_truncates(bert_dir):
    vocab = encoders.WordPieceVocab.load(bert_dir / "vocab.txt")
    index = {t: i for i, t in enumerate(vocab.tokens)}
    got = encoders.encode_texts(["So HAPPY about the exam!!", "", "zzz"], vocab, max_length=4)
    assert got[0].tolist() == [index["[CLS]"], index["so"], index["happy"], index["about"], index["the"],
                               index["[SEP]"]]
    assert got[1].tolist() == [index["[CLS]"], index["[SEP]"]]  # an empty text: nothing between
    assert got[2].tolist() == [index["[CLS]"], index["[UNK]"], index["[SEP]"]]
    assert all(ids.dtype == np.int32 for ids in got)


def test_a_word_outside_the_vocabulary_splits_into_wordpieces(bert_dir):
    vocab = encoders.WordPieceVocab.load(bert_dir / "vocab.txt")
    (ids,) = encoders.encode_texts(["trusting"], vocab)
    assert [vocab.tokens[i] for i in ids] == ["[CLS]", "trust", "##ing", "[SEP]"]


def test_a_vocabulary_without_pad_first_is_refused():
    with pytest.raises(encoders.EncoderError, match=r"\[PAD\] at id 0"):
        encoders.WordPieceVocab(["[CLS]", "[PAD]", "[SEP]"])
