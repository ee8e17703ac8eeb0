"""What an exported datn-tf SavedModel contains, by name: written by `export`, read by `predict`.

    saved_model.pb, variables/          the model, tokenizer and vocabulary (TensorFlow only)
    assets/datn_tf.json                 threshold, labels, dataset, variant, version
    assets.extra/datn_tf.json           the same, where TF Serving expects extra files
    signatures  serving_default (probabilities, labels, label_names), explain (+ tokens, alphas)
"""

import importlib
from pathlib import Path

METADATA_FILE = "datn_tf.json"
ASSETS_DIR = "assets"
EXTRA_DIR = "assets.extra"
METADATA_PATH = Path(ASSETS_DIR) / METADATA_FILE
SERVING_SIGNATURE = "serving_default"
EXPLAIN_SIGNATURE = "explain"


def import_required_ops(metadata):
    """Registers the op libraries an export lists under "requires" (tensorflow_text for a
    pretrained encoder's WordPiece), which must happen before `tf.saved_model.load`.
    Returns the names that could not be imported."""
    missing = []
    for name in metadata.get("requires", []):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing
