"""Data statistics next to the paper's Table 2: `python -m datn_tf.data.stats --data_dir DIR`.

Per dataset and split: sentences, label counts, vocabulary size (training splits only,
as the model sees it), the out-of-vocabulary rate and the part of it the pretrained vectors
know (what `--pretrained_vocab_size` recovers), and pretrained-vector coverage. Tokens are
the default tokenizer's (no `--normalize_tokens`). `--check` exits non-zero when the
counts the paper fixes (E1 6,838 / 886, S1 28,631; E2 and S2 as in Table 2) differ.
`--datasets=files` describes your own data, given by the training flags (`--train_file`, ...;
docs/own-data.md); a dataset without paper figures has no paper column. `--encoder_dir` (a
pretrained encoder's folder, e.g. data/minilm) adds each split's length in its wordpieces.
"""

import dataclasses
import sys
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from datn_tf import (  # noqa: E402
    cli,
    encoders,  # noqa: E402
    input_pipeline,
    io_utils,
    tables,
)
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import embeddings as embeddings_lib  # noqa: E402
from datn_tf.config import setting  # noqa: E402
from datn_tf.data import datasets as datasets_lib  # noqa: E402
from datn_tf.vocab import Vocabulary  # noqa: E402

FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class StatsConfig:
    """The command's own settings; the data's (--data_dir, --embeddings, the --dataset=files
    files) are the training settings of the same names."""

    datasets: tuple = setting(tuple(n for n, d in datasets_lib.REGISTRY.items() if d.reads_data_dir),
                              "Datasets to describe.")
    check: bool = setting(False, "Exit 1 if a count the paper fixes differs (used by CI).")
    json: str | None = setting(None, "Also write the statistics as JSON here.")


def define_flags():
    """Defined when the command runs (beside `datn_tf.train`'s in one process, each setting once)."""
    config_lib.define_flags(names=("data_dir", "embeddings", "encoder_dir", *config_lib.FILE_SETTINGS))
    config_lib.define_flags(config_class=StatsConfig)


def wordpiece_lengths(texts, folder):
    """Mean, 99th percentile and maximum of the texts' lengths in the encoder's wordpieces, and
    the share longer than 64 and 128 (what a --max_length of those would cut)."""
    vocab = encoders.WordPieceVocab.load(Path(folder) / encoders.VOCAB_FILE, encoders.lowercase(folder))
    n = np.array([len(ids) - 2 for ids in encoders.encode_texts(list(texts), vocab)] or [0])
    return {"mean": round(float(n.mean()), 2), "p99": float(np.percentile(n, 99)), "max": int(n.max()),
            "over_64": round(float((n > 64).mean()), 5), "over_128": round(float((n > 128).mean()), 5)}


def describe(dataset, data_dir, embeddings=None, files=None, encoder_dir=None):
    """Statistics of one transfer setting as a dict (`files`: the --dataset=files settings;
    `encoder_dir`: also the splits' lengths in that encoder's wordpieces)."""
    task = datasets_lib.load_task(dataset, data_dir, files=files)
    splits = {"train": task.train, "dev": task.dev, "test": task.test, "sentiment": task.sentiment}
    tokens = {name: input_pipeline.tokenize_corpus(ex.texts, task.language)
              for name, ex in splits.items() if ex is not None}
    vocab = Vocabulary.build(tokens["train"] + tokens["sentiment"])
    vectors = {}
    if task.language == "en" or embeddings:
        all_words = set(vocab.tokens).union(*({t for s in toks for t in s} for toks in tokens.values()))
        vectors, dim = embeddings_lib.load_vectors(embeddings, words=all_words)
        _, coverage = embeddings_lib.build_embedding_matrix(vocab, vectors, dim)
        emb_name = embeddings or embeddings_lib.DEFAULT_EMBEDDINGS
    else:
        coverage, emb_name = None, ("no pretrained file (training starts from word2vec vectors of the "
                                    "training sentences by default)")
    rows = {}
    for name, ex in splits.items():
        if ex is None:
            rows[name] = {"sentences": 0, "held_out": True}
            continue
        split_vocab = {t for sent in tokens[name] for t in sent}
        n_tokens = max(1, sum(len(s) for s in tokens[name]))
        row = {
            "sentences": len(ex),
            "words": len(split_vocab),
            "tokens": sum(len(s) for s in tokens[name]),
            "oov_rate": round(sum(t not in vocab for s in tokens[name] for t in s) / n_tokens, 4),
            # Unknown to the vocabulary, known to the vectors (exact or lower-case, as E is built).
            "oov_with_vector_rate": round(sum(t not in vocab and (t in vectors or t.lower() in vectors)
                                              for s in tokens[name] for t in s) / n_tokens, 4),
            "label_counts": {n: int(c) for n, c in zip(ex.label_names, np.bincount(
                ex.labels, minlength=len(ex.label_names)) if ex.labels.ndim == 1 else ex.labels.sum(0))},
        }
        if ex.labels.ndim == 2:
            row["no_emotion"] = int((ex.labels.sum(1) == 0).sum())
        if name == "sentiment":
            row["duplicates"] = int(getattr(ex, "duplicates", 0))
        if encoder_dir:
            row["wordpieces"] = wordpiece_lengths(ex.texts, encoder_dir)
        rows[name] = row
    return {
        "dataset": dataset,
        "splits": rows,
        "vocabulary": len(vocab),
        "embeddings": emb_name,
        "coverage": coverage.as_dict() if coverage else None,
        "paper": datasets_lib.get(dataset).table2,
        "notes": task.notes,
    }


def render(stats):
    paper = stats["paper"]
    # The paper's column only where the paper has figures for the dataset.
    paper_cells = [] if paper is None else ["paper (Table 2)"]
    heads = ["split", "sentences", *paper_cells, "words", "tokens", "OOV rate", "OOV with a vector", "labels"]
    lines = [f"## {stats['dataset']}", "", *tables.markdown_table(heads, [])]
    for name, row in stats["splits"].items():
        reference = [] if paper is None else [_count(paper.get(name))]
        if row.get("held_out"):
            lines.append(tables.row([name, "held out", *reference, "", "", "", "", ""]))
            continue
        labels = ", ".join(f"{k} {v}" for k, v in row["label_counts"].items())
        if "no_emotion" in row:
            labels += f", none {row['no_emotion']}"
        if row.get("duplicates"):
            labels += f" ({row['duplicates']} repeated ids)"
        lines.append(tables.row([name, f"{row['sentences']:,}", *reference, f"{row['words']:,}", f"{row['tokens']:,}",
                                 f"{row['oov_rate']:.2%}", f"{row['oov_with_vector_rate']:.2%}", labels]))
    lines.append("")
    lines.append(f"Vocabulary (train + sentiment, with <pad> and <unk>): {stats['vocabulary']:,}")
    if stats["coverage"]:
        c = stats["coverage"]
        lines.append(f"Coverage by {stats['embeddings']}: {c['type_coverage']:.2%} of word types, "
                     f"{c['token_coverage']:.2%} of training tokens")
    else:
        lines.append(f"Embeddings: {stats['embeddings']}")
    for name, row in stats["splits"].items():
        if "wordpieces" in row:
            w = row["wordpieces"]
            lines.append(f"Wordpieces, {name}: mean {w['mean']}, 99th percentile {w['p99']:g}, max {w['max']}; "
                         f"longer than 64: {w['over_64']:.2%}, than 128: {w['over_128']:.2%}")
    lines.extend(f"Note: {n}" for n in stats["notes"])
    return "\n".join(lines) + "\n"


def _count(n):
    return "–" if n is None else f"{n:,}"


def check(stats):
    """Counts the paper fixes that differ (empty list when all match)."""
    problems = []
    for name, expected in (stats["paper"] or {}).items():
        row = stats["splits"][name]
        if row.get("held_out"):
            continue
        if row["sentences"] != expected:
            problems.append(f"{stats['dataset']} {name}: {row['sentences']} sentences, expected {expected}")
    return problems


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(StatsConfig)
        inputs = {"--data_dir": FLAGS.data_dir, "--embeddings": FLAGS.embeddings}
        inputs.update({f"--{n}": FLAGS[n].value for n in ("train_file", "dev_file", "test_file", "sentiment_file")})
        cli.check_outputs({"--json": settings.json}, inputs=inputs)
        all_stats, problems = [], []
        for dataset in settings.datasets:
            files = None
            if not datasets_lib.get(dataset).reads_data_dir:
                # Its files from the training flags; checked as for a Base run (which needs no sentiment file).
                files = config_lib.resolve({n: FLAGS[n].value for n in config_lib.FILE_SETTINGS},
                                           dataset=dataset, variant="base").validate()
            stats = describe(dataset, FLAGS.data_dir, FLAGS.embeddings, files, FLAGS.encoder_dir)
            print(render(stats))
            all_stats.append(stats)
            problems += check(stats)
        if settings.json:
            io_utils.write_json(settings.json, all_stats)
    if settings.check:
        if problems:
            print("count check FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
            sys.exit(1)
        print("count check passed: every present split matches Table 2")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
