"""Tests of the demo page's model and HTML (`datn_tf.demo`) on exported tiny runs, without a browser.

The page in a real browser, and the command's error lines: tests/test_demo_browser.py.
"""

import html.parser
import socket
import sys

import numpy as np
import pytest

from datn_tf import demo, predict
from datn_tf.errors import UserError
from datn_tf.testing.exports import LONG_TEXT, ROBUSTNESS_TEXTS, explain, run_threshold, serve

TEXT = "I am so happy today 😊 but a bit scared of tomorrow"


class _Elements(html.parser.HTMLParser):
    """Every element's tag, attributes and own text, in document order."""

    def __init__(self, text):
        super().__init__()
        self.elements, self._open = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        self._open.append(element)

    def handle_endtag(self, tag):
        self._open.pop()

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def having(self, attr, value=None):
        return [e for e in self.elements if attr in e["attrs"] and (value is None or e["attrs"][attr] == value)]


def _emotions(page):
    return {e["attrs"]["data-label"]: (float(e["attrs"]["data-probability"]), e["attrs"]["data-predicted"] == "true")
            for e in page.having("data-label")}


def _shade(style):
    # "background-color:rgba(214, 39, 40, 0.875)" -> 0.875
    return float(style.rsplit(",", 1)[1].strip(" )"))


@pytest.fixture(scope="module")
def models(exported_runs):
    return {variant: demo.ExplainedModel(path) for variant, path in exported_runs["exports"].items()}


@pytest.mark.parametrize("variant", ["datn2", "base"])
def test_a_reading_is_the_saved_models_own_output(exported_runs, models, variant):
    path = exported_runs["exports"][variant]
    reading = models[variant].read(TEXT)
    served, explained = serve(path, [TEXT]), explain(path, [TEXT])
    np.testing.assert_array_equal(reading.probabilities, served["probabilities"][0])
    np.testing.assert_array_equal(reading.labels, served["labels"][0])
    assert reading.label_names == [n.decode() for n in served["label_names"][0]]
    assert reading.tokens == [t.decode() for t in explained["tokens"][0]] and len(reading.tokens) == 12
    np.testing.assert_array_equal(reading.alpha_s, explained["alpha_s"][0])
    if variant == "datn2":
        np.testing.assert_array_equal(reading.alpha_t, explained["alpha_t"][0])
    else:  # Base has no emotion (target) attention: the signature's zeros are not drawn
        assert reading.alpha_t is None and not explained["alpha_t"].any()


def test_the_page_shows_each_emotion_and_marks_those_above_the_threshold(exported_runs, models):
    model = models["datn2"]
    gamma = run_threshold(exported_runs["runs"]["datn2"])
    assert model.threshold == gamma
    page = _Elements(demo.answer(model, TEXT))
    served = serve(exported_runs["exports"]["datn2"], [TEXT])
    expected = {name: (float(p), bool(on)) for name, p, on in
                zip(model.label_names, served["probabilities"][0], served["labels"][0])}
    shown = _emotions(page)
    assert set(shown) == set(expected)
    for name, (p, on) in shown.items():
        assert p == pytest.approx(expected[name][0], abs=5e-7) and on == expected[name][1] == (p > gamma)
    ranked = [e["attrs"]["data-label"] for e in page.having("data-label")]
    assert ranked == sorted(expected, key=lambda n: -expected[n][0])  # most probable first
    summary = page.having("class", "datn-summary")[0]["text"]
    chosen = [n for n in ranked if expected[n][1]]
    assert summary == (f"Predicted (probability above γ = {gamma:.2f}): {', '.join(chosen)}" if chosen
                       else f"No emotion is above γ = {gamma:.2f}.")


@pytest.mark.parametrize("variant", ["datn2", "base"])
def test_tokens_are_shaded_by_their_attention_weight(models, variant):
    reading = models[variant].read(TEXT)
    page = _Elements(demo.attention_html(reading))
    rows = {e["attrs"]["data-attention"]: e for e in page.having("data-attention")}
    assert set(rows) == ({"alpha_s", "alpha_t"} if variant == "datn2" else {"alpha_s"})
    tokens = page.having("data-alpha")
    for k, key in enumerate(sorted(rows, key=["alpha_s", "alpha_t"].index)):
        weights = getattr(reading, key)
        chips = tokens[k * len(reading.tokens):(k + 1) * len(reading.tokens)]
        assert [c["text"] for c in chips] == [f"{t}{a:.2f}" for t, a in zip(reading.tokens, weights)]
        np.testing.assert_allclose([float(c["attrs"]["data-alpha"]) for c in chips], weights, atol=5e-7)
        np.testing.assert_allclose([_shade(c["attrs"]["style"]) for c in chips], weights / weights.max(), atol=5e-4)
    if variant == "base":
        assert page.having("class", "datn-note")[0]["text"] == (
            "α_t: none, this system has no emotion-specific (target) encoder.")


def test_tokens_and_names_are_shown_as_text_word_pieces_included():
    # A WordPiece export's tokens are pieces of words; each is drawn as the model read it.
    reading = demo.Reading(text="x", label_names=["a<b", "joy"], probabilities=np.array([0.7, 0.2], np.float32),
                           labels=np.array([True, False]), tokens=["<script>", "play", "##ing", "&amp;"],
                           alpha_s=np.array([0.1, 0.2, 0.3, 0.4], np.float32), alpha_t=None)
    out = demo.result_html(reading, 0.5)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp;amp;" in out
    page = _Elements(out)
    assert [e["text"] for e in page.having("class", "datn-word")] == ["<script>", "play", "##ing", "&amp;"]
    assert _emotions(page) == {"a<b": (pytest.approx(0.7), True), "joy": (pytest.approx(0.2), False)}


@pytest.mark.parametrize("text", ROBUSTNESS_TEXTS + ["x" * (demo.MAX_CHARS + 1)],
                         ids=["empty", "whitespace", "unknown-words", "emoji", "10000-chars", "scripts", "too-long"])
def test_each_bad_text_gets_a_result_or_a_message(models, text):
    page = _Elements(demo.answer(models["datn2"], text))
    (result,) = page.having("data-reading")
    assert result["attrs"]["data-reading"] == demo.reading_id(text)
    if not text.strip():
        assert result["text"] == "The text is empty: type a sentence, or pick one of the examples."
    elif len(text) > demo.MAX_CHARS:
        assert result["text"] == (f"The text has {demo.MAX_CHARS + 1:,} characters; the page reads at most "
                                  f"{demo.MAX_CHARS:,}. Shorten it, or score long texts with python -m "
                                  "datn_tf.predict.")
    else:
        assert len(_emotions(page)) == 11
        rows = page.having("data-attention")
        assert [r["attrs"]["data-attention"] for r in rows] == ["alpha_s", "alpha_t"]
        words = [e["text"] for e in page.having("class", "datn-word")]  # the same tokens in both rows
        assert len(words) == len(page.having("data-alpha")) and words[: len(words) // 2] == words[len(words) // 2:]
        assert words
    if text == LONG_TEXT:
        assert len(LONG_TEXT) == 10_000


def test_the_model_facts_come_from_the_exports_metadata(exported_runs, models):
    for variant, title in (("datn2", "DATN-2"), ("base", "Base")):
        facts = {e["attrs"]["data-fact"]: e["text"] for e in _Elements(demo.model_html(models[variant])).having(
            "data-fact")}
        gamma = run_threshold(exported_runs["runs"][variant])
        assert facts == {"system": f"system{title}", "dataset": "datasetsemeval",
                         "labels": "labels" + ", ".join(models[variant].label_names),
                         "threshold γ": f"threshold γ{gamma:.2f}", "input": "inputraw UTF-8 text",
                         "run": f"runrun-{variant}"}
    assert demo.system_title({"variant": "a-new-system"}) == "a-new-system"


def test_a_training_run_or_an_export_without_attentions_is_refused(exported_runs, tmp_path):
    import tensorflow as tf

    with pytest.raises(UserError, match="is a training run, not an exported model"):
        demo.ExplainedModel(exported_runs["runs"]["base"])

    class ServingOnly(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            n = tf.shape(text)[0]
            return {"probabilities": tf.zeros([n, 2]), "labels": tf.zeros([n, 2], tf.bool),
                    "label_names": tf.fill([n, 2], "x")}

    module = ServingOnly()
    tf.saved_model.save(module, str(tmp_path / "m"), signatures={"serving_default": module.serve})
    with pytest.raises(UserError) as raised:
        demo.ExplainedModel(tmp_path / "m")
    assert str(raised.value) == (f"{tmp_path / 'm'} has no 'explain' signature with alpha_s, alpha_t, tokens (the page "
                                 f"draws the attentions from it); {predict.REEXPORT}")


def test_a_port_in_use_and_a_missing_gradio_are_one_message(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(UserError) as raised:
            demo.check_port("127.0.0.1", port)
    assert str(raised.value) == (f"--port {port} is in use on 127.0.0.1 (another server?); stop it or choose "
                                 "another --port")
    with pytest.raises(UserError, match="^--host no-such-host.invalid is not an address of this machine"):
        demo.check_port("no-such-host.invalid", 7860)
    monkeypatch.setitem(sys.modules, "gradio", None)
    with pytest.raises(UserError) as raised:
        demo.check_gradio()
    assert str(raised.value) == "the demo needs Gradio, an optional extra: pip install -e .[demo] (or make demo, " \
                                "which installs it)"
