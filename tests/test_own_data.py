"""--dataset=files: a user's own emotion files in both layouts, with and without a sentiment source."""

import random

import pytest

from datn_tf import config as config_lib
from datn_tf import io_utils, testing
from datn_tf import run_dir as run_dir_lib
from datn_tf import train as train_cli

NAMES = ("calm", "eager", "bored", "proud", "tense")
WORDS = ("sun", "rain", "work", "game", "tea", "road", "song", "mail")


def _rows(n, seed):
    rng = random.Random(seed)
    return [(f"r{seed}-{i}", " ".join(rng.choice(WORDS) for _ in range(5)), {NAMES[i % 5], rng.choice(NAMES)})
            for i in range(n)]


def _write_wide(path, rows):
    lines = ["id,text," + ",".join(NAMES)] + [f"{i},{t}," + ",".join(str(int(n in labels)) for n in NAMES)
                                             for i, t, labels in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _write_list(path, rows):
    # GoEmotions' train.tsv: no header, text<TAB>label ids<TAB>id
    path.write_text("".join(f"{t}\t{','.join(str(NAMES.index(n)) for n in sorted(labels))}\t{i}\n"
                            for i, t, labels in rows))
    return str(path)


@pytest.fixture(scope="module", params=["wide", "list"])
def own_files(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    names = root / "emotions.txt"
    names.write_text("\n".join(NAMES) + "\n")
    sentiment = root / "sentiment.tsv"
    sentiment.write_text("text\tlabels\n" + "".join(f"{t}\t{('good', 'bad')[k % 2]}\n"
                                                      for k, (_, t, _) in enumerate(_rows(20, 9))))
    if request.param == "wide":
        files = dict(train_file=_write_wide(root / "train.csv", _rows(24, 1)),
                     dev_file=_write_wide(root / "dev.csv", _rows(10, 2)))
    else:
        files = dict(train_file=_write_list(root / "train.tsv", _rows(24, 1)),
                     dev_file=_write_list(root / "dev.tsv", _rows(10, 2)), text_column="0", labels_column="1",
                     id_column="2", label_names_file=str(names))
    return files, str(sentiment)


def _config(tmp_path, variant, files, **extra):
    return config_lib.resolve(dict(testing.TINY_MODEL, dataset="files", variant=variant, embedding_init="random",
                                   embedding_dim=6, max_steps=3, eval_every=3, output_dir=str(tmp_path / variant),
                                   **files, **extra)).validate()


@pytest.mark.slow
def test_base_and_datn2_train_on_own_files(own_files, tmp_path):
    files, sentiment = own_files
    result = train_cli.run(_config(tmp_path, "base", files))
    saved = io_utils.read_json(tmp_path / "base" / run_dir_lib.CONFIG_FILE)
    assert saved["emotion_names"] == list(NAMES) and result["steps"] == 3
    train_cli.run(_config(tmp_path, "datn2", files, sentiment_file=sentiment))
    saved = io_utils.read_json(tmp_path / "datn2" / run_dir_lib.CONFIG_FILE)
    assert saved["emotion_names"] == list(NAMES) and saved["model_config"]["num_sentiments"] == 2


def test_a_transfer_system_without_a_sentiment_file_stops_before_reading_data(tmp_path):
    missing = dict(train_file=str(tmp_path / "absent.csv"), dev_file=str(tmp_path / "absent.csv"))
    with pytest.raises(ValueError, match="--variant=datn2 transfers from a sentiment task: add --sentiment_file"):
        _config(tmp_path, "datn2", missing)
    with pytest.raises(ValueError, match="needs --train_file and --dev_file"):
        config_lib.resolve(dict(dataset="files", variant="base")).validate()


@pytest.mark.slow
def test_an_exported_own_data_run_predicts_its_labels(own_files, tmp_path):
    import json

    from datn_tf import export, predict

    files, _ = own_files
    train_cli.run(_config(tmp_path, "base", files))
    export.export_run(tmp_path / "base", tmp_path / "model")
    out = tmp_path / "pred.jsonl"
    predict.run(str(tmp_path / "model"), texts=["sun rain tea", "road song"], output=str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(list(r["probabilities"]) == list(NAMES) for r in rows)
    assert all(set(r["labels"]) <= set(NAMES) for r in rows)
