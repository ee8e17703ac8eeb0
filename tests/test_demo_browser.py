"""The demo page (`python -m datn_tf.demo`) in a real browser, and the command's error lines.

Debian's Chromium (`apt-get install chromium`; .ci/run installs it) runs headless, driven by
Playwright (requirements-demo.txt) through `executable_path`: no browser is downloaded. The
server is the command itself, on a free loopback port, started and stopped here. The browser
may reach the loopback address only; any other request is refused and fails the test, so the
page is known to work offline. The screenshot's path is printed (DATN_TF_TEST_ARTIFACTS sets its
folder).
"""

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from datn_tf import demo
from datn_tf.testing.exports import LONG_TEXT, explain, serve, subprocess_env

CHROMIUM = os.environ.get("DATN_TF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEXT = "I am so happy today 😊 but a bit scared of tomorrow"
BAD_TEXTS = {"empty": "", "10,000 characters": LONG_TEXT, "emoji only": "😊🎉🙏🏽❤️",
             "another script": "Я очень рад сегодня, 今天我很高兴"}
EMPTY_MESSAGE = "The text is empty: type a sentence, or pick one of the examples."
# Where the screenshot goes: outside pytest's temporary folders, which later sessions delete.
ARTIFACTS = Path(os.environ.get("DATN_TF_TEST_ARTIFACTS", Path(tempfile.gettempdir()) / "datn_tf-test-artifacts"))
START_TIMEOUT = 180  # s: TensorFlow, Gradio and the model load on a busy 2-core machine


def _missing():
    if importlib.util.find_spec("gradio") is None:
        return "Gradio is not installed (pip install -r requirements-demo.txt)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -r requirements-demo.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set DATN_TF_CHROMIUM)"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "datn_tf.demo", *args], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


class _Server:
    """`python -m datn_tf.demo` on a free loopback port, its output in files."""

    def __init__(self, model, log_dir):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self._out, self._err = open(log_dir / "stdout", "w+"), open(log_dir / "stderr", "w+")
        self._proc = subprocess.Popen([sys.executable, "-m", "datn_tf.demo", f"--model={model}", f"--port={self.port}"],
                                      env=subprocess_env(), stdout=self._out, stderr=self._err, text=True)
        deadline = time.monotonic() + START_TIMEOUT
        while "Ctrl-C stops" not in self._read(self._out):
            assert self._proc.poll() is None, self._read(self._err)[-3000:]
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.2)

    @staticmethod
    def _read(file):
        file.seek(0)
        return file.read()

    def stop(self):
        """Ctrl-C; returns (exit status, stdout, stderr)."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return self._proc.returncode, self._read(self._out), self._read(self._err)


@pytest.fixture(scope="module")
def server(exported_runs, tmp_path_factory):
    """The demo serving the tiny DATN-2 export."""
    running = _Server(exported_runs["exports"]["datn2"], tmp_path_factory.mktemp("demo"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(server):
    """A fresh headless Chromium on the page: (page, requests beyond the server, which are refused)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="datn_tf_chromium_") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        page = context.new_page()
        outside = []

        def only_its_server(route):
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_its_server)
        page.goto(server.url)
        page.wait_for_selector("#datn-model [data-fact]")
        yield page, outside
        context.close()


def _submit(page, text):
    """Types `text` into the page, presses Read and waits for the result for that text."""
    page.locator("#datn-text textarea").fill(text)
    page.locator("#datn-read").click()
    return page.wait_for_selector(f'#datn-result [data-reading="{demo.reading_id(text)}"]', timeout=60_000)


def _attrs(page, selector, names):
    return page.eval_on_selector_all(
        selector, "(els, names) => els.map(e => Object.fromEntries(names.map(n => [n, e.getAttribute(n)])))", names)


def _check_labels(page, path, text):
    served = serve(path, [text])
    names = [n.decode() for n in served["label_names"][0]]
    shown = {e["data-label"]: e for e in _attrs(page, "#datn-result .datn-emotion",
                                                ["data-label", "data-probability", "data-predicted"])}
    assert set(shown) == set(names)
    for name, p, on in zip(names, served["probabilities"][0], served["labels"][0]):
        assert float(shown[name]["data-probability"]) == pytest.approx(float(p), abs=5e-7)
        assert shown[name]["data-predicted"] == str(bool(on)).lower()
    marked = page.eval_on_selector_all("#datn-result .datn-emotion.datn-on .datn-name",
                                       "els => els.map(e => e.innerText)")
    assert sorted(marked) == sorted(f"✓ {n}" for n, on in zip(names, served["labels"][0]) if on)


def _check_tokens(page, path, text):
    explained = explain(path, [text])
    tokens = [t.decode() for t in explained["tokens"][0]]
    for key in ("alpha_s", "alpha_t"):
        row = f'#datn-result [data-attention="{key}"] .datn-token'
        words = page.eval_on_selector_all(f"{row} .datn-word", "els => els.map(e => e.textContent)")
        chips = page.eval_on_selector_all(
            row, "els => els.map(e => [e.getAttribute('data-alpha'), getComputedStyle(e).backgroundColor])")
        weights = explained[key][0]
        assert words == tokens
        np.testing.assert_allclose([float(a) for a, _ in chips], weights, atol=5e-7)
        # The colour the browser draws: the row's hue, as opaque as the weight relative to the row's largest
        # (the browser keeps the opacity in 8 bits).
        shades = [re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", colour).groups() for _, colour in chips]
        np.testing.assert_allclose([float(s[3] or 1) for s in shades], weights / weights.max(), atol=1 / 255)
        assert len({s[:3] for s in shades}) == 1


def test_the_page_labels_a_typed_sentence_and_colours_its_tokens(exported_runs, browser, capsys):
    (page, _), path = browser, exported_runs["exports"]["datn2"]
    facts = dict(zip(page.eval_on_selector_all("#datn-model dt", "els => els.map(e => e.innerText)"),
                     page.eval_on_selector_all("#datn-model dd", "els => els.map(e => e.innerText)")))
    names = [n.decode() for n in serve(path, ["."])["label_names"][0]]
    assert facts["system"] == "DATN-2" and facts["dataset"] == "semeval" and facts["labels"] == ", ".join(names)

    _submit(page, TEXT)
    _check_labels(page, path, TEXT)
    _check_tokens(page, path, TEXT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "demo-datn2.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nscreenshot of the demo page: {shot}")

    example = demo.EXAMPLES["en"][1]  # a click on an example fills the box and reads it
    page.get_by_text(example, exact=True).click()
    page.wait_for_selector(f'#datn-result [data-reading="{demo.reading_id(example)}"]', timeout=60_000)
    assert page.locator("#datn-text textarea").input_value() == example
    _check_labels(page, path, example)


@pytest.mark.parametrize("kind", list(BAD_TEXTS))
def test_bad_input_gets_a_result_or_a_message_on_the_page(exported_runs, browser, kind):
    (page, _), path, text = browser, exported_runs["exports"]["datn2"], BAD_TEXTS[kind]
    result = _submit(page, text)
    if kind == "empty":
        assert result.inner_text() == EMPTY_MESSAGE
    else:
        _check_labels(page, path, text)
        assert page.locator('#datn-result [data-attention="alpha_s"] .datn-token').count() == len(
            [t for t in explain(path, [text])["tokens"][0] if t])
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and "Error" not in body


def test_a_port_in_use_and_a_missing_model_folder_are_one_error_line_each(exported_runs, server, tmp_path):
    # A run folder and another project's SavedModel: datn_tf/demo_test.py (the same path to this one line).
    lines = {  # --model, --port -> stderr; run side by side: each is a start of TensorFlow
        (exported_runs["exports"]["datn2"], server.port):
            f"--port {server.port} is in use on 127.0.0.1 (another server?); stop it or choose another --port",
        (tmp_path / "nothing", _free_port()):
            f"{tmp_path / 'nothing'} is not a SavedModel (no saved_model.pb); see python -m datn_tf.export",
    }
    procs = {key: _demo(f"--model={key[0]}", f"--port={key[1]}") for key in lines}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=START_TIMEOUT)
        assert (proc.returncode, out, err) == (2, "", f"error: {lines[key]}\n")


def test_the_page_asked_only_its_server_and_the_server_stops_on_ctrl_c_with_a_clean_log(server, browser):
    # Last in the module (pytest keeps file order): the log then holds every request above.
    assert browser[1] == [], f"the page asked for more than its own server: {browser[1]}"
    status, out, err = server.stop()
    assert out.endswith(f"at {server.url} ; Ctrl-C stops\n") and out.count("\n") == 1
    assert (status, err) == (0, "stopped\n")
