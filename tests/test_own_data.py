"""--dataset=files end to end: a user's own emotion files in both layouts, with five labels that
are not SemEval's, through training, export, prediction, scoring, statistics, attention
figures, reproduce and ablate."""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datn_tf import config as config_lib
from datn_tf import io_utils, testing
from datn_tf import run_dir as run_dir_lib
from datn_tf import train as train_cli
from datn_tf.testing.exports import subprocess_env

REPO = Path(__file__).resolve().parents[1]
NAMES = ("calm", "eager", "bored", "proud", "tense")
WORDS = ("sun", "rain", "work", "game", "tea", "road", "song", "mail")
TINY = dict(testing.TINY_MODEL, embedding_init="random", embedding_dim=6)
TINY_FLAGS = [f"--{k}={v}" for k, v in TINY.items()]


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


def _make_files(root, layout):
    """({setting: value} of the files and how to read them, the sentiment file)."""
    root.mkdir(parents=True, exist_ok=True)
    names = root / "emotions.txt"
    names.write_text("\n".join(NAMES) + "\n")
    sentiment = root / "sentiment.tsv"
    sentiment.write_text("text\tlabels\n" + "".join(f"{t}\t{('good', 'bad')[k % 2]}\n"
                                                      for k, (_, t, _) in enumerate(_rows(20, 9))))
    if layout == "wide":
        files = dict(train_file=_write_wide(root / "train.csv", _rows(24, 1)),
                     dev_file=_write_wide(root / "dev.csv", _rows(10, 2)))
    else:
        files = dict(train_file=_write_list(root / "train.tsv", _rows(24, 1)),
                     dev_file=_write_list(root / "dev.tsv", _rows(10, 2)), text_column="0", labels_column="1",
                     id_column="2", label_names_file=str(names))
    return files, str(sentiment)


def _config(root, variant, files, **extra):
    return config_lib.resolve(dict(TINY, dataset="files", variant=variant, max_steps=3, eval_every=3,
                                   output_dir=str(root / variant), **files, **extra)).validate()


@pytest.fixture(scope="module", params=["wide", "list"])
def trained(request, tmp_path_factory):
    """Per layout: the files, and Base and DATN-2 trained on them and exported."""
    from datn_tf import export

    root = tmp_path_factory.mktemp(request.param)
    files, sentiment = _make_files(root / "data", request.param)
    runs = {"base": _config(root, "base", files), "datn2": _config(root, "datn2", files, sentiment_file=sentiment)}
    results = {}
    for variant, config in runs.items():
        results[variant] = train_cli.run(config)
        export.export_run(config.output_dir, root / f"model-{variant}")
    return dict(layout=request.param, root=root, files=files, runs=runs, results=results)


@pytest.mark.slow
def test_base_and_datn2_train_on_own_files(trained):
    for variant, config in trained["runs"].items():
        saved = io_utils.read_json(Path(config.output_dir) / run_dir_lib.CONFIG_FILE)
        assert saved["emotion_names"] == list(NAMES) and trained["results"][variant]["steps"] == 3
    saved = io_utils.read_json(Path(trained["runs"]["datn2"].output_dir) / run_dir_lib.CONFIG_FILE)
    assert saved["model_config"]["num_sentiments"] == 2  # the sentiment file's good and bad


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["base", "datn2"])
def test_exported_runs_predict_their_labels_in_the_input_layout_and_evaluate_scores_them(trained, variant):
    from datn_tf import evaluate, metrics, predict
    from datn_tf.data import files as files_lib

    root, files = trained["root"], trained["files"]
    columns = {k: v for k, v in files.items() if k in predict.READ_SETTINGS}
    out, table = root / f"{variant}-dev.jsonl", root / f"{variant}-dev-table{Path(files['dev_file']).suffix}"
    flags = [f"--{k}={v}" for k, v in columns.items()]
    if variant == "base":  # the command, its flags included
        proc = _run("datn_tf.predict", f"--model={root / 'model-base'}", "--format=table",
                    f"--input={files['dev_file']}", f"--output={out}", f"--table_output={table}", *flags)
        assert proc.returncode == 0, proc.stderr[-3000:]
    else:
        predict.run(str(root / f"model-{variant}"), input_path=files["dev_file"], output=str(out), fmt="table",
                    table_output=str(table), columns=columns)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    names = files.get("label_names_file")
    gold = files_lib.read_emotion_file(files["dev_file"], label_names=files_lib.read_label_names(names)
                                       if names else None, **columns)
    assert [r["id"] for r in rows] == gold.ids and [r["text"] for r in rows] == gold.texts
    assert all(list(r["probabilities"]) == list(NAMES) for r in rows)
    predicted = np.array([[n in r["labels"] for n in NAMES] for r in rows], np.int8)
    # The table: the input's layout (wide: its header; list: GoEmotions' headerless label ids).
    first = table.read_text().splitlines()[0]
    assert first == "id,text," + ",".join(NAMES) if trained["layout"] == "wide" else first.split("\t")[2] == gold.ids[0]
    back = files_lib.read_emotion_file(table, label_names=NAMES, **columns)
    np.testing.assert_array_equal(back.labels, predicted)
    if variant == "base":
        names_flag = [f"--label_names_file={names}"] if names else []
        proc = _run("datn_tf.evaluate", f"--gold={files['dev_file']}", f"--predictions={table}",
                    f"--output={root / 'scored.json'}", *flags, *names_flag)
        assert proc.returncode == 0, proc.stderr[-3000:]
        scored = io_utils.read_json(root / "scored.json")
    else:
        scored = evaluate.score_files(files["dev_file"], table, columns={**columns, "label_names_file": names})
    assert scored == pytest.approx(metrics.emotion_metrics(gold.labels, predicted))


@pytest.mark.slow
def test_an_ensemble_of_own_data_runs_is_scored_on_their_dev_file(trained):
    from datn_tf import evaluate

    runs = [trained["runs"][v].output_dir for v in ("base", "datn2")]
    gold, ranking, notes = evaluate._gold_for_runs(runs)
    result = evaluate.ensemble_runs(runs, gold, ranking=ranking)
    assert result["dev"]["n"] == 10 and "test" not in result and notes[0] == "test split not evaluated: no --test_file"


@pytest.mark.slow
def test_stats_and_attention_figures_of_an_own_data_run(trained):
    from datn_tf import visualize
    from datn_tf.data import stats

    described = stats.describe("files", "unused", files=trained["runs"]["datn2"])
    text = stats.render(described)
    assert described["paper"] is None and "paper" not in text
    assert "| train | 24 | " in text and "| sentiment | 20 | " in text and "calm " in text
    rows = visualize.attention_rows(trained["runs"]["datn2"].output_dir, ["sun rain tea"])
    assert set(rows[0]["predicted"]) <= set(NAMES) and set(rows[0]["rows"]) == {"DATN-2 α_s", "DATN-2 α_t"}


@pytest.mark.slow
def test_the_demo_page_shows_an_own_data_models_labels_and_attentions(trained):
    from datn_tf import demo
    from datn_tf.testing.exports import explain, serve

    path = trained["root"] / "model-datn2"  # Base's single attention: datn_tf/demo_test.py
    model = demo.ExplainedModel(path)
    facts = demo.model_html(model)
    assert f"<dd>{', '.join(NAMES)}</dd>" in facts and "<dd>files</dd>" in facts
    reading = model.read("sun rain tea")
    served = serve(path, ["sun rain tea"])
    assert reading.label_names == list(NAMES) and reading.tokens == ["sun", "rain", "tea"]
    np.testing.assert_array_equal(reading.labels, served["labels"][0])
    np.testing.assert_array_equal(reading.alpha_t, explain(path, ["sun rain tea"])["alpha_t"][0])
    page = demo.answer(model, "sun rain tea")
    assert all(f'data-label="{n}"' in page for n in NAMES) and page.count('class="datn-word"') == 2 * 3


def _run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=subprocess_env(),
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_transfer_system_without_a_sentiment_file_stops_before_reading_data(tmp_path):
    missing = dict(train_file=str(tmp_path / "absent.csv"), dev_file=str(tmp_path / "absent.csv"))
    with pytest.raises(ValueError, match="--variant=datn2 transfers from a sentiment task: add --sentiment_file"):
        _config(tmp_path, "datn2", missing)
    with pytest.raises(ValueError, match="needs --train_file and --dev_file"):
        config_lib.resolve(dict(dataset="files", variant="base")).validate()
    # The command: one line, exit status 2, and the absent files are never opened.
    proc = _run("datn_tf.train", "--dataset=files", "--variant=datn2", f"--output_dir={tmp_path / 'run'}",
                *(f"--{k}={v}" for k, v in missing.items()))
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        "error: --variant=datn2 transfers from a sentiment task: add --sentiment_file=FILE (one sentiment label "
        "per row; docs/own-data.md), or run --variant=base"]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_reproduce_and_ablate_on_own_files_have_no_paper_column(tmp_path):
    files, sentiment = _make_files(tmp_path / "data", "wide")
    flags = [f"--{k}={v}" for k, v in files.items()] + [f"--sentiment_file={sentiment}", "--dataset=files",
                                                        "--max_steps=3", "--eval_every=3", *TINY_FLAGS,
                                                        f"--results_dir={tmp_path / 'results'}",
                                                        f"--readme={tmp_path / 'README.md'}"]
    (tmp_path / "README.md").write_text("<!-- reproduce:files -->\n<!-- /reproduce:files -->\n")
    proc = _run("experiments.reproduce", "--variants=base datn2", "--runs=1", *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = (tmp_path / "results" / "files" / "table3.md").read_text()
    assert "| Base | 1 |" in table and "| DATN-2 | 1 |" in table
    assert "[" not in table and "the paper has no figures for this dataset" in table
    settings = next(line for line in table.splitlines() if line.startswith("Settings:"))
    assert "train_file" not in settings and "hidden_size=6" in settings  # the files are data, not settings
    readme = (tmp_path / "README.md").read_text()
    assert "| Base | 1 |" in readme and "brackets" not in readme and "[" not in readme.split("[All notes]")[0]
    proc = _run("experiments.ablate", "--configs=base", "--seeds=1", *flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ablations = (tmp_path / "results" / "files" / "ablations.md").read_text()
    assert ablations.startswith("# Ablations on dev\n") and "| base | base | 1 |" in ablations
    assert "[" not in ablations
