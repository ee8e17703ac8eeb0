"""Tests for `datn_tf.data.stats` (Table 2 statistics) on the fixture data folder.

Expected counts come from `datn_tf.testing.FIXTURE_COUNTS` and from reading the
fixture files with plain string splitting, not from the readers under test.
"""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from datn_tf import testing
from datn_tf.data import datasets, ren_cecps, stats
from datn_tf.input_pipeline import tokenize_corpus


def _paper_counts(monkeypatch, dataset, counts):
    """The registry entry of `dataset` with other Table 2 counts, for this test."""
    monkeypatch.setitem(datasets.REGISTRY, dataset, dataclasses.replace(datasets.get(dataset), table2=counts))

C = testing.FIXTURE_COUNTS
EC_BAD_LINE = 4  # Header, two good rows, then the bad one.


@pytest.fixture(scope="module")
def semeval(data_dir):
    """Statistics with the packaged default glove.6B 50-d vectors."""
    return stats.describe("semeval", data_dir)


@pytest.fixture(scope="module")
def ren(data_dir):
    return stats.describe("ren_cecps", data_dir)


def _ec_label_counts(path):
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    names = lines[0].split("\t")[2:]
    rows = np.array([[int(v) for v in line.split("\t")[2:]] for line in lines[1:]])
    counts = dict(zip(names, rows.sum(0).tolist()))
    return len(rows), counts, int((rows.sum(1) == 0).sum())


def _4a_label_counts(folder):
    counts = {"negative": 0, "neutral": 0, "positive": 0}
    for name in ("twitter-2016train-A.tsv", "twitter-2016dev-A.tsv", "twitter-2016test-A.tsv"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            counts[line.split("\t")[1]] += 1
    return counts


def _vectors_file(path, words):
    path.write_text("".join(f"{w} 0.1 0.2 0.3\n" for w in words), encoding="utf-8")
    return path


def _write_bad_ec(data_dir):
    """Replaces the E-c train file: line 4 has a label that is not 0/1."""
    good = [(f"id-{i}", "so happy #happy", [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]) for i in (1, 2)]
    bad = "id-3\tso angry\t1\t0\t0\t0\t0\t2\t0\t0\t0\t0\t0"
    return testing.write_ec_file(data_dir / datasets.EC_DIR / datasets.EC_FILES["train"], good + [bad])


# ------------------------------------------------------------------------------------
# describe()


def test_semeval_sentence_counts(semeval):
    splits = semeval["splits"]
    assert semeval["dataset"] == "semeval"
    assert list(splits) == ["train", "dev", "test", "sentiment"]
    assert splits["train"]["sentences"] == C["ec_train"]
    assert splits["dev"]["sentences"] == C["ec_dev"]
    assert splits["sentiment"]["sentences"] == C["4a_train"] + C["4a_dev"] + C["4a_test"]
    assert splits["sentiment"]["duplicates"] == C["4a_duplicates"]


def test_semeval_test_split_is_held_out(semeval):
    assert semeval["splits"]["test"] == {"sentences": 0, "held_out": True}
    assert any("held out" in note and "test-gold" in note for note in semeval["notes"])


def test_semeval_label_counts_match_the_files(semeval, data_dir):
    ec = data_dir / datasets.EC_DIR
    for split in ("train", "dev"):
        n, counts, none = _ec_label_counts(ec / datasets.EC_FILES[split])
        row = semeval["splits"][split]
        assert row["sentences"] == n
        assert row["label_counts"] == counts
        assert list(row["label_counts"]) == list(testing.EC_EMOTIONS)
        assert row["no_emotion"] == none >= 1  # Row 0 of every fixture file.
    sentiment = semeval["splits"]["sentiment"]
    assert sentiment["label_counts"] == _4a_label_counts(data_dir / datasets.S4A_DIR)
    assert list(sentiment["label_counts"]) == ["negative", "neutral", "positive"]
    assert "no_emotion" not in sentiment


def test_semeval_vocabulary_and_coverage(semeval):
    splits = semeval["splits"]
    # The vocabulary is built from train + sentiment: those splits have no OOV.
    assert splits["train"]["oov_rate"] == 0.0 and splits["sentiment"]["oov_rate"] == 0.0
    assert 0.0 < splits["dev"]["oov_rate"] < 1.0
    assert splits["train"]["oov_with_vector_rate"] == 0.0
    for name in ("train", "dev", "sentiment"):
        assert 0 < splits[name]["words"] <= splits[name]["tokens"]
    assert semeval["vocabulary"] >= splits["train"]["words"] + 2
    coverage = semeval["coverage"]
    assert semeval["embeddings"] == "glove.6B.50d"
    assert coverage["types"] == semeval["vocabulary"] - 2
    assert coverage["tokens"] == splits["train"]["tokens"] + splits["sentiment"]["tokens"]
    # Ordinary English: glove.6B covers most of it (not all: URLs, @user_N).
    assert 0.5 < coverage["type_coverage"] < 1.0
    assert coverage["type_coverage"] < coverage["token_coverage"] <= 1.0
    assert semeval["paper"] == datasets.get("semeval").table2


def test_oov_with_a_vector_by_hand(semeval, data_dir):
    from datn_tf.embeddings import load_vectors

    task = datasets.load_task("semeval", data_dir)
    training = {t for s in tokenize_corpus(list(task.train.texts) + list(task.sentiment.texts), "en") for t in s}
    dev = [t for s in tokenize_corpus(list(task.dev.texts), "en") for t in s]
    vectors, _ = load_vectors(None, words=set(dev))
    unseen_known = sum(t not in training and t in vectors for t in dev)
    assert unseen_known > 0  # the fixture's dev tweets hold words the training splits lack
    assert semeval["splits"]["dev"]["oov_with_vector_rate"] == round(unseen_known / len(dev), 4)


def test_coverage_with_an_embeddings_file(data_dir, tmp_path):
    path = _vectors_file(tmp_path / "v.txt", ["happy", "the", "not-in-the-data"])
    got = stats.describe("semeval", data_dir, embeddings=str(path))
    assert got["embeddings"] == str(path)
    # Coverage counts training tokens: E-c train + all of S1 (texts as the readers give them).
    task = datasets.load_task("semeval", data_dir)
    tokens = [t for sent in tokenize_corpus(task.train.texts + task.sentiment.texts, "en") for t in sent]
    assert tokens.count("happy") > 0 and tokens.count("the") > 0
    assert got["coverage"]["covered_types"] == 2
    assert got["coverage"]["covered_tokens"] == tokens.count("happy") + tokens.count("the")
    assert got["coverage"]["tokens"] == len(tokens)


def test_ren_cecps(ren, data_dir):
    splits = ren["splits"]
    assert splits["train"]["sentences"] == C["ren_train"]
    assert splits["dev"]["sentences"] == C["ren_dev"]
    assert splits["sentiment"]["sentences"] == C["ren_sentiment"]
    assert splits["test"] == {"sentences": 0, "held_out": True}
    assert any("held out" in note for note in ren["notes"])
    # Chinese: no pretrained file, no coverage.
    assert ren["coverage"] is None and ren["embeddings"].startswith("no pretrained file")
    corpus = ren_cecps.read_ren_cecps(data_dir / datasets.REN_DIR)
    for name in ("train", "dev"):
        labels = getattr(corpus, name).labels
        assert splits[name]["label_counts"] == dict(zip(testing.REN_EMOTIONS, labels.sum(0).tolist()))
        assert splits[name]["no_emotion"] == int((labels.sum(1) == 0).sum())
    polarity = np.bincount(corpus.sentiment.labels, minlength=3).tolist()
    assert list(splits["sentiment"]["label_counts"].values()) == polarity
    assert sum(polarity) == C["ren_sentiment"]


def test_present_test_split_is_described(data_dir_with_test):
    got = stats.describe("ren_cecps", data_dir_with_test)
    assert got["splits"]["test"]["sentences"] == C["ren_test"]
    assert not got["splits"]["test"].get("held_out")
    assert not any("held out" in note for note in got["notes"])
    assert "| test | held out |" not in stats.render(got)


def test_describe_raises_data_format_error(tmp_path):
    root = testing.make_fixture_data_dir(tmp_path / "data")
    path = _write_bad_ec(root)
    with testing.expect_data_error(path, EC_BAD_LINE, "'love'", "'2'"):
        stats.describe("semeval", root)
    with testing.expect_data_error(tmp_path / "missing" / datasets.EC_DIR, None, "not found"):
        stats.describe("semeval", tmp_path / "missing")


# ------------------------------------------------------------------------------------
# render() and check()


def test_render_semeval(semeval):
    text = stats.render(semeval)
    lines = text.splitlines()
    assert lines[0] == "## semeval"
    assert "| split | sentences | paper (Table 2) |" in lines[2]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert rows["train"].startswith(f"| train | {C['ec_train']} | 6,838 | ")
    assert rows["dev"].startswith(f"| dev | {C['ec_dev']} | 886 | ")
    assert rows["test"].startswith("| test | held out | 3,259 |")
    assert rows["sentiment"].startswith("| sentiment | 60 | 28,631 | ")
    # Labels column: every emotion with its count, the no-emotion count, repeats.
    for name, count in semeval["splits"]["train"]["label_counts"].items():
        assert f"{name} {count}" in rows["train"]
    assert f"none {semeval['splits']['train']['no_emotion']}" in rows["train"]
    assert "(1 repeated ids)" in rows["sentiment"]
    assert f"Vocabulary (train + sentiment, with <pad> and <unk>): {semeval['vocabulary']}" in text
    assert "Coverage by glove.6B.50d: " in text and "of training tokens" in text
    assert any(line.startswith("Note: test split not evaluated") for line in lines)
    assert text.endswith("\n")


def test_render_ren_cecps(ren):
    text = stats.render(ren)
    assert text.startswith("## ren_cecps\n")
    assert f"| train | {C['ren_train']} | 13,841 | " in text
    assert "| test | held out | 3,602 |" in text
    assert "Embeddings: no pretrained file" in text
    assert "Coverage by" not in text


def test_check_reports_differences_from_table_2(semeval, ren):
    problems = stats.check(semeval)
    assert problems == [
        f"semeval train: {C['ec_train']} sentences, expected 6838",
        f"semeval dev: {C['ec_dev']} sentences, expected 886",
        "semeval sentiment: 60 sentences, expected 28631",
    ]  # Held-out test is not compared.
    assert len(stats.check(ren)) == 3


def test_check_passes_when_counts_match(data_dir, data_dir_with_test, monkeypatch):
    fixture_counts = {
        "train": C["ren_train"],
        "dev": C["ren_dev"],
        "test": C["ren_test"],
        "sentiment": C["ren_sentiment"],
    }
    _paper_counts(monkeypatch, "ren_cecps", fixture_counts)
    assert stats.check(stats.describe("ren_cecps", data_dir)) == []
    assert stats.check(stats.describe("ren_cecps", data_dir_with_test)) == []
    # One count off by one is reported.
    _paper_counts(monkeypatch, "ren_cecps", dict(fixture_counts, test=C["ren_test"] + 1))
    assert stats.check(stats.describe("ren_cecps", data_dir)) == []  # Held out.
    assert stats.check(stats.describe("ren_cecps", data_dir_with_test)) == [
        f"ren_cecps test: {C['ren_test']} sentences, expected {C['ren_test'] + 1}"
    ]


def test_check_passes_for_semeval_fixture_counts(data_dir, monkeypatch, tmp_path):
    counts = {"train": C["ec_train"], "dev": C["ec_dev"], "test": 3259, "sentiment": 60}
    _paper_counts(monkeypatch, "semeval", counts)
    path = _vectors_file(tmp_path / "v.txt", ["happy"])  # Skip the 400k-word default.
    assert stats.check(stats.describe("semeval", data_dir, embeddings=str(path))) == []


# ------------------------------------------------------------------------------------
# Command line


def _run_main(capsys, *args):
    """Runs `main` in this process with the given flags; returns (exit code, out, err)."""
    stats.define_flags()
    flag_values = flags.FLAGS
    flag_values.unparse_flags()
    flag_values(["stats", *args])
    try:
        stats.main([])
        code = 0
    except SystemExit as e:
        code = 0 if e.code is None else e.code
    finally:
        flag_values.unparse_flags()
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_the_table_and_writes_json(data_dir, tmp_path, capsys):
    vectors = _vectors_file(tmp_path / "v.txt", ["happy", "the"])
    out_json = tmp_path / "out" / "stats.json"
    code, out, err = _run_main(
        capsys,
        f"--data_dir={data_dir}",
        "--datasets=semeval",
        f"--embeddings={vectors}",
        f"--json={out_json}",
    )
    assert code == 0, err
    assert out.startswith("## semeval\n")
    assert f"| train | {C['ec_train']} | 6,838 |" in out
    assert "| test | held out | 3,259 |" in out
    assert f"Coverage by {vectors}:" in out
    assert "## ren_cecps" not in out and "count check" not in out
    written = json.loads(out_json.read_text(encoding="utf-8"))
    assert [s["dataset"] for s in written] == ["semeval"]
    assert written[0]["splits"]["sentiment"]["sentences"] == 60
    assert written[0]["coverage"]["covered_types"] == 2
    assert sorted(p.name for p in out_json.parent.iterdir()) == ["stats.json"]


def test_cli_check_exit_codes(data_dir, capsys, monkeypatch):
    code, out, err = _run_main(capsys, f"--data_dir={data_dir}", "--datasets=ren_cecps", "--check")
    assert code == 1
    assert "## ren_cecps" in out
    assert "count check FAILED" in err and f"ren_cecps train: {C['ren_train']} sentences, expected 13841" in err

    counts = {"train": C["ren_train"], "dev": C["ren_dev"], "test": 1, "sentiment": C["ren_sentiment"]}
    _paper_counts(monkeypatch, "ren_cecps", counts)
    code, out, err = _run_main(capsys, f"--data_dir={data_dir}", "--datasets=ren_cecps", "--check")
    assert code == 0, err
    assert "count check passed" in out


@pytest.mark.parametrize(
    "dataset, folder, what",
    [("semeval", datasets.EC_DIR, "SemEval-2018 E-c"), ("ren_cecps", datasets.REN_DIR, "Ren-CECps")],
)
def test_cli_missing_data_dir(tmp_path, capsys, dataset, folder, what):
    missing = tmp_path / "no-such-dir"
    code, out, err = _run_main(capsys, f"--data_dir={missing}", f"--datasets={dataset}")
    assert code == 2
    assert out == ""
    assert err == f"error: {missing / folder}: {what} folder not found (see README: data layout)\n"


def test_cli_missing_file_and_unknown_dataset(tmp_path, capsys):
    root = testing.make_fixture_data_dir(tmp_path / "data")
    dev = root / datasets.EC_DIR / datasets.EC_FILES["dev"]
    dev.unlink()
    code, _, err = _run_main(capsys, f"--data_dir={root}", "--datasets=semeval")
    assert (code, err) == (2, f"error: {dev}: file not found\n")
    code, _, err = _run_main(capsys, f"--data_dir={root}", "--datasets=bogus")
    assert code == 2 and err.startswith("error: unknown dataset 'bogus'") and err.count("\n") == 1


def test_flags_definable_next_to_train():
    """`datn_tf.train` defines --data_dir and --embeddings too; both define their flags in one process."""
    from datn_tf import train

    train.define_flags()  # a flag defined twice would raise DuplicateFlagError
    stats.define_flags()
    assert "data_dir" in flags.FLAGS and "datasets" in flags.FLAGS
    assert flags.FLAGS["embeddings"].help == train.config_lib.TrainConfig.__dataclass_fields__["embeddings"].metadata[
        "help"]


def test_python_m_malformed_file_exits_2_without_traceback(tmp_path):
    """A real process: one `error: file:line: ...` line on stderr, exit status 2."""
    root = testing.make_fixture_data_dir(tmp_path / "data")
    path = _write_bad_ec(root)
    proc = subprocess.run(
        [sys.executable, "-m", "datn_tf.data.stats", "--data_dir", str(root), "--datasets", "semeval"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    # TensorFlow may log its own start-up lines (no GPU, ...); ours is exactly one.
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {path}:{EC_BAD_LINE}: label 'love' must be 0 or 1, found '2'"]
    assert proc.stderr.rstrip("\n").splitlines()[-1] == errors[0]



def test_cli_json_onto_an_input_is_refused(capsys, tmp_path):
    data_dir = testing.make_fixture_data_dir(tmp_path / "data")  # its own: a failure must not damage the shared one
    gold = data_dir / "semeval2018-ec" / "2018-E-c-En-dev.txt"
    before = gold.read_bytes()
    code, out, err = _run_main(capsys, f"--data_dir={data_dir}", "--datasets=semeval", f"--json={gold}")
    assert code == 2 and out == ""
    assert err == (f"error: --json {gold} is inside the input --data_dir {data_dir}: writing it would destroy what "
                   "the command reads; choose another --json\n")
    assert gold.read_bytes() == before


def test_wordpiece_lengths_count_the_encoders_pieces(tmp_path):
    pytest.importorskip("keras_hub")
    from datn_tf.testing import tiny_bert

    tiny_bert.write_tiny_bert(tmp_path)
    got = stats.wordpiece_lengths(["so happy", "trusting the exam", ""], tmp_path)
    # "trusting" is two pieces (trust, ##ing); [CLS] and [SEP] are not counted.
    assert got == {"mean": 2.0, "p99": pytest.approx(3.96), "max": 4, "over_64": 0.0, "over_128": 0.0}
