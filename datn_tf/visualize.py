"""Attention heatmaps of trained runs over the tokens of a sentence (the paper's Figure 3).

    python -m datn_tf.visualize --run_dirs runs/semeval-base-seed0,runs/semeval-datn2-seed0 \
        --output fig3.png
    python -m datn_tf.visualize --run_dirs RUN_A,RUN_B --output attention.png \
        --text "I am so happy today 😊" --gold "joy" --text "what a mess" --gold "anger,disgust"
    python -m datn_tf.visualize --run_dirs RUN_A --output attention.png --input texts.txt

For each sentence the figure has one panel with one heatmap row per attention
distribution: for each run (in `--run_dirs` order) the shared attention alpha_s, labelled
"<Variant> α_s" (just "<Variant>", e.g. "Base", for a model without a target side, whose
alpha_s is its only attention), and the target attention alpha_t where the model has one.
The tokens the model read (the project's tokenizer: lower-cased, unknown words shown as
written, not as <unk>) are the x tick labels; one colour bar per panel (all rows of a panel
share the scale, so runs compare directly). The panel title gives each run's predicted
labels at the run's dev-tuned threshold (`metrics.json`) and the gold labels when given.

Texts: every `--text`, then every line of `--input`; with neither, the paper's Figure 3
sentence (whose gold labels, joy, optimism and love, are then shown too, when the runs'
labels include them). The i-th `--gold` (comma-separated names; "" is the empty set) belongs
to the i-th text. An empty text gets an empty panel with a note. Characters the plotting
font cannot draw (emoji with the default DejaVu Sans) are shown by their Unicode name, e.g.
":smiling face with smiling eyes:", so no "missing glyph" warnings are printed. The PNG is
written atomically.

`attention_rows(run_dir, texts)` returns the numbers behind the figure, for reuse.
"""

import dataclasses
import functools
import sys
import textwrap
import unicodedata
import warnings
from pathlib import Path

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402

from datn_tf import cli, encoders, export, input_pipeline, io_utils, metrics, run_weights, runtime  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import run_dir as run_dir_lib  # noqa: E402
from datn_tf import variants as variants_lib  # noqa: E402
from datn_tf.config import setting  # noqa: E402
from datn_tf.data._io import split_text_lines  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402

# Figure 3's sentence as the paper's text gives it (the figure also shows an emoji near the
# end, which the text extraction lost) and its ground truth labels.
PAPER_SENTENCE = "When you dread going to work early … but you always come back home happy ; smiling # goodday"
PAPER_GOLD = ("joy", "optimism", "love")

ALPHA_S, ALPHA_T = "α_s", "α_t"
BATCH_SIZE = 64
DEFAULT_DPI = 150
MAX_DPI = 1200  # print quality is 300-600; far beyond, one figure needs gigabytes
CMAP = "Reds"

# Fonts used as per-glyph fallbacks after the default one, when installed (matplotlib >= 3.6
# draws each glyph with the first font of the family list that has it). Colour-bitmap emoji
# fonts (Noto Color Emoji) cannot be drawn by Agg and are not listed.
FALLBACK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN",
    "Noto Sans Symbols 2", "Noto Sans Symbols", "Noto Emoji", "Symbola",
)  # fmt: skip
MAX_LABEL_CHARS = 32


# -- the numbers -------------------------------------------------------------------------------


def run_name(config):
    """The run's Table 3 name ("Base", "DATN-2", ...)."""
    return variants_lib.get_variant(config["train_config"]["variant"]).title


def row_labels(name, has_target):
    """Row labels of one run: ("Base",) without a target side, else ("X α_s", "X α_t")."""
    return (f"{name} {ALPHA_S}", f"{name} {ALPHA_T}") if has_target else (name,)


def _threshold(run_dir):
    if not run_dir_lib.is_finished(run_dir):
        return None  # a run still training: no dev-tuned threshold yet
    return run_dir_lib.read_threshold(run_dir)


def attention_rows(run_dir, texts, name=None, loaded=None):
    """Attention weights of a run's best weights over each text's tokens.

    Args:
        run_dir: a training run (`config.json`, `vocab.txt`, `best/`; `metrics.json` for the
            threshold).
        texts: raw texts (str).
        name: the run's display name (default: its variant's Table 3 title).
        loaded: `run_weights.load_run(run_dir)`'s result, if already loaded.

    Returns:
        One dict per text: `tokens` (the tokens the model read, as written by the tokenizer,
        unknown words included), `rows` ({label: float32 weights [len(tokens)]}, α_s first,
        labels from `row_labels`), `predicted` (label names with probability > the run's
        dev-tuned threshold, or None when the run has no metrics.json yet), plus `text`,
        `token_ids`, `probabilities` [K], `threshold`, `name`, `run_dir`. A text without
        tokens gets empty weight arrays (its probabilities are the model's on padding).
    """
    texts = list(texts)
    config, vocab, model = loaded or run_weights.load_run(run_dir)
    name = name or run_name(config)
    language = config["language"]
    label_names = list(config["emotion_names"])
    max_length = config["train_config"].get("max_length")
    normalize = bool(config["train_config"].get("normalize_tokens", False))
    if isinstance(vocab, encoders.WordPieceVocab):  # a pretrained encoder: wordpieces between [CLS] and [SEP]
        ids = encoders.encode_texts(texts, vocab, export.max_length(config))
        tokens = [[vocab.tokens[t] for t in i[1:-1]] for i in ids]
    else:
        tokens = input_pipeline.tokenize_corpus(texts, language, normalize)
        ids = input_pipeline.encode_texts(texts, vocab, language, max_length=max_length, normalize=normalize)
        if max_length:
            tokens = [t[:max_length] for t in tokens]
        for t, i in zip(tokens, ids):
            if len(t) != len(i):  # the same tokenizer on both sides; a mismatch is a bug
                raise AssertionError(f"{len(t)} tokens but {len(i)} ids")
    has_target = model.target_encoder is not None
    labels = row_labels(name, has_target)
    probs = np.zeros((len(texts), len(label_names)), np.float32)
    alphas = [[None] * len(texts) for _ in labels]
    for positions, batch in input_pipeline.eval_batches(ids, BATCH_SIZE):
        out = model(tf.constant(batch), training=False)
        probs[positions] = out["probabilities"].numpy()
        outputs = [out["alpha_s"].numpy()] + ([out["alpha_t"].numpy()] if has_target else [])
        for r, alpha in enumerate(outputs):
            for row, i in enumerate(positions):
                alphas[r][i] = alpha[row, : len(tokens[i])].astype(np.float32)
    threshold = _threshold(run_dir)
    predicted = metrics.predict_labels(probs, threshold) if threshold is not None and len(texts) else None
    result = []
    for i, text in enumerate(texts):
        result.append({
            "text": text,
            "tokens": tokens[i],
            "token_ids": ids[i],
            "rows": {label: alphas[r][i] for r, label in enumerate(labels)},
            "probabilities": probs[i],
            "predicted": None if predicted is None else [n for n, on in zip(label_names, predicted[i]) if on],
            "threshold": threshold,
            "name": name,
            "run_dir": str(run_dir),
        })
    return result


def unique_names(configs, run_dirs):
    """Display names of several runs: the variant titles, with the folder name where two clash."""
    names = [run_name(c) for c in configs]
    out = []
    for i, (n, d) in enumerate(zip(names, run_dirs)):
        if names.count(n) > 1:
            n = f"{n} ({Path(d).name or i + 1})"
        out.append(n)
    for i, n in enumerate(out):
        if out.count(n) > 1:
            out[i] = f"{n} #{i + 1}"
    return out


# -- text the font can draw --------------------------------------------------------------------


@functools.cache
def plot_fonts():
    """(font family list, set of code points they cover): the default font plus fallbacks."""
    default = font_manager.findfont(font_manager.FontProperties(family=matplotlib.rcParams["font.family"]))
    families = [font_manager.FontProperties(fname=default).get_name()]
    installed = {f.name for f in font_manager.fontManager.ttflist}
    families += [f for f in FALLBACK_FAMILIES if f in installed and f not in families]
    covered = set()
    for family in families:
        path = default if family == families[0] else font_manager.findfont(
            font_manager.FontProperties(family=family), fallback_to_default=False)
        try:
            covered.update(FT2Font(path).get_charmap())
        except (OSError, RuntimeError, ValueError):
            continue
    return tuple(families), frozenset(covered)


def displayable(text, covered=None):
    """`text` with each character the plot fonts lack replaced by ":its unicode name:".

    Invisible characters (variation selectors, joiners, combining marks) the fonts lack are
    dropped; CJK ideographs (whose names are just their code points) and characters without
    a name become "U+XXXX". Two replaced characters in a row are separated by a space.
    """
    covered = plot_fonts()[1] if covered is None else covered
    out, replaced_last = [], False
    for ch in text:
        name = unicodedata.name(ch, "")
        if ord(ch) in covered:
            out.append(ch)
            replaced_last = False
            continue
        if unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc") or "VARIATION SELECTOR" in name:
            continue
        if not name or name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")):
            piece = f"U+{ord(ch):04X}"
        else:
            piece = f":{name.lower()}:"
        out.append((" " if replaced_last else "") + piece)
        replaced_last = True
    s = "".join(out) or "?"
    return s if len(s) <= MAX_LABEL_CHARS else s[: MAX_LABEL_CHARS - 1] + "…"


# -- the figure --------------------------------------------------------------------------------


def _labels_text(labels):
    if labels is None:
        return "(no threshold yet)"
    return ", ".join(labels) if labels else "(none)"


def panel_title(index, per_run, gold=None):
    """'1. Base: joy, optimism | DATN-2: joy, optimism, love | gold: joy, optimism, love'."""
    parts = [f"{r['name']}: {_labels_text(r['predicted'])}" for r in per_run]
    if gold is not None:
        parts.append(f"gold: {_labels_text(list(gold))}")
    return f"{index}. " + "  |  ".join(parts)


def _layout(panels):
    """Figure size (inches) and per-panel heights for `panels` (see `figure_size`)."""
    n_tokens = max([len(p["tokens"]) for p in panels] + [1])
    label_chars = max([len(lab) for p in panels for lab in p["labels"]] + [4])
    width = max(7.0, 0.09 * label_chars + 0.45 * n_tokens + 1.6)
    wrap = max(40, int(width * 11))
    heights = []
    for p in panels:
        title_lines = len(textwrap.wrap(p["title"], wrap)) or 1
        tick_chars = max([len(t) for t in p["tokens"]] + [1])
        tick_space = 0.35 + 0.062 * tick_chars  # 60-degree labels at 9 pt
        if not p["tokens"]:
            heights.append(0.25 * title_lines + 0.75)
            continue
        rows = max(1, len(p["labels"]))
        heights.append(0.25 * title_lines + 0.42 * rows + tick_space + 0.35)
    return (round(width, 2), round(sum(heights) + 0.2, 2)), heights, wrap


def figure_size(panels):
    """(width, height) in inches of the figure `render` draws for `panels`."""
    return _layout(panels)[0]


def build_panels(per_text_rows, golds=None):
    """Panels (tokens, labels, weight matrix, title) from per-run `attention_rows` results.

    `per_text_rows[i]` is the list of each run's `attention_rows` dict for text i.
    """
    _, covered = plot_fonts()
    panels = []
    for i, per_run in enumerate(per_text_rows):
        gold = golds[i] if golds and i < len(golds) else None
        labels, weights = [], []
        for r in per_run:
            for label, w in r["rows"].items():
                labels.append(label)
                weights.append(w)
        tokens = per_run[0]["tokens"]
        if tokens:
            matrix, title = np.stack(weights), panel_title(i + 1, per_run, gold)
        else:  # nothing to attend to: no predictions shown either (they would be the model's on padding)
            matrix = np.zeros((len(labels), 0), np.float32)
            title = f"{i + 1}. (empty text)" + ("" if gold is None else f"  |  gold: {_labels_text(list(gold))}")
        panels.append({
            "tokens": [displayable(t, covered) for t in tokens],
            "labels": labels,
            "weights": matrix,
            "title": title,
        })
    return panels


def render(panels, output, dpi=DEFAULT_DPI, annotate=True):
    """Draws the panels into one PNG at `output` (atomic); returns (width, height) in pixels."""
    (width, height), heights, wrap = _layout(panels)
    families, _ = plot_fonts()
    with matplotlib.rc_context({"font.family": list(families), "font.size": 9}), warnings.catch_warnings():
        # Every character was checked against the fonts; never print per-glyph warnings.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from")
        fig = plt.figure(figsize=(width, height), dpi=dpi, layout="constrained")
        try:
            axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
            for ax, p in zip(axes, panels):
                _draw_panel(fig, ax, p, wrap, annotate)
            with io_utils.atomic_path(output) as tmp:
                fig.savefig(tmp, format="png", dpi=dpi)
            size = fig.canvas.get_width_height()
        finally:
            plt.close(fig)
    return size


def _draw_panel(fig, ax, p, wrap, annotate):
    ax.set_title("\n".join(textwrap.wrap(p["title"], wrap)), loc="left", fontsize=9, parse_math=False)
    if not p["tokens"]:
        ax.text(0.5, 0.5, "no tokens to attend to", ha="center", va="center",
                transform=ax.transAxes, color="0.4", parse_math=False)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("0.8")
        return
    w = p["weights"]
    vmax = float(w.max()) if w.size and w.max() > 0 else 1.0
    im = ax.imshow(w, cmap=CMAP, vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(p["labels"])), p["labels"], parse_math=False)
    ax.set_xticks(range(len(p["tokens"])), p["tokens"], rotation=60, ha="right",
                  rotation_mode="anchor", parse_math=False)
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(-0.5, w.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, w.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if annotate:
        for (r, c), v in np.ndenumerate(w):
            ax.text(c, r, f"{v:.2f}".lstrip("0") if v < 1 else "1", ha="center", va="center", fontsize=6.5,
                    color="white" if v > 0.6 * vmax else "black")
    cbar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.01, aspect=12)
    cbar.set_label("attention weight", fontsize=8)
    cbar.ax.tick_params(labelsize=7)


def visualize(run_dirs, texts, output, golds=None, dpi=DEFAULT_DPI, annotate=True):
    """Loads each run once, computes the rows, draws the figure; returns (panels, pixel size)."""
    loaded = [run_weights.load_run(d) for d in run_dirs]
    names = unique_names([c for c, _, _ in loaded], run_dirs)
    per_run = [attention_rows(d, texts, name=n, loaded=l) for d, n, l in zip(run_dirs, names, loaded)]
    per_text = [[rows[i] for rows in per_run] for i in range(len(texts))]
    panels = build_panels(per_text, golds)
    return panels, render(panels, output, dpi=dpi, annotate=annotate)


def parse_gold(spec, known):
    """Comma-separated label names -> tuple (checked against the runs' label names)."""
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"--gold {spec!r}: unknown label(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def read_texts(path):
    """One text per line of a UTF-8 file (LF or CRLF)."""
    return split_text_lines(Path(path).read_text(encoding="utf-8-sig"))


# -- command line ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class VisualizeConfig:
    """The command's settings, one flag each (--run_dirs and --output must be given)."""

    run_dirs: tuple = setting(None, "Comma-separated training runs, one or more (e.g. a Base and a DATN-2 run).")
    output: str = setting(None, "PNG file to write (e.g. fig3.png).")
    text: tuple | None = setting(None, "A sentence to draw (repeatable). Default: the paper's Figure 3 sentence.",
                                 repeatable=True)
    input: str | None = setting(None, "A UTF-8 file with one sentence per line (after the --text ones).")
    gold: tuple | None = setting(None, "Gold labels of the i-th sentence, comma-separated (repeatable).",
                                 repeatable=True)
    dpi: int = setting(DEFAULT_DPI, "Resolution of the PNG.", minimum=1, maximum=MAX_DPI)
    annotate: bool = setting(True, "Write each weight in its cell.")


def define_flags():
    """The command's flags; defined only when run as a program (other commands define --output)."""
    config_lib.define_flags(config_class=VisualizeConfig)


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(VisualizeConfig)
        if not settings.run_dirs:  # --run_dirs= (an empty list)
            raise UserError("--run_dirs must be given")
        cli.check_list("--run_dirs", settings.run_dirs)
        cli.check_outputs({"--output": settings.output}, inputs={"--input": settings.input},
                          runs=[("--run_dirs", d) for d in settings.run_dirs])
        if Path(settings.output).is_dir():
            raise UserError(f"--output {settings.output} is a folder; give a PNG file name, e.g. "
                            f"{Path(settings.output) / 'attention.png'}")
        texts = list(settings.text or [])
        if settings.input:
            try:
                texts += read_texts(settings.input)
            except UnicodeDecodeError as e:
                raise UserError(f"--input {settings.input}: not UTF-8 text (byte {e.start})") from None
        default_text = not texts
        if default_text:
            texts = [PAPER_SENTENCE]
        configs = [run_dir_lib.read_run_config(d) for d in settings.run_dirs]
        known = sorted({n for c in configs for n in c["emotion_names"]})
        gold_specs = list(settings.gold or [])
        if len(gold_specs) > len(texts):
            raise UserError(f"{len(gold_specs)} --gold for {len(texts)} sentences")
        golds = [parse_gold(s, known) for s in gold_specs]
        if default_text and not golds and set(PAPER_GOLD) <= set(known):
            golds = [PAPER_GOLD]
        for i, t in enumerate(texts):
            if not t.strip():
                print(f"note: sentence {i + 1} is empty; its panel is left empty", file=sys.stderr)
        runtime.quiet_logging()
        panels, (w, h) = visualize(settings.run_dirs, texts, settings.output, golds, dpi=settings.dpi,
                                   annotate=settings.annotate)
    print(f"wrote {settings.output} ({w}x{h} px, {len(panels)} panel{'s' if len(panels) != 1 else ''}, "
          f"{len(settings.run_dirs)} run{'s' if len(settings.run_dirs) != 1 else ''})")


if __name__ == "__main__":
    define_flags()
    cli.run(main)
