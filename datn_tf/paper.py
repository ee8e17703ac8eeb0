"""Numbers reported in the paper (Table 3), for side-by-side comparison. Test-set means of ten runs."""

# variant -> {metric: value}; E1 reports Jaccard accuracy and macro-F1, E2 adds AP and one-error.
TABLE3 = {
    "semeval": {
        "base": {"jaccard": 0.569, "macro_f1": 0.521},
        "ft": {"jaccard": 0.575, "macro_f1": 0.519},
        "fs": {"jaccard": 0.577, "macro_f1": 0.526},
        "psp": {"jaccard": 0.579, "macro_f1": 0.531},
        "apsp": {"jaccard": 0.580, "macro_f1": 0.540},
        "sp": {"jaccard": 0.577, "macro_f1": 0.532},
        "datn1": {"jaccard": 0.582, "macro_f1": 0.543},
        "datn2": {"jaccard": 0.583, "macro_f1": 0.544},
        "datn2_ensemble": {"jaccard": 0.597, "macro_f1": 0.551},
    },
    "ren_cecps": {
        "base": {"jaccard": 0.368, "macro_f1": 0.399, "average_precision": 0.648, "one_error": 0.531},
        "ft": {"jaccard": 0.372, "macro_f1": 0.398, "average_precision": 0.655, "one_error": 0.519},
        "fs": {"jaccard": 0.386, "macro_f1": 0.403, "average_precision": 0.662, "one_error": 0.507},
        "psp": {"jaccard": 0.384, "macro_f1": 0.405, "average_precision": 0.658, "one_error": 0.517},
        "apsp": {"jaccard": 0.389, "macro_f1": 0.399, "average_precision": 0.670, "one_error": 0.499},
        "sp": {"jaccard": 0.389, "macro_f1": 0.410, "average_precision": 0.667, "one_error": 0.507},
        "datn1": {"jaccard": 0.393, "macro_f1": 0.410, "average_precision": 0.670, "one_error": 0.501},
        "datn2": {"jaccard": 0.400, "macro_f1": 0.420, "average_precision": 0.674, "one_error": 0.498},
    },
}
