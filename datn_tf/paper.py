"""Numbers reported in the paper (Table 3), for side-by-side comparison. Test-set means of ten runs."""

from datn_tf.data import datasets

# dataset -> variant -> {metric: value}, from each registry entry's `table3` (E1 reports Jaccard
# accuracy and macro-F1, E2 adds AP and one-error); datasets without paper figures are absent.
TABLE3 = datasets.PAPER_TABLE3
