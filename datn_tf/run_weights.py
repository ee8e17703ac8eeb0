"""The TensorFlow side of a run folder (`run_dir` holds its layout and reads the rest without
TensorFlow): the training checkpoints, the best weights, and the model loaded with them.

    <run>/checkpoints/         the last KEEP_CHECKPOINTS training checkpoints (resume)
    <run>/best/weights.*       the best weights by dev Jaccard accuracy
"""

import shutil
from pathlib import Path

import tensorflow as tf

from datn_tf import encoders, io_utils
from datn_tf import run_dir as run_dir_lib
from datn_tf.errors import UserError
from datn_tf.models import EmotionTransferModel
from datn_tf.progress import log
from datn_tf.vocab import Vocabulary

# Two, so that a checkpoint damaged on disk (a full disk, a cut copy) costs one evaluation
# interval, not the run.
KEEP_CHECKPOINTS = 2
# What a damaged checkpoint or weights file raises while being read.
_READ_ERRORS = (tf.errors.OpError, ValueError, IndexError, AssertionError, OSError)


class Checkpoints:
    """The training checkpoints of a run: the last KEEP_CHECKPOINTS, restored newest first."""

    def __init__(self, checkpoint, output_dir):
        self.checkpoint = checkpoint
        self.directory = Path(output_dir) / run_dir_lib.CKPT_DIR
        self.manager = tf.train.CheckpointManager(checkpoint, self.directory, max_to_keep=KEEP_CHECKPOINTS)

    def save(self, step):
        self.manager.save(checkpoint_number=step)

    def restore_latest(self):
        """Restores the newest readable checkpoint; returns its path, or None when there is none.

        A damaged checkpoint is reported and the previous one tried; if none can be read the
        run cannot resume, and the error says which folder to delete. What a save stopped by a
        full disk or a kill left (TensorFlow writes `ckpt-N_temp/` and renames its files out
        when whole) is removed: the run is locked, so no save is under way.
        """
        for partial in self.directory.glob("ckpt-*_temp"):
            shutil.rmtree(partial, ignore_errors=True)
        saved = list(reversed(self.manager.checkpoints))
        for path in saved:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except _READ_ERRORS as e:
                log(f"warning: checkpoint {path} is damaged ({_first_line(e)}); trying the previous one")
                continue
            return path
        if saved:
            raise UserError(
                f"no checkpoint in {self.directory} can be read ({', '.join(Path(p).name for p in saved)} are "
                f"damaged); delete {self.directory.parent} to train this run from the start"
            )
        return None


def save_best_weights(output_dir, model):
    with io_utils.atomic_path(Path(output_dir) / run_dir_lib.BEST_DIR, is_dir=True) as tmp:
        tf.train.Checkpoint(model=model).write(str(tmp / "weights"))


def read_best_weights(run_dir, model):
    """Loads `<run>/best/weights` into `model`, with an error naming the folder if it cannot."""
    best = Path(run_dir) / run_dir_lib.BEST_DIR
    # Only a run that has not been evaluated yet gets best/ by training on: once written, the best
    # weights are in no checkpoint, and a resumed run keeps selecting against their dev score.
    lost = f"the run's best weights are lost: delete {Path(run_dir)} and train the run again"
    if not (best / "weights.index").exists():
        if (Path(run_dir) / run_dir_lib.HISTORY_FILE).exists():
            raise UserError(
                f"{best} holds no weights (no weights.index), though the run was evaluated on dev: {lost}")
        raise UserError(
            f"{best} holds no weights (no weights.index): the run has not reached its first dev "
            "evaluation; re-run its training command to finish it")
    try:
        tf.train.Checkpoint(model=model).read(str(best / "weights")).assert_existing_objects_matched()
    except _READ_ERRORS as e:
        raise UserError(f"{best} is damaged or from another model ({_first_line(e)}); {lost}") from None


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def load_run(run_dir):
    """(config dict, vocabulary, model with the best weights) of a finished or running run."""
    run_dir = Path(run_dir)
    config = run_dir_lib.read_run_config(run_dir)
    if config["model_config"].get("encoder", encoders.BILSTM) == encoders.BILSTM:
        vocab = Vocabulary.load(run_dir / run_dir_lib.VOCAB_FILE)
    else:  # a pretrained encoder's WordPiece vocabulary
        vocab = encoders.WordPieceVocab.load(run_dir / run_dir_lib.VOCAB_FILE, config.get("lowercase", True))
    model = EmotionTransferModel.from_config(config["model_config"])
    model.build()
    read_best_weights(run_dir, model)
    return config, vocab, model
