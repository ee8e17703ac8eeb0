"""Reading the drivers' per-run records back, with the checks a table needs.

`reproduce` records a finished run as `<results>/<dataset>/<variant>-seed<k>.json`, `ablate` as
`<results>/<dataset>/ablations/<config>-seed<k>.json`; each table is built from these files
alone. A record is used only when it parses, holds the keys its driver reads, and is the run
its name says (variant, seed, fold): a DATN-2 run saved under `sp-seed0` must not fill the SP
row. Everything wrong is a `RecordError` naming the file and what to run.
"""

import math
import numbers

from datn_tf import io_utils
from datn_tf import run_dir as run_dir_lib
from datn_tf.errors import UserError

# What each driver's table and resume read from a record.
REPRODUCE_KEYS = ("variant", "seed", "threshold", "wall_seconds", "dev")
ABLATE_KEYS = ("config", "variant", "seed", "dev", "best_step", "steps", "wall_seconds", "overrides", "about",
               "mean_max_alpha_t", "mean_cos_alpha_s_alpha_t")


class RecordError(UserError):
    """A per-run record that cannot be used, with the command that rewrites it."""


def read(path, keys, remedy):
    """The record at `path` (a dict holding every key of `keys`), or None when there is no file.

    Raises:
        RecordError: it does not parse (cut short, not JSON) or lacks a key; `remedy` says what to run.
    """
    if not path.exists():
        return None
    try:
        payload = io_utils.read_json(path)
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RecordError(f"{path}: not a readable run record ({type(e).__name__}: {e}); {remedy}") from None
    if not isinstance(payload, dict):
        raise RecordError(f"{path}: not a run record (a JSON {type(payload).__name__}); {remedy}")
    missing = [k for k in keys if k not in payload]
    if missing:
        raise RecordError(f"{path}: not a whole run record (no {', '.join(missing)}); {remedy}")
    problem = _wrong_value(payload)
    if problem:
        raise RecordError(f"{path}: not a whole run record ({problem}); {remedy}")
    return payload


# The values a table reads, by kind: a hand-edited one must not surface as a traceback or a 'nan' cell.
_TEXTS = ("variant", "config")
_WHOLE_NUMBERS = ("seed", "best_step", "steps")
_NUMBERS = ("threshold", "wall_seconds")
_OPTIONAL_NUMBERS = ("mean_max_alpha_t", "mean_max_alpha_s", "mean_cos_alpha_s_alpha_t")
_SPLITS = ("dev", "test")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _wrong_value(payload):
    """What is wrong with a value of `payload` that a table reads, or None."""
    for key in _TEXTS:
        if key in payload and not isinstance(payload[key], str):
            return f"{key} is {payload[key]!r}, not a text"
    for key in _WHOLE_NUMBERS:
        if key in payload and not (isinstance(payload[key], int) and not isinstance(payload[key], bool)):
            return f"{key} is {payload[key]!r}, not a whole number"
    for key in (*_NUMBERS, *_OPTIONAL_NUMBERS):
        value = payload.get(key)
        if key in payload and not (_is_number(value) or (value is None and key in _OPTIONAL_NUMBERS)):
            return f"{key} is {value!r}, not a finite number"
    for split in _SPLITS:
        if split not in payload:
            continue
        if not isinstance(payload[split], dict):
            return f"{split} is a JSON {type(payload[split]).__name__}, not an object"
        for key, value in payload[split].items():
            if not _is_number(value):
                return f"{split}.{key} is {value!r}, not a finite number"
    return None


def saved_identity(payload):
    """(variant, seed, fold) of a reproduce record or of a run's saved train config; the fold is
    `...` (unknown) for an older record, which saved no train config."""
    if "train_config" in payload:
        payload = payload["train_config"]
    elif "cv_fold" not in payload:
        return payload.get("variant"), payload.get("seed"), ...
    return payload.get("variant"), payload.get("seed"), payload.get("cv_fold")


def check_identity(where, name, identity):
    """Raises `RecordError` when the run saved in `where` (a record or a run folder), of
    `identity` (variant or configuration, seed, fold), is not the run `name` says
    (`run_dir.run_name`). A fold of `...` is not compared."""
    variant, seed, fold = identity
    expected = run_dir_lib.parse_run_name(name)
    if expected is not None and fold is ...:
        fold = expected[2]
    if expected != (variant, seed, fold):
        described = f"{variant}, seed {seed}" + ("" if fold in (None, ...) else f", fold {fold}")
        raise RecordError(f"{where} holds the run of {described}, not {name}: it was copied or renamed; "
                          "move it back to its own name or delete it")
