"""A run whose numbers stop being finite stops at once, with one line: the step, what went
non-finite, the settings most likely at fault, and the last good checkpoint (nothing of the
step is saved)."""

import dataclasses
import math

from datn_tf.config import TrainConfig
from datn_tf.errors import UserError
from datn_tf.variants import get_variant


def check_finite(config, step, stats, last_checkpoint, phase=""):
    """Raises `diverged` when a loss in `stats` ({name: float}) of `step` is not finite."""
    bad = [f"{k} {v}" for k, v in sorted(stats.items()) if not math.isfinite(v)]
    if bad:
        raise diverged(config, step, ", ".join(bad), last_checkpoint, phase)


def diverged(config, step, what, last_checkpoint, phase=""):
    """The error for a run gone non-finite at `step` (`phase`: "pre-training " or ""): the
    learning rate and the loss weights its variant reads are what usually make a run diverge."""
    spec = get_variant(config.variant)
    suspects = ["learning_rate"] + [
        f.name for f in dataclasses.fields(TrainConfig)
        if f.metadata["read_when"] and f.type is float and getattr(spec, f.metadata["read_when"])]
    return UserError(
        f"training diverged at {phase}step {step}: {what}; the settings most likely at fault: "
        + ", ".join(f"--{k}={getattr(config, k)}" for k in suspects) + ". Nothing of this step was saved"
        + (f" (the last good checkpoint is {last_checkpoint})" if last_checkpoint else "")
        + ": lower them and train into a new --output_dir")
