"""The training loop: the alternating schedule (Section 2.2.3), checkpoints, selection on dev.

`Trainer(config, data).fit()` runs the loop the variant's schedule asks for, scores the dev
set every `eval_every` steps, keeps the best weights by dev Jaccard accuracy (threshold gamma
tuned on dev, never on test), checkpoints so a killed run resumes where it stopped, and
writes the run folder (`datn_tf/run_dir.py`). What each step minimises is in
`datn_tf/objectives.py`; the settings in `datn_tf/config.py`; the data in
`datn_tf/data/prepare.py`. `datn_tf/train.py` is the command line over this module.
"""

import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from datn_tf import divergence, input_pipeline, metrics, objectives, run_weights, tables
from datn_tf import run_dir as run_dir_lib
from datn_tf import variants as variants_lib
from datn_tf.errors import TrainingInterrupted
from datn_tf.models import build_model
from datn_tf.optimizers import TaskOptimizers
from datn_tf.progress import fmt_time, log, write_scalars

STEP_KINDS = ("emotion", "sentiment")


class Trainer:
    """Runs one training run of one variant; see the module docstring."""

    def __init__(self, config, data):
        config.validate()
        self.config = config
        self.data = data
        self.spec = variants_lib.get_variant(config.variant)
        self.output_dir = Path(config.output_dir)
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        self.num_emotions = len(data.task.emotion_names)
        # "default" is TensorFlow's no-op strategy (one device: the GPU when visible, else
        # the CPU); "mirrored" replicates over every visible device with the same loop.
        self.distributed = config.strategy == "mirrored"
        self.strategy = tf.distribute.MirroredStrategy() if self.distributed else tf.distribute.get_strategy()
        self.features = data.features or {}
        with self.strategy.scope():
            self.model = build_model(data.model_config(config),
                                     embedding_matrix=data.embedding_matrix, encoder_weights=data.encoder_weights)
            # E is updated row-wise unless asked otherwise or replicated (scatter updates are
            # per device). Built before any tracing, so the step functions create no variables.
            self.optimizers = TaskOptimizers(self.model, self.spec.uses_sentiment_data, config.learning_rate,
                                             sparse_embedding=not (config.dense_embedding_updates or self.distributed),
                                             encoder_learning_rate=config.encoder_learning_rate,
                                             encoder_warmup_steps=config.encoder_warmup_steps)
        self.left_variables = self.optimizers.variables["sentiment"]
        self.sparse_embedding = self.optimizers.embedding is not None

        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.pretrain_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="pretrain_step")
        self.best_score = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_score")
        self.best_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="best_step")
        self.best_threshold = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_threshold")
        self.elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")
        # Dropout draws from Keras seed generators; their states are checkpointed too so a
        # resumed run draws the same masks as an uninterrupted one.
        rng_states = [v.value for v in self.model.variables if "seed_generator_state" in v.path]
        self.checkpoints = run_weights.Checkpoints(tf.train.Checkpoint(
            model=self.model, step=self.step, pretrain_step=self.pretrain_step, best_score=self.best_score,
            best_step=self.best_step, best_threshold=self.best_threshold, elapsed=self.elapsed, rng=rng_states,
            **self.optimizers.trackables()), self.output_dir)

        self.trace_counts = {"emotion": 0, "sentiment": 0, "predict": 0}
        ids_spec = tf.TensorSpec([None, None], tf.int32)
        self._batch_specs = {
            "emotion": {"token_ids": ids_spec, "labels": tf.TensorSpec([None, self.num_emotions], tf.int32)},
            "sentiment": {"token_ids": ids_spec, "sentiment": tf.TensorSpec([None], tf.int32)},
        }
        predict_signature = [ids_spec]
        if self.features:  # a pretrained encoder's cached states ride along with the ids
            predict_signature.append(input_pipeline.features_spec(self.features["train"]))
            for spec in self._batch_specs.values():
                spec["features"] = predict_signature[-1]
        self._step_fns = {}
        self._predict_fn = tf.function(self._predict, input_signature=predict_signature)
        self.summary_writer = None

    # -- compiled steps -----------------------------------------------------------------
    def _step(self, kind, batch):
        """The body of one step kind: its objective and the update of its parameter group."""
        self.trace_counts[kind] += 1  # Python side effect: runs once per trace
        objective = objectives.emotion_objective if kind == "emotion" else objectives.sentiment_objective
        with tf.GradientTape() as tape:
            total, stats = objective(self.model, batch, self.spec, self.config, self.strategy.num_replicas_in_sync)
        self.optimizers.apply(kind, tape, total)
        return stats

    def _compiled(self, kind):
        """The tf.function of one step kind, traced once for its input signature."""
        if kind not in self._step_fns:
            def step(batch):
                return self._step(kind, batch)

            if self.distributed:
                def distributed_step(batch):
                    per_replica = self.strategy.run(step, args=(batch,))
                    return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                            for k, v in per_replica.items()}
                self._step_fns[kind] = tf.function(distributed_step, input_signature=[self._batch_specs[kind]])
            else:
                self._step_fns[kind] = tf.function(step, input_signature=[self._batch_specs[kind]])
        return self._step_fns[kind]

    def emotion_step(self, batch):
        """One emotion mini-batch: all parameters (Section 2.2.3)."""
        return self._compiled("emotion")(batch)

    def sentiment_step(self, batch):
        """One sentiment mini-batch: only the left part."""
        return self._compiled("sentiment")(batch)

    def _dataset(self, kind, dataset):
        """The iterator the loop reads; under a mirrored strategy, batches split over replicas."""
        if self.distributed:
            dataset = self.strategy.experimental_distribute_dataset(dataset)
            self._batch_specs[kind] = dataset.element_spec
        return iter(dataset)

    # -- one iteration of the schedule (fit and the benchmark both run this) -------------
    def batch_streams(self, start_step=0, seed=None):
        """{kind: iterator} of the main phase's mini-batches from `start_step` (a function of seed and step)."""
        seed = self.config.seed if seed is None else seed
        streams = {"emotion": self._dataset("emotion", input_pipeline.emotion_dataset(
            self.data.ids["train"], self.data.task.train.labels, self._batcher("train", "emotion", seed),
            start_step=start_step, features=self.features.get("train")))}
        if self.spec.schedule == variants_lib.ALTERNATING:
            streams["sentiment"] = self._dataset("sentiment", input_pipeline.sentiment_dataset(
                self.data.ids["sentiment"], self.data.task.sentiment.labels,
                self._batcher("sentiment", "sentiment", seed), start_step=start_step,
                features=self.features.get("sentiment")))
        return streams

    def train_iteration(self, streams):
        """One step: a sentiment and an emotion mini-batch in `--step_order` (emotion only for
        Base and FT's second phase). Returns ({loss name: float}, sentences read)."""
        kinds = [k for k in STEP_KINDS if k in streams]
        if self.config.step_order == "sentiment_first":
            kinds.reverse()
        stats, rows = {}, 0
        for kind in kinds:
            batch = next(streams[kind])
            # A batch's static shape (no op); under a mirrored strategy, the global batch size.
            rows += self.config.batch_size if self.distributed else int(batch["token_ids"].shape[0])
            stats.update(self.emotion_step(batch) if kind == "emotion" else self.sentiment_step(batch))
        return {k: float(v) for k, v in stats.items()}, rows

    # -- prediction and evaluation -------------------------------------------------------
    def _predict(self, token_ids, features=None):
        self.trace_counts["predict"] += 1
        return self.model(token_ids, training=False, features=features)["probabilities"]

    def predict(self, token_ids, batch_size=256, features=None):
        """Emotion probabilities [N, K] for encoded sentences (order preserved); `features`: their
        cached encoder states, with a pretrained encoder."""
        probs = np.zeros((len(token_ids), self.num_emotions), dtype=np.float32)
        for positions, batch in input_pipeline.eval_batches(token_ids, batch_size):
            states = None if features is None else tf.constant(features.pad(positions, batch.shape[1]))
            probs[positions] = self._predict_fn(tf.constant(batch), states).numpy()
        return probs

    def _scores(self, split, gamma=None):
        """(metrics, gamma, predicted labels, probabilities) of one split; gamma tuned on dev when None."""
        labels = self.data.task.splits()[split].labels
        probs = self.predict(self.data.ids[split], features=self.features.get(split))
        if not np.isfinite(probs).all():  # weights went non-finite in the last step's update
            raise divergence.diverged(self.config, int(self.step.numpy()), f"the {split} probabilities are not "
                                      "finite", self.checkpoints.manager.latest_checkpoint)
        if gamma is None:
            gamma = self.config.threshold if self.config.threshold is not None else \
                metrics.tune_threshold(labels, probs)[0]
        predicted = metrics.predict_labels(probs, gamma)
        ranking = self.config.dataset_entry.ranking_metrics
        return metrics.emotion_metrics(labels, predicted, probs, ranking=ranking), gamma, predicted, probs

    # -- the loop -----------------------------------------------------------------------
    def _batcher(self, split, stream, seed=None):
        lengths = [len(t) for t in self.data.ids[split]]
        return input_pipeline.Batcher(lengths, self.config.batch_size,
                                      seed=self.config.seed if seed is None else seed, stream=stream)

    def plan(self):
        """(pretrain_steps, main_steps, steps_per_epoch) for this variant's schedule."""
        cfg = self.config
        emotion_batches = self._batcher("train", "emotion").batches_per_pass
        sentiment_batches = self._batcher("sentiment", "sentiment").batches_per_pass
        pretrain = 0
        if self.spec.schedule == variants_lib.ALTERNATING:
            per_epoch = max(sentiment_batches, emotion_batches)
        else:
            per_epoch = emotion_batches
            if self.spec.schedule == variants_lib.PRETRAIN_FINETUNE:
                pretrain = cfg.pretrain_epochs * sentiment_batches
        main = cfg.resolved_epochs() * per_epoch
        if cfg.max_steps is not None:
            main = min(main, cfg.max_steps)
            pretrain = min(pretrain, cfg.max_steps)
        return pretrain, main, per_epoch

    def _header(self):
        cfg, data = self.config, self.data
        log(f"datn-tf | {cfg.dataset} | {self.spec.title} | seed {cfg.seed} | "
            f"{len(data.task.train)} train / {len(data.task.dev)} dev emotion sentences"
            + (f" | {len(data.task.sentiment)} sentiment sentences" if self.spec.uses_sentiment_data else "")
            + f" | vocab {len(data.vocab)} | {data.embeddings_name} ({data.coverage.type_rate:.1%} of types covered)")
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or ["CPU"]
        log(f"strategy {cfg.strategy}: {self.strategy.num_replicas_in_sync} replica(s); devices {', '.join(devices)}")
        for note in data.task.notes:
            log(f"note: {note}")
        for warning in data.task.warnings:
            log(f"warning: {warning}")

    def fit(self):
        """Trains (resuming from the last checkpoint if any); returns the final metrics dict."""
        cfg = self.config
        self.output_dir.mkdir(parents=True, exist_ok=True)
        run_dir_lib.write_run_files(self.output_dir, cfg, self.model, self.data)
        restored = self.checkpoints.restore_latest()
        if restored:
            log(f"resumed from {restored} at step {int(self.step.numpy())}")
        self.summary_writer = tf.summary.create_file_writer(str(self.output_dir / run_dir_lib.TENSORBOARD_DIR))
        pretrain_steps, main_steps, per_epoch = self.plan()
        self._header()
        start_time = time.time() - float(self.elapsed.numpy())
        if int(self.pretrain_step.numpy()) < pretrain_steps:
            self._pretrain(pretrain_steps, start_time)

        step, session_steps = int(self.step.numpy()), 0
        streams = self.batch_streams(start_step=step) if step < main_steps else None
        running, session_start = {}, time.time()
        while step < main_steps:
            try:
                stats, _ = self.train_iteration(streams)
                divergence.check_finite(cfg, step + 1, stats, self.checkpoints.manager.latest_checkpoint)
            except KeyboardInterrupt:
                saved = self.checkpoints.manager.latest_checkpoint
                raise TrainingInterrupted(
                    f"interrupted at step {step} of {main_steps}; "
                    + (f"the last checkpoint is {saved}: " if saved else "no checkpoint yet: ")
                    + "re-run the same command to resume") from None
            step += 1
            session_steps += 1
            self.step.assign(step)
            for k, v in stats.items():
                running[k] = 0.9 * running.get(k, v) + 0.1 * v
            if step % cfg.log_every == 0 or step == main_steps:
                rate = session_steps / max(1e-9, time.time() - session_start)
                losses_txt = " ".join(f"{k} {v:.4f}" for k, v in sorted(running.items()))
                log(f"epoch {(step - 1) // per_epoch + 1}/{math.ceil(main_steps / per_epoch)} step {step}/"
                    f"{main_steps} {losses_txt} | {rate:.1f} steps/s | ETA {fmt_time((main_steps - step) / rate)}")
                with self.summary_writer.as_default(step=step):
                    write_scalars("train", running, step)
            if step % cfg.eval_every == 0 or step == main_steps:
                self._evaluate_and_checkpoint(step, start_time)
        return self._finish(start_time)

    def _pretrain(self, pretrain_steps, start_time):
        """FT phase 1: the whole base model trained on the sentiment data."""
        cfg = self.config
        step = int(self.pretrain_step.numpy())
        it = self._dataset("sentiment", input_pipeline.sentiment_dataset(
            self.data.ids["sentiment"], self.data.task.sentiment.labels,
            self._batcher("sentiment", "pretrain"), start_step=step, features=self.features.get("sentiment")))
        t0 = time.time()
        while step < pretrain_steps:
            stats = self.sentiment_step(next(it))
            divergence.check_finite(cfg, step + 1, {k: float(v) for k, v in stats.items()},
                                    self.checkpoints.manager.latest_checkpoint, phase="pre-training ")
            step += 1
            self.pretrain_step.assign(step)
            if step % cfg.log_every == 0 or step == pretrain_steps:
                rate = step / max(1e-9, time.time() - t0)
                log(f"pre-training step {step}/{pretrain_steps} sentiment_loss "
                    f"{float(stats['sentiment_loss']):.4f} | ETA {fmt_time((pretrain_steps - step) / rate)}")
            if step % cfg.eval_every == 0 or step == pretrain_steps:
                self.elapsed.assign(time.time() - start_time)
                self.checkpoints.save(step)

    def _test_curve_point(self, gamma):
        """For the record only (`experiments/selection_gap.py`), never read by training: the test
        split's metrics at the dev-tuned gamma, and the Jaccard that a gamma tuned on test would
        give (what selecting on test, as the released code did, would report)."""
        result, _, _, probs = self._scores("test", gamma)
        oracle_gamma, oracle_jaccard = metrics.tune_threshold(self.data.task.test.labels, probs)
        return result, {"threshold": oracle_gamma, "jaccard": oracle_jaccard}

    def _evaluate_and_checkpoint(self, step, start_time):
        result, gamma, _, _ = self._scores("dev")  # gamma tuned on dev unless --threshold is fixed
        score = result["jaccard"]
        # Selection is done (dev only) before the test split, if present, is looked at.
        point = {"dev": result, "threshold": gamma}
        if "test" in self.data.eval_splits():
            point["test"], point["test_gamma_on_test"] = self._test_curve_point(gamma)
        run_dir_lib.append_history(self.output_dir, step, point)
        improved = score > float(self.best_score.numpy())
        if improved:
            self.best_score.assign(score)
            self.best_step.assign(step)
            self.best_threshold.assign(gamma)
            run_weights.save_best_weights(self.output_dir, self.model)
        self.elapsed.assign(time.time() - start_time)
        self.checkpoints.save(step)
        with self.summary_writer.as_default(step=step):
            write_scalars("dev", {**result, "threshold": gamma}, step)
            write_scalars("test", point.get("test", {}), step)
        self.summary_writer.flush()
        log(f"  dev step {step}: {tables.metrics_line(result)} (gamma {gamma:.2f})"
            + ("  * best" if improved else
               f"  (best {float(self.best_score.numpy()):.4f} at step {int(self.best_step.numpy())})"))

    def _finish(self, start_time):
        """Restores the best weights, evaluates dev (and test when present), writes outputs."""
        run_weights.read_best_weights(self.output_dir, self.model)
        gamma = float(self.best_threshold.numpy())
        results = {}
        for split, examples in self.data.eval_splits().items():
            results[split], _, predicted, probs = self._scores(split, gamma)
            run_dir_lib.write_split_outputs(self.output_dir, split, examples, predicted, probs)
        payload = {
            "dataset": self.config.dataset,
            "variant": self.config.variant,
            "seed": self.config.seed,
            "threshold": gamma,
            "threshold_source": "fixed" if self.config.threshold is not None else "tuned on dev",
            "best_step": int(self.best_step.numpy()),
            "steps": int(self.step.numpy()),
            "wall_seconds": round(time.time() - start_time, 1),
            "test_evaluated": "test" in results,
            "notes": self.data.task.notes,
            **results,
        }
        run_dir_lib.write_metrics(self.output_dir, payload)
        log(run_dir_lib.summary_text(payload))
        return payload
