"""Tests of the dataset registry, the two transfer settings and the E2 cross-validation splits."""

import dataclasses

import pytest

from datn_tf import run_dir as run_dir_lib
from datn_tf import testing
from datn_tf.data import datasets
from datn_tf.errors import DataFormatError


def test_semeval_task_reports_missing_test(data_dir):
    task = datasets.load_task("semeval", data_dir)
    assert len(task.train) == testing.FIXTURE_COUNTS["ec_train"]
    assert len(task.sentiment) == sum(testing.FIXTURE_COUNTS[f"4a_{s}"] for s in ("train", "dev", "test"))
    assert task.test is None and "test" not in task.splits()
    assert any("2018-E-c-En-test-gold.txt is not present" in n for n in task.notes)


def test_ren_task_and_missing_folder(data_dir, tmp_path):
    task = datasets.load_task("ren_cecps", data_dir)
    assert task.language == "zh" and task.test is None
    assert any("641-800" in n for n in task.notes)
    with pytest.raises(DataFormatError, match="Ren-CECps folder not found"):
        datasets.load_task("ren_cecps", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load_task("imdb", data_dir)


def _copy_ren(data_dir, tmp_path, drop=()):
    """A data folder holding the fixture's Ren-CECps documents but those numbered in `drop`."""
    folder = tmp_path / "data" / datasets.REN_DIR
    folder.mkdir(parents=True)
    for path in (data_dir / datasets.REN_DIR).glob("cet_*.xml"):
        if int(path.stem.split("_")[1]) not in drop:
            (folder / path.name).write_bytes(path.read_bytes())
    return folder.parent


@pytest.mark.parametrize("drop, split, count", [
    (range(1, 281), "train", "280 of the 560 train documents (cet_1.xml-cet_560.xml)"),
    (range(561, 641), "dev", "80 of the 80 dev documents (cet_561.xml-cet_640.xml)"),
    ([900], "sentiment", "1 of the 687 sentiment documents (cet_801.xml-cet_1487.xml)"),
])
def test_missing_ren_documents_of_a_training_split_are_an_error(data_dir, tmp_path, drop, split, count):
    root = _copy_ren(data_dir, tmp_path, drop=set(drop))
    shown = ", ".join(f"cet_{d}.xml" for d in list(drop)[:5]) + (f" and {len(drop) - 5} more" if len(drop) > 5 else "")
    with testing.expect_data_error(root / datasets.REN_DIR, None, f"{count} are missing: {shown};"):
        datasets.load_task("ren_cecps", root)


def test_a_partial_ren_test_split_is_not_a_test_result(data_dir_with_test, tmp_path):
    root = _copy_ren(data_dir_with_test, tmp_path, drop=set(range(651, 801)))
    task = datasets.load_task("ren_cecps", root)
    assert task.test is None and "test" not in task.splits()
    assert task.notes == [
        f"test documents left out: only 10 of the 160 (641-800) are in {root / datasets.REN_DIR} (missing: "
        "cet_651.xml, cet_652.xml, cet_653.xml, cet_654.xml, cet_655.xml and 145 more)",
        "test split not evaluated: it is partial"]
    # Nor do its documents enter the cross-validation folds.
    folds = datasets.load_task("ren_cecps", root, cv_fold=0, cv_folds=4)
    assert "cet_641" not in _docs(folds.train) | _docs(folds.dev) | _docs(folds.test)
    assert folds.notes[0].startswith("test documents left out: only 10 of the 160")
    complete = datasets.load_task("ren_cecps", data_dir_with_test)
    assert len(complete.test) == testing.FIXTURE_COUNTS["ren_test"] and complete.notes == []


@pytest.mark.parametrize("dataset", ["semeval", "ren_cecps"])
@pytest.mark.parametrize("split", ["train", "dev"])
def test_an_empty_train_or_dev_split_stops_before_training(data_dir, dataset, split, monkeypatch):
    entry = datasets.get(dataset)

    def read_emptied(*args, **kwargs):
        task = entry.read(*args, **kwargs)
        examples = getattr(task, split)
        return dataclasses.replace(task, **{split: dataclasses.replace(
            examples, ids=[], texts=[], labels=examples.labels[:0])})

    monkeypatch.setitem(datasets.REGISTRY, dataset, dataclasses.replace(entry, read=read_emptied))
    source = getattr(entry.read(data_dir), split).source
    with testing.expect_data_error(source, None, f"the {split} split of --dataset={dataset} holds no sentences"):
        datasets.load_task(dataset, data_dir)


def _docs(examples):
    return {i.split(":")[0] for i in examples.ids}


def test_cross_validation_folds_partition_documents(data_dir):
    folds = 4
    tasks = [datasets.load_task("ren_cecps", data_dir, cv_fold=k, cv_folds=folds) for k in range(folds)]
    all_docs = set().union(*(_docs(t.train) | _docs(t.dev) | _docs(t.test) for t in tasks))
    tests = [_docs(t.test) for t in tasks]
    # Every document is in exactly one test fold; within a fold the splits are disjoint.
    assert set().union(*tests) == all_docs and sum(len(d) for d in tests) == len(all_docs)
    for k, t in enumerate(tasks):
        assert not (_docs(t.train) & _docs(t.test)) and not (_docs(t.train) & _docs(t.dev))
        assert not (_docs(t.dev) & _docs(t.test))
        assert _docs(t.dev) == tests[(k + 1) % folds]  # the next fold selects the model
        # The sentiment source is the same training data (Table 3, DATN-2†).
        assert set(t.sentiment.ids) <= set(t.train.ids)
    again = datasets.load_task("ren_cecps", data_dir, cv_fold=1, cv_folds=folds)
    assert again.test.ids == tasks[1].test.ids


def test_cross_validation_arguments(data_dir):
    with pytest.raises(ValueError, match="ren_cecps only"):
        datasets.load_task("semeval", data_dir, cv_fold=0)
    with pytest.raises(ValueError, match="cv_fold must be in"):
        datasets.load_task("ren_cecps", data_dir, cv_fold=10, cv_folds=10)
    with pytest.raises(ValueError, match="cannot make"):
        datasets.load_task("ren_cecps", data_dir, cv_fold=0, cv_folds=50)


def _read_e1_as_mine(data_dir, **_):
    """A third setting for the tests: E1's fixture files read under another name."""
    task = datasets.get("semeval").read(data_dir)
    return datasets.TaskData("mine", "en", task.emotion_names, task.train, task.dev, task.test, task.sentiment,
                             ["mine: read from the E1 fixture"])


@pytest.fixture
def mine(monkeypatch):
    """A registered third entry (removed after the test): its own defaults and no paper figures."""
    entry = datasets.Dataset("mine", "E1's files as a new setting", _read_e1_as_mine, "en", None,
                             embedding_init="random", embedding_dim=6, epochs={"emotion_only": 3, "alternating": 1,
                                                                               "pretrain_finetune": 2},
                             ranking_metrics=True, dev_title="mine dev")
    monkeypatch.setitem(datasets.REGISTRY, "mine", entry)
    return entry


def test_a_registered_entry_is_a_dataset_everywhere(mine, data_dir, tmp_path):
    from datn_tf import config as config_lib
    from datn_tf import io_utils
    from datn_tf import train as train_cli
    from datn_tf.data import stats

    config = config_lib.resolve(dict(testing.TINY_MODEL, dataset="mine", variant="base", data_dir=str(data_dir),
                                     output_dir=str(tmp_path / "run"), eval_every=2)).validate()
    assert config.resolved_epochs() == 3 and config.resolved_embedding_init() == "random"
    assert config.default_output_dir() == "runs/mine-base-seed0"
    with pytest.raises(ValueError, match="defined for ren_cecps only"):
        datasets.load_task("mine", data_dir, cv_fold=0)
    result = train_cli.run(config)
    saved = io_utils.read_json(tmp_path / "run" / run_dir_lib.CONFIG_FILE)
    assert saved["emotion_names"] == list(testing.EC_EMOTIONS) and saved["language"] == "en"
    # What `evaluate --ensemble` compares.
    assert saved["splits"] == datasets.load_task("mine", data_dir).split_digests()
    assert saved["model_config"]["embedding_dim"] == 6
    assert "average_precision" in result["dev"] and "one_error" in result["dev"]  # the entry's ranking_metrics
    assert datasets.get("mine").table3 is None and datasets.get("mine").table2 is None
    described = stats.describe("mine", data_dir)
    assert described["paper"] is None and described["notes"] == ["mine: read from the E1 fixture"]
    assert "| train | 40 | " in stats.render(described) and "paper" not in stats.render(described)
    assert stats.check(described) == []
    _tables_of_a_registered_entry(tmp_path / "run", data_dir, tmp_path / "results" / "mine")


def _tables_of_a_registered_entry(run, data_dir, results):
    """reproduce's and ablate's tables of the "mine" run: its ranking columns, title, no paper figures."""
    import numpy as np

    from datn_tf import io_utils
    from experiments import ablate, reproduce

    reproduce.record_run(results, "base-seed0", run)
    table3 = reproduce.build_table("mine", results, data_dir, ["base"])
    assert "the paper has no figures for this dataset" in table3 and "[" not in table3
    assert "| Base | 1 |" in table3 and "| AP |" in table3 and "one-error" in table3
    metrics = run_dir_lib.read_metrics(run)
    record = {"config": "base", "about": "Base", "stage": "reference", "dataset": "mine", "overrides": {},
              **{k: metrics[k] for k in ("variant", "seed", "threshold", "best_step", "steps", "wall_seconds",
                                         "dev")},
              "mean_max_alpha_t": None, "mean_max_alpha_s": None, "mean_cos_alpha_s_alpha_t": None}
    io_utils.save_npy(results / "ablations" / "probs" / "base-seed0.npy",
                      np.load(run_dir_lib.probabilities_path(run, "dev")).astype(np.float16))
    io_utils.write_json(results / "ablations" / "base-seed0.json", record)
    ablations = ablate.build_table("mine", results / "ablations", data_dir)
    assert ablations.startswith("# Ablations on mine dev\n") and "| base | base | 1 |" in ablations
    assert "| AP |" in ablations and "[" not in ablations


def test_an_entry_with_the_same_readers_and_defaults_trains_to_the_same_metrics(monkeypatch, data_dir, tmp_path):
    from datn_tf import train as train_cli

    clone = dataclasses.replace(datasets.get("semeval"), name="clone", read=_read_e1_as_mine)
    monkeypatch.setitem(datasets.REGISTRY, "clone", clone)
    results = [train_cli.run(testing.tiny_train_config(data_dir, tmp_path / name, dataset=name, variant="datn2",
                                                       max_steps=4))
               for name in ("semeval", "clone")]
    assert results[0]["dev"] == results[1]["dev"] and results[0]["threshold"] == results[1]["threshold"]


def test_the_paper_figures_and_a_name_registered_once():
    assert datasets.get("semeval").table2["train"] == 6838
    assert {n for n, d in datasets.REGISTRY.items() if d.table2} == {"semeval", "ren_cecps"}
    with pytest.raises(ValueError, match="already registered"):
        datasets.register(datasets.get("semeval"))


def _own_files(tmp_path, **settings):
    """--dataset=files settings over a two-label wide training and dev file."""
    from datn_tf import config as config_lib

    (tmp_path / "e.csv").write_text("text,calm,eager\nso calm,1,0\nso eager,0,1\n")
    return config_lib.resolve({**dict(dataset="files", variant="datn2", train_file=str(tmp_path / "e.csv"),
                                      dev_file=str(tmp_path / "e.csv")), **settings}).validate()


@pytest.mark.parametrize("name, text, settings, labels, names", [
    # The paper's source files (SemEval-2016 4A): id<TAB>label<TAB>text, no header.
    ("s.tsv", "1\tpositive\tgood day\n2\tnegative\tbad day\n3\tneutral\ta day\n", {}, [2, 0, 1],
     ("negative", "neutral", "positive")),
    # Any label set, one label per row (list layout); the classes are the sorted labels.
    ("s.csv", "id,text,label\na,good day,up\nb,bad day,down\n", {}, [1, 0], ("down", "up")),
    # Headerless, by position: a 4A-like file whose labels are not 4A's.
    ("s.tsv", "1\tyay\tgood day\n2\tnay\tbad day\n", dict(sentiment_text_column="2", sentiment_labels_column="1"),
     [1, 0], ("nay", "yay")),
    # The wide layout: one 0/1 column per class; the file's separator named by --delimiter.
    ("s.txt", "text;neg;pos\ngood day;0;1\nbad day;1;0\n", dict(delimiter="semicolon"), [1, 0], ("neg", "pos")),
])
def test_sentiment_files_of_each_layout(tmp_path, name, text, settings, labels, names):
    import numpy as np

    (tmp_path / name).write_text(text)
    files = _own_files(tmp_path, sentiment_file=str(tmp_path / name), **settings)
    if settings.get("delimiter"):  # the emotion files then use it too
        (tmp_path / "e.csv").write_text("text;calm;eager\nso calm;1;0\nso eager;0;1\n")
    task = datasets.load_task_of(files)
    assert task.sentiment.label_names == names and task.emotion_names == ("calm", "eager")
    np.testing.assert_array_equal(task.sentiment.labels, labels)
    assert task.sentiment.texts[:2] == ["good day", "bad day"]


@pytest.mark.parametrize("name, text, where", [
    ("s.csv", "text,neg,pos\ngood day,0,1\nbad day,1,1\n", r"s.csv:3: 2 sentiment labels; give one per row"),
    ("s.csv", "id,text,label\na,good day,pos\nb,bad day,\n", r"s.csv:3: 0 sentiment labels; give one per row"),
    ("s.csv", "text,label\n", r"s.csv: the sentiment file holds no sentences"),
    ("s.csv", "text,label\ngood day,pos\nfine day,pos\n", r"s.csv: one sentiment class \(pos\); a source task"),
    # A file whose first row is 4A is 4A: a later bad row is its error, not another layout's.
    ("s.tsv", "1\tpositive\tgood day\n2\tpositve\tbad day\n", r"s.tsv:2: unknown sentiment label 'positve'"),
])
def test_a_malformed_sentiment_file_is_an_error(tmp_path, name, text, where):
    (tmp_path / name).write_text(text)
    files = _own_files(tmp_path, sentiment_file=str(tmp_path / name))
    with pytest.raises(DataFormatError, match=where):
        datasets.load_task_of(files)


@pytest.mark.parametrize("split", ["dev_file", "test_file"])
def test_a_wide_dev_or_test_file_with_a_label_train_lacks_is_an_error(tmp_path, split):
    (tmp_path / "x.csv").write_text("text,eager,calm,bored\nhi,1,0,0\n")
    files = _own_files(tmp_path, variant="base", **{split: str(tmp_path / "x.csv")})
    with pytest.raises(DataFormatError, match=r"x.csv:1: label column\(s\) bored not in the training file's"):
        datasets.load_task_of(files)
    (tmp_path / "x.csv").write_text("text,eager,calm\nhi,1,0\n")  # train's labels in another order
    task = datasets.load_task_of(files)
    assert getattr(task, split.split("_")[0]).labels.tolist() == [[0, 1]]


def _read_e1_directly(data_dir, **_):
    """E1 and S1 read with their readers alone, as before the registry existed."""
    from datn_tf.data import semeval_4a, semeval_ec

    ec = data_dir / datasets.EC_DIR
    train, dev = (semeval_ec.read_ec(ec / datasets.EC_FILES[split]) for split in ("train", "dev"))
    sentiment = semeval_4a.read_4a_files([data_dir / datasets.S4A_DIR / f for f in semeval_4a.S1_FILES])
    return datasets.TaskData("direct", "en", tuple(semeval_ec.EMOTIONS), train, dev, None, sentiment, [])


def _read_e2_directly(data_dir, **_):
    """E2 and S2 read with their reader alone."""
    from datn_tf.data import ren_cecps

    corpus = ren_cecps.read_ren_cecps(data_dir / datasets.REN_DIR)
    return datasets.TaskData("direct", "zh", tuple(ren_cecps.REN_EMOTIONS), corpus.train, corpus.dev, None,
                             corpus.sentiment, [])


# The defaults the paper's settings had before they were registry entries (epochs per schedule:
# alternating, emotion only, pretrain-finetune).
BEFORE = {"semeval": dict(read=_read_e1_directly, language="en", embedding_init="pretrained", embedding_dim=300,
                          epochs=(4, 16, 16)),
          "ren_cecps": dict(read=_read_e2_directly, language="zh", embedding_init="word2vec", embedding_dim=200,
                            epochs=(4, 5, 5), ranking_metrics=True)}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["semeval", "ren_cecps"])
def test_the_paper_settings_train_to_the_metrics_of_their_readers_and_former_defaults(
        monkeypatch, data_dir, tmp_path, dataset):
    from datn_tf import train as train_cli
    from datn_tf import variants

    before = dict(BEFORE[dataset])
    epochs = dict(zip((variants.ALTERNATING, variants.EMOTION_ONLY, variants.PRETRAIN_FINETUNE), before.pop("epochs")))
    monkeypatch.setitem(datasets.REGISTRY, "direct", datasets.Dataset("direct", "", epochs=epochs, emotion_names=None,
                                                                      **before))
    results = []
    for name in (dataset, "direct"):
        # embedding_dim: the word2vec vectors' width (a tiny table keeps the run short).
        config = testing.tiny_train_config(data_dir, tmp_path / name, dataset=name, variant="datn2", max_steps=4,
                                           epochs=None, embedding_dim=8 if dataset == "ren_cecps" else None)
        assert config.resolved_epochs() == epochs[variants.ALTERNATING]
        results.append(train_cli.run(config))
    assert results[0]["dev"] == results[1]["dev"] and results[0]["threshold"] == results[1]["threshold"]


def test_a_split_digest_is_of_the_rows_not_of_the_file(data_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    task = datasets.load_task("semeval", data_dir)
    digests = task.split_digests()
    assert datasets.load_task("semeval", copy).split_digests() == digests  # another copy of the same data
    assert digests["dev"]["sentences"] == len(task.dev) and len(digests["dev"]["sha256"]) == 64
    dev = task.dev
    flipped = dev.select(range(len(dev)))
    flipped.labels[3, 0] ^= 1
    swapped = dev.select([1, 0, *range(2, len(dev))])
    changed = {dev.digest(), flipped.digest(), swapped.digest(), dev.select(range(len(dev) - 1)).digest()}
    assert len(changed) == 4


def test_degenerate_own_data_gets_one_warning_line_each(tmp_path, capsys):
    # A label column of zeros, a 1-row training file, 9,989 of 10,000 listed labels that never occur,
    # or a dev file equal to the training file trained without a word.
    from datn_tf import train as train_cli

    (tmp_path / "one.csv").write_text("text,calm,eager,bored\nso calm,1,0,0\n")
    files = _own_files(tmp_path, variant="base", train_file=str(tmp_path / "one.csv"),
                       dev_file=str(tmp_path / "one.csv"), embedding_init="random", embedding_dim=4,
                       output_dir=str(tmp_path / "run"), max_steps=1, **testing.TINY_MODEL)
    warnings = datasets.load_task_of(files).warnings
    train_cli.run(files)
    assert [line for line in capsys.readouterr().out.splitlines() if "warning" in line] == [
        f"warning: {w}" for w in warnings]
    assert warnings == [
        f"2 of the 3 labels never occur in the training file {tmp_path / 'one.csv'} (eager, bored): no sentence "
        "teaches them, so they are never predicted; leave them out of the data",
        f"the training file {tmp_path / 'one.csv'} holds 1 sentence(s): too few to learn from",
        f"every sentence of the dev file {tmp_path / 'one.csv'} is also in the training file {tmp_path / 'one.csv'}: "
        "dev scores, the selected step and gamma measure memorisation; give held-out sentences",
    ]
    names = [f"label{i}" for i in range(10_000)]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    rows = [f"sentence {i}\t{i % 11}" for i in range(40)]
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "dev.tsv").write_text("a new sentence\t3\n")
    files = _own_files(tmp_path, variant="base", train_file=str(tmp_path / "train.tsv"),
                       dev_file=str(tmp_path / "dev.tsv"), label_names_file=str(tmp_path / "names.txt"),
                       text_column="0", labels_column="1")
    assert datasets.load_task_of(files).warnings == [
        f"9989 of the 10000 labels never occur in the training file {tmp_path / 'train.tsv'} (label11, label12, "
        "label13, ...): no sentence teaches them, so they are never predicted; leave them out of the data"]
    # Data that can train a model: no warning.
    (tmp_path / "train.tsv").write_text("\n".join(f"sentence {i}\t{i % 2}" for i in range(12)) + "\n")
    (tmp_path / "names.txt").write_text("calm\neager\n")
    (tmp_path / "dev.tsv").write_text("a new sentence\t1\n")
    assert datasets.load_task_of(files).warnings == []


@pytest.mark.parametrize("variant, paper, encoder", [("datn2", 4, 1), ("sp", 4, 1), ("base", 16, 4), ("ft", 16, 4)])
def test_a_pretrained_encoder_has_its_own_default_epochs(variant, paper, encoder):
    from datn_tf import config as config_lib

    for dataset in ("semeval", "files"):
        extra = dict(train_file="t.csv", dev_file="d.csv") if dataset == "files" else {}
        bilstm = config_lib.resolve(dataset=dataset, variant=variant, **extra)
        assert bilstm.resolved_epochs() == paper
        assert dataclasses.replace(bilstm, encoder="minilm").resolved_epochs() == encoder
        assert dataclasses.replace(bilstm, encoder="minilm", epochs=3).resolved_epochs() == 3
    # Ren-CECps has no encoder schedule measured: the paper's.
    ren = config_lib.resolve(dataset="ren_cecps", variant=variant)
    assert dataclasses.replace(ren, encoder="bert").resolved_epochs() == ren.resolved_epochs()
