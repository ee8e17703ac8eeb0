"""Training library: data preparation, the alternating loop (Section 2.2.3), selection on dev.

`prepare_data(config)` reads a transfer setting, builds the vocabulary from the training
splits only and the initial lookup table. `Trainer(config, data).fit()` runs the loop the
variant's schedule asks for, scores the dev set every `eval_every` steps, keeps the best
weights by dev Jaccard accuracy (threshold gamma tuned on dev, never on test), checkpoints
so a killed run resumes where it stopped, and writes metrics and predictions.
`datn_tf/train.py` is the command line over this module.
"""

import dataclasses
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from datn_tf import embeddings as embeddings_lib
from datn_tf import input_pipeline, io_utils, losses, metrics
from datn_tf import variants as variants_lib
from datn_tf.config import DEFAULT_EPOCHS, TrainConfig  # noqa: F401  (re-exported)
from datn_tf.data import datasets
from datn_tf.models import EmotionTransferModel, build_model
from datn_tf.optimizers import RowwiseAdam
from datn_tf.vocab import Vocabulary

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
METRICS_FILE = "metrics.json"
BEST_DIR = "best"
CKPT_DIR = "checkpoints"

@dataclasses.dataclass
class PreparedData:
    """Everything the loop needs, encoded: ids per split, labels, vocabulary, table E."""

    task: datasets.TaskData
    vocab: Vocabulary
    embedding_matrix: np.ndarray
    coverage: embeddings_lib.Coverage
    embeddings_name: str
    ids: dict  # split -> list of int32 arrays ("train", "dev", "test", "sentiment")


def log(msg):
    print(msg, flush=True)


def _scalar_metadata():
    # TensorBoard's scalar plugin metadata, written without importing tensorboard
    # (TensorFlow 2.21 no longer installs it; `pip install tensorboard` only to view).
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    ).SerializeToString()


def write_scalar(name, value, step):
    """One TensorBoard scalar in the active `tf.summary` writer."""
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_scalar_metadata())


def prepare_data(config, task=None, vocab=None):
    """Reads the data, builds the vocabulary (training splits only) and the lookup table E."""
    return _with_embedding_matrix(config, _seed_free_parts(config, task, vocab))


class PreparedDataCache:
    """`prepare_data` for the runs of a grid: the seed-free parts are computed once.

    The data, the vocabulary, the token ids and the pretrained vectors depend only on the
    data and tokenization settings, not on the seed or the model; only the random rows of
    E do. The last entry is kept (one grid uses one data setting).
    """

    def __init__(self):
        self._key = self._parts = None

    def prepare(self, config):
        key = (config.dataset, config.data_dir, config.cv_fold, config.cv_folds, config.embeddings,
               config.embedding_dim, config.max_length)
        if key != self._key:
            self._key, self._parts = key, _seed_free_parts(config)
        return _with_embedding_matrix(config, self._parts)


def _seed_free_parts(config, task=None, vocab=None):
    task = task or datasets.load_task(config.dataset, config.data_dir, config.cv_fold, config.cv_folds)
    language = task.language
    if vocab is None:
        train_texts = list(task.train.texts) + list(task.sentiment.texts)
        vocab = Vocabulary.build(input_pipeline.tokenize_corpus(train_texts, language))
    if config.embeddings or language == "en":
        vectors, dim = embeddings_lib.load_vectors(config.embeddings or None, words=set(vocab.tokens))
        name = str(config.embeddings) if config.embeddings else embeddings_lib.DEFAULT_EMBEDDINGS
    else:
        vectors, dim = None, config.embedding_dim or datasets.DATASET_DEFAULTS[config.dataset]["embedding_dim"]
        name = f"random-{dim}d"
    table = vocab.lookup_table()
    ids = {}
    for split, examples in list(task.splits().items()) + [("sentiment", task.sentiment)]:
        ids[split] = input_pipeline.encode_texts(
            examples.texts, vocab, language, table=table, max_length=config.max_length
        )
    return task, vocab, vectors, dim, name, ids


def _with_embedding_matrix(config, parts):
    task, vocab, vectors, dim, name, ids = parts
    if vectors is None:
        matrix, coverage = embeddings_lib.random_embedding_matrix(vocab, dim, seed=config.seed)
    else:
        matrix, coverage = embeddings_lib.build_embedding_matrix(vocab, vectors, dim, seed=config.seed)
    return PreparedData(task, vocab, matrix, coverage, name, ids)


def _fmt_time(seconds):
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


class Trainer:
    """Runs one training run of one variant; see the module docstring."""

    def __init__(self, config, data):
        config.validate()
        self.config = config
        self.data = data
        self.spec = variants_lib.get_variant(config.variant)
        self.output_dir = Path(config.output_dir)
        tf.get_logger().setLevel("ERROR")  # hide per-save INFO lines from the checkpoint writer
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        task = data.task
        self.num_emotions = len(task.emotion_names)
        # "default" is TensorFlow's no-op strategy (one device: the GPU when visible, else
        # the CPU); "mirrored" replicates over every visible device with the same loop.
        self.strategy = (tf.distribute.MirroredStrategy() if config.strategy == "mirrored"
                         else tf.distribute.get_strategy())
        self.distributed = config.strategy == "mirrored"
        with self.strategy.scope():
            self.model = build_model(
                config.variant,
                vocab_size=len(data.vocab),
                embedding_dim=data.embedding_matrix.shape[1],
                num_emotions=self.num_emotions,
                embedding_matrix=data.embedding_matrix,
                hidden_size=config.hidden_size,
                attention_size=config.attention_size,
                mlp_hidden_units=config.mlp_hidden_units,
                mlp_activation=config.mlp_activation,
                mlp_dropout=config.mlp_dropout,
                input_dropout=config.input_dropout,
                dropout=config.lstm_dropout,
                attention_bias=config.attention_bias,
                tie_lstm_directions=config.tie_lstm_directions,
                lstm_implementation=config.lstm_implementation,
            )
            # Two Adam optimisers, one per objective of the alternating schedule (as two TF1
            # train ops would have): each keeps its own moments and step count. Built here,
            # before any tracing, so the step functions create no variables.
            self.emotion_variables = self.model.emotion_variables
            self.left_variables = self.model.left_variables if self.spec.uses_sentiment_data else []
            # E is updated row-wise by its own Adam (optimizers.RowwiseAdam) unless asked
            # otherwise or replicated (scatter updates are per device).
            self.sparse_embedding = not (config.dense_embedding_updates or self.distributed)
            embedding = self.model.embedding.embeddings
            self._embedding = embedding if self.sparse_embedding else None
            self._dense = {
                "emotion": [v for v in self.emotion_variables if v is not self._embedding],
                "sentiment": [v for v in self.left_variables if v is not self._embedding],
            }
            self.emotion_optimizer = keras.optimizers.Adam(config.learning_rate)
            self.emotion_optimizer.build(self._dense["emotion"])
            self.sentiment_optimizer = None
            if self.spec.uses_sentiment_data:
                self.sentiment_optimizer = keras.optimizers.Adam(config.learning_rate)
                self.sentiment_optimizer.build(self._dense["sentiment"])
            self.embedding_optimizers = {}
            if self.sparse_embedding:
                self.embedding_optimizers["emotion"] = RowwiseAdam(embedding, config.learning_rate,
                                                                   name="emotion_embedding_adam")
                if self.spec.uses_sentiment_data:
                    self.embedding_optimizers["sentiment"] = RowwiseAdam(embedding, config.learning_rate,
                                                                         name="sentiment_embedding_adam")

        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.pretrain_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="pretrain_step")
        self.best_score = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_score")
        self.best_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="best_step")
        self.best_threshold = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_threshold")
        self.elapsed = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds")
        # Dropout draws from Keras seed generators; their states are checkpointed too so a
        # resumed run draws the same masks as an uninterrupted one.
        rng_states = [v.value for v in self.model.variables if "seed_generator_state" in v.path]
        trackables = dict(
            model=self.model,
            emotion_optimizer=self.emotion_optimizer,
            step=self.step,
            pretrain_step=self.pretrain_step,
            best_score=self.best_score,
            best_step=self.best_step,
            best_threshold=self.best_threshold,
            elapsed=self.elapsed,
            rng=rng_states,
        )
        if self.sentiment_optimizer is not None:
            trackables["sentiment_optimizer"] = self.sentiment_optimizer
        for kind, opt in self.embedding_optimizers.items():
            trackables[f"{kind}_embedding_optimizer"] = opt
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.output_dir / CKPT_DIR, max_to_keep=1)
        self.weights_checkpoint = tf.train.Checkpoint(model=self.model)

        self.trace_counts = {"emotion": 0, "sentiment": 0, "predict": 0}
        ids_spec = tf.TensorSpec([None, None], tf.int32)
        self._batch_specs = {
            "emotion": {"token_ids": ids_spec, "labels": tf.TensorSpec([None, self.num_emotions], tf.int32)},
            "sentiment": {"token_ids": ids_spec, "sentiment": tf.TensorSpec([None], tf.int32)},
        }
        self._step_fns = {}
        self._predict_fn = tf.function(self._predict, input_signature=[ids_spec])
        self.summary_writer = None

    # -- compiled steps -----------------------------------------------------------------
    def _compiled(self, kind, spec):
        """The tf.function of one step kind, traced once for its input signature."""
        if kind not in self._step_fns:
            step = self._emotion_step if kind == "emotion" else self._sentiment_step
            if self.distributed:
                def distributed_step(batch):
                    per_replica = self.strategy.run(step, args=(batch,))
                    return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                            for k, v in per_replica.items()}
                self._step_fns[kind] = tf.function(distributed_step, input_signature=[spec])
            else:
                self._step_fns[kind] = tf.function(step, input_signature=[spec])
        return self._step_fns[kind]

    def emotion_step(self, batch):
        """One emotion mini-batch: all parameters (Section 2.2.3)."""
        return self._compiled("emotion", self._batch_specs["emotion"])(batch)

    def sentiment_step(self, batch):
        """One sentiment mini-batch: only the left part."""
        return self._compiled("sentiment", self._batch_specs["sentiment"])(batch)

    def _dataset(self, kind, dataset):
        """The iterator the loop reads; under a mirrored strategy, batches split over replicas."""
        if self.distributed:
            dataset = self.strategy.experimental_distribute_dataset(dataset)
            self._batch_specs[kind] = dataset.element_spec
        return iter(dataset)

    def _replica_share(self, value, reduction):
        """A loss term as this replica's share of the global objective.

        Mean-type terms are divided by the replica count so that the gradients summed over
        replicas equal the global-batch mean; summed terms are already shares of the sum.
        """
        if reduction == "sum":
            return value
        return value / self.strategy.num_replicas_in_sync

    def _emotion_step(self, batch):
        self.trace_counts["emotion"] += 1  # Python side effect: runs once per trace
        cfg = self.config
        token_ids, labels = batch["token_ids"], batch["labels"]
        with tf.GradientTape() as tape:
            out = self.model(token_ids, training=True)
            target = losses.emotion_target_distribution(labels)
            emotion_loss = losses.emotion_kl_loss(target, out["logits"], reduction=cfg.task_loss_reduction)
            total = self._replica_share(emotion_loss, cfg.task_loss_reduction)
            stats = {"emotion_loss": total}
            if self.spec.similarity_loss:
                sim = losses.similarity_loss(out["alpha_s"], out["alpha_t"], lambda_sim=cfg.lambda_sim,
                                             form=cfg.similarity)
                sim = self._replica_share(sim, "sum" if cfg.similarity == "sum" else "mean")
                total += sim
                stats["similarity_loss"] = sim
            if self.spec.adversarial:
                total += self._replica_share(self._adversarial_terms(out, token_ids, task_id=1, stats=stats), "mean")
        self._apply("emotion", tape, total, self.emotion_optimizer)
        return stats

    def _sentiment_step(self, batch):
        self.trace_counts["sentiment"] += 1
        reduction = self.config.task_loss_reduction
        token_ids, labels = batch["token_ids"], batch["sentiment"]
        with tf.GradientTape() as tape:
            out = self.model.sentiment(token_ids, training=True)
            total = self._replica_share(losses.sentiment_loss(labels, out["logits"], reduction=reduction), reduction)
            stats = {"sentiment_loss": total}
            if self.spec.adversarial:
                total += self._replica_share(self._adversarial_terms(out, token_ids, task_id=0, stats=stats), "mean")
        self._apply("sentiment", tape, total, self.sentiment_optimizer)
        return stats

    def _apply(self, kind, tape, loss, optimizer):
        """Gradients of `loss` applied to the step kind's group (E row-wise when sparse)."""
        dense = self._dense[kind]
        if self._embedding is None:
            optimizer.apply(tape.gradient(loss, dense), dense)
            return
        grads = tape.gradient(loss, [self._embedding] + dense)
        self.embedding_optimizers[kind].apply(grads[0], self._embedding)
        optimizer.apply(grads[1:], dense)

    def _adversarial_terms(self, out, token_ids, task_id, stats):
        """Liu et al. (2017): task discriminator (through gradient reversal) + orthogonality."""
        task_ids = tf.fill(tf.shape(token_ids)[:1], task_id)
        adv = losses.adversarial_loss(task_ids, out["task_logits"])
        ortho = losses.orthogonality_loss(out["h_shared"], out["h_private"], tf.not_equal(token_ids, 0))
        stats["adversarial_loss"] = self._replica_share(adv, "mean")
        stats["orthogonality_loss"] = self._replica_share(ortho, "mean")
        return self.config.adversarial_weight * adv + self.config.orthogonality_weight * ortho

    def _predict(self, token_ids):
        self.trace_counts["predict"] += 1
        return self.model(token_ids, training=False)["probabilities"]

    def predict(self, token_ids, batch_size=256):
        """Emotion probabilities [N, K] for encoded sentences (order preserved)."""
        probs = np.zeros((len(token_ids), self.num_emotions), dtype=np.float32)
        for positions, batch in input_pipeline.eval_batches(token_ids, batch_size):
            probs[positions] = self._predict_fn(tf.constant(batch)).numpy()
        return probs

    # -- evaluation ---------------------------------------------------------------------
    def evaluate_dev(self):
        """(score, gamma, metrics) on dev; gamma tuned on dev unless --threshold is fixed."""
        labels = self.data.task.dev.labels
        probs = self.predict(self.data.ids["dev"])
        if self.config.threshold is None:
            gamma, _ = metrics.tune_threshold(labels, probs)
        else:
            gamma = self.config.threshold
        result = metrics.emotion_metrics(labels, metrics.predict_labels(probs, gamma), probs,
                                         ranking=datasets.DATASET_DEFAULTS[self.config.dataset]["ranking_metrics"])
        return result["jaccard"], gamma, result

    # -- the loop -----------------------------------------------------------------------
    def _batcher(self, split, stream):
        lengths = [len(t) for t in self.data.ids[split]]
        return input_pipeline.Batcher(lengths, self.config.batch_size, seed=self.config.seed, stream=stream)

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

    def fit(self, stop_after=None):
        """Trains (resuming from the last checkpoint if any); returns the final metrics dict.

        `stop_after` stops after that many main-phase steps of this call (used by the
        resume test to simulate a kill); the run then is not finished.
        """
        cfg = self.config
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._write_run_files()
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            log(f"resumed from {self.manager.latest_checkpoint} at step {int(self.step.numpy())}")
        self.summary_writer = tf.summary.create_file_writer(str(self.output_dir / "tensorboard"))
        pretrain_steps, main_steps, per_epoch = self.plan()
        log(
            f"datn-tf | {cfg.dataset} | {self.spec.title} | seed {cfg.seed} | "
            f"{len(self.data.task.train)} train / {len(self.data.task.dev)} dev emotion sentences"
            + (f" | {len(self.data.task.sentiment)} sentiment sentences" if self.spec.uses_sentiment_data else "")
            + f" | vocab {len(self.data.vocab)} | {self.data.embeddings_name} "
            f"({self.data.coverage.type_rate:.1%} of types covered)"
        )
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or ["CPU"]
        log(f"strategy {cfg.strategy}: {self.strategy.num_replicas_in_sync} replica(s); devices {', '.join(devices)}")
        for note in self.data.task.notes:
            log(f"note: {note}")
        start_time = time.time() - float(self.elapsed.numpy())
        session_start = time.time()
        session_steps = 0

        if int(self.pretrain_step.numpy()) < pretrain_steps:
            self._pretrain(pretrain_steps, start_time)

        step = int(self.step.numpy())
        sentiment_iter = emotion_iter = None
        if step < main_steps:
            emotion_iter = self._dataset("emotion", input_pipeline.emotion_dataset(
                self.data.ids["train"], self.data.task.train.labels, self._batcher("train", "emotion"),
                start_step=step))
            if self.spec.schedule == variants_lib.ALTERNATING:
                sentiment_iter = self._dataset("sentiment", input_pipeline.sentiment_dataset(
                    self.data.ids["sentiment"], self.data.task.sentiment.labels,
                    self._batcher("sentiment", "sentiment"), start_step=step))
        running = {}
        while step < main_steps:
            if stop_after is not None and session_steps >= stop_after:
                log(f"stopped after {session_steps} steps (not finished)")
                return None
            stats = {}
            if sentiment_iter is not None and cfg.step_order == "sentiment_first":
                stats.update(self.sentiment_step(next(sentiment_iter)))
            stats.update(self.emotion_step(next(emotion_iter)))
            if sentiment_iter is not None and cfg.step_order == "emotion_first":
                stats.update(self.sentiment_step(next(sentiment_iter)))
            step += 1
            session_steps += 1
            self.step.assign(step)
            for k, v in stats.items():
                running[k] = 0.9 * running.get(k, float(v)) + 0.1 * float(v)
            if step % cfg.log_every == 0 or step == main_steps:
                rate = session_steps / max(1e-9, time.time() - session_start)
                eta = (main_steps - step) / max(rate, 1e-9)
                epoch = (step - 1) // per_epoch + 1
                losses_txt = " ".join(f"{k} {v:.4f}" for k, v in sorted(running.items()))
                log(f"epoch {epoch}/{math.ceil(main_steps / per_epoch)} step {step}/{main_steps} "
                    f"{losses_txt} | {rate:.1f} steps/s | ETA {_fmt_time(eta)}")
                with self.summary_writer.as_default(step=step):
                    for k, v in running.items():
                        write_scalar(f"train/{k}", v, step)
            if step % cfg.eval_every == 0 or step == main_steps:
                self._evaluate_and_checkpoint(step, start_time)
        return self._finish(start_time)

    def _pretrain(self, pretrain_steps, start_time):
        """FT phase 1: the whole base model trained on the sentiment data."""
        cfg = self.config
        step = int(self.pretrain_step.numpy())
        it = self._dataset("sentiment", input_pipeline.sentiment_dataset(
            self.data.ids["sentiment"], self.data.task.sentiment.labels,
            self._batcher("sentiment", "pretrain"), start_step=step))
        t0 = time.time()
        while step < pretrain_steps:
            stats = self.sentiment_step(next(it))
            step += 1
            self.pretrain_step.assign(step)
            if step % cfg.log_every == 0 or step == pretrain_steps:
                rate = step / max(1e-9, time.time() - t0)
                log(f"pre-training step {step}/{pretrain_steps} sentiment_loss "
                    f"{float(stats['sentiment_loss']):.4f} | ETA {_fmt_time((pretrain_steps - step) / rate)}")
            if step % cfg.eval_every == 0 or step == pretrain_steps:
                self.elapsed.assign(time.time() - start_time)
                self.manager.save(checkpoint_number=step)

    def _evaluate_and_checkpoint(self, step, start_time):
        score, gamma, result = self.evaluate_dev()
        improved = score > float(self.best_score.numpy())
        if improved:
            self.best_score.assign(score)
            self.best_step.assign(step)
            self.best_threshold.assign(gamma)
            self._save_best_weights()
        self.elapsed.assign(time.time() - start_time)
        self.manager.save(checkpoint_number=step)
        with self.summary_writer.as_default(step=step):
            for k, v in result.items():
                if k != "n":
                    write_scalar(f"dev/{k}", v, step)
            write_scalar("dev/threshold", gamma, step)
        self.summary_writer.flush()
        log(f"  dev step {step}: jaccard {score:.4f} macro_f1 {result['macro_f1']:.4f} "
            f"micro_f1 {result['micro_f1']:.4f} (gamma {gamma:.2f})"
            + ("  * best" if improved else
               f"  (best {float(self.best_score.numpy()):.4f} at step {int(self.best_step.numpy())})"))

    def _save_best_weights(self):
        with io_utils.atomic_path(self.output_dir / BEST_DIR, is_dir=True) as tmp:
            self.weights_checkpoint.write(str(tmp / "weights"))

    def restore_best(self):
        self.weights_checkpoint.read(str(self.output_dir / BEST_DIR / "weights")).assert_existing_objects_matched()

    def _write_run_files(self):
        cfg_path = self.output_dir / CONFIG_FILE
        payload = {
            "train_config": dataclasses.asdict(self.config),
            "model_config": self.model.get_config(),
            "emotion_names": list(self.data.task.emotion_names),
            "language": self.data.task.language,
            "embeddings": self.data.embeddings_name,
            "coverage": self.data.coverage.as_dict(),
        }
        if cfg_path.exists():
            old = io_utils.read_json(cfg_path)["train_config"]
            new = payload["train_config"]
            changed = {k for k in new if k not in ("output_dir", "data_dir") and old.get(k) != new[k]}
            if changed and (self.output_dir / CKPT_DIR).exists():
                raise ValueError(
                    f"{self.output_dir} holds a run with other settings ({', '.join(sorted(changed))}); "
                    "use another --output_dir"
                )
        io_utils.write_json(cfg_path, payload)
        if not (self.output_dir / VOCAB_FILE).exists():
            self.data.vocab.save(self.output_dir / VOCAB_FILE)

    def _finish(self, start_time):
        """Restores the best weights, evaluates dev (and test when present), writes outputs."""
        self.restore_best()
        gamma = float(self.best_threshold.numpy())
        task = self.data.task
        ranking = datasets.DATASET_DEFAULTS[self.config.dataset]["ranking_metrics"]
        results = {}
        pred_dir = self.output_dir / "predictions"
        for split, examples in task.splits().items():
            if split == "train":
                continue
            probs = self.predict(self.data.ids[split])
            pred = metrics.predict_labels(probs, gamma)
            results[split] = metrics.emotion_metrics(examples.labels, pred, probs, ranking=ranking)
            write_predictions(pred_dir / f"{split}.txt", examples, pred)
            io_utils.save_npy(pred_dir / f"{split}_probabilities.npy", probs)
        wall = time.time() - start_time
        payload = {
            "dataset": self.config.dataset,
            "variant": self.config.variant,
            "seed": self.config.seed,
            "threshold": gamma,
            "threshold_source": "fixed" if self.config.threshold is not None else "tuned on dev",
            "best_step": int(self.best_step.numpy()),
            "steps": int(self.step.numpy()),
            "wall_seconds": round(wall, 1),
            "test_evaluated": "test" in results,
            "notes": task.notes,
            **results,
        }
        io_utils.write_json(self.output_dir / METRICS_FILE, payload)
        log(summary_text(payload))
        return payload


def write_predictions(path, examples, predicted):
    """Predictions in the official E-c submission format: same header and IDs as the gold file."""
    header = "\t".join(["ID", "Tweet", *examples.label_names])
    lines = [header]
    for i, (id_, text) in enumerate(zip(examples.ids, examples.texts)):
        lines.append("\t".join([id_, text, *(str(int(x)) for x in predicted[i])]))
    io_utils.write_text(path, "\n".join(lines) + "\n")


def summary_text(payload):
    """The one-screen end-of-run summary."""
    rows = [f"== {payload['dataset']} / {payload['variant']} / seed {payload['seed']} ==",
            f"best dev step {payload['best_step']} of {payload['steps']}; gamma {payload['threshold']:.2f} "
            f"({payload['threshold_source']}); wall {_fmt_time(payload['wall_seconds'])}"]
    for split in ("dev", "test"):
        if split in payload:
            m = payload[split]
            extra = "".join(f" {k} {m[k]:.4f}" for k in ("average_precision", "one_error") if k in m)
            rows.append(f"{split:5s} jaccard {m['jaccard']:.4f}  macro_f1 {m['macro_f1']:.4f}  "
                        f"micro_f1 {m['micro_f1']:.4f}{extra}  (n={m['n']})")
    if not payload["test_evaluated"]:
        rows.append("test  not evaluated: " + "; ".join(payload["notes"]))
    return "\n".join(rows)


def load_run(run_dir):
    """(config dict, vocabulary, model with the best weights) of a finished or running run."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{run_dir} is not a training run (no {CONFIG_FILE})")
    config = io_utils.read_json(run_dir / CONFIG_FILE)
    vocab = Vocabulary.load(run_dir / VOCAB_FILE)
    model = EmotionTransferModel.from_config(config["model_config"])
    model.build()
    tf.train.Checkpoint(model=model).read(str(run_dir / BEST_DIR / "weights")).assert_existing_objects_matched()
    return config, vocab, model
