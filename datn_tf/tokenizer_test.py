"""Tests of the one tokenizer: exact token lists for hand-written tweets, and identical
tokens eagerly, in tf.function, in tf.data and in a reloaded SavedModel."""

import pytest
import tensorflow as tf

from datn_tf import tokenizer
from datn_tf.testing import tokenize_py
from datn_tf.tokenizer import LANGUAGES, tokenize

FIGURE_3 = (
    "When you dread going to work early … but you always come back home happy ; "
    "smiling # goodday"
)

EN_CASES = [
    # --- emoji: single, repeated, glued to a word, modifiers, ZWJ, flags
    ("I love it 😍", ["i", "love", "it", "😍"]),
    ("happy😊😊", ["happy", "😊", "😊"]),
    ("😂😂😂lol", ["😂", "😂", "😂", "lol"]),
    ("great job 👍🏽 ❤️", ["great", "job", "👍", "❤"]),
    ("coding 👩\u200d💻!", ["coding", "👩", "💻", "!"]),
    ("go 🇺🇸🇬🇧 1️⃣", ["go", "🇺🇸", "🇬🇧", "1"]),
    ("I ♥ you ✨✨", ["i", "♥", "you", "✨", "✨"]),
    # --- hashtags: '#' and the word
    ("#fearless", ["#", "fearless"]),
    ("Feeling #Blessed! #1", ["feeling", "#", "blessed", "!", "#", "1"]),
    # --- emoticons
    (":-) :) ;D <3", [":-)", ":)", ";d", "<3"]),
    (":( :P :/ :'( =)) >:( </3", [":(", ":p", ":/", ":'(", "=))", ">:(", "</3"]),
    ("^_^ -_- >.< o.O T_T ^^", ["^_^", "-_-", ">.<", "o.o", "t_t", "^^"]),
    ("lol:) (: D: xD", ["lol", ":)", "(:", "d:", "xd"]),
    ("Note:Do it :D!!!", ["note", ":", "do", "it", ":d", "!!!"]),
    ("it's fine :/path", ["it", "'s", "fine", ":", "/", "path"]),
    # --- URLs, domains, e-mail
    (
        "check http://t.co/AbC?x=1&y=2. now",
        ["check", "http://t.co/abc?x=1&y=2", ".", "now"],
    ),
    ("(see https://example.com/a_b)", ["(", "see", "https://example.com/a_b", ")"]),
    (
        "www.google.com, example.com! bit.ly/xyz live.ly",
        ["www.google.com", ",", "example.com", "!", "bit.ly/xyz", "live.ly"],
    ),
    ("so tired.so sad", ["so", "tired", ".", "so", "sad"]),
    ("mail john.doe@mail.com.", ["mail", "john.doe@mail.com", "."]),
    # --- mentions
    ("@user_name thanks!", ["@user_name", "thanks", "!"]),
    (".@Bob's dog @amy:", [".", "@bob", "'s", "dog", "@amy", ":"]),
    # --- contractions (Penn style, as in glove.6B)
    ("don't", ["do", "n't"]),
    ("I’m", ["i", "'m"]),
    (
        "can't won't isn't DON'T",
        ["ca", "n't", "wo", "n't", "is", "n't", "do", "n't"],
    ),
    (
        "she'll we've they're he'd it's",
        ["she", "'ll", "we", "'ve", "they", "'re", "he", "'d", "it", "'s"],
    ),
    (
        "o'clock y'all self-esteem ex-wife's",
        ["o'clock", "y'all", "self-esteem", "ex-wife", "'s"],
    ),
    ("kids' toys 'quoted'", ["kids", "'", "toys", "'", "quoted", "'"]),
    # --- punctuation runs and edge punctuation
    ("wow!!! really?! wait...", ["wow", "!!!", "really", "?!", "wait", "..."]),
    ("I go to work.", ["i", "go", "to", "work", "."]),
    ('"hello"', ['"', "hello", '"']),
    ("“hello” ‘world’", ['"', "hello", '"', "'", "world", "'"]),
    (
        "*hugs* (yes) [ok] ~~~ --",
        ["*", "hugs", "*", "(", "yes", ")", "[", "ok", "]", "~~~", "--"],
    ),
    ("this -> that <-- => ok", ["this", "->", "that", "<--", "=>", "ok"]),
    ("U.S. e.g. R.I.P Mr. Smith", ["u.s.", "e.g.", "r.i.p", "mr.", "smith"]),
    # --- literal backslash escapes from the E-c files, real whitespace
    ("why?\\nHe said\\r\\nno", ["why", "?", "he", "said", "no"]),
    ("a\nb\tc\u00a0d\u3000e", ["a", "b", "c", "d", "e"]),
    # --- HTML entities
    (
        "Q&amp;A &lt;3 &gt;:( &amp;amp; &quot;hi&quot; it&#39;s",
        ["q", "&", "a", "<3", ">:(", "&", '"', "hi", '"', "it", "'s"],
    ),
    # --- numbers
    ("$3.39 50% 1,000 people", ["$", "3.39", "50", "%", "1,000", "people"]),
    ("12:30pm 9/11 1st 10am 2.5", ["12:30", "pm", "9/11", "1st", "10am", "2.5"]),
    ("1,2 and 3.", ["1", ",", "2", "and", "3", "."]),
    # --- elongations kept as written, lowercased
    ("Sooooo HAPPYYY", ["sooooo", "happyyy"]),
    # --- mixed scripts
    (
        "Привет мир! مرحبا بالعالم 我爱你 ÉCOLE",
        ["привет", "мир", "!", "مرحبا", "بالعالم", "我爱你", "école"],
    ),
    # --- the paper's Figure 3 sentence
    (
        FIGURE_3,
        [
            "when", "you", "dread", "going", "to", "work", "early", "…", "but", "you",
            "always", "come", "back", "home", "happy", ";", "smiling", "#", "goodday",
        ],
    ),
    # --- empty and whitespace-only
    ("", []),
    ("   ", []),
    ("\t\n \\n ", []),
    ("\u3000\u00a0\u200b", []),
]


@pytest.mark.parametrize("text,expected", EN_CASES, ids=[repr(c[0])[:40] for c in EN_CASES])
def test_en_tokens(text, expected):
    assert tokenize_py(text) == expected


def test_zh_splits_on_any_whitespace_only():
    text = "我 爱 你\u3000今天\t天气  很好！\nHello"
    assert tokenize_py(text, "zh") == ["我", "爱", "你", "今天", "天气", "很好！", "Hello"]
    assert tokenize_py(" \u3000 ", "zh") == []


def test_batch_gives_ragged_rows_including_empty():
    out = tokenize(tf.constant(["Don't stop!", "", "   ", "#happy"]))
    assert isinstance(out, tf.RaggedTensor)
    assert out.dtype == tf.string
    assert out.shape.as_list() == [4, None]
    assert out.row_lengths().numpy().tolist() == [4, 0, 0, 2]
    assert out.to_list() == [[b"do", b"n't", b"stop", b"!"], [], [], [b"#", b"happy"]]


def test_accepts_python_str_list_and_scalar_tensor():
    assert tokenize("hi there").to_list() == [[b"hi", b"there"]]
    assert tokenize(["a", "b c"]).to_list() == [[b"a"], [b"b", b"c"]]
    assert tokenize(tf.constant("x y")).to_list() == [[b"x", b"y"]]
    assert tokenize([]).shape.as_list() == [0, None]


def test_rejects_unknown_language_and_matrix_input():
    assert LANGUAGES == ("en", "zh")
    with pytest.raises(ValueError):
        tokenize(["x"], language="fr")
    with pytest.raises(ValueError):
        tokenize([["a"], ["b"]])


def test_long_string():
    unit = "I'm sooo happy😊 #fearless :-) http://t.co/x?y=1. @bob's 3.39 мир 我爱你 … "
    text = (unit * 200)[:10000]
    tokens = tokenize_py(text)
    assert tokens[:14] == [
        "i", "'m", "sooo", "happy", "😊", "#", "fearless", ":-)", "http://t.co/x?y=1", ".",
        "@bob", "'s", "3.39", "мир",
    ]
    assert len(tokens) > 2000
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    assert tokenize_py("a" * 10000) == ["a" * 10000]


def _all_texts():
    return [text for text, _ in EN_CASES]


def test_tf_function_matches_eager():
    texts = tf.constant(_all_texts())
    eager = tokenize(texts).to_list()
    graph_fn = tf.function(tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    assert graph_fn(texts).to_list() == eager
    assert eager == [[t.encode() for t in expected] for _, expected in EN_CASES]


def test_tf_data_map_matches_eager():
    texts = _all_texts()
    eager = tokenize(tf.constant(texts)).to_list()
    batched = tf.data.Dataset.from_tensor_slices(texts).batch(7).map(tokenize)
    got = [row for batch in batched for row in batch.to_list()]
    assert got == eager
    single = tf.data.Dataset.from_tensor_slices(texts).map(lambda s: tokenize(s)[0])
    assert [row.numpy().tolist() for row in single] == eager


def test_saved_model_matches_eager(tmp_path):
    module = tf.Module()
    module.tokenize = tf.function(
        lambda texts: tokenize(texts).to_tensor(default_value=""),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    texts = tf.constant(_all_texts())
    expected = tokenize(texts).to_tensor(default_value="").numpy().tolist()
    assert restored.tokenize(texts).numpy().tolist() == expected


def test_patterns_are_documented_module_constants():
    for name in ("URL", "EMAIL", "MENTION", "EMOTICON", "NUMBER", "WORD", "TOKEN_RE"):
        assert isinstance(getattr(tokenizer, name), str)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("@Bob see http://t.co/x4 or www.bbc.co.uk", ["<user>", "see", "<url>", "or", "<url>"]),
        ("mail a.b@x.com at 12:30 on 9/11/2017", ["mail", "<email>", "at", "<time>", "on", "<date>"]),
        # Scores and fractions are not dates; "D:" after a letter is not a face.
        ("rated 10/10 24/7 and vitamin D: yes", ["rated", "10/10", "24/7", "and", "vitamin", "d:", "yes"]),
        ("1,000 of 3.5 and 42 but not 10am or 1st", ["<number>", "of", "<number>", "and", "<number>", "but",
                                                      "not", "10am", "or", "1st"]),
        (":) :-) (: ^_^ :D xD", ["<happy>", "<happy>", "<happy>", "<happy>", "<laugh>", "<laugh>"]),
        (":( ): ;( :'( ;_; </3", ["<sad>"] * 6),
        (";) ;D :P :o :/ -_- :* <3 >:(", ["<wink>", "<wink>", "<tong>", "<surprise>", "<annoyed>", "<annoyed>",
                                         "<kiss>", "<heart>", "<angry>"]),
        # Whole tokens only: words, hashtags and punctuation are left alone.
        ("so :)happy #blessed !!! x", ["so", "<happy>", "happy", "#", "blessed", "!!!", "x"]),
        ("", []),
    ],
)
def test_normalize_rewrites_whole_tokens_into_tags(text, expected):
    assert tokenize_py(text, normalize=True) == expected


def test_normalize_keeps_one_token_per_token_and_the_tags_are_fixed_points():
    text = "@a http://x.co 12:30 3 :) :( ;) :p :o :/ :* <3 >:( xd hello"
    plain, tagged = tokenize_py(text), tokenize_py(text, normalize=True)
    assert len(plain) == len(tagged)
    assert [p for p, t in zip(plain, tagged) if p == t] == ["hello"]
    # A tag fed back in as a token stays that tag; written in text it is three tokens.
    flat = tf.constant(list(tokenizer.TAG_NAMES))
    assert tokenizer.tag_tokens(flat).numpy().tolist() == [t.encode() for t in tokenizer.TAG_NAMES]
    assert tokenize_py("<url>", normalize=True) == ["<", "url", ">"]


def test_normalize_is_english_only_and_works_in_a_graph():
    with pytest.raises(ValueError, match="English only"):
        tokenize("我 很 高兴", "zh", normalize=True)
    fn = tf.function(lambda t: tokenize(t, "en", True).to_tensor(""))
    out = fn(tf.constant(["@x :)", "hi"])).numpy().tolist()
    assert out == [[b"<user>", b"<happy>"], [b"hi", b""]]
