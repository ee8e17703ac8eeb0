"""Test helpers: tiny, deterministic files in the official data formats.

Every test in the project builds its own data with these helpers (the real
SemEval and Ren-CECps files may not be copied into the repository). The writers
reproduce the quirks the readers must handle; `make_fixture_data_dir` builds a
complete small data folder whose labels follow keywords ("happy" -> joy,
"讨厌" -> Hate, "awesome" -> positive), so that a tiny model can learn them.
"""

import contextlib
import random
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import tensorflow as tf

from datn_tf.config import TrainConfig
from datn_tf.data.ren_cecps import SPLITS
from datn_tf.errors import DataFormatError, TrainingInterrupted
from datn_tf.tokenizer import tokenize

# Kept literal here (not imported from datn_tf.data) so that a fixture file is
# independent of the reader it tests.
EC_EMOTIONS = (
    "anger", "anticipation", "disgust", "fear", "joy", "love",
    "optimism", "pessimism", "sadness", "surprise", "trust",
)  # fmt: skip
REN_EMOTIONS = (
    "Joy",
    "Hate",
    "Love",
    "Sorrow",
    "Anxiety",
    "Surprise",
    "Anger",
    "Expect",
)

# Punctuation the real Segmented_S strings leave without a POS tag.
_UNTAGGED = {"。", "？", "！"}
_PUNCTUATION = {"，", "：", "“", "”", "、", "；"} | _UNTAGGED


def _write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


@contextlib.contextmanager
def expect_data_error(path, line, *fragments):
    """Asserts that the block raises `DataFormatError` for `path`:`line`.

    The message must read `path:line: problem` and contain every fragment (e.g.
    the name of the bad label), so a user can find and fix the input.
    """
    try:
        yield
    except DataFormatError as err:
        message = str(err)
        where = str(path) if line is None else f"{path}:{line}"
        assert err.path == str(path), f"error names {err.path!r}, not {str(path)!r}"
        assert err.line == line, f"error names line {err.line}, not {line}: {message}"
        assert message.startswith(where + ": "), message
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in {message!r}"
    else:
        raise AssertionError(f"no DataFormatError for {path}:{line}")


# ----------------------------------------------------------------------------
# SemEval-2018 E-c
# ----------------------------------------------------------------------------


def write_ec_file(path, rows, header=True):
    """Writes an E-c file: `ID<TAB>Tweet<TAB>` 11 label columns, LF line ends.

    Args:
        path: destination.
        rows: `(id, tweet, labels)` with 11 labels (ints, or "NONE" as in the
            official unlabelled input); a `str` row is written verbatim (to
            build malformed lines).
        header: write the official header line first.
    """
    lines = ["\t".join(("ID", "Tweet") + EC_EMOTIONS)] if header else []
    for row in rows:
        if isinstance(row, str):
            lines.append(row)
            continue
        tweet_id, tweet, labels = row
        lines.append("\t".join([str(tweet_id), tweet] + [str(v) for v in labels]))
    return _write(path, "".join(line + "\n" for line in lines))


_EC_CUES = {
    "anger": (["furious", "so angry at", "livid about"], "#angry", "😡"),
    "anticipation": (
        ["can't wait for", "counting down to", "waiting for"],
        "#soon",
        "⏳",
    ),
    "disgust": (["grossed out by", "disgusted by", "sick of"], "#gross", "🤢"),
    "fear": (["scared of", "terrified of", "afraid of"], "#scared", "😱"),
    "joy": (["so happy about", "delighted with", "laughing at"], "#happy", "😂"),
    "love": (["in love with", "adore", "love"], "#love", "❤️"),
    "optimism": (["hopeful about", "positive about", "confident about"], "#hope", "🌈"),
    "pessimism": (["hopeless about", "doomed by", "giving up on"], "#doomed", "😞"),
    "sadness": (["sad about", "crying over", "heartbroken by"], "#sad", "😢"),
    "surprise": (["shocked by", "stunned by", "amazed by"], "#wow", "😮"),
    "trust": (["trust", "rely on", "believe in"], "#faith", "🤝"),
}
_EC_TOPICS = [
    "the new job", "my sister", "this weather", "the game tonight", "Monday",
    "the exam", "my phone", "the election", "this song", "the traffic",
]  # fmt: skip


def _ec_rows(rng, count, prefix, start):
    """`count` tweets: row 0 has no emotion, row 1 a literal "\\n", others 1-2 emotions."""
    rows = []
    for i in range(count):
        tweet_id = f"{prefix}-{start + i:05d}"
        topic = rng.choice(_EC_TOPICS)
        if i == 0:
            rows.append((tweet_id, f"Reading about {topic} at the office.", [0] * 11))
            continue
        # Cycle through the emotions so that every one appears in every file.
        chosen = {EC_EMOTIONS[(i - 1) % 11]}
        if rng.random() < 0.4:
            chosen.add(rng.choice(EC_EMOTIONS))
        parts = []
        if rng.random() < 0.4:
            parts.append(f"@user_{rng.randrange(100)}")
        for emotion in sorted(chosen, key=EC_EMOTIONS.index):
            words, hashtag, emoji = _EC_CUES[emotion]
            parts.append(f"{rng.choice(words)} {topic}")
            parts.append(hashtag if rng.random() < 0.5 else emoji)
        if rng.random() < 0.25:
            parts.append(f"https://t.co/{rng.randrange(16**6):06x}")
        tweet = " ".join(parts)
        if i == 1:
            tweet = tweet.replace(" ", "\\n", 1)  # Literal backslash-n, as released.
        if i == 2:
            tweet = f'"{tweet}" she said.'  # Quotes that are part of the tweet.
        labels = [int(e in chosen) for e in EC_EMOTIONS]
        rows.append((tweet_id, tweet, labels))
    return rows


# ----------------------------------------------------------------------------
# SemEval-2016 Task 4A
# ----------------------------------------------------------------------------


def _csv_quote(text):
    return '"' + text.replace('"', '""') + '"'


def _unicode_escape(text):
    return text.replace(",", "\\u002c").replace("’", "\\u2019")


def write_4a_file(path, rows, quote=False, fourth_column=False, escape_unicode=False):
    """Writes a 4A file: `id<TAB>label<TAB>text[<TAB>extra]`, LF line ends.

    Args:
        path: destination.
        rows: `(id, label, text)` or `(id, label, text, extra)`; a `str` row is
            written verbatim (to build malformed lines).
        quote: CSV-quote texts (`"..."`, inner `"` doubled) as some released
            files do: `True` for every row, or a collection of row indexes.
        fourth_column: add the 4th column (the row's `extra`, else empty), as in
            `twitter-2016test-A.tsv`.
        escape_unicode: write "," and "’" as the literal `\\u002c` / `\\u2019`
            escapes of the 2013 and 2015 files.
    """
    lines = []
    for i, row in enumerate(rows):
        if isinstance(row, str):
            lines.append(row)
            continue
        tweet_id, label, text, *extra = row
        if escape_unicode:
            text = _unicode_escape(text)
        if quote is True or (quote and i in quote):
            text = _csv_quote(text)
        fields = [str(tweet_id), label, text]
        if fourth_column:
            fields.append(extra[0] if extra else "")
        lines.append("\t".join(fields))
    return _write(path, "".join(line + "\n" for line in lines))


_4A_CUES = {
    "positive": ["is awesome", "was great", "made my day", "is the best"],
    "negative": ["is terrible", "was awful", "ruined my day", "is the worst"],
    "neutral": ["is scheduled", "was announced", "will be on TV", "is listed"],
}
_4A_TOPICS = [
    "Michael Jackson's album", "Amazon Prime Day", "the Iron Maiden show",
    "Taylor Swift's tour", "the Microsoft update", "Game of Thrones",
]  # fmt: skip
_4A_DAYS = ["on Monday", "tomorrow", "on Sunday", "this Friday", "tonight"]


def _4a_rows(rng, count, start):
    rows = []
    for i in range(count):
        label = ("positive", "negative", "neutral")[i % 3]
        text = (
            f"{rng.choice(_4A_TOPICS)} {rng.choice(_4A_DAYS)} "
            f"{rng.choice(_4A_CUES[label])}"
        )
        if i % 4 == 1:
            text += ", right?"  # A comma, for the \u002c escape.
        if i % 5 == 2:
            text = f'"{text}" - said @fan_{i}'  # Tweet's own quotes: not CSV quoting.
        if i % 7 == 3:
            text += " &amp; more http://t.co/x" + str(i)
        rows.append((str(630000000000000000 + 7919 * (start + i)), label, text))
    return rows


# ----------------------------------------------------------------------------
# Ren-CECps
# ----------------------------------------------------------------------------

_POS = {
    "我": "r", "今天": "t", "了": "u", "的": "u", "很": "d", "非常": "d",
    "她": "r", "生活": "n", "工作": "vn", "孩子": "n", "朋友": "n", "这": "r",
    "件": "q", "事": "n", "觉得": "v",
}  # fmt: skip
_REN_CUES = {
    "Joy": ["高兴", "快乐"],
    "Hate": ["讨厌"],
    "Love": ["喜欢", "爱"],
    "Sorrow": ["难过", "伤心"],
    "Anxiety": ["担心", "焦虑"],
    "Surprise": ["惊讶"],
    "Anger": ["生气", "愤怒"],
    "Expect": ["希望", "期待"],
}
_REN_POSITIVE = {"Joy", "Love", "Expect"}


def _tag(token):
    if isinstance(token, tuple):
        word, pos = token
        return f"{word}/{pos}" if pos else word
    if token in _UNTAGGED:
        return token
    if token in _PUNCTUATION:
        return f"{token}/w"
    return f"{token}/{_POS.get(token, 'v')}"


def _segmented(tokens):
    # Leading space and double-space separators, as in the released files.
    return " " + "  ".join(_tag(t) for t in tokens) if tokens else ""


def _intensity_lines(emotions, indent):
    if not isinstance(emotions, dict):
        emotions = dict(zip(REN_EMOTIONS, emotions))
    return [
        f"{indent}<{name}>{float(emotions.get(name, 0.0)):.1f}</{name}>"
        for name in REN_EMOTIONS
    ]


def _sentence_xml(tag, tokens, emotions, polarity, indent, extra_attrs=""):
    raw = "".join(t[0] if isinstance(t, tuple) else t for t in tokens)
    attr = "T" if tag == "title" else "S"
    inner = indent + "    "
    lines = [f"{indent}<{tag} {attr}={quoteattr(raw)}{extra_attrs}>"]
    lines.append(f"{inner}<Segmented_S>{escape(_segmented(tokens))}</Segmented_S>")
    lines.append(f"{inner}<S_Length>{len(raw)}</S_Length>")
    # Word-level annotations carry emotion *attributes*; the reader must ignore them.
    lines.append(
        f'{inner}<Keywords start="-1" position="0" end="-1" Joy="0.9" Hate="0" '
        f'Love="0" Sorrow="0" Anxiety="0" Surprise="0" Anger="0" Expect="0" '
        f'POS="v" Opinionholder="0">{escape(raw[:1])}</Keywords>'
    )
    lines.append(f"{inner}<Opinion_Fact>opinion</Opinion_Fact>")
    if polarity is not None:
        lines.append(f"{inner}<Polarity>{polarity}</Polarity>")
    lines.extend(_intensity_lines(emotions, inner))
    lines.append(f"{indent}</{tag}>")
    return lines


def write_ren_document(
    path, sentences, polarity="中性", title=("我的", "日记"), paragraph_size=3
):
    """Writes a `cet_N.xml` shaped like the released Ren-CECps documents.

    Args:
        path: destination (name it `cet_N.xml` for `read_document`).
        sentences: each `(tokens, emotions)` or `(tokens, emotions, polarity)`.
            `tokens`: words, tagged automatically (`word/POS`; "。", "？", "！"
            untagged as in the corpus), or `(word, pos)` pairs written as given
            (`("/", "w")` -> `//w`, `("", "n")` -> `/n`, `(word, None)` ->
            untagged). `emotions`: `{name: intensity}` or 8 intensities in
            `REN_EMOTIONS` order. A per-sentence `polarity` of `None` omits the
            `<Polarity>` element; `""` writes it empty.
        polarity: polarity of sentences that do not give one.
        title: tokens of the document `<title>` (no emotion, `polarity`).
        paragraph_size: sentences per `<paragraph>`.
    """
    doc_emotions = {name: 0.0 for name in REN_EMOTIONS}
    for sentence in sentences:
        emotions = sentence[1]
        if not isinstance(emotions, dict):
            emotions = dict(zip(REN_EMOTIONS, emotions))
        for name, value in emotions.items():
            doc_emotions[name] = max(doc_emotions[name], float(value))

    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<document>"]
    lines.extend(_intensity_lines(doc_emotions, "    "))
    lines.append("    <Topic>日记</Topic>")
    lines.extend(_sentence_xml("title", list(title), {}, polarity, "    "))
    for start in range(0, len(sentences), paragraph_size):
        paragraph = start // paragraph_size + 1
        lines.append("    <paragraph>")
        lines.append(f"        <P_no>第{paragraph}段情感标注</P_no>")
        lines.extend(_intensity_lines({}, "        "))
        lines.append("        <Topic>生活</Topic>")
        lines.append(
            "        <Summarize_Sentences>---本段无主题句---</Summarize_Sentences>"
        )
        for offset, sentence in enumerate(sentences[start : start + paragraph_size]):
            tokens, emotions = sentence[0], sentence[1]
            sentence_polarity = sentence[2] if len(sentence) > 2 else polarity
            body = _sentence_xml(
                "sentence", list(tokens), emotions, sentence_polarity, "        "
            )
            body.insert(
                1, f"            <S_no>第{paragraph}段第{offset + 1}句标注</S_no>"
            )
            lines.extend(body)
        lines.append("    </paragraph>")
    lines.append("</document>")
    return _write(path, "\n".join(lines) + "\n")


def _ren_sentence(rng):
    """A sentence whose emotions are cued by words, with a consistent polarity."""
    k = rng.choice([0, 1, 1, 1, 2])
    chosen = rng.sample(REN_EMOTIONS, k)
    tokens = ["我", rng.choice(["今天", "觉得"]), "很"]
    emotions = {}
    for name in chosen:
        tokens.append(rng.choice(_REN_CUES[name]))
        emotions[name] = rng.choice([0.4, 0.6, 0.8, 1.0])
    tokens += [
        rng.choice(["生活", "工作", "孩子", "朋友"]),
        "了",
        rng.choice(["。", "！"]),
    ]
    if not chosen:
        polarity = "中性"
    elif all(name in _REN_POSITIVE for name in chosen):
        polarity = "积极"
    elif any(name in _REN_POSITIVE for name in chosen):
        polarity = rng.choice(["积极", "消极"])
    else:
        polarity = "消极"
    return [tokens, emotions, polarity]


# Ren-CECps documents written by `make_fixture_data_dir`, per split.
REN_FIXTURE_DOCS = {
    "train": (1, 2, 3),
    "dev": (561, 562),
    "test": (641,),
    "sentiment": (801, 802, 803),
}
REN_SENTENCES_PER_DOC = 5
# What `read_ren_cecps` keeps from `make_fixture_data_dir` (defaults): docs 1
# and 801 each hold a sentence without polarity, doc 2 one without words.
FIXTURE_COUNTS = {
    "ec_train": 40,
    "ec_dev": 15,
    "ec_test": 15,
    "4a_train": 30,
    "4a_dev": 12,
    "4a_test": 18,
    "4a_duplicates": 1,
    "ren_train": 13,
    "ren_dev": 10,
    "ren_test": 5,
    "ren_sentiment": 14,
}


def make_fixture_data_dir(root, *, with_test=False, seed=0):
    """Builds a complete small data folder in the official layout and formats.

    Layout (counts in `FIXTURE_COUNTS`):

        root/semeval2018-ec/2018-E-c-En-{train,dev}.txt   (+ -test-gold.txt)
        root/semeval2016-4a/twitter-2016{train,dev,test}-A.tsv
        root/ren-cecps/cet_N.xml  for N in REN_FIXTURE_DOCS (641 only with_test); every
                                  other N of the splits written, without sentences

    The E-c test file and the Ren-CECps test document are written only
    `with_test`, as the real test data is held out. Content is a deterministic
    function of `seed`; counts do not depend on it.

    Returns:
        `Path(root)`.
    """
    root = Path(root)

    def rng(name):
        # One generator per file, so that with_test leaves the other files as
        # they are (str seeds are hashed deterministically, whatever PYTHONHASHSEED).
        return random.Random(f"{seed}/{name}")

    ec = root / "semeval2018-ec"
    write_ec_file(
        ec / "2018-E-c-En-train.txt", _ec_rows(rng("ec-train"), 40, "2017-En", 20000)
    )
    write_ec_file(
        ec / "2018-E-c-En-dev.txt", _ec_rows(rng("ec-dev"), 15, "2018-En", 1000)
    )
    if with_test:
        write_ec_file(
            ec / "2018-E-c-En-test-gold.txt",
            _ec_rows(rng("ec-test"), 15, "2018-En", 3000),
        )

    s1 = root / "semeval2016-4a"
    train = _4a_rows(rng("4a-train"), 30, 0)
    dev = _4a_rows(rng("4a-dev"), 12, 100)
    test = _4a_rows(rng("4a-test"), 18, 200)
    test[5] = train[0]  # IDs repeat across the released files too.
    date = ("Wed Jul 29 12:01:22 +0000 2015",)
    test = [row + (date if i % 6 == 0 else ()) for i, row in enumerate(test)]
    write_4a_file(s1 / "twitter-2016train-A.tsv", train, quote={0, 7})
    write_4a_file(s1 / "twitter-2016dev-A.tsv", dev)
    # The 2016 test file quotes texts with a comma and has a mostly empty 4th column.
    quoted = {i for i, row in enumerate(test) if "," in row[2] or '"' in row[2]}
    write_4a_file(s1 / "twitter-2016test-A.tsv", test, quote=quoted, fourth_column=True)

    ren = root / "ren-cecps"
    for split, docs in REN_FIXTURE_DOCS.items():
        if split == "test" and not with_test:
            continue
        for doc in docs:
            doc_rng = rng(f"cet_{doc}")
            sentences = [_ren_sentence(doc_rng) for _ in range(REN_SENTENCES_PER_DOC)]
            if doc in (1, 801):
                sentences[1][2] = None  # No <Polarity> element.
            if doc == 2:
                sentences[3][0] = []  # Empty <Segmented_S>.
            if doc == 3:
                # A "/" word ("//w") and an ideographic space segmented as "　/n".
                sentences[0][0] = sentences[0][0][:-1] + [("/", "w"), ("　", "n"), "。"]
            write_ren_document(
                ren / f"cet_{doc}.xml", sentences, title=("我的", "日记")
            )
    # Every other document of the splits written is present but holds no sentence, so that
    # the corpus is complete (a missing document is an error) and the counts stay small.
    for split, (first, last) in SPLITS.items():
        if split == "test" and not with_test:
            continue
        for doc in set(range(first, last + 1)) - set(REN_FIXTURE_DOCS[split]):
            write_ren_document(ren / f"cet_{doc}.xml", [], title=())
    return root


# A training configuration small enough for a test to run a whole fit in seconds.
TINY_MODEL = dict(batch_size=8, hidden_size=6, attention_size=5, mlp_hidden_units=7)


def tiny_train_config(data_dir, output_dir, **overrides):
    """`TrainConfig` for tests: tiny model, a couple of epochs, frequent evaluation."""
    settings = dict(TINY_MODEL, dataset="semeval", variant="datn2", epochs=2, pretrain_epochs=1,
                    eval_every=3, log_every=3)
    settings.update(overrides)
    return TrainConfig(data_dir=str(data_dir), output_dir=str(output_dir), **settings)


def tokenize_py(text, language="en", normalize=False):
    """The tokens of one Python string as Python strings (`tokenizer.tokenize`, eagerly)."""
    tokens = tokenize(tf.constant([text], dtype=tf.string), language, normalize)
    return [t.decode("utf-8") for t in tokens[0].numpy().tolist()]


def fit_killed_after(trainer, steps):
    """Runs `trainer.fit()` and stops it after `steps` steps of this call, as a kill before the next
    step would: the run is left unfinished, its last checkpoint where the loop saved it."""
    original, done = trainer.train_iteration, []

    def iteration(streams):
        if len(done) == steps:
            raise KeyboardInterrupt
        done.append(1)
        return original(streams)

    trainer.train_iteration = iteration
    try:
        trainer.fit()
    except TrainingInterrupted:
        return
    raise AssertionError(f"the run finished within {steps} steps")
