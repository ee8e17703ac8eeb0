"""Everything the tests share, in one place.

  fixtures          tiny, deterministic files in the official data formats, a tiny training
                    configuration (`make_fixture_data_dir`, `tiny_train_config`), the tokens
                    of one string (`tokenize_py`), a run stopped as by a kill (`fit_killed_after`)
  layer_test_case   `LayerTestCase`: the round-trip, tracing and training-step checks every
                    layer test runs
  references        NumPy references of the layers (LSTM, BiLSTM, attention)

The pytest fixtures built on these (`data_dir`, `data_dir_with_test`) are in the root
`conftest.py`.
"""

from datn_tf.testing.fixtures import (  # noqa: F401
    EC_EMOTIONS,
    FIXTURE_COUNTS,
    REN_EMOTIONS,
    TINY_MODEL,
    expect_data_error,
    fit_killed_after,
    make_fixture_data_dir,
    tiny_train_config,
    tokenize_py,
    write_4a_file,
    write_ec_file,
    write_ren_document,
)
