"""Tests for datn_tf.metrics: hand-computed values, official-scorer edge cases and
agreement with scikit-learn / scipy where the definitions coincide."""

import math

import numpy as np
import pytest

from datn_tf import metrics as M

# --------------------------------------------------------------------------- fixture
# 4 tweets x 4 labels.
#            gold           pred
# tweet 0: {0, 2}        {0, 1}     |∩| = 1, |∪| = 3 -> 1/3
# tweet 1: {1}           {1}        1/1              -> 1
# tweet 2: {}            {}         both empty       -> 1 (official scorer)
# tweet 3: {0, 1}        {2}        0/3              -> 0
# jaccard = (1/3 + 1 + 1 + 0) / 4 = 7/12
#
# Per label (tp, fp, fn) and F1 = 2tp / (2tp + fp + fn), 0 if tp = 0:
#   label 0: gold [1,0,0,1], pred [1,0,0,0] -> (1, 0, 1) -> 2/3
#   label 1: gold [0,1,0,1], pred [1,1,0,0] -> (1, 1, 1) -> 1/2
#   label 2: gold [1,0,0,0], pred [0,0,0,1] -> (0, 1, 1) -> 0
#   label 3: never gold, never predicted    -> (0, 0, 0) -> 0 (official: counts as 0)
# macro = (2/3 + 1/2 + 0 + 0) / 4 = 7/24
# micro: tp = 2, fp = 2, fn = 3 -> 4 / (4 + 2 + 3) = 4/9
Y_TRUE = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]])
Y_PRED = np.array([[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])


def test_jaccard_hand():
    assert M.jaccard_accuracy(Y_TRUE, Y_PRED) == pytest.approx(7 / 12)


def test_jaccard_both_empty_scores_one():
    assert M.jaccard_accuracy([[0, 0, 0]], [[0, 0, 0]]) == 1.0
    # gold empty, prediction not: 0/1 -> 0
    assert M.jaccard_accuracy([[0, 0, 0]], [[0, 1, 0]]) == 0.0
    # bool input works the same
    assert M.jaccard_accuracy(Y_TRUE.astype(bool), Y_PRED.astype(bool)) == pytest.approx(7 / 12)


def test_micro_macro_hand():
    assert M.micro_f1(Y_TRUE, Y_PRED) == pytest.approx(4 / 9)
    assert M.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(7 / 24)


def test_macro_counts_empty_label_as_zero():
    # Only label 3 differs between the two cases: dropping the never-gold/never-predicted
    # label would give (2/3 + 1/2 + 0) / 3 = 7/18, the official scorer gives 7/24.
    assert M.macro_f1(Y_TRUE[:, :3], Y_PRED[:, :3]) == pytest.approx(7 / 18)
    assert M.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(7 / 24)
    # micro is unaffected by an all-zero label
    assert M.micro_f1(Y_TRUE[:, :3], Y_PRED[:, :3]) == pytest.approx(4 / 9)


def test_micro_vs_macro_differ():
    # label 0: 9 gold tweets, all predicted (tp=9) -> F1 = 1
    # label 1: 1 gold tweet, missed, one false alarm (tp=0, fp=1, fn=1) -> F1 = 0
    # macro = 0.5; micro: tp=9, fp=1, fn=1 -> 18/20 = 0.9
    t = np.zeros((10, 2), int)
    p = np.zeros((10, 2), int)
    t[:9, 0] = 1
    p[:9, 0] = 1
    t[9, 1] = 1
    p[0, 1] = 1
    assert M.macro_f1(t, p) == pytest.approx(0.5)
    assert M.micro_f1(t, p) == pytest.approx(0.9)


def test_f1_all_empty_is_zero():
    z = np.zeros((3, 2), int)
    assert M.micro_f1(z, z) == 0.0
    assert M.macro_f1(z, z) == 0.0
    assert M.jaccard_accuracy(z, z) == 1.0


def test_agrees_with_sklearn():
    from sklearn.metrics import f1_score, jaccard_score

    rng = np.random.default_rng(0)
    t = (rng.random((60, 11)) < 0.3).astype(int)
    p = (rng.random((60, 11)) < 0.3).astype(int)
    t[:2] = 0
    p[:1] = 0  # row 0 both empty, row 1 gold empty only
    assert t.sum(0).min() > 0 and p.sum(0).min() > 0  # no empty label
    assert M.micro_f1(t, p) == pytest.approx(f1_score(t, p, average="micro"))
    assert M.macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro"))
    assert M.jaccard_accuracy(t, p) == pytest.approx(
        jaccard_score(t, p, average="samples", zero_division=1))
    # with an empty label, sklearn's zero_division=0 matches the official (0.19) rule
    assert M.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(
        f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))
    assert M.jaccard_accuracy(Y_TRUE, Y_PRED) == pytest.approx(
        jaccard_score(Y_TRUE, Y_PRED, average="samples", zero_division=1))


# --------------------------------------------------------------- ranking metrics
# 3 instances x 4 labels (+ degenerate rows added below).
# i1: Y={0,2}, s=[.9,.1,.5,.3] -> order 0,2,3,1. y=0: 1/1; y=2: 2/2 -> AP 1.  top 0 in Y -> OE 0
# i2: Y={1},   s=[.6,.4,.8,.1] -> order 2,0,1,3. y=1: rank 3, 1 relevant -> 1/3. top 2 -> OE 1
# i3: Y={1,3}, s=[.7,.2,.1,.4] -> order 0,3,1,2. y=3: 1/2; y=1: 2/3 -> 7/12. top 0 -> OE 1
# AP = (1 + 1/3 + 7/12) / 3 = 23/36 ; OE = 2/3
R_TRUE = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 1]])
R_SCORE = np.array([[0.9, 0.1, 0.5, 0.3], [0.6, 0.4, 0.8, 0.1], [0.7, 0.2, 0.1, 0.4]])


def test_ap_one_error_hand():
    assert M.average_precision(R_TRUE, R_SCORE) == pytest.approx(23 / 36)
    assert M.one_error(R_TRUE, R_SCORE) == pytest.approx(2 / 3)


def test_ranking_skips_degenerate_instances():
    t = np.vstack([R_TRUE, [[0, 0, 0, 0]], [[1, 1, 1, 1]]])
    s = np.vstack([R_SCORE, [[0.1, 0.2, 0.3, 0.4]], [[0.4, 0.3, 0.2, 0.1]]])
    # default (Zhang's toolbox): both the no-relevant and the all-relevant row are skipped
    assert M.average_precision(t, s) == pytest.approx(23 / 36)
    assert M.one_error(t, s) == pytest.approx(2 / 3)
    # keeping the all-relevant row: it scores AP 1, OE 0 -> (23/12 + 1)/4 = 35/48 ; 2/4
    assert M.average_precision(t, s, skip_all_relevant=False) == pytest.approx(35 / 48)
    assert M.one_error(t, s, skip_all_relevant=False) == pytest.approx(0.5)
    # nothing left -> nan
    assert math.isnan(M.average_precision([[0, 0]], [[0.3, 0.2]]))
    assert math.isnan(M.one_error([[0, 0]], [[0.3, 0.2]]))


def test_ranking_ties():
    # label 1 relevant, tied with label 0 at the top.
    # AP: rank(1) = |{k: s_k >= .5}| = 2, one relevant among them -> 1/2
    # OE: One_error.m counts no error if any tied top label is relevant -> 0
    t = [[0, 1, 0]]
    s = [[0.5, 0.5, 0.1]]
    assert M.average_precision(t, s) == pytest.approx(0.5)
    assert M.one_error(t, s) == 0.0


def test_ap_agrees_with_sklearn_on_nondegenerate_rows():
    from sklearn.metrics import label_ranking_average_precision_score as lrap

    rng = np.random.default_rng(1)
    t = (rng.random((50, 8)) < 0.3).astype(int)
    t[:, 0] = 1 - t[:, 1]  # ensure 1..7 relevant labels per row
    t[:, 2] = 0
    s = rng.random((50, 8))
    s[:5, 3] = s[:5, 4]  # some ties
    assert M.average_precision(t, s) == pytest.approx(lrap(t, s))


# ------------------------------------------------------------------ emotion_metrics
def test_emotion_metrics_dict():
    d = M.emotion_metrics(Y_TRUE, Y_PRED)
    assert d == pytest.approx({"jaccard": 7 / 12, "micro_f1": 4 / 9, "macro_f1": 7 / 24, "n": 4})
    assert isinstance(d["n"], int)
    r = M.emotion_metrics(R_TRUE, M.predict_labels(R_SCORE, 0.45), R_SCORE, ranking=True)
    assert set(r) == {"jaccard", "micro_f1", "macro_f1", "average_precision", "one_error", "n"}
    assert r["average_precision"] == pytest.approx(23 / 36)
    assert r["one_error"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="scores"):
        M.emotion_metrics(R_TRUE, R_TRUE, ranking=True)


# ------------------------------------------------------------------ thresholds
def test_predict_labels_strict():
    p = np.array([[0.2, 0.1, 0.05]])
    np.testing.assert_array_equal(M.predict_labels(p, 0.1), [[1, 0, 0]])
    np.testing.assert_array_equal(M.predict_labels(p, 0.0), [[1, 1, 1]])
    with pytest.raises(ValueError):
        M.predict_labels(p, float("nan"))


def test_tune_threshold_constructed():
    # Predicting "> γ":
    #   γ < 0.10      : row 0 also predicts label 1 (0.10 > γ) -> row 0 jaccard 1/2
    #   0.10 <= γ < 0.25: all three rows exact -> jaccard 1
    #   0.25 <= γ < 0.28: row 1 loses label 1 -> worse
    # smallest grid γ reaching 1 is 0.10 (with ">=" it would be 0.11).
    t = [[1, 0], [0, 1], [1, 1]]
    p = [[0.30, 0.10], [0.05, 0.25], [0.35, 0.28]]
    g, j = M.tune_threshold(t, p)
    assert g == pytest.approx(0.10) and j == 1.0
    assert M.jaccard_accuracy(t, M.predict_labels(p, 0.09)) == pytest.approx((0.5 + 1 + 1) / 3)
    # explicit unsorted grid; ties -> smallest
    g, j = M.tune_threshold(t, p, grid=[0.2, 0.15, 0.3, 0.12])
    assert g == pytest.approx(0.12) and j == 1.0
    g, j = M.tune_threshold(t, p, grid=[0.3])
    assert g == pytest.approx(0.3)
    # γ = 0.3: row 0 -> {} (0.30 is not > 0.30) -> 0; row 1 -> {} -> 0;
    # row 2 -> {0} vs {0, 1} -> 1/2  => 1/6
    assert j == pytest.approx((0 + 0 + 0.5) / 3)
    with pytest.raises(ValueError):
        M.tune_threshold(t, p, grid=[])


def test_default_grid():
    g = M.DEFAULT_THRESHOLD_GRID
    assert len(g) == 50 and g[0] == 0.01 and g[-1] == 0.5 and 0.12 in g and 0.2 in g


# ------------------------------------------------------------------ McNemar
def _mcnemar_case(n_both_right, b, c, n_both_wrong):
    gold = np.array([1, 0, 1])
    wrong = np.array([0, 0, 1])
    wrong2 = np.array([1, 1, 1])
    rows_t, rows_a, rows_b = [], [], []
    for n, a_ok, b_ok in [(n_both_right, 1, 1), (b, 1, 0), (c, 0, 1), (n_both_wrong, 0, 0)]:
        for _ in range(n):
            rows_t.append(gold)
            rows_a.append(gold if a_ok else wrong)
            rows_b.append(gold if b_ok else wrong2)
    return np.array(rows_t), np.array(rows_a), np.array(rows_b)


def test_mcnemar_exact_small():
    from scipy.stats import binomtest, chi2

    t, a, b = _mcnemar_case(20, 12, 3, 5)
    r = M.mcnemar(t, a, b)
    assert (r["b"], r["c"], r["method"]) == (12, 3, "exact")
    # statistic = (|12-3| - 1)^2 / 15 = 64/15
    assert r["statistic"] == pytest.approx(64 / 15)
    # exact: 2 * P(X <= 3 | n=15, 1/2) = 2 * (1 + 15 + 105 + 455) / 2^15 = 1152/32768
    assert r["p_value"] == pytest.approx(1152 / 32768)
    assert r["p_value"] == pytest.approx(binomtest(3, 15, 0.5).pvalue)
    r2 = M.mcnemar(t, a, b, exact=False)
    assert r2["method"] == "chi2"
    assert r2["p_value"] == pytest.approx(chi2.sf(64 / 15, 1))
    # swapping systems swaps b and c, same p
    r3 = M.mcnemar(t, b, a)
    assert (r3["b"], r3["c"]) == (3, 12) and r3["p_value"] == pytest.approx(r["p_value"])


def test_mcnemar_chi2_large():
    from scipy.stats import binomtest, chi2

    t, a, b = _mcnemar_case(50, 30, 10, 7)
    r = M.mcnemar(t, a, b)
    assert (r["b"], r["c"], r["method"]) == (30, 10, "chi2")
    # (|30-10| - 1)^2 / 40 = 361/40 = 9.025
    assert r["statistic"] == pytest.approx(9.025)
    assert r["p_value"] == pytest.approx(chi2.sf(9.025, 1))
    re = M.mcnemar(t, a, b, exact=True)
    assert re["method"] == "exact" and re["p_value"] == pytest.approx(binomtest(10, 40, 0.5).pvalue)


def test_mcnemar_degenerate():
    t, a, _ = _mcnemar_case(5, 0, 0, 0)
    r = M.mcnemar(t, a, a)
    assert (r["b"], r["c"], r["statistic"], r["p_value"]) == (0, 0, 0.0, 1.0)
    assert M.mcnemar(t, a, a, exact=False)["p_value"] == 1.0
    t, a, b = _mcnemar_case(0, 4, 4, 0)
    r = M.mcnemar(t, a, b, exact=False)
    assert r["statistic"] == 0.0 and r["p_value"] == pytest.approx(1.0)


# ------------------------------------------------------------------ ensemble
def test_ensemble_probabilities():
    a = np.array([[0.2, 0.4]])
    b = np.array([[0.4, 0.0]])
    np.testing.assert_allclose(M.ensemble_probabilities([a, b]), [[0.3, 0.2]])
    np.testing.assert_allclose(M.ensemble_probabilities([a]), a)
    with pytest.raises(ValueError, match="shape"):
        M.ensemble_probabilities([a, np.zeros((2, 2))])
    with pytest.raises(ValueError, match="at least one"):
        M.ensemble_probabilities([])


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("fn", [M.jaccard_accuracy, M.micro_f1, M.macro_f1])
def test_label_validation(fn):
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="0/1"):
        fn([[0, 2]], [[0, 1]])
    with pytest.raises(ValueError, match="0/1"):
        fn([[0.0, 0.5]], [[0, 1]])
    with pytest.raises(ValueError, match="0/1"):
        fn([[0.0, np.nan]], [[0, 1]])
    with pytest.raises(ValueError, match="2-D"):
        fn([0, 1], [0, 1])
    # float 0/1 accepted
    assert fn(np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[1, 1], [0, 1]])) == 1.0


def test_score_validation():
    with pytest.raises(ValueError, match="shape mismatch"):
        M.average_precision(R_TRUE, R_SCORE[:, :3])
    with pytest.raises(ValueError, match="finite"):
        M.one_error([[1, 0]], [[np.nan, 0.1]])
    with pytest.raises(ValueError, match="0/1"):
        M.one_error([[2, 0]], [[0.3, 0.1]])
    with pytest.raises(ValueError, match="shape mismatch"):
        M.mcnemar(Y_TRUE, Y_PRED, Y_PRED[:, :3])
    with pytest.raises(ValueError, match="shape mismatch"):
        M.tune_threshold(R_TRUE, R_SCORE[:2])


def test_no_tensorflow_import():
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(M.__file__)))
    code = "import sys, datn_tf.metrics; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    assert out.stdout.strip() == "False"
