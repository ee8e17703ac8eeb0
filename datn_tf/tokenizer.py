"""The project's one tokenizer, built from TensorFlow string ops only.

Section 3.1 of the paper tokenizes tweets "following Owoputi et al. (2013)", i.e. with the
rules of Twokenize (ark-twokenize), "except that we split the hashtag into '#' and its
subsequent word". This module re-expresses those rules with `tf.strings.regex_replace`
(RE2: no lookaround, no backreferences) and `tf.strings.split`, so that one function runs
eagerly, inside `tf.data`, inside `tf.function` and inside an exported SavedModel: a
serving model sees exactly the tokens training saw.

English (`language="en"`), eleven string ops over the whole batch (plus one per tag of
`TAGS` with `normalize=True`, `--normalize_tokens`):

1. `SPACE_LIKE_RE` -> " ": the literal two-character escapes ``\\n``, ``\\r``, ``\\t``
   found in the SemEval E-c files, and Unicode whitespace that `tf.strings.split`
   would not split on (no-break space, ideographic space, ...).
2. `INVISIBLE_RE` -> "": zero-width joiners, variation selectors, skin-tone modifiers,
   keycap and tag characters.
3. Five `ENTITY_PASSES` (`&amp;` first, as Twokenize does, so double-escaped text
   works); two of them also fold typographic quotes into ASCII `'` and `"`.
4. `TOKEN_RE` -> " \\0 ": one leftmost-first alternation of every token shape (URL,
   e-mail, bare domain, face, @mention, number, abbreviation, heart, emoticon, arrow,
   flag, reversed emoticon, word, punctuation run, any other single character). RE2
   scans left to right and at each position takes the first alternative that matches,
   so a protected token (`http://t.co/x`, `:-)`, `3.39`) is consumed whole before its
   characters can be tried as anything else; each match is re-emitted between spaces.
   The pattern has no capture group, so RE2 finds matches with its DFAs alone.
5. `CLITIC_RE` -> "\\1 \\2": splits a clitic off the end of a token (`do n't`).
6. `tf.strings.lower(encoding="utf-8")`, then `tf.strings.split` on ASCII whitespace.

Chinese (`language="zh"`): the examples are already segmented, so every Unicode
whitespace character becomes an ASCII space and the text is split on it; nothing else.

Design decisions (each pinned by `tokenizer_test.py`):
* Emoji / pictographs: every code point that is not a letter, mark, digit or `_` and is
  not part of a longer protected token is its own token, so `happy😊😊` gives `happy`,
  `😊`, `😊`. Skin-tone modifiers and variation selectors are dropped (`👍🏽` and `❤️`
  give `👍` and `❤`), zero-width joiners between emoji are dropped so that a ZWJ
  sequence gives its component emoji (`👩‍💻` -> `👩`, `💻`), a pair of regional
  indicators stays one flag token (`🇺🇸`). Dropping a ZWJ/ZWNJ between two letters
  leaves an Indic or Persian word in one piece.
* Numbers: `3.39`, `1,000`, `12:30`, `9/11`, `192.168.0.1` are one token; currency signs
  and `%` are split off (`$3.39` -> `$`, `3.39`; `50%` -> `50`, `%`), as in the Stanford
  tokenization of the glove.6B vectors. Digits and letters together (`1st`, `10am`,
  `2day`) form one word.
* Contractions are split Penn-style, which is how glove.6B spells them: `don't` ->
  `do`, `n't`; `can't` -> `ca`, `n't`; `I'm` -> `i`, `'m`; `she'll` -> `she`, `'ll`;
  `@user's` -> `@user`, `'s`. Other word-internal apostrophes and hyphens stay
  (`o'clock`, `y'all`, `self-esteem`). `’` `‘` `′` count as `'`.
* Elongations (`soooo`, `happyyyy`) are kept as written: RE2 has no backreferences, and
  Twokenize does not normalize them either.
* Hashtags: `#` is always its own token (paper, Section 3.1): `#fearless` -> `#`,
  `fearless`.
* URLs: `http(s)://...` and `www....` up to the first space, `<`, `>` or `"`, minus
  trailing `'.?!,:;)]}(*`; bare domains (`example.com`, `bbc.co.uk`, `live.ly`) only for
  common TLDs, or for any TLD when followed by a path (`youtu.be/x`), so that sentences
  glued without a space (`tired.so`) are not taken for domains.
* Edge punctuation is split from words; `.?!,…` runs, quote runs and `:;` runs stay one
  token (`!!!`, `...`, `?!`), as do runs of one other ASCII symbol (`***`, `--`, `~~`).
"""

import tensorflow as tf

from datn_tf.errors import UserError

LANGUAGES = ("en", "zh")

# --------------------------------------------------------------------------------------
# Character classes and pieces (RE2 syntax).

# Whitespace that tf.strings.split(sep=None) does not split on (it only knows ASCII
# " \t\n\v\f\r") plus the zero-width space; all become an ASCII space first.
_UNICODE_SPACE = (
    r"\x{1C}-\x{1F}\x{85}\x{A0}\x{1680}\x{2000}-\x{200B}\x{2028}\x{2029}\x{202F}\x{205F}"
    r"\x{3000}"
)
# ASCII whitespace, what is left after the first pass.
_ASCII_SPACE = r"[\t\n\v\f\r ]"

# URL characters: printable ASCII except space, the double quote and angle brackets.
_URL_CHAR = r"[!#-;=?-~]"
# Characters that may end a URL: _URL_CHAR minus the punctuation Twokenize treats as
# "extra crap before the end" of a URL, minus closing brackets: '.?!,:;)]}(*
_URL_END = r"[#$%&+\-/0-9=@A-Z\[\\^_`a-z{|~]"

# Top-level domains accepted in a bare domain name without a path (`example.com`,
# `live.ly`); any 2-6 letter TLD is accepted when a path follows (`youtu.be/abc`).
_BARE_TLDS = (
    "com|org|net|edu|gov|mil|info|biz|ly|co|io|tv|fm|gl|gd|uk|ca|au|de|fr|jp|ru|cn|nz|ie"
)

# Penn Treebank clitics, as spelled in glove.6B.
_CLITIC = r"(?i:n't|'(?:s|m|d|re|ve|ll))"

# --------------------------------------------------------------------------------------
# Normalization passes (en).

# -> " ": the literal two-character escapes found in the E-c tweets (`why?\nHe`) and
# Unicode whitespace.
SPACE_LIKE_RE = r"\\[nrt]|[" + _UNICODE_SPACE + "]"

# -> "": zero-width joiners (so a ZWJ emoji sequence falls apart into its emoji, and a
# joiner inside an Indic or Persian word leaves the word whole), variation selectors,
# the keycap mark, skin-tone modifiers, tag characters (subdivision flags), word joiner
# and byte-order mark.
INVISIBLE_RE = (
    r"[\x{200C}\x{200D}\x{2060}\x{FEFF}\x{FE00}-\x{FE0F}\x{20E3}\x{1F3FB}-\x{1F3FF}"
    r"\x{E0020}-\x{E007F}]"
)

# HTML entities that Twokenize unescapes; `&amp;` first so `&amp;lt;` becomes `<`.
# Typographic quotes are folded into the same ASCII replacements (glove.6B has `'`, `"`).
ENTITY_PASSES = (
    (r"&(?:amp;)+", "&"),
    (r"&lt;", "<"),
    (r"&gt;", ">"),
    (r"&quot;|[\x{201C}\x{201D}\x{201E}\x{201F}\x{2033}]", '"'),
    (r"&#0*39;|&#[xX]0*27;|&apos;|[\x{2018}\x{2019}\x{201B}\x{2032}]", "'"),
)

# --------------------------------------------------------------------------------------
# Token shapes, in the order the tokenizing pass tries them at each position. None has
# a capture group: with the rewrite `\0` RE2 finds each match with its DFAs alone, which
# is faster than extracting submatches (docs/performance.md).

# http(s):// or www. followed by URL characters, not ending in punctuation.
URL = rf"(?i:https?://|www\d{{0,3}}\.)(?:{_URL_CHAR}*{_URL_END})?"

# name@domain.tld (before mentions and bare domains: `mary.me@x.com`).
EMAIL = r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"

# Bare domain; `\b` stands in for Twokenize's lookahead `(?=\W|$)`.
BARE_DOMAIN = (
    rf"[A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*\."
    rf"(?:(?i:{_BARE_TLDS})\b(?:/(?:{_URL_CHAR}*{_URL_END})?)?"
    rf"|[A-Za-z]{{2,6}}/(?:{_URL_CHAR}*{_URL_END})?)"
)

# Eastern and other faces with two eyes (RE2 has no backreferences, so each pair is
# spelled out): ^_^ ^^ (^_^) -_- -.- >_< o.O ;_; T.T *_* x_x ._. \o/ ಠ_ಠ ...
BASIC_FACE = (
    r"[\(\x{FF08}]\^[._\-]*\^[\)\x{FF09}]|\^[._\-]*\^|-_+-|-\.-|>[._\-]+<|<[._\-]+<"
    r"|>[._\-]+>|[oO][._][oO]\b|0_0|[;T][._]+;|[;T][._]+T\b|\*[._]\*|[xX][._][xX]\b|\._+\."
    r"|\\[oO]/"
    r"|\x{AC}_+\x{AC}|\x{B0}_+\x{B0}|\x{2022}_+\x{2022}|\x{CA0}_+\x{CA0}|\x{298}_+\x{298}"
    r"|\x{25D5}_+\x{25D5}|@_+@|\$_+\$|\x{2665}_+\x{2665}"
)

# @mention, Twokenize's AtMention, kept whole (`@user_name`); a clitic stays attached
# here (`@user's`) and is split off by the clitic pass like any other.
MENTION = rf"[@\x{{FF20}}][A-Za-z0-9_]+(?:{_CLITIC}\b)?"

# Numbers with internal separators: decimals, times, dates, IP-like, thousands groups.
# Plain digit runs are words (so `1st`, `10am` stay whole).
NUMBER = r"[0-9]+(?:[.:/][0-9]+|,[0-9]{3}\b)+"

# Abbreviations: U.S. / e.g. / R.I.P / U.S and the common titles (glove has `mr.`).
ABBREVIATION = (
    r"(?:[A-Za-z]\.){2,}(?:[A-Za-z]\b)?|[A-Za-z]\.[A-Za-z]\b|(?i:mrs|mr|ms|dr|sr|jr|st|vs)\."
)

# Hearts <3 <333 </3 (before arrows, which would take the `<`).
HEART = r"<+/?3+"

# Western emoticon, eyes first: optional `>` brow, eyes [:=;], optional nose, mouth.
# Letter mouths need a word boundary after them (`:D` but not `:Do`); `/` `@` `*` mouths
# need a non-boundary (`:/` but not `:/path`). URLs are tried first, so `http://`
# never reaches this.
EMOTICON = (
    r">?[:=;][\-o'^*]?(?:(?:D+|[pP]+|d+|3+|[oO]+|[sS]+|[vV]+|[xX]+)\b"
    r"|[\)\]\}]+|[\(\[\{]+|[/\\]+\B|\|+|@\B|\*\B)"
)

# Arrows: -> => <- <-- --> and the Unicode arrow block.
ARROW = r"<*[\-\x{2015}\x{2014}=]*>+|<+[\-\x{2015}\x{2014}=]*>*|[\x{2190}-\x{21FF}]+"

# A flag is a pair of regional indicators; every other emoji is a single code point
# and falls through to OTHER_CHAR below.
FLAG = r"[\x{1F1E6}-\x{1F1FF}]{2}"

# Reversed emoticon, mouth first: (: ): D: =) ... Twokenize accepts it only after
# whitespace or at the start (a lookbehind); here that whitespace is part of the match,
# which is harmless since the match is re-emitted with spaces around it.
REVERSED_EMOTICON = (
    rf"(?:^|{_ASCII_SPACE})(?:[\(\[\{{]+|[\)\]\}}]+|D+|[/\\]+|\|+)[\-'^*]?[:=;]"
)

# A word: letters, marks, digits, underscore, with single internal apostrophes or
# hyphens (`o'clock`, `self-esteem`, `don't` before the clitic pass). Covers CJK,
# Arabic, Cyrillic. RE2's \w is ASCII-only, hence the Unicode classes.
_W = r"[\pL\pM\pN_]"
WORD = rf"{_W}+(?:['\-]{_W}+)*"

# Punctuation kept as one token when repeated: Twokenize's punctSeq (`...`, `!!!`, `?!`,
# `''`, `::`) and runs of one ASCII symbol or dash (`***`, `--`, `~~~`, `$$`).
PUNCT_RUN = (
    r"[.?!,\x{2026}]+|['\"]+|[:;]+|\(+|\)+|\[+|\]+|\{+|\}+|\*+|~+|=+|\++|/+|\\+|\|+|\^+"
    r"|-+|\x{2015}+|\x{2014}+|\x{2013}+|`+|&+|\$+"
)

# Anything else is one token per code point: emoji, symbols, `#`, `@`, `%`, ...
OTHER_CHAR = r"[^\t\n\v\f\r ]"

# The tokenizing pass: a leftmost-first alternation, every match re-emitted between
# spaces.
TOKEN_RE = "|".join(
    [
        URL,
        EMAIL,
        BARE_DOMAIN,
        BASIC_FACE,
        MENTION,
        NUMBER,
        ABBREVIATION,
        HEART,
        EMOTICON,
        ARROW,
        FLAG,
        REVERSED_EMOTICON,
        WORD,
        PUNCT_RUN,
        OTHER_CHAR,
    ]
)
TOKEN_REWRITE = r" \0 "

# The clitic pass: a space before a clitic that ends a token and follows a word
# character (`don't` -> `do n't`, `I'm` -> `I 'm`, `@user's` -> `@user 's`). Matches are
# rare, so the capture groups cost little here.
CLITIC_RE = rf"({_W})({_CLITIC})\b"
CLITIC_REWRITE = r"\1 \2"

# zh: every whitespace character becomes an ASCII space.
ZH_SPACE_RE = "[" + _UNICODE_SPACE + "]"

# --------------------------------------------------------------------------------------
# Optional tags (`normalize=True`, `--normalize_tokens`): the released code's ekphrasis
# normalisation, re-expressed as whole-token rewrites of the lower-cased tokens. Tried in
# order; a token takes the first tag whose pattern it matches in full. ekphrasis' names.
# Not covered (each needs more than a one-token rewrite or data downloaded at run time):
# hashtag segmentation and <hashtag> ... </hashtag>, <allcaps>, <elongated>, <repeated>,
# <emphasis>, <censored>, <percent>/<money> (`%` and `$` stay their own tokens, as in
# glove.6B), phone numbers, contraction unpacking.
_NOSE = r"[\-o'^*]?"
TAGS = (
    ("<url>", rf"{URL}|{BARE_DOMAIN}"),
    ("<email>", EMAIL),
    ("<user>", r"[@\x{FF20}][a-z0-9_]+"),
    ("<time>", r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?"),
    ("<date>", r"[0-9]{1,4}[/.][0-9]{1,2}[/.][0-9]{1,4}"),
    ("<number>", r"[0-9]+(?:[.,][0-9]+)*"),
    ("<heart>", r"<+3+"),
    ("<angry>", rf">[:=;]{_NOSE}[\(\[\{{]+"),
    ("<sad>", rf"[:=;]{_NOSE}[\(\[\{{]+|[\)\]\}}]+[\-'^*]?[:=]|;_+;|<+/3+"),
    ("<wink>", rf";{_NOSE}(?:[\)\]\}}]+|d+)|[\(\[\{{]+[\-'^*]?;"),
    ("<laugh>", rf"[:=]{_NOSE}d+|x+d+"),
    ("<tong>", rf"[:=;]{_NOSE}p+"),
    ("<surprise>", rf"[:=]{_NOSE}o+|o[._]o|0_0"),
    ("<annoyed>", rf"[:=]{_NOSE}(?:[/\\]+|\|+|s+)|-_+-|-\.-"),
    ("<kiss>", rf"[:=;]{_NOSE}\*+"),
    ("<happy>", rf"[:=]{_NOSE}[\)\]\}}]+|[\(\[\{{]+[\-'^*]?[:=]|\(?\^[._\-]*\^\)?"),
)
TAG_NAMES = tuple(tag for tag, _ in TAGS)


def _as_batch(texts):
    """A 1-D tf.string tensor from a str, a list of str, an array or a tensor."""
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    rank = texts.shape.rank
    if rank == 0:
        return tf.reshape(texts, [1])
    if rank == 1:
        return texts
    if rank is None:
        return tf.reshape(texts, [-1])
    raise ValueError(f"tokenize expects a string scalar or a [B] vector, got shape {texts.shape}")


def _check_language(language):
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")


def _normalize_en(texts):
    texts = tf.strings.regex_replace(texts, SPACE_LIKE_RE, " ")
    texts = tf.strings.regex_replace(texts, INVISIBLE_RE, "")
    for pattern, rewrite in ENTITY_PASSES:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return texts


def tokenize(texts, language: str = "en", normalize: bool = False) -> tf.RaggedTensor:
    """Tokens of each text: a tf.string RaggedTensor of shape [B, None].

    `texts` is a string Tensor of shape [B], or a Python str / list of str / scalar
    tensor (made into [B]). Empty or whitespace-only texts give rows of length 0.
    `normalize` (English only) rewrites URLs, users, numbers and emoticons into the tags of
    `TAGS` (`<url>`, `<user>`, `<number>`, `<happy>`, ...), one token for one token.
    """
    _check_language(language)
    if normalize and language != "en":
        raise UserError("token normalisation (--normalize_tokens) is defined for English only")
    texts = _as_batch(texts)
    if language == "zh":
        spaced = tf.strings.regex_replace(texts, ZH_SPACE_RE, " ")
    else:
        spaced = tf.strings.regex_replace(_normalize_en(texts), TOKEN_RE, TOKEN_REWRITE)
        spaced = tf.strings.regex_replace(spaced, CLITIC_RE, CLITIC_REWRITE)
        spaced = tf.strings.lower(spaced, encoding="utf-8")
    tokens = tf.strings.split(spaced)
    return tf.ragged.map_flat_values(tag_tokens, tokens) if normalize else tokens


def tag_tokens(tokens):
    """Each lower-cased token that matches one of `TAGS` in full becomes that tag."""
    # A tag never matches a later pattern in full, so the order of the passes is the
    # order of precedence.
    for tag, pattern in TAGS:
        tokens = tf.strings.regex_replace(tokens, f"^(?:{pattern})$", tag)
    return tokens
