"""Evaluation metrics for multi-label emotion classification (NumPy only).

The DATN paper (Yu et al., EMNLP 2018, Sec. 3.1 "Evaluation Metrics") says:

    "We take the official code from SemEval-18 Task 1C and use accuracy and Macro F1
    score as main metrics. For E2, we follow (Zhou et al., 2018a) to use average
    precision (AP) and one error (OE) as secondary metrics."

and (Sec. 3.2) tests significance by treating each sentence's whole predicted label set
as one label and running McNemar's test (Gillick and Cox, 1989).

Sources followed here
---------------------
* SemEval-2018 Task 1 (E-c) official scorer: ``evaluate.py`` / ``utils.py`` in
  https://github.com/felipebravom/SemEval_2018_Task_1_Eval, function
  ``evaluate_multilabel``.  It computes, on the [N, 11] 0/1 matrices::

      acc      = jaccard_similarity_score(y_true, y_pred)     # sklearn <= 0.22
      f1_micro = f1_score(y_true, y_pred, average='micro')
      f1_macro = f1_score(y_true, y_pred, average='macro')

  scikit-learn of that time (0.19), ``jaccard_similarity_score`` for multilabel input::

      pred_or_true  = count_nonzero(y_true + y_pred, axis=1)
      pred_and_true = count_nonzero(y_true.multiply(y_pred), axis=1)
      score = pred_and_true / pred_or_true
      score[pred_or_true == 0.0] = 1.0        # both sets empty -> 1
      return mean(score)

  and ``precision_recall_fscore_support``: precision / recall with a zero denominator
  are set to 0 (with a warning) and ``f_score[tp_sum == 0] = 0.0``; 'macro' is the
  unweighted mean of the per-label F1 over *all* K columns of the indicator matrix
  (``unique_labels`` of multilabel-indicator input is ``range(K)``), so a label that is
  never gold and never predicted contributes F1 = 0; 'micro' pools tp/fp/fn over all
  labels and gives 0 when the pooled tp is 0.  (``jaccard_similarity_score`` was
  removed in scikit-learn 0.23; its multilabel behaviour equals today's
  ``jaccard_score(average='samples', zero_division=1)``.)
* Average precision and one-error: Zhang & Zhou (2014), "A review on multi-label
  learning algorithms", IEEE TKDE 26(8), Sec. 2.2.2, as implemented in Min-Ling Zhang's
  MATLAB toolbox (``Average_precision.m`` / ``One_error.m`` shipped with ML-kNN; e.g.
  https://github.com/medhini/Malicious_Website_Detection/tree/master/ML-kNN), which is
  what the Chinese multi-label emotion papers (Zhou et al.) report.  That code first
  drops every instance whose label vector is all-relevant or all-irrelevant
  (``if (sum(temp)~=num_class) & (sum(temp)~=-num_class)``) and averages over the rest.

All functions take y_true / y_pred as 0/1 (int, bool or float with exact 0/1 values)
arrays of shape [N, K] and scores / probabilities as finite float arrays [N, K].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "jaccard_accuracy",
    "micro_f1",
    "macro_f1",
    "average_precision",
    "one_error",
    "emotion_metrics",
    "predict_labels",
    "tune_threshold",
    "mcnemar",
    "ensemble_probabilities",
    "DEFAULT_THRESHOLD_GRID",
]

#: Default γ grid for :func:`tune_threshold`: 0.01, 0.02, ..., 0.50.
DEFAULT_THRESHOLD_GRID = np.round(np.arange(1, 51) / 100.0, 2)

# McNemar: below this many discordant pairs the exact binomial test is used.
_EXACT_BELOW = 25


# --------------------------------------------------------------------------- validation
def _as_2d(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [N, K]; got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column; got shape {arr.shape}")
    return arr


def _as_binary(x, name: str) -> np.ndarray:
    """Validate a 0/1 label matrix and return it as bool [N, K]."""
    arr = _as_2d(x, name)
    if arr.dtype == bool:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be numeric or bool 0/1 labels; got dtype {arr.dtype}")
    bad = ~((arr == 0) | (arr == 1))  # NaN compares unequal to both -> flagged
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must contain only 0/1 labels; found {arr[i, j]!r} at [{i}, {j}]"
        )
    return arr == 1


def _as_scores(x, name: str) -> np.ndarray:
    arr = _as_2d(x, name)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            or arr.dtype == bool):
        raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN/inf)")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {name_a} has shape {a.shape}, {name_b} has shape {b.shape}")


def _labels_pair(y_true, y_pred, name_pred: str = "y_pred"):
    t = _as_binary(y_true, "y_true")
    p = _as_binary(y_pred, name_pred)
    _same_shape(t, p, "y_true", name_pred)
    return t, p


# --------------------------------------------------------------- SemEval E-c metrics
def jaccard_accuracy(y_true, y_pred) -> float:
    """Official SemEval-2018 Task 1 E-c "accuracy" (multi-label Jaccard index).

    ``mean_i |G_i ∩ P_i| / |G_i ∪ P_i|`` where G_i / P_i are the gold / predicted label
    sets of tweet i.  A tweet whose gold and predicted sets are both empty scores 1,
    exactly as the official scorer does (it calls scikit-learn's
    ``jaccard_similarity_score``, which sets ``score[pred_or_true == 0.0] = 1.0``; see
    the module docstring).  Equivalent to modern
    ``sklearn.metrics.jaccard_score(y_true, y_pred, average='samples', zero_division=1)``.
    """
    t, p = _labels_pair(y_true, y_pred)
    inter = np.logical_and(t, p).sum(axis=1)
    union = np.logical_or(t, p).sum(axis=1)
    score = np.ones(t.shape[0], dtype=np.float64)
    nz = union > 0
    score[nz] = inter[nz] / union[nz]
    return float(score.mean())


def _f1_from_counts(tp, fp, fn) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn), and 0 whenever tp == 0 (official/sklearn-0.19 rule)."""
    tp = np.asarray(tp, dtype=np.float64)
    denom = 2.0 * tp + np.asarray(fp, dtype=np.float64) + np.asarray(fn, dtype=np.float64)
    out = np.zeros_like(tp)
    ok = tp > 0
    out[ok] = 2.0 * tp[ok] / denom[ok]
    return out


def _counts(t: np.ndarray, p: np.ndarray):
    tp = np.logical_and(t, p).sum(axis=0)
    fp = np.logical_and(~t, p).sum(axis=0)
    fn = np.logical_and(t, ~p).sum(axis=0)
    return tp, fp, fn


def micro_f1(y_true, y_pred) -> float:
    """Official E-c micro-averaged F1 (``f1_score(average='micro')`` in the scorer).

    tp, fp and fn are pooled over all tweets and labels; F1 = 2tp / (2tp + fp + fn),
    which equals 2PR/(P+R).  If the pooled tp is 0 (including "nothing gold and nothing
    predicted anywhere") the result is 0, as in the scikit-learn the scorer used.
    """
    t, p = _labels_pair(y_true, y_pred)
    tp, fp, fn = _counts(t, p)
    return float(_f1_from_counts(np.array([tp.sum()]), np.array([fp.sum()]),
                                 np.array([fn.sum()]))[0])


def macro_f1(y_true, y_pred) -> float:
    """Official E-c macro-averaged F1 (``f1_score(average='macro')`` in the scorer).

    Unweighted mean over **all K labels** of the per-label F1 (not the F1 of the
    macro-averaged precision and recall).  A label with tp = 0 gets F1 = 0 — this
    includes a label that is never gold and never predicted, which still counts in the
    denominator K (scikit-learn 0.19: zero-division precision/recall -> 0 and
    ``f_score[tp_sum == 0] = 0.0``; multilabel-indicator input uses all K columns).
    """
    t, p = _labels_pair(y_true, y_pred)
    return float(_f1_from_counts(*_counts(t, p)).mean())


# ------------------------------------------------------------------ ranking metrics
def _ranking_mask(t: np.ndarray, skip_all_relevant: bool) -> np.ndarray:
    n_rel = t.sum(axis=1)
    keep = n_rel > 0
    if skip_all_relevant:
        keep &= n_rel < t.shape[1]
    return keep


def _ranked_instances(y_true, scores, skip_all_relevant):
    """(labels, scores) of the instances the ranking metrics count, or None when none are."""
    t = _as_binary(y_true, "y_true")
    s = _as_scores(scores, "scores")
    _same_shape(t, s, "y_true", "scores")
    keep = _ranking_mask(t, skip_all_relevant)
    return (t[keep], s[keep]) if keep.any() else None


def average_precision(y_true, scores, *, skip_all_relevant: bool = True) -> float:
    """Multi-label ranking average precision (Zhang & Zhou, 2014, Sec. 2.2.2).

    ``AP = 1/p Σ_i 1/|Y_i| Σ_{y∈Y_i} |{y'∈Y_i : rank(y') <= rank(y)}| / rank(y)``,
    higher is better.

    Instances skipped (not counted in p):
      * an instance with **no relevant label** (AP undefined: |Y_i| = 0) — always;
      * an instance with **all K labels relevant** — when ``skip_all_relevant`` (the
        default), exactly as Zhang's ``Average_precision.m`` does (it keeps only columns
        with ``sum(temp) ~= num_class & sum(temp) ~= -num_class``).  Such an instance
        would otherwise score 1.
    Returns ``nan`` if every instance is skipped.

    Ties: ``rank(y) = |{k : score_k >= score_y}|`` (tied labels count as ranked above),
    the convention of ``sklearn.metrics.label_ranking_average_precision_score``.  With no
    ties this equals the toolbox exactly (the toolbox's own tie order is whatever MATLAB's
    ``sort`` returns).  Unlike sklearn, we skip rather than score 1 the degenerate rows.
    """
    ranked = _ranked_instances(y_true, scores, skip_all_relevant)
    if ranked is None:
        return float("nan")
    t, s = ranked
    # ge[i, j, k] = score_k >= score_j  (label k ranked at or above label j)
    ge = s[:, None, :] >= s[:, :, None]
    rank = ge.sum(axis=2)                                   # [n, K], >= 1
    rel_above = np.logical_and(ge, t[:, None, :]).sum(axis=2)  # [n, K]
    prec = np.where(t, rel_above / rank, 0.0)
    ap = prec.sum(axis=1) / t.sum(axis=1)
    return float(ap.mean())


def one_error(y_true, scores, *, skip_all_relevant: bool = True) -> float:
    """One-error (Zhang & Zhou, 2014): fraction of instances whose top-ranked label is
    not relevant; lower is better.

    Instance skipping is the same as :func:`average_precision` (no-relevant instances
    always — they would always count as errors; all-relevant instances when
    ``skip_all_relevant``, as Zhang's ``One_error.m`` does).  Returns ``nan`` if every
    instance is skipped.

    Ties at the top score follow ``One_error.m``: the instance is *not* an error if any
    of the labels sharing the maximum score is relevant.
    """
    ranked = _ranked_instances(y_true, scores, skip_all_relevant)
    if ranked is None:
        return float("nan")
    t, s = ranked
    top = s == s.max(axis=1, keepdims=True)
    hit = np.logical_and(top, t).any(axis=1)
    return float(1.0 - hit.mean())


def emotion_metrics(y_true, y_pred, scores=None, *, ranking: bool = False) -> dict:
    """All metrics the paper reports, as a dict of Python floats.

    Always: ``jaccard`` (official "accuracy"), ``micro_f1``, ``macro_f1`` and ``n``
    (number of instances).  With ``ranking=True`` (E2 / Ren-CECps) also
    ``average_precision`` and ``one_error`` computed from ``scores`` (required then).
    """
    t, p = _labels_pair(y_true, y_pred)
    out = {
        "jaccard": jaccard_accuracy(t, p),
        "micro_f1": micro_f1(t, p),
        "macro_f1": macro_f1(t, p),
    }
    if ranking:
        if scores is None:
            raise ValueError("emotion_metrics(ranking=True) needs scores [N, K]")
        out["average_precision"] = average_precision(t, scores)
        out["one_error"] = one_error(t, scores)
    out["n"] = int(t.shape[0])
    return out


# --------------------------------------------------------------- thresholding (γ)
def predict_labels(probs, threshold) -> np.ndarray:
    """0/1 predictions: label k is predicted iff ``probs[:, k] > threshold`` (strict).

    Paper Sec. 2.2.1: "the emotion with scores higher than γ will be predicted as 1".
    Returns an int array [N, K].  (A tweet may get the empty set.)
    """
    pr = _as_scores(probs, "probs")
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a real number; got {threshold!r}") from None
    if not math.isfinite(thr):
        raise ValueError(f"threshold must be finite; got {threshold!r}")
    return (pr > thr).astype(np.int64)


def tune_threshold(y_true, probs, grid=None) -> tuple[float, float]:
    """Choose γ maximising :func:`jaccard_accuracy` of ``predict_labels(probs, γ)``.

    **Call this only on development data** (paper: "we will select a threshold γ on
    the development set"); tuning on test data leaks the test labels into the model.

    ``grid`` defaults to 0.01, 0.02, ..., 0.50 (:data:`DEFAULT_THRESHOLD_GRID`).  Ties are
    broken towards the smallest γ.  Returns ``(gamma, best_jaccard)``.
    """
    t = _as_binary(y_true, "y_true")
    pr = _as_scores(probs, "probs")
    _same_shape(t, pr, "y_true", "probs")
    g = DEFAULT_THRESHOLD_GRID if grid is None else np.asarray(grid, dtype=np.float64).ravel()
    if g.size == 0:
        raise ValueError("grid must contain at least one threshold")
    if not np.all(np.isfinite(g)):
        raise ValueError("grid must contain only finite thresholds")
    best_g, best_j = None, -1.0
    for gamma in np.unique(g):  # ascending -> strict '>' keeps the smallest on ties
        j = jaccard_accuracy(t, pr > gamma)
        if j > best_j:
            best_g, best_j = float(gamma), j
    return best_g, float(best_j)


# ------------------------------------------------------------------- significance
def _chi2_1_sf(x: float) -> float:
    """Survival function of the chi-square distribution with 1 degree of freedom."""
    return math.erfc(math.sqrt(max(x, 0.0) / 2.0))


def _binom_two_sided_half(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes out of n under Binomial(n, 1/2):
    ``min(1, 2 * P(X <= min(k, n - k)))`` (symmetric, so this equals the sum of the
    probabilities of all outcomes at most as likely as the observed one)."""
    if n == 0:
        return 1.0
    m = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(m + 1))
    return min(1.0, 2.0 * tail / (2 ** n))


def mcnemar(y_true, pred_a, pred_b, *, exact=None) -> dict:
    """McNemar's test between systems A and B, as in the paper (Sec. 3.2).

    Each sentence's whole label vector is treated as one label: a system is correct on
    a sentence iff its predicted set equals the gold set exactly.
      * ``b`` = #sentences A right and B wrong, ``c`` = #sentences A wrong and B right.
      * ``statistic`` = Edwards' continuity-corrected chi-square
        ``max(|b - c| - 1, 0)**2 / (b + c)`` (0 when b + c = 0; the clip at 0 only
        matters when b == c, where the uncorrected formula would overshoot).
      * ``p_value``: from chi2(1) (``method="chi2"``), or the exact two-sided binomial
        test on ``min(b, c)`` of ``b + c`` trials with p = 1/2 (``method="exact"``).
        ``exact=None`` (default) uses the exact test when ``b + c < 25``; ``True`` /
        ``False`` force it.  ``statistic`` is the chi-square value in both cases.
    Returns ``{"b", "c", "statistic", "p_value", "method"}``.
    """
    t = _as_binary(y_true, "y_true")
    a = _as_binary(pred_a, "pred_a")
    bb = _as_binary(pred_b, "pred_b")
    _same_shape(t, a, "y_true", "pred_a")
    _same_shape(t, bb, "y_true", "pred_b")
    right_a = np.all(a == t, axis=1)
    right_b = np.all(bb == t, axis=1)
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    n = b + c
    stat = 0.0 if n == 0 else max(abs(b - c) - 1, 0) ** 2 / n
    use_exact = (n < _EXACT_BELOW) if exact is None else bool(exact)
    if use_exact:
        p = _binom_two_sided_half(min(b, c), n)
        method = "exact"
    else:
        p = 1.0 if n == 0 else _chi2_1_sf(stat)
        method = "chi2"
    return {"b": b, "c": c, "statistic": float(stat), "p_value": float(p), "method": method}


# ---------------------------------------------------------------------- ensembling
def ensemble_probabilities(prob_list: Sequence | Iterable) -> np.ndarray:
    """Element-wise mean of several runs' probability arrays (all the same shape)."""
    arrays = [np.asarray(x, dtype=np.float64) for x in prob_list]
    if not arrays:
        raise ValueError("ensemble_probabilities needs at least one probability array")
    shape = arrays[0].shape
    for i, arr in enumerate(arrays[1:], start=1):
        if arr.shape != shape:
            raise ValueError(
                f"ensemble_probabilities: array {i} has shape {arr.shape}, "
                f"but array 0 has shape {shape}"
            )
    for i, arr in enumerate(arrays):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"ensemble_probabilities: array {i} contains NaN/inf")
    return np.mean(np.stack(arrays, axis=0), axis=0)
