"""Tests for datn_tf.losses against NumPy references."""

import numpy as np
import tensorflow as tf

from datn_tf import losses


def np_log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class LossesTestCase(tf.test.TestCase):
    # tf.test.TestCase's deprecated `test_session` helper is not a test.
    test_session = None


class EmotionTargetDistributionTest(LossesTestCase):
    def test_normalised_with_none_class(self):
        labels = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0], [1, 1, 1]])
        target = losses.emotion_target_distribution(labels)
        self.assertEqual(target.dtype, tf.float32)
        self.assertAllClose(
            target,
            [
                [0.5, 0.0, 0.5, 0.0],
                [0.0, 0.0, 0.0, 1.0],  # no emotion: all mass on "none"
                [0.0, 1.0, 0.0, 0.0],
                [1 / 3, 1 / 3, 1 / 3, 0.0],
            ],
        )
        self.assertAllClose(tf.reduce_sum(target, axis=1), np.ones(4))

    def test_accepts_bool_labels(self):
        labels = np.array([[True, False], [False, False]])
        self.assertAllClose(
            losses.emotion_target_distribution(labels), [[1, 0, 0], [0, 0, 1]]
        )


class EmotionKLLossTest(LossesTestCase):
    def test_matches_numpy_with_zero_targets(self):
        rng = np.random.default_rng(0)
        labels = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
        target = losses.emotion_target_distribution(labels).numpy()
        logits = rng.normal(size=target.shape).astype("float32")
        log_o = np_log_softmax(logits.astype("float64"))
        positive = target > 0
        want = np.where(
            positive, target * (np.log(np.where(positive, target, 1.0)) - log_o), 0.0
        )
        want = want.sum(axis=1)
        self.assertAllClose(
            losses.emotion_kl_loss(target, logits), want.mean(), rtol=1e-6, atol=1e-6
        )
        # The released code's reduction: summed over the batch.
        self.assertAllClose(
            losses.emotion_kl_loss(target, logits, reduction="sum"), want.sum(), rtol=1e-6, atol=1e-6
        )
        with self.assertRaisesRegex(ValueError, "reduction"):
            losses.emotion_kl_loss(target, logits, reduction="max")

    def test_zero_when_prediction_equals_target(self):
        target = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], "float32")
        self.assertAllClose(
            losses.emotion_kl_loss(target, np.log(target)), 0.0, atol=1e-6
        )

    def test_stable_for_large_logits_and_finite_gradient(self):
        target = losses.emotion_target_distribution([[1, 0, 0], [0, 0, 0]])
        logits = tf.Variable([[1e4, -1e4, 0.0, 0.0], [-1e4, 0.0, 1e4, 5e3]])
        with tf.GradientTape() as tape:
            loss = losses.emotion_kl_loss(target, logits)
        grad = tape.gradient(loss, logits)
        self.assertTrue(np.isfinite(loss.numpy()))
        # Row 1 is exact (0); row 2: -log o_none = 1e4 - 5e3.
        self.assertAllClose(loss, 0.5 * (0.0 + 5e3))
        # d KL / d logits = (softmax(logits) - target) / B
        want = (tf.nn.softmax(logits) - target) / 2.0
        self.assertAllClose(grad, want)


class AttentionCosineSimilarityTest(LossesTestCase):
    def test_matches_numpy_cosine(self):
        rng = np.random.default_rng(0)
        a = rng.uniform(size=(4, 7)).astype("float32")
        b = rng.normal(size=(4, 7)).astype("float32")
        got = losses.attention_cosine_similarity(a, b).numpy()
        for i in range(4):
            want = np.dot(a[i], b[i]) / (np.linalg.norm(a[i]) * np.linalg.norm(b[i]))
            self.assertAllClose(got[i], want, rtol=1e-6, atol=1e-6)

    def test_is_cosine_not_one_minus_dot(self):
        a = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], "float32")
        b = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], "float32")
        self.assertAllClose(losses.attention_cosine_similarity(a, b), [1.0, 0.0])

    def test_zero_rows_give_zero_and_finite_gradient(self):
        a = tf.Variable([[0.0, 0.0, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 0.0]])
        b = tf.Variable([[0.3, 0.7, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        with tf.GradientTape() as tape:
            cosine = losses.attention_cosine_similarity(a, b)
            total = tf.reduce_sum(cosine)
        self.assertAllEqual(cosine, [0.0, 0.0, 0.0])
        grad_a, grad_b = tape.gradient(total, [a, b])
        # Degenerate rows contribute nothing, not a NaN or a 1/eps gradient.
        self.assertAllEqual(grad_a, np.zeros((3, 3)))
        self.assertAllEqual(grad_b, np.zeros((3, 3)))


class SimilarityLossTest(LossesTestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(1)
        self.alpha_s = rng.dirichlet(np.ones(6), size=3).astype("float32")
        self.alpha_t = rng.dirichlet(np.ones(6), size=3).astype("float32")
        a, b = self.alpha_s, self.alpha_t
        self.cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    def test_sum_and_mean(self):
        self.assertAllClose(
            losses.similarity_loss(self.alpha_s, self.alpha_t, lambda_sim=0.05, form="sum"),
            0.05 * self.cos.sum(),
            rtol=1e-6,
        )
        self.assertAllClose(
            losses.similarity_loss(
                self.alpha_s, self.alpha_t, lambda_sim=0.5, form="mean"
            ),
            0.5 * self.cos.mean(),
            rtol=1e-6,
        )
        with self.assertRaisesRegex(ValueError, "form"):
            losses.similarity_loss(self.alpha_s, self.alpha_t, lambda_sim=0.05, form="none")

    def test_released_form(self):
        # The released code's tf.losses.cosine_distance(tgt_alphas, alphas, dim=1):
        # the batch mean of 1 - a.b on the raw (not unit-normalised) weights.
        a, b = self.alpha_s, self.alpha_t
        self.assertAllClose(
            losses.similarity_loss(a, b, lambda_sim=0.05, form="released"),
            0.05 * np.mean(1.0 - (a * b).sum(1)),
            rtol=1e-6,
        )
        # Minimising it raises the dot product: the attentions are pulled together.
        alpha_s = tf.Variable(a)
        with tf.GradientTape() as tape:
            loss = losses.similarity_loss(alpha_s, b, lambda_sim=0.05, form="released")
        step = alpha_s - 0.5 * tape.gradient(loss, alpha_s)
        self.assertTrue(np.all((step.numpy() * b).sum(1) > (a * b).sum(1)))

    def test_gradient_step_pushes_attentions_apart(self):
        alpha_s = tf.Variable(self.alpha_s)
        with tf.GradientTape() as tape:
            loss = losses.similarity_loss(alpha_s, self.alpha_t, lambda_sim=0.05, form="sum")
        step = alpha_s - 0.5 * tape.gradient(loss, alpha_s)
        before = losses.attention_cosine_similarity(self.alpha_s, self.alpha_t)
        after = losses.attention_cosine_similarity(step, self.alpha_t)
        self.assertAllLess(after - before, 0.0)


class CrossEntropyLossesTest(LossesTestCase):
    def test_sentiment_loss_matches_numpy(self):
        rng = np.random.default_rng(2)
        logits = rng.normal(size=(5, 3)).astype("float32")
        labels = np.array([0, 2, 1, 1, 0])
        want = -np_log_softmax(logits.astype("float64"))[np.arange(5), labels]
        self.assertAllClose(losses.sentiment_loss(labels, logits), want.mean(), rtol=1e-6)
        self.assertAllClose(losses.sentiment_loss(labels, logits, reduction="sum"), want.sum(), rtol=1e-6)

    def test_adversarial_loss_matches_numpy(self):
        rng = np.random.default_rng(3)
        logits = rng.normal(size=(4, 2)).astype("float32")
        task_ids = np.array([0, 1, 1, 0])
        want = -np_log_softmax(logits.astype("float64"))[np.arange(4), task_ids].mean()
        self.assertAllClose(losses.adversarial_loss(task_ids, logits), want, rtol=1e-6)


class OrthogonalityLossTest(LossesTestCase):
    def test_zero_for_orthogonal_features(self):
        # Shared and private features live on orthogonal token profiles.
        a = np.array([1.0, 1.0, 0.0, 0.0])
        b = np.array([1.0, -1.0, 3.0, 0.0])
        rng = np.random.default_rng(4)
        shared = a[None, :, None] * rng.normal(size=(2, 1, 3))
        private = b[None, :, None] * rng.normal(size=(2, 1, 5))
        self.assertAllClose(losses.orthogonality_loss(shared, private), 0.0, atol=1e-6)

    def test_matches_numpy_and_excludes_padding(self):
        rng = np.random.default_rng(5)
        shared = rng.normal(size=(2, 4, 3)).astype("float32")
        private = rng.normal(size=(2, 4, 5)).astype("float32")
        mask = np.array([[True, True, True, False], [True, True, False, False]])
        want = np.mean(
            [
                np.sum((shared[i, mask[i]].T @ private[i, mask[i]]) ** 2)
                for i in range(2)
            ]
        )
        self.assertAllClose(
            losses.orthogonality_loss(shared, private, mask), want, rtol=1e-5
        )
        noisy_shared = np.where(mask[:, :, None], shared, 9.0)
        self.assertAllClose(
            losses.orthogonality_loss(noisy_shared, private, mask), want, rtol=1e-5
        )
        unmasked = np.mean([np.sum((shared[i].T @ private[i]) ** 2) for i in range(2)])
        self.assertAllClose(
            losses.orthogonality_loss(shared, private), unmasked, rtol=1e-5
        )


class DtypeTest(LossesTestCase):
    def test_float64_kept_and_tf_function(self):
        a = np.array([[0.2, 0.8]], "float64")
        self.assertEqual(losses.similarity_loss(a, a, lambda_sim=0.05, form="sum").dtype, tf.float64)
        fn = tf.function(losses.emotion_kl_loss)
        target = losses.emotion_target_distribution([[1, 0]])
        self.assertAllClose(
            fn(target, tf.constant([[1.0, 2.0, 3.0]])),
            losses.emotion_kl_loss(target, tf.constant([[1.0, 2.0, 3.0]])),
        )


if __name__ == "__main__":
    tf.test.main()
