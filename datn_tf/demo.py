"""A web page to try an exported model: type a text, see its emotions and the attentions over its tokens.

    pip install -e .[demo]    # Gradio, an optional extra (`make demo MODEL=exports/semeval-datn2` installs and serves)
    python -m datn_tf.demo --model exports/semeval-datn2 [--port 7860] [--host 127.0.0.1]

The page reads the SavedModel only (`python -m datn_tf.export`): `serving_default` gives each
emotion's probability and the labels above the dev-tuned threshold gamma, `explain` the tokens
the model read with the shared (sentiment) attention alpha_s and, for the systems that have an
emotion (target) encoder, alpha_t; `assets/datn_tf.json` gives the system, dataset and labels.
It serves on the loopback address unless --host says otherwise, with Gradio's analytics, share
links and web fonts off, so it works without a network.
"""

import contextlib
import dataclasses
import errno
import hashlib
import html
import importlib.util
import io
import os
import socket
import sys
import time

import datn_tf  # noqa: E402

datn_tf.import_tensorflow_quietly()  # before anything imports TensorFlow: no start-up noise

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from datn_tf import cli, predict, runtime  # noqa: E402
from datn_tf import config as config_lib  # noqa: E402
from datn_tf import variants as variants_lib  # noqa: E402
from datn_tf.config import setting  # noqa: E402
from datn_tf.errors import UserError  # noqa: E402
from datn_tf.saved_model_format import EXPLAIN_SIGNATURE  # noqa: E402

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Longer texts get a message: every token is drawn on the page, and a page of a million tokens
# would stall the browser.
MAX_CHARS = 20_000
EXPLAIN_OUTPUTS = {"tokens", "alpha_s", "alpha_t"}
INSTALL = "pip install -e .[demo] (or make demo, which installs it)"

# Example texts by the export's language ("input" in its metadata says what the model takes).
EXAMPLES = {
    "en": [
        # Figure 3's sentence (docs/serving.md discusses its attentions).
        "When you dread going to work early … but you always come back home happy ; smiling # goodday",
        "Can't wait for the weekend with my family ❤️ #blessed",
        "They cancelled my flight again and nobody at the desk even apologised. Unbelievable.",
        "Walking home alone at night and every little noise makes me jump",
    ],
    "zh": [  # whitespace-segmented, as the Ren-CECps models read it
        "今天 我 很 高兴 ， 终于 见到 了 多年 的 老朋友 。",
        "听到 这个 消息 ， 我 心里 非常 难过 。",
        "他 又 迟到 了 ， 真 让 人 生气 ！",
    ],
}

# The two attentions, each drawn in its own colour (RGB): alpha_s in Figure 3's red.
ATTENTIONS = (
    ("alpha_s", "α_s", "shared (sentiment) attention", (214, 39, 40)),
    ("alpha_t", "α_t", "emotion (target) attention", (31, 119, 180)),
)


@dataclasses.dataclass
class Reading:
    """What the model made of one text.

    Attributes:
        probabilities: [K] each emotion's probability, in `label_names` order.
        labels: [K] bool, probability > the threshold gamma (the SavedModel's own labels).
        tokens: the tokens the model read (words, or word pieces such as "##ing").
        alpha_s: [T] the shared attention over `tokens`.
        alpha_t: [T] the emotion attention, or None for a system without one (Base, FT, ...).
    """

    text: str
    label_names: list
    probabilities: np.ndarray
    labels: np.ndarray
    tokens: list
    alpha_s: np.ndarray
    alpha_t: np.ndarray | None


def _import_tensorflow_text():
    """Exports whose tokenizer uses TensorFlow Text ops (WordPiece) load only once it is imported."""
    if importlib.util.find_spec("tensorflow_text") is not None:
        import tensorflow_text  # noqa: F401  (the encoder extra: only when installed)


class ExplainedModel(predict.ExportedModel):
    """A datn-tf export with its `explain` signature: `read(text)` -> `Reading`."""

    def __init__(self, path):
        _import_tensorflow_text()
        super().__init__(path)
        fn = self._loaded.signatures.get(EXPLAIN_SIGNATURE)
        if fn is None or not EXPLAIN_OUTPUTS <= set(fn.structured_outputs):
            raise UserError(f"{path} has no {EXPLAIN_SIGNATURE!r} signature with {', '.join(sorted(EXPLAIN_OUTPUTS))}"
                            f" (the page draws the attentions from it); {predict.REEXPORT}")
        self._explain = fn
        threshold = self.metadata.get("threshold")
        self.threshold = float(threshold) if threshold is not None else None

    def read(self, text):
        probs, labels = self.predict([text])
        out = self._explain(text=tf.constant([text], dtype=tf.string))
        tokens = [t.decode("utf-8", "replace") for t in out["tokens"].numpy()[0]]
        keep = np.array([t != "" for t in tokens], bool)  # "" pads a batch's shorter rows
        alpha_s = out["alpha_s"].numpy()[0][keep]
        alpha_t = out["alpha_t"].numpy()[0][keep]
        return Reading(
            text=text, label_names=self.label_names, probabilities=probs[0], labels=labels[0],
            tokens=[t for t, k in zip(tokens, keep) if k], alpha_s=alpha_s,
            # Systems without a target encoder export alpha_t as zeros.
            alpha_t=alpha_t if np.any(alpha_t != 0) else None,
        )


def system_title(metadata):
    """The system's name as in Table 3 ("DATN-2"), or the export's variant as written."""
    variant = metadata.get("variant") or "unknown system"
    known = variants_lib.VARIANTS.get(variant)
    return known.title if known is not None else str(variant)


# -- the page's HTML (plain functions, tested without a browser) -----------------------------------


def _esc(value):
    return html.escape(str(value), quote=True)


def reading_id(text):
    """A short id of a text, on its result, so that a client can tell which text a result is for."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def message_html(text, message):
    return (f'<div class="datn-result datn-message" data-reading="{reading_id(text)}">'
            f"<p>{_esc(message)}</p></div>")


def check_text(text):
    """A message for a text the model is not asked about, or None."""
    if not text.strip():
        return "The text is empty: type a sentence, or pick one of the examples."
    if len(text) > MAX_CHARS:
        return (f"The text has {len(text):,} characters; the page reads at most {MAX_CHARS:,}. "
                "Shorten it, or score long texts with python -m datn_tf.predict.")
    return None


def emotions_html(reading, threshold):
    """Each emotion's probability as a bar, most probable first; the labels above gamma marked."""
    order = np.argsort(-reading.probabilities, kind="stable")
    gamma = f"γ = {threshold:.2f}" if threshold is not None else "the model's threshold"
    rows = []
    for k in order:
        name, p, on = reading.label_names[k], float(reading.probabilities[k]), bool(reading.labels[k])
        line = f'<span class="datn-gamma" style="left:{100 * threshold:.2f}%"></span>' if threshold is not None else ""
        rows.append(
            f'<div class="datn-emotion{" datn-on" if on else ""}" data-label="{_esc(name)}" '
            f'data-probability="{p:.6f}" data-predicted="{str(on).lower()}">'
            f'<span class="datn-name">{"✓ " if on else ""}{_esc(name)}</span>'
            f'<span class="datn-bar"><span class="datn-fill" style="width:{100 * p:.2f}%"></span>{line}</span>'
            f'<span class="datn-p">{p:.2f}</span></div>'
        )
    chosen = [_esc(reading.label_names[k]) for k in order if reading.labels[k]]
    summary = (f"Predicted (probability above {gamma}): <b>{', '.join(chosen)}</b>" if chosen
               else f"No emotion is above {gamma}.")
    return f'<div class="datn-emotions"><p class="datn-summary">{summary}</p>{"".join(rows)}</div>'


def attention_html(reading):
    """The tokens the model read, one row per attention, each token shaded by its weight."""
    if not reading.tokens:
        return '<p class="datn-note">The model read no token in this text.</p>'
    rows = []
    for key, symbol, what, rgb in ATTENTIONS:
        weights = getattr(reading, key)
        if weights is None:
            rows.append(f'<p class="datn-note">{symbol}: none, this system has no emotion-specific (target) '
                        "encoder.</p>")
            continue
        top = float(weights.max()) or 1.0  # shades relative to the row's largest weight
        chips = []
        for token, a in zip(reading.tokens, weights):
            shade = float(a) / top
            chips.append(
                f'<span class="datn-token{" datn-dark" if shade > 0.55 else ""}" data-alpha="{float(a):.6f}" '
                f'title="{symbol} = {float(a):.4f}" style="background-color:rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, '
                f'{shade:.3f})"><span class="datn-word">{_esc(token)}</span>'
                f'<span class="datn-alpha">{float(a):.2f}</span></span>'
            )
        rows.append(f'<div class="datn-row" data-attention="{key}"><div class="datn-row-name"><b>{symbol}</b> '
                    f'{what}</div><div class="datn-tokens">{"".join(chips)}</div></div>')
    return f'<div class="datn-attention">{"".join(rows)}</div>'


def result_html(reading, threshold):
    return (f'<div class="datn-result" data-reading="{reading_id(reading.text)}">'
            f"{emotions_html(reading, threshold)}<h3>The tokens the model read</h3>{attention_html(reading)}</div>")


def model_html(model):
    """The export's facts: system, dataset, labels, threshold, what it reads."""
    meta = model.metadata
    facts = [("system", system_title(meta)), ("dataset", meta.get("dataset", "unknown")),
             ("labels", ", ".join(model.label_names))]
    if model.threshold is not None:
        facts.append(("threshold γ", f"{model.threshold:.2f}"))
    if meta.get("input"):
        facts.append(("input", meta["input"]))
    if meta.get("run"):
        facts.append(("run", meta["run"]))
    items = "".join(f'<div data-fact="{_esc(k)}"><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>' for k, v in facts)
    return f'<dl class="datn-model">{items}</dl>'


def answer(model, text):
    """The HTML result for a text typed into the page: a reading, or a message about the text."""
    text = text or ""
    message = check_text(text)
    if message is not None:
        return message_html(text, message)
    return result_html(model.read(text), model.threshold)


CSS = """
.datn-model { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 0; }
.datn-model dt { font-size: 0.8em; opacity: 0.7; }
.datn-model dd { margin: 0; font-weight: 600; }
.datn-emotion { display: grid; grid-template-columns: 9em 1fr 3em; align-items: center; gap: 8px; margin: 3px 0; }
.datn-bar { position: relative; height: 14px; background: rgba(127, 127, 127, 0.15); border-radius: 3px; }
.datn-fill { position: absolute; left: 0; top: 0; bottom: 0; background: #9aa0a6; border-radius: 3px; }
.datn-on .datn-fill { background: #d62728; }
.datn-on .datn-name { font-weight: 700; }
.datn-gamma { position: absolute; top: -3px; bottom: -3px; border-left: 2px dashed currentColor; opacity: 0.6; }
.datn-p { text-align: right; font-variant-numeric: tabular-nums; }
.datn-row { margin: 10px 0; }
.datn-tokens { display: flex; flex-wrap: wrap; gap: 4px; max-height: 24em; overflow-y: auto; }
.datn-token { display: inline-flex; flex-direction: column; align-items: center; padding: 2px 5px;
              border: 1px solid rgba(127, 127, 127, 0.3); border-radius: 4px; }
.datn-token.datn-dark, .datn-token.datn-dark span { color: #fff; }
.datn-alpha { font-size: 0.7em; opacity: 0.8; font-variant-numeric: tabular-nums; }
.datn-message p { font-weight: 600; }
"""


def build_page(model):
    """The Gradio page for `model` (imports Gradio)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by Gradio's helpers too, not only by Blocks
    import gradio as gr  # the demo extra, checked by `check_gradio`; after the variable above

    title = f"datn-tf: {system_title(model.metadata)} on {model.metadata.get('dataset', 'unknown data')}"
    examples = EXAMPLES.get(model.metadata.get("language"), EXAMPLES["en"])

    def read(text):
        return answer(model, text)

    with gr.Blocks(title=title, analytics_enabled=False) as page:
        gr.Markdown(f"## {_esc(title)}\nType a text and read which emotions the model finds in it, and which "
                    "words each attention looked at (darker: more weight).")
        gr.HTML(model_html(model), elem_id="datn-model")
        with gr.Row():
            with gr.Column(scale=1):
                text = gr.Textbox(label="Text", lines=3, placeholder="Type a sentence, or pick an example below",
                                  elem_id="datn-text")
                with gr.Row():
                    go = gr.Button("Read", variant="primary", elem_id="datn-read")
                    clear = gr.ClearButton([text])
                examples_here = gr.Column()
            with gr.Column(scale=1):
                result = gr.HTML(elem_id="datn-result")
        with examples_here:  # a click on an example shows its result at once
            gr.Examples([[e] for e in examples], inputs=[text], outputs=[result], fn=read, run_on_click=True,
                        cache_examples=False, label="Examples")
        clear.add([result])
        gr.on([go.click, text.submit], read, inputs=[text], outputs=[result], show_progress="minimal",
              api_name="read")
    return page


def theme():
    """Gradio's default look with the system's fonts: no web fonts to fetch."""
    import gradio as gr  # (see `build_page`)

    return gr.themes.Default(font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])


# -- serving ------------------------------------------------------------------------------------


def check_gradio():
    if importlib.util.find_spec("gradio") is None:
        raise UserError(f"the demo needs Gradio, an optional extra: {INSTALL}")


def check_port(host, port):
    """Stops before the model loads when --host/--port cannot be listened on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise UserError(f"--host {host} is not an address of this machine ({cli.first_line(e)}); "
                        f"the default {DEFAULT_HOST} serves this machine only") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UserError(f"--port {port} is in use on {host} (another server?); stop it or choose "
                                "another --port") from None
            raise UserError(f"--host {host} --port {port}: cannot listen there ({e.strerror}); choose another "
                            "--port (ports below 1024 need root) or --host") from None


def serve(page, host, port):
    """Starts the server without blocking; returns its address."""
    try:
        page.launch(server_name=host, server_port=port, share=False, quiet=True, prevent_thread_lock=True,
                    inbrowser=False, show_error=False, footer_links=[], ssr_mode=False, mcp_server=False,
                    pwa=False, run_history=False, enable_monitoring=False, theme=theme(), css=CSS)
    except OSError as e:  # taken between check_port and now
        raise UserError(f"--port {port} on {host}: cannot listen there ({cli.first_line(e)}); choose another "
                        "--port") from None
    return page.local_url


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """The command's settings, one flag each."""

    model: str | None = setting(None, "An exported SavedModel folder (python -m datn_tf.export).")
    host: str = setting(DEFAULT_HOST, "Address to serve on; 0.0.0.0 serves every network of this machine (anyone "
                        "who reaches it can use the page).")
    port: int = setting(DEFAULT_PORT, "Port to serve on.", minimum=1, maximum=65535)


def define_flags():
    """The command's flags; defined only when run as a program (see `datn_tf.export`)."""
    config_lib.define_flags(config_class=DemoConfig)
    runtime.define_thread_flags()


def main(argv):
    with cli.user_errors(argv):
        settings = config_lib.command_settings(DemoConfig)
        if not settings.model:
            raise UserError("--model is required (a folder written by python -m datn_tf.export)")
        check_gradio()
        check_port(settings.host, settings.port)
        runtime.configure_threads_from_flags()
        runtime.quiet_logging()
        model = ExplainedModel(settings.model)
        page = build_page(model)
        url = serve(page, settings.host, settings.port)
    print(f"serving {settings.model} ({system_title(model.metadata)}, {model.metadata.get('dataset', 'unknown data')}, "
          f"{len(model.label_names)} labels) at {url} ; Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        cli.ctrl_c_handled()  # closing the server may take longer than cli.run waits for a Ctrl-C to act
        with contextlib.redirect_stdout(io.StringIO()):  # Gradio's "Closing server running on port ..."
            page.close()
        print("stopped", file=sys.stderr)


if __name__ == "__main__":
    define_flags()
    cli.run(main)
